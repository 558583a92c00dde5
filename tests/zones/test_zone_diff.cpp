// IXFR out: the differences between two zone versions, the bounded history of them, the
// IXFR message stream in RFC 1995 §4 order, and the transfer ACL.
#include <doctest/doctest.h>

#include <algorithm>

#include "support/answer_fixture.hpp"
#include "support/loaded_zone.hpp"
#include "wire/constants.hpp"
#include "wire/name.hpp"
#include "zones/ixfr_stream.hpp"
#include "zones/transfer_policy.hpp"
#include "zones/zone_diff.hpp"
#include "zones/zone_loader.hpp"

using namespace meridian;
using namespace meridian::testing;

namespace {

std::shared_ptr<const zones::Zone> load(TempFolder& folder, uint32_t serial,
                                        const std::string& records) {
    const std::string text = "$ORIGIN example.com.\n$TTL 300\n@ SOA ns1 hostmaster " +
                             std::to_string(serial) + " 7200 900 1209600 60\n@ NS ns1\n" +
                             "ns1 A 192.0.2.1\n" + records;
    return load_written_zone(folder, text, "example.com.", "v" + std::to_string(serial) + ".zone");
}

// "owner type rdata-as-hex-size" is enough to tell records apart here.
std::vector<std::string> describe(const std::vector<zones::DiffRecord>& records) {
    std::vector<std::string> result;
    for (const auto& r : records)
        result.push_back(
            wire::to_text({reinterpret_cast<const uint8_t*>(r.owner.data()), r.owner.size()}) +
            " " + std::to_string(r.type) + " " + std::to_string(r.ttl) + " " +
            std::to_string(r.rdata.size()));
    std::sort(result.begin(), result.end());
    return result;
}

std::shared_ptr<const zones::ZoneDiff> diff_of(uint32_t from, uint32_t to, size_t added = 0) {
    auto diff = std::make_shared<zones::ZoneDiff>();
    diff->from_serial = from;
    diff->to_serial = to;
    diff->added.resize(added);
    return diff;
}

geoip::Address address(const char* text) {
    const auto parsed = geoip::parse_address(text);
    REQUIRE(parsed);
    return *parsed;
}

zones::TransferAclEntry acl(const char* network, const char* key = "") {
    std::string error;
    auto prefix = geoip::parse_prefix(network, error);
    REQUIRE(prefix);
    return {*prefix, key};
}

}  // namespace

TEST_CASE("diff_lists_removed_and_added_records_without_the_soa") {
    TempFolder folder;
    const auto before = load(folder, 1,
                             "www A 192.0.2.10\nwww A 192.0.2.11\nold TXT \"gone\"\n"
                             "same MX 10 mail\nttl 60 A 192.0.2.5\n");
    const auto after = load(folder, 2,
                            "www A 192.0.2.10\nwww A 192.0.2.12\nnew TXT \"here\"\n"
                            "same MX 10 mail\nttl 120 A 192.0.2.5\n");
    const zones::ZoneDiff diff = zones::diff_zones(*before, *after);
    CHECK(diff.from_serial == 1);
    CHECK(diff.to_serial == 2);
    CHECK(diff.from_soa.type == wire::type::kSOA);
    CHECK(diff.to_soa.rdata != diff.from_soa.rdata);
    // A changed TTL removes and adds the record again; unchanged records are in neither list.
    CHECK(describe(diff.removed) == std::vector<std::string>{"old.example.com. 16 300 5",
                                                             "ttl.example.com. 1 60 4",
                                                             "www.example.com. 1 300 4"});
    CHECK(describe(diff.added) == std::vector<std::string>{"new.example.com. 16 300 5",
                                                           "ttl.example.com. 1 120 4",
                                                           "www.example.com. 1 300 4"});
    CHECK(diff.record_count() == 8);
    const zones::ZoneDiff none = zones::diff_zones(*before, *before);
    CHECK(none.removed.empty());
    CHECK(none.added.empty());
}

TEST_CASE("diff_of_large_rrsets_finds_the_one_changed_record") {
    TempFolder folder;
    std::string many_before, many_after;
    for (int i = 0; i < 100; ++i) {
        many_before += "pool A 10.0.0." + std::to_string(i) + "\n";
        many_after += "pool A 10.0.0." + std::to_string(i == 50 ? 200 : i) + "\n";
    }
    const auto diff =
        zones::diff_zones(*load(folder, 1, many_before), *load(folder, 2, many_after));
    REQUIRE(diff.removed.size() == 1);
    REQUIRE(diff.added.size() == 1);
    CHECK(static_cast<uint8_t>(diff.removed[0].rdata[3]) == 50);
    CHECK(static_cast<uint8_t>(diff.added[0].rdata[3]) == 200);
}

TEST_CASE("serial_arithmetic_follows_rfc_1982") {
    CHECK(zones::serial_is_before(1, 2));
    CHECK(!zones::serial_is_before(2, 1));
    CHECK(!zones::serial_is_before(5, 5));
    CHECK(zones::serial_is_before(0xfffffff0u, 5));  // wrapped around
    CHECK(!zones::serial_is_before(5, 0xfffffff0u));
}

