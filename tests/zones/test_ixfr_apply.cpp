// IXFR differences applied to a zone version (RFC 1995 §4), zones built from AXFR records,
// the master-file text of a zone, and its atomic replacement on disk.
#include <doctest/doctest.h>

#include <algorithm>
#include <tuple>

#include <fstream>
#include <sstream>

#include "support/loaded_zone.hpp"
#include "support/small_zone.hpp"
#include "support/temp_folder.hpp"
#include "wire/constants.hpp"
#include "wire/name.hpp"
#include "zones/ixfr_apply.hpp"
#include "zones/zone_file_writer.hpp"
#include "zones/zone_loader.hpp"

using namespace meridian;
using meridian::testing::TempFolder;
using zones::ZoneDifference;
using zones::ZoneRecord;

namespace {

std::string name(const char* text) {
    return wire::wire_from_text(text);
}

std::string soa_rdata(uint32_t serial) {
    std::string rdata = name("ns1.example.com.") + name("hostmaster.example.com.");
    for (uint32_t value : {serial, 7200u, 3600u, 1209600u, 300u})
        for (int shift = 24; shift >= 0; shift -= 8) rdata.push_back(char(value >> shift));
    return rdata;
}

ZoneRecord soa(uint32_t serial) {
    return {name("example.com."), wire::type::kSOA, 3600, soa_rdata(serial)};
}

ZoneRecord a(const char* owner, uint8_t last, uint32_t ttl = 3600) {
    return {name(owner), wire::type::kA, ttl, std::string{char(192), 0, 2, char(last)}};
}

std::shared_ptr<const zones::Zone> small_zone(TempFolder& folder) {
    return testing::load_written_zone(folder, testing::kSmallExampleZone);
}

const zones::RRset* rrset(const zones::Zone& zone, const char* owner, uint16_t type) {
    const zones::Node* node = zone.find_node(name(owner));
    return node ? node->find(type) : nullptr;
}

std::string errors(const Diagnostics& diagnostics) {
    std::string text;
    for (const auto& d : diagnostics) text += d.to_string() + "\n";
    return text;
}

// Applies `differences` to a small zone, checks that they are refused, and returns the errors.
std::string refused_errors(const std::vector<ZoneDifference>& differences) {
    TempFolder folder;
    const auto zone = small_zone(folder);
    Diagnostics diagnostics;
    CHECK_FALSE(zones::apply_differences(*zone, differences, "test", diagnostics));
    return errors(diagnostics);
}

}  // namespace

TEST_CASE("ixfr_adds_and_deletes_records_and_moves_the_serial") {
    TempFolder folder;
    const auto zone = small_zone(folder);
    ZoneDifference difference{soa(1),
                              {a("www.example.com.", 10)},
                              soa(2),
                              {a("www.example.com.", 11), a("new.example.com.", 12)}};
    Diagnostics diagnostics;
    const auto next = zones::apply_differences(*zone, {difference}, "test", diagnostics);
    REQUIRE_MESSAGE(next, errors(diagnostics));
    CHECK(next->serial() == 2);
    const zones::RRset* www = rrset(*next, "www.example.com.", wire::type::kA);
    REQUIRE(www);
    REQUIRE(www->rdatas.size() == 1);
    CHECK(www->rdatas[0] == a("www.example.com.", 11).rdata);
    CHECK(rrset(*next, "new.example.com.", wire::type::kA));
    CHECK(rrset(*next, "ns1.example.com.", wire::type::kA));  // untouched
    CHECK(zone->serial() == 1);                               // the old version is unchanged
}

TEST_CASE("ixfr_applies_several_sequences_in_order") {
    TempFolder folder;
    const auto zone = small_zone(folder);
    ZoneDifference first{soa(1), {}, soa(2), {a("one.example.com.", 1)}};
    ZoneDifference second{soa(2), {a("one.example.com.", 1)}, soa(3), {a("two.example.com.", 2)}};
    Diagnostics diagnostics;
    const auto next = zones::apply_differences(*zone, {first, second}, "test", diagnostics);
    REQUIRE_MESSAGE(next, errors(diagnostics));
    CHECK(next->serial() == 3);
    CHECK_FALSE(rrset(*next, "one.example.com.", wire::type::kA));
    CHECK(rrset(*next, "two.example.com.", wire::type::kA));
}

