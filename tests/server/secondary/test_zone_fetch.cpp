// The transfer client against a scripted primary on loopback: AXFR and IXFR build the next
// version, a serial that has not moved needs no transfer, replies that are not the answer to
// our query are ignored, a refused IXFR falls back to AXFR, and a broken transfer fails
// with the cause, naming the primary.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "server/config/config.hpp"
#include "server/secondary/zone_fetch.hpp"
#include "support/scripted_primary.hpp"
#include "support/small_zone.hpp"
#include "support/temp_folder.hpp"
#include "wire/name.hpp"
#include "zones/zone_file_writer.hpp"
#include "zones/zone_loader.hpp"

using meridian::server::fetch_zone;
using meridian::server::FetchRequest;
using meridian::server::FetchResult;
using meridian::testing::example_records;
using meridian::testing::example_soa;
using meridian::testing::reply_to;
using meridian::testing::Script;
using meridian::testing::ScriptedPrimary;
using meridian::testing::ScriptedReply;
using meridian::testing::soa_answer;
using meridian::testing::TempFolder;
using Queries = std::vector<std::string>;

namespace {

// What the secondary has: kSmallExampleZone, serial 1 with www at 192.0.2.10.
struct CurrentVersion {
    TempFolder folder;
    std::shared_ptr<const meridian::zones::Zone> zone;

    CurrentVersion() {
        const auto file = folder.write("example.com.zone", meridian::testing::kSmallExampleZone);
        zone = meridian::zones::load_zone_file(file, "example.com.").zone;
        REQUIRE(zone);
        REQUIRE(zone->serial() == 1);
    }
};

// A request to `primaries` with short deadlines, so a failing test fails fast.
FetchRequest request_to(const std::vector<const ScriptedPrimary*>& primaries,
                        std::shared_ptr<const meridian::zones::Zone> current = nullptr) {
    FetchRequest request;
    request.origin = meridian::wire::wire_from_text("example.com.");
    for (const auto* primary : primaries) {
        const auto address = meridian::server::parse_listen_address(primary->address());
        REQUIRE(address);
        request.primaries.push_back(*address);
    }
    request.current = std::move(current);
    request.source = "cache/example.com.zone";
    request.query_timeout_ms = 300;
    request.transfer_timeout_ms = 3000;
    return request;
}

std::string text_of(const FetchResult& result) {
    REQUIRE(result.zone);
    return meridian::zones::zone_to_text(*result.zone);
}

// AXFR of example.com. at serial 2, www at 192.0.2.20; IXFR refused.
const Script axfr_serial_2 = meridian::testing::axfr_answer(2, "192.0.2.20");

}  // namespace

TEST_CASE("axfr_without_a_current_version_builds_the_zone") {
    ScriptedPrimary primary(nullptr, axfr_serial_2);
    const FetchResult result = fetch_zone(request_to({&primary}));
    INFO(result.detail);
    REQUIRE(result.status == FetchResult::Status::transferred);
    CHECK(result.method == "AXFR");
    CHECK(result.primary == primary.address());
    CHECK(result.primary_serial == 2);
    CHECK(result.zone->serial() == 2);
    CHECK(result.zone->record_count() == 4);
    CHECK(text_of(result).find("192.0.2.20") != std::string::npos);
    // Nothing to compare serials with: no SOA query, straight to AXFR.
    CHECK(primary.queries() == Queries{"TCP AXFR"});
}

TEST_CASE("ixfr_differences_apply_to_the_current_version") {
    CurrentVersion current;
    ScriptedPrimary primary(soa_answer(2), [](const ldns_pkt& query) {
        // RFC 1995 §4: new SOA, then old SOA, deleted, new SOA, added, and the new SOA.
        return ScriptedReply{{reply_to(
            query, {example_soa(2), example_soa(1), "www.example.com. 3600 IN A 192.0.2.10",
                    example_soa(2), "www.example.com. 3600 IN A 192.0.2.20", example_soa(2)})}};
    });
    const FetchResult result = fetch_zone(request_to({&primary}, current.zone));
    INFO(result.detail);
    REQUIRE(result.status == FetchResult::Status::transferred);
    CHECK(result.method == "IXFR");
    CHECK(result.zone->serial() == 2);
    const std::string text = text_of(result);
    CHECK(text.find("192.0.2.20") != std::string::npos);
    CHECK(text.find("192.0.2.10") == std::string::npos);
    // The IXFR query names the version we have.
    CHECK(primary.queries() == Queries{"UDP SOA", "TCP IXFR 1"});
}

TEST_CASE("same_serial_at_the_primary_needs_no_transfer") {
    CurrentVersion current;
    ScriptedPrimary primary(soa_answer(1), axfr_serial_2);
    const FetchResult result = fetch_zone(request_to({&primary}, current.zone));
    INFO(result.detail);
    CHECK(result.status == FetchResult::Status::up_to_date);
    CHECK(result.primary_serial == 1);
    CHECK_FALSE(result.zone);
    CHECK(primary.queries() == Queries{"UDP SOA"});
}

