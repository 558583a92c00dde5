// The transfer client against a scripted primary on loopback: AXFR and IXFR build the next
// version, a serial that has not moved needs no transfer, replies that are not the answer to
// our query (another ID, question, source, or not signed with the zone's key) are ignored
// until the timeout, a refused IXFR falls back to AXFR, a transfer beyond the zone's limits
// is refused, and a broken transfer fails with the cause, naming the primary.
#include <doctest/doctest.h>
#include <malloc.h>

#include <string>
#include <vector>

#include "forged_soa_replies.hpp"
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
using meridian::testing::ForgedReply;
using meridian::testing::From;
using meridian::testing::Message;
using meridian::testing::reply_to;
using meridian::testing::Script;
using meridian::testing::ScriptedPrimary;
using meridian::testing::ScriptedReply;
using meridian::testing::signed_reply;
using meridian::testing::soa_answer;
using meridian::testing::SoaPrimaryWithForgers;
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
FetchRequest request_to_addresses(const std::vector<std::string>& primaries,
                                  std::shared_ptr<const meridian::zones::Zone> current = nullptr) {
    FetchRequest request;
    request.origin = meridian::wire::wire_from_text("example.com.");
    for (const auto& primary : primaries) {
        const auto address = meridian::server::parse_listen_address(primary);
        REQUIRE(address);
        request.primaries.push_back(*address);
    }
    request.current = std::move(current);
    request.source = "cache/example.com.zone";
    request.query_timeout_ms = 300;
    request.transfer_timeout_ms = 3000;
    return request;
}

