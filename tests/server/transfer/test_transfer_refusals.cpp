// Issue 13 defect 1: what a hostile client can send once per packet costs what a plain answer
// costs. Transfer refusals (UDP AXFR, UDP IXFR, TCP AXFR outside the ACL) and bad TSIG
// (BADKEY, BADSIG, over UDP and TCP) are answered through answer_message with no allocation,
// and counted as incidents in the summary, never logged one by one.
#include <doctest/doctest.h>

#include <memory>
#include <string>
#include <vector>

#include "geoip/network.hpp"
#include "server/transfer/exchange.hpp"
#include "server/transfer/tsig.hpp"
#include "support/answer_fixture.hpp"
#include "support/counting_allocator.hpp"
#include "support/loaded_zone.hpp"
#include "support/small_zone.hpp"
#include "support/temp_folder.hpp"
#include "wire/constants.hpp"
#include "zones/snapshot.hpp"

using namespace meridian;
using namespace meridian::server;
using meridian::testing::allocations;
using meridian::testing::counting;
using meridian::testing::make_query;
using meridian::testing::TempFolder;

namespace {

constexpr const char* kSecret = "c2VjcmV0LXNoYXJlZC1ieS1wcmltYXJ5LWFuZC1zZWNvbmRhcnk=";
const tsig::Key kKey{"transfer-key.", "hmac-sha256.", kSecret};

// example.com. with the key "transfer-key." and allow_transfer 127.0.0.2/32 with that key,
// 10.0.0.0/8 without one.
struct Primary {
    TempFolder folder;
    zones::Snapshot snapshot;

    Primary() {
        auto zone = testing::load_written_zone(folder, testing::zone_with_hosts(3));
        snapshot.transfers.keys.push_back(kKey);
        zones::ZoneTransferPolicy policy;
        std::string error;
        policy.allow.push_back({*geoip::parse_prefix("127.0.0.2/32", error), "transfer-key."});
        policy.allow.push_back({*geoip::parse_prefix("10.0.0.0/8", error), ""});
        snapshot.transfers.zones[zone->origin()] = std::move(policy);
        snapshot.catalog.add(std::move(zone));
    }
};

struct Asked {
    size_t length = 0;
    uint16_t rcode = 0;
    zones::AnswerSummary summary;
    bool has_stream = false;
};

// Answers `message` from `client` `rounds` times (after one round to warm up) with the
// counting allocator armed; `allocated` receives what the armed rounds allocated.
Asked ask(Primary& primary, const std::vector<uint8_t>& message, const char* client,
          zones::Transport transport, size_t& allocated, int rounds = 100) {
    const auto address = geoip::parse_address(client);
    REQUIRE(address);
    const zones::QueryOrigin origin{transport, &*address};
    const bool is_tcp = transport == zones::Transport::tcp;
    std::vector<uint8_t> buffer(is_tcp ? 65535 : 1232);
    Asked asked;
    std::unique_ptr<MessageStream> rest;
    const auto once = [&] {
        asked.length = answer_message(primary.snapshot, message, buffer, origin, asked.summary,
                                      is_tcp ? &rest : nullptr);
    };
    once();
    asked.has_stream = rest != nullptr;
    rest.reset();
    allocations = 0;
    counting = true;
    for (int round = 0; round < rounds; ++round) once();
    counting = false;
    allocated = allocations.load();
    rest.reset();
    asked.rcode = asked.length >= 4 ? buffer[3] & 0x0F : 0xFFFF;
    return asked;
}

std::vector<uint8_t> ixfr_query(const char* name, uint32_t serial) {
    auto message = make_query(name, LDNS_RR_TYPE_IXFR);
    // RFC 1995 §3: the client's SOA in the authority section.
    const std::string owner = wire::wire_from_text(name);
    message.insert(message.end(), owner.begin(), owner.end());
    const std::string mname = wire::wire_from_text("ns1.example.com.");
    const std::string rname = wire::wire_from_text("hostmaster.example.com.");
    const size_t rdlength = mname.size() + rname.size() + 20;
    message.insert(message.end(), {0, 6, 0, 1, 0, 0, 1, 44, 0, static_cast<uint8_t>(rdlength)});
    message.insert(message.end(), mname.begin(), mname.end());
    message.insert(message.end(), rname.begin(), rname.end());
    for (const uint32_t value : {serial, 7200u, 900u, 1209600u, 60u})
        for (int shift = 24; shift >= 0; shift -= 8)
            message.push_back(static_cast<uint8_t>(value >> shift));
    message[9] = 1;  // NSCOUNT
    return message;
}

}  // namespace