TEST_CASE("soa_replies_with_a_wrong_id_or_question_are_ignored") {
    CurrentVersion current;
    // Two replies that are not the answer to our query, each claiming a newer serial, then
    // the real one: had either counted, a transfer would have followed.
    ScriptedPrimary primary(
        [](const ldns_pkt& query) {
            const meridian::ldns::Packet other(ldns_pkt_query_new(
                ldns_dname_new_frm_str("example.net."), LDNS_RR_TYPE_SOA, LDNS_RR_CLASS_IN, 0));
            ldns_pkt_set_id(other.get(), ldns_pkt_id(&query));
            return ScriptedReply{{reply_to(query, {example_soa(99)}, LDNS_RCODE_NOERROR, true, 1),
                                  reply_to(*other, {example_soa(98)}),
                                  reply_to(query, {example_soa(1)})}};
        },
        axfr_serial_2);
    const FetchResult result = fetch_zone(request_to({&primary}, current.zone));
    INFO(result.detail);
    CHECK(result.status == FetchResult::Status::up_to_date);
    CHECK(result.primary_serial == 1);
    CHECK(primary.queries() == Queries{"UDP SOA"});
}

TEST_CASE("refused_ixfr_falls_back_to_axfr") {
    CurrentVersion current;
    ScriptedPrimary primary(soa_answer(2), axfr_serial_2);
    const FetchResult result = fetch_zone(request_to({&primary}, current.zone));
    INFO(result.detail);
    REQUIRE(result.status == FetchResult::Status::transferred);
    CHECK(result.method == "AXFR");
    CHECK(result.zone->serial() == 2);
    CHECK(result.detail.find("IXFR answered REFUSED") != std::string::npos);
    CHECK(primary.queries() == Queries{"UDP SOA", "TCP IXFR 1", "TCP AXFR"});
}

TEST_CASE("transfer_cut_off_mid_stream_fails_naming_the_cause") {
    // The first message only (SOA and NS), then the connection closes.
    ScriptedPrimary primary(nullptr, [](const ldns_pkt& query) {
        ScriptedReply reply = axfr_serial_2(query);
        reply.messages.resize(1);
        return reply;
    });
    const FetchResult result = fetch_zone(request_to({&primary}));
    CHECK(result.status == FetchResult::Status::failed);
    CHECK_FALSE(result.zone);
    CHECK(result.detail == primary.address() + ": the primary closed the connection mid-transfer");
}

TEST_CASE("silent_primary_fails_within_the_query_timeout") {
    ScriptedPrimary primary(nullptr, [](const ldns_pkt&) { return ScriptedReply{{}, true}; });
    const auto started = std::chrono::steady_clock::now();
    const FetchResult result = fetch_zone(request_to({&primary}));
    CHECK(result.status == FetchResult::Status::failed);
    CHECK(result.detail.find("the primary went silent") != std::string::npos);
    // 300 ms per read, not the 3 s of the whole transfer.
    CHECK(std::chrono::steady_clock::now() - started < std::chrono::seconds(2));
}

TEST_CASE("refused_axfr_fails_and_the_next_primary_is_tried") {
    ScriptedPrimary refusing(nullptr, [](const ldns_pkt& query) {
        return ScriptedReply{{reply_to(query, {}, LDNS_RCODE_REFUSED)}};
    });
    ScriptedPrimary answering(nullptr, axfr_serial_2);
    const FetchResult result = fetch_zone(request_to({&refusing, &answering}));
    INFO(result.detail);
    REQUIRE(result.status == FetchResult::Status::transferred);
    CHECK(result.primary == answering.address());
    CHECK(refusing.queries() == Queries{"TCP AXFR"});

    // With no primary left, the failure names each one and its cause.
    const FetchResult failed = fetch_zone(request_to({&refusing}));
    CHECK(failed.status == FetchResult::Status::failed);
    CHECK(failed.detail == refusing.address() + ": AXFR answered REFUSED");
}

TEST_CASE("axfr_carrying_records_outside_the_zone_fails") {
    // A primary's stream is outside input: data it has no authority for is not served.
    ScriptedPrimary primary(nullptr, [](const ldns_pkt& query) {
        return ScriptedReply{
            {reply_to(query, {example_soa(2), "www.example.com. 3600 IN A 192.0.2.20",
                              "www.other.org. 3600 IN A 192.0.2.21", example_soa(2)})}};
    });
    const FetchResult result = fetch_zone(request_to({&primary}));
    CHECK(result.status == FetchResult::Status::failed);
    CHECK(result.detail == primary.address() +
                               ": the transferred zone is not valid: 'www.other.org.' is outside "
                               "the zone example.com.");
}