TEST_CASE("history_chains_differences_and_answers_from_any_kept_serial") {
    auto history = zones::ZoneHistory::extend(nullptr, diff_of(1, 2), 16, 1000);
    history = zones::ZoneHistory::extend(history, diff_of(2, 3), 16, 1000);
    history = zones::ZoneHistory::extend(history, diff_of(3, 5), 16, 1000);
    REQUIRE(history);
    CHECK(history->size() == 3);
    CHECK(history->newest_serial() == 5);
    CHECK(history->since(1).size() == 3);
    CHECK(history->since(3).size() == 1);
    CHECK(history->since(3).front()->to_serial == 5);
    CHECK(history->since(4).empty());  // never a version
    CHECK(history->since(5).empty());  // current: nothing to send
    // A difference that does not start where the history ends starts a new history.
    auto restarted = zones::ZoneHistory::extend(history, diff_of(9, 10), 16, 1000);
    CHECK(restarted->size() == 1);
    CHECK(restarted->since(1).empty());
}

TEST_CASE("history_is_bounded_by_count_and_by_records") {
    std::shared_ptr<const zones::ZoneHistory> history;
    for (uint32_t serial = 1; serial <= 20; ++serial)
        history = zones::ZoneHistory::extend(history, diff_of(serial, serial + 1), 4, 1000);
    CHECK(history->size() == 4);
    CHECK(history->since(17).size() == 4);
    CHECK(history->since(16).empty());
    // 2 + 10 records each; at most 30 records keeps the last two.
    std::shared_ptr<const zones::ZoneHistory> sized;
    for (uint32_t serial = 1; serial <= 5; ++serial)
        sized = zones::ZoneHistory::extend(sized, diff_of(serial, serial + 1, 10), 16, 30);
    CHECK(sized->size() == 2);
    // One difference larger than the bound is not kept at all: AXFR is cheaper.
    CHECK(zones::ZoneHistory::extend(sized, diff_of(6, 7, 100), 16, 30) == nullptr);
}

TEST_CASE("ixfr_stream_sends_each_difference_in_rfc_1995_order") {
    TempFolder folder;
    const auto v1 = load(folder, 1, "www A 192.0.2.10\nold TXT \"gone\"\n");
    const auto v2 = load(folder, 2, "www A 192.0.2.20\nold TXT \"gone\"\n");
    const auto v3 = load(folder, 3, "www A 192.0.2.20\nnew TXT \"here\"\n");
    std::vector<std::shared_ptr<const zones::ZoneDiff>> diffs = {
        std::make_shared<const zones::ZoneDiff>(zones::diff_zones(*v1, *v2)),
        std::make_shared<const zones::ZoneDiff>(zones::diff_zones(*v2, *v3))};
    const auto query_bytes = make_query("example.com.", LDNS_RR_TYPE_IXFR);
    wire::Query query;
    REQUIRE(wire::parse_query(query_bytes, query) == wire::ParseStatus::ok);
    for (const size_t limit : {size_t{100}, size_t{65535}}) {
        CAPTURE(limit);
        zones::IxfrStream stream(diffs, query);
        std::vector<std::string> records;
        std::vector<uint8_t> buffer(65535);
        size_t messages = 0;
        for (int guard = 0; guard < 100; ++guard) {
            const size_t length = stream.next(buffer, limit);
            if (length == 0) break;
            CHECK(length <= limit);
            auto packet = AnswerFixture::parse({buffer.begin(), buffer.begin() + length});
            REQUIRE(packet);
            CHECK(ldns_pkt_qdcount(packet.get()) == (messages == 0 ? 1 : 0));
            CHECK(ldns_pkt_aa(packet.get()));
            ++messages;
            for (const auto& line : answer(packet)) records.push_back(line);
        }
        CHECK(stream.is_done());
        if (limit == 65535) CHECK(messages == 1);
        if (limit == 100) CHECK(messages > 3);
        auto soa = [](int serial) {
            return "example.com. 300 IN SOA ns1.example.com. hostmaster.example.com. " +
                   std::to_string(serial) + " 7200 900 1209600 60";
        };
        CHECK(records == std::vector<std::string>{soa(3), soa(1),
                                                  "www.example.com. 300 IN A 192.0.2.10", soa(2),
                                                  "www.example.com. 300 IN A 192.0.2.20", soa(2),
                                                  "old.example.com. 300 IN TXT \"gone\"", soa(3),
                                                  "new.example.com. 300 IN TXT \"here\"", soa(3)});
    }
}

TEST_CASE("transfer_acl_matches_address_and_key") {
    zones::ZoneTransferPolicy policy;
    policy.allow = {acl("127.0.0.2/32", "transfer-key."), acl("10.0.0.0/8"), acl("2001:db8::/32")};
    const auto keyed = address("127.0.0.2");
    const auto* keyed_client = &keyed;
    CHECK(zones::is_transfer_allowed(policy, keyed_client, "transfer-key."));
    CHECK(!zones::is_transfer_allowed(policy, keyed_client, ""));  // the entry needs the key
    CHECK(!zones::is_transfer_allowed(policy, keyed_client, "other-key."));
    const auto inside = address("10.20.30.40");
    // An entry without a key lets in signed and unsigned requests alike.
    CHECK(zones::is_transfer_allowed(policy, &inside, ""));
    CHECK(zones::is_transfer_allowed(policy, &inside, "k."));
    const auto outside = address("127.0.0.3");
    CHECK(!zones::is_transfer_allowed(policy, &outside, "transfer-key."));
    const auto v6 = address("2001:db8::53");
    CHECK(zones::is_transfer_allowed(policy, &v6, ""));
    const auto mapped = address("::ffff:10.1.2.3");  // an IPv4 client on a dual-stack socket
    CHECK(zones::is_transfer_allowed(policy, &mapped, ""));
    CHECK(!zones::is_transfer_allowed(zones::ZoneTransferPolicy{}, &inside, ""));
    CHECK(!zones::is_transfer_allowed(policy, nullptr, ""));
}