TEST_CASE("udp_axfr_is_refused_without_allocating") {
    Primary primary;
    size_t allocated = 0;
    for (const char* client : {"192.0.2.99", "10.1.2.3", "127.0.0.2"}) {
        CAPTURE(std::string(client));
        const auto asked = ask(primary, make_query("example.com.", LDNS_RR_TYPE_AXFR), client,
                               zones::Transport::udp, allocated);
        CHECK(asked.rcode == wire::rcode::kRefused);
        CHECK(asked.summary.incident == zones::Incident::transfer_refused);
        CHECK(allocated == 0);
    }
}

TEST_CASE("udp_ixfr_allowed_refused_or_not_our_zone_allocates_nothing") {
    Primary primary;
    size_t allocated = 0;
    // Allowed: the current SOA alone (RFC 1995 §2), not an incident.
    auto asked =
        ask(primary, ixfr_query("example.com.", 5), "10.1.2.3", zones::Transport::udp, allocated);
    CHECK(asked.rcode == wire::rcode::kNoError);
    CHECK(asked.summary.incident == zones::Incident::none);
    CHECK(allocated == 0);
    // Outside the ACL: REFUSED.
    asked =
        ask(primary, ixfr_query("example.com.", 5), "192.0.2.99", zones::Transport::udp, allocated);
    CHECK(asked.rcode == wire::rcode::kRefused);
    CHECK(asked.summary.incident == zones::Incident::transfer_refused);
    CHECK(allocated == 0);
    // Not a zone we serve at that apex: NOTAUTH (RFC 5936 §2.2.1).
    asked = ask(primary, ixfr_query("www.example.com.", 5), "10.1.2.3", zones::Transport::udp,
                allocated);
    CHECK(asked.rcode == wire::rcode::kNotAuth);
    CHECK(asked.summary.incident == zones::Incident::transfer_refused);
    CHECK(allocated == 0);
    asked =
        ask(primary, ixfr_query("example.org.", 5), "10.1.2.3", zones::Transport::udp, allocated);
    CHECK(asked.rcode == wire::rcode::kNotAuth);
    CHECK(allocated == 0);
}

TEST_CASE("tcp_axfr_outside_the_acl_is_refused_without_allocating_and_without_a_stream") {
    Primary primary;
    size_t allocated = 0;
    const auto asked = ask(primary, make_query("example.com.", LDNS_RR_TYPE_AXFR), "192.0.2.99",
                           zones::Transport::tcp, allocated);
    CHECK(asked.rcode == wire::rcode::kRefused);
    CHECK(!asked.has_stream);
    CHECK(asked.summary.incident == zones::Incident::transfer_refused);
    CHECK(allocated == 0);
    // 127.0.0.2 needs the key: unsigned, it is refused as well.
    const auto unsigned_from_keyed = ask(primary, make_query("example.com.", LDNS_RR_TYPE_AXFR),
                                         "127.0.0.2", zones::Transport::tcp, allocated);
    CHECK(unsigned_from_keyed.rcode == wire::rcode::kRefused);
    CHECK(allocated == 0);
    // An allowed one does build its stream.
    const auto allowed = ask(primary, make_query("example.com.", LDNS_RR_TYPE_AXFR), "10.1.2.3",
                             zones::Transport::tcp, allocated, 1);
    CHECK(allowed.rcode == wire::rcode::kNoError);
    CHECK(allowed.has_stream);
}