TEST_CASE("ixfr_from_another_serial_is_refused") {
    ZoneDifference gap{soa(5), {}, soa(6), {a("x.example.com.", 1)}};
    const std::string why = refused_errors({gap});
    CHECK(why.find("starts at serial 5, but the zone is at serial 1") != std::string::npos);
}

TEST_CASE("ixfr_with_a_broken_chain_is_refused") {
    ZoneDifference first{soa(1), {}, soa(2), {}};
    ZoneDifference skipped{soa(3), {}, soa(4), {}};
    refused_errors({first, skipped});
}

TEST_CASE("ixfr_to_an_older_serial_is_refused") {
    ZoneDifference backwards{soa(1), {}, soa(0), {}};
    const std::string why = refused_errors({backwards});
    CHECK(why.find("not newer") != std::string::npos);
}

TEST_CASE("ixfr_deleting_a_missing_record_is_refused") {
    ZoneDifference difference{soa(1), {a("www.example.com.", 99)}, soa(2), {}};
    const std::string why = refused_errors({difference});
    CHECK(why.find("does not have") != std::string::npos);
}

TEST_CASE("ixfr_result_is_checked_like_a_zone_file") {
    // A CNAME beside an A record (RFC 1034 §3.6.2), and a record outside the zone.
    ZoneRecord cname{name("www.example.com."), wire::type::kCNAME, 3600, name("ns1.example.com.")};
    ZoneDifference difference{soa(1), {}, soa(2), {cname, a("www.example.net.", 1)}};
    const std::string why = refused_errors({difference});
    CHECK(why.find("CNAME and other data") != std::string::npos);
    CHECK(why.find("outside the zone") != std::string::npos);
}

TEST_CASE("axfr_records_build_a_zone") {
    Diagnostics diagnostics;
    const auto zone = zones::build_zone(name("example.com."), {soa(9), a("www.example.com.", 1)},
                                        "test", diagnostics);
    REQUIRE_MESSAGE(zone, errors(diagnostics));
    CHECK(zone->serial() == 9);
    CHECK(zones::zone_records(*zone).size() == 2);
    CHECK(zones::zone_records(*zone).front().type == wire::type::kSOA);
    Diagnostics no_soa;
    CHECK_FALSE(
        zones::build_zone(name("example.com."), {a("www.example.com.", 1)}, "test", no_soa));
}

TEST_CASE("zone_text_reads_back_as_the_same_zone") {
    TempFolder folder;
    const auto original = folder.write("in.zone", R"($ORIGIN example.com.
$TTL 300
@     SOA  ns1 hostmaster 42 7200 3600 1209600 300
      NS   ns1
      MX   10 mail
ns1   A    192.0.2.1
mail  AAAA 2001:db8::25
txt   TXT  "two words" "and; a \"quote\""
_sip._tcp SRV 0 5 5060 sip
*.wild A 192.0.2.9
odd   TYPE65280 \# 4 0a000001
)");
    const auto loaded = zones::load_zone_file(original, "example.com.");
    REQUIRE(loaded.zone);
    const auto copy = folder.write("out.zone", zones::zone_to_text(*loaded.zone));
    const auto reloaded = zones::load_zone_file(copy, "example.com.");
    REQUIRE_MESSAGE(reloaded.zone, errors(reloaded.diagnostics));
    auto before = zones::zone_records(*loaded.zone);
    auto after = zones::zone_records(*reloaded.zone);
    const auto order = [](const ZoneRecord& x, const ZoneRecord& y) {
        return std::tie(x.owner, x.type, x.rdata) < std::tie(y.owner, y.type, y.rdata);
    };
    std::sort(before.begin(), before.end(), order);
    std::sort(after.begin(), after.end(), order);
    CHECK(before == after);
}