FetchRequest request_to(const std::vector<const ScriptedPrimary*>& primaries,
                        std::shared_ptr<const meridian::zones::Zone> current = nullptr) {
    std::vector<std::string> addresses;
    for (const auto* primary : primaries) addresses.push_back(primary->address());
    return request_to_addresses(addresses, std::move(current));
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

TEST_CASE("soa_replies_from_another_port_or_address_are_ignored") {
    CurrentVersion current;
    // Forged replies from beside the primary, each claiming a newer serial, then its own.
    SoaPrimaryWithForgers primary([](const ldns_pkt& query, std::span<const uint8_t>) {
        return std::vector<ForgedReply>{{From::other_port, reply_to(query, {example_soa(99)})},
                                        {From::other_address, reply_to(query, {example_soa(98)})},
                                        {From::primary, reply_to(query, {example_soa(1)})}};
    });
    const FetchResult result = fetch_zone(request_to_addresses({primary.address()}, current.zone));
    INFO(result.detail);
    CHECK(result.status == FetchResult::Status::up_to_date);
    CHECK(result.primary_serial == 1);
    CHECK(primary.queries() == 1);
}

// ldns keeps about 1.3 KB of a message with two TSIG records that then fails to parse, for
// good: a reply anyone can forge must not reach it. Here each SOA query of a zone without a
// key is answered with 100 such replies (few enough for the socket's buffer), then the real
// one.
TEST_CASE("soa_replies_with_two_tsig_records_are_ignored_and_leak_nothing") {
    CurrentVersion current;
    SoaPrimaryWithForgers primary([](const ldns_pkt& query, std::span<const uint8_t>) {
        const auto signed_message = meridian::server::tsig::sign(reply_to(query, {example_soa(99)}),
                                                                 meridian::testing::transfer_key());
        std::vector<ForgedReply> replies;
        if (!signed_message) return replies;
        // The TSIG record twice, and ARCOUNT claiming a third record that is not there.
        Message hostile = signed_message->message;
        meridian::server::tsig::Record record;
        if (meridian::server::tsig::read_record(hostile, record) !=
            meridian::server::tsig::RecordStatus::present)
            return replies;
        hostile.insert(hostile.end(), hostile.begin() + static_cast<long>(record.offset),
                       hostile.end());
        hostile[11] = 3;
        for (int i = 0; i < 100; ++i) replies.push_back({From::primary, hostile});
        replies.push_back({From::primary, reply_to(query, {example_soa(1)})});
        return replies;
    });
    const auto request = request_to_addresses({primary.address()}, current.zone);
    const FetchResult first = fetch_zone(request);  // warms up
    INFO(first.detail);
    REQUIRE(first.status == FetchResult::Status::up_to_date);
    const size_t before = mallinfo2().uordblks;
    for (int round = 0; round < 40; ++round) {
        const FetchResult result = fetch_zone(request);
        INFO(result.detail);
        REQUIRE(result.status == FetchResult::Status::up_to_date);
        CHECK(result.primary_serial == 1);
    }
    const size_t after = mallinfo2().uordblks;
    // 4,000 hostile replies read: at 1.3 KB each, a leak would be over 5 MB.
    CHECK_MESSAGE(after < before + 256 * 1024, "heap grew by ", after - before, " octets");
}

TEST_CASE("unsigned_or_badly_signed_soa_replies_are_ignored_when_the_zone_has_a_key") {
    CurrentVersion current;
    // From the primary's own address and port, with the right ID and question: one unsigned,
    // one signed with a secret the attacker guessed, then the primary's signed answer.
    SoaPrimaryWithForgers primary([](const ldns_pkt& query, std::span<const uint8_t> wire) {
        const Message forged = reply_to(query, {example_soa(99)});
        return std::vector<ForgedReply>{
            {From::primary, forged},
            {From::primary, signed_reply(forged, meridian::testing::guessed_key(), wire)},
            {From::primary, signed_reply(reply_to(query, {example_soa(1)}),
                                         meridian::testing::transfer_key(), wire)}};
    });
    FetchRequest request = request_to_addresses({primary.address()}, current.zone);
    request.key = meridian::testing::transfer_key();
    const FetchResult result = fetch_zone(request);
    INFO(result.detail);
    CHECK(result.status == FetchResult::Status::up_to_date);
    CHECK(result.primary_serial == 1);
    CHECK(primary.queries() == 1);
}

TEST_CASE("forged_soa_replies_alone_fail_after_every_try_naming_what_was_ignored") {
    CurrentVersion current;
    SoaPrimaryWithForgers primary([](const ldns_pkt& query, std::span<const uint8_t>) {
        return std::vector<ForgedReply>{{From::primary, reply_to(query, {example_soa(99)})}};
    });
    FetchRequest request = request_to_addresses({primary.address()}, current.zone);
    request.key = meridian::testing::transfer_key();
    const auto started = std::chrono::steady_clock::now();
    const FetchResult result = fetch_zone(request);
    // Both tries ran to their timeout (300 ms each) instead of ending at the forged reply.
    CHECK(std::chrono::steady_clock::now() - started >= std::chrono::milliseconds(550));
    CHECK(primary.queries() == 2);
    CHECK(result.status == FetchResult::Status::failed);
    CHECK_FALSE(result.zone);
    CHECK(result.detail == primary.address() +
                               ": no answer to the SOA query (2 tries of 300 ms); ignored a reply "
                               "whose TSIG is unsigned (the zone's key requires a signature)");
}

TEST_CASE("unsigned_or_badly_signed_transfers_are_not_used") {
    // Over TCP a reply cannot be forged off the path, and RFC 8945 §5.3.1 chains each
    // message's MAC to the previous one: a message that does not verify ends the transfer.
    ScriptedPrimary unsigned_primary(nullptr, axfr_serial_2);
    FetchRequest request = request_to({&unsigned_primary});
    request.key = meridian::testing::transfer_key();
    FetchResult result = fetch_zone(request);
    CHECK(result.status == FetchResult::Status::failed);
    CHECK_FALSE(result.zone);
    CHECK(result.detail == unsigned_primary.address() +
                               ": AXFR: TSIG unsigned (the zone's key requires a signature)");

    ScriptedPrimary guessing_primary(nullptr, [](const ldns_pkt& query) {
        ScriptedReply reply = axfr_serial_2(query);
        for (auto& message : reply.messages) {
            // On the primary's thread: a failure to sign leaves the message unsigned.
            auto signed_message =
                meridian::server::tsig::sign(message, meridian::testing::guessed_key());
            if (signed_message) message = signed_message->message;
        }
        return reply;
    });
    request = request_to({&guessing_primary});
    request.key = meridian::testing::transfer_key();
    result = fetch_zone(request);
    CHECK(result.status == FetchResult::Status::failed);
    CHECK_FALSE(result.zone);
    CHECK(result.detail.find(": AXFR: TSIG BADSIG") != std::string::npos);
}

TEST_CASE("axfr_of_more_records_than_max_zone_records_is_refused") {
    ScriptedPrimary primary(nullptr, axfr_serial_2);  // four records
    FetchRequest request = request_to({&primary});
    request.max_records = 3;
    FetchResult result = fetch_zone(request);
    CHECK(result.status == FetchResult::Status::failed);
    CHECK_FALSE(result.zone);
    CHECK(result.detail ==
          primary.address() + ": the zone has more records than max_zone_records (3)");

    request.max_records = 4;
    result = fetch_zone(request);
    INFO(result.detail);
    CHECK(result.status == FetchResult::Status::transferred);
}

TEST_CASE("transfer_of_more_octets_than_max_transfer_bytes_is_refused") {
    ScriptedPrimary primary(nullptr, axfr_serial_2);
    FetchRequest request = request_to({&primary});
    request.max_bytes = 100;  // the first message alone is larger
    const FetchResult result = fetch_zone(request);
    CHECK(result.status == FetchResult::Status::failed);
    CHECK_FALSE(result.zone);
    CHECK(result.detail ==
          primary.address() + ": AXFR stopped: more octets than max_transfer_bytes (100)");
}

TEST_CASE("ixfr_making_the_zone_larger_than_max_zone_records_is_refused_without_axfr") {
    CurrentVersion current;  // four records
    ScriptedPrimary primary(soa_answer(2), [](const ldns_pkt& query) {
        // RFC 1995 §4: serial 1 -> 2 adds a fifth record.
        return ScriptedReply{
            {reply_to(query, {example_soa(2), example_soa(1), example_soa(2),
                              "mail.example.com. 3600 IN A 192.0.2.25", example_soa(2)})}};
    });
    FetchRequest request = request_to({&primary}, current.zone);
    request.max_records = 4;
    const FetchResult result = fetch_zone(request);
    CHECK(result.status == FetchResult::Status::failed);
    CHECK_FALSE(result.zone);
    CHECK(result.detail.find("the zone would have 5 records, more than max_zone_records (4)") !=
          std::string::npos);
    // The whole zone would be larger still: no AXFR after it.
    CHECK(primary.queries() == Queries{"UDP SOA", "TCP IXFR 1"});
}