TEST_CASE("bad_tsig_is_answered_notauth_without_allocating_over_udp_and_tcp") {
    Primary primary;
    const tsig::Key stranger{"stranger.", "hmac-sha256.", kSecret};
    const tsig::Key wrong_secret{"transfer-key.", "hmac-sha256.", "b3RoZXItc2VjcmV0"};
    for (const auto transport : {zones::Transport::udp, zones::Transport::tcp}) {
        for (const auto type : {LDNS_RR_TYPE_AXFR, LDNS_RR_TYPE_SOA}) {
            CAPTURE(static_cast<int>(transport));
            CAPTURE(static_cast<int>(type));
            size_t allocated = 0;
            const auto bad_key = tsig::sign(make_query("example.com.", type), stranger);
            REQUIRE(bad_key);
            auto asked = ask(primary, bad_key->message, "127.0.0.2", transport, allocated);
            CHECK(asked.rcode == wire::rcode::kNotAuth);
            CHECK(asked.summary.incident == zones::Incident::tsig_bad_key);
            CHECK(allocated == 0);

            const auto bad_sig = tsig::sign(make_query("example.com.", type), wrong_secret);
            REQUIRE(bad_sig);
            asked = ask(primary, bad_sig->message, "127.0.0.2", transport, allocated);
            CHECK(asked.rcode == wire::rcode::kNotAuth);
            CHECK(asked.summary.incident == zones::Incident::tsig_bad_sig);
            CHECK(!asked.has_stream);
            CHECK(allocated == 0);
        }
    }
}

TEST_CASE("bad_tsig_answer_carries_the_error_for_the_client") {
    Primary primary;
    const tsig::Key wrong_secret{"transfer-key.", "hmac-sha256.", "b3RoZXItc2VjcmV0"};
    const auto request = tsig::sign(make_query("example.com.", LDNS_RR_TYPE_AXFR), wrong_secret);
    REQUIRE(request);
    const auto address = geoip::parse_address("127.0.0.2");
    const zones::QueryOrigin origin{zones::Transport::udp, &*address};
    std::vector<uint8_t> buffer(1232);
    zones::AnswerSummary summary;
    const size_t length =
        answer_message(primary.snapshot, request->message, buffer, origin, summary, nullptr);
    REQUIRE(length > 0);
    buffer.resize(length);
    // What the client with its (wrong) key reads: NOTAUTH, TSIG error BADSIG, unsigned.
    const auto seen =
        tsig::verify_response(buffer, wrong_secret, request->mac, tsig::current_time());
    CHECK(seen.verdict == tsig::Verdict::bad_sig);
    CHECK(seen.error == tsig::error::kBadSig);
    CHECK(seen.mac.empty());
    CHECK(summary.rcode == wire::rcode::kNotAuth);
}

TEST_CASE("signed_soa_query_is_answered_and_signed_in_place_without_allocating") {
    Primary primary;
    const auto request = tsig::sign(make_query("example.com.", LDNS_RR_TYPE_SOA), kKey);
    REQUIRE(request);
    size_t allocated = 0;
    const auto asked =
        ask(primary, request->message, "127.0.0.2", zones::Transport::udp, allocated);
    CHECK(asked.rcode == wire::rcode::kNoError);
    CHECK(asked.summary.incident == zones::Incident::none);
    CHECK(allocated == 0);
}

TEST_CASE("malformed_tsig_is_formerr") {
    Primary primary;
    const auto request = tsig::sign(make_query("example.com.", LDNS_RR_TYPE_SOA), kKey);
    REQUIRE(request);
    tsig::Record record;
    REQUIRE(tsig::read_record(request->message, record) == tsig::RecordStatus::present);
    // CLASS IN where RFC 8945 §4.2 says ANY: a record we cannot interpret (§5.2: FORMERR).
    auto lying = request->message;
    lying[record.offset + 14 + 3] = wire::klass::kIN;  // after the owner "transfer-key."
    size_t allocated = 0;
    const auto asked = ask(primary, lying, "127.0.0.2", zones::Transport::udp, allocated);
    CHECK(asked.rcode == wire::rcode::kFormErr);
    CHECK(asked.summary.incident == zones::Incident::tsig_malformed);
    CHECK(allocated == 0);
}
