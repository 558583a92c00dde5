// Transfers out as the server answers them (answer_message): TSIG checked and signed across a
// whole stream, the zone's ACL and UDP limits. The snapshot is built here as the reload would build
// it from a [[tsig]] key and a zone's allow_transfer (the config keys are tested with the config).
#include <doctest/doctest.h>

#include <memory>
#include <string>
#include <vector>

#include "geoip/network.hpp"
#include "server/transfer/exchange.hpp"
#include "server/transfer/tsig.hpp"
#include "support/answer_fixture.hpp"
#include "support/loaded_zone.hpp"
#include "support/small_zone.hpp"
#include "support/temp_folder.hpp"
#include "wire/constants.hpp"
#include "zones/snapshot.hpp"
#include "zones/transfer_policy.hpp"
#include "zones/zone_loader.hpp"

using namespace meridian;
using namespace meridian::server;
using meridian::testing::TempFolder;
using meridian::testing::zone_with_hosts;

namespace {

constexpr const char* kSecret = "c2VjcmV0LXNoYXJlZC1ieS1wcmltYXJ5LWFuZC1zZWNvbmRhcnk=";

zones::TransferAclEntry acl_entry(const char* network, std::string key = {}) {
    std::string error;
    const auto prefix = geoip::parse_prefix(network, error);
    REQUIRE_MESSAGE(prefix, error);
    return {*prefix, std::move(key)};
}

// example.com, the key "transfer-key" (hmac-sha256), and the zone's allow_transfer:
// 127.0.0.2/32 with that key, 10.0.0.0/8 without one.
struct Served {
    TempFolder folder;
    std::unique_ptr<zones::Snapshot> snapshot;
    geoip::Address client;

    explicit Served(int hosts, const char* client_address = "127.0.0.2") {
        auto zone = testing::load_written_zone(folder, zone_with_hosts(hosts));
        snapshot = std::make_unique<zones::Snapshot>();
        snapshot->settings.identity = "test-pop";
        snapshot->transfers.keys.push_back({"transfer-key.", "hmac-sha256.", kSecret});
        zones::ZoneTransferPolicy policy;
        policy.allow.push_back(acl_entry("127.0.0.2/32", "transfer-key."));
        policy.allow.push_back(acl_entry("10.0.0.0/8"));
        snapshot->transfers.zones[zone->origin()] = std::move(policy);
        snapshot->catalog.add(std::move(zone));
        const auto address = geoip::parse_address(client_address);
        REQUIRE(address);
        client = *address;
    }

    // Every message of the answer to `message`, as the transport gets them.
    std::vector<std::vector<uint8_t>> ask(std::span<const uint8_t> message,
                                          zones::Transport transport = zones::Transport::tcp) {
        const zones::QueryOrigin origin{transport, &client};
        std::vector<uint8_t> buffer(transport == zones::Transport::udp ? 1232 : 65535);
        zones::AnswerSummary summary;
        std::unique_ptr<MessageStream> rest;
        const bool is_tcp = transport == zones::Transport::tcp;
        size_t length =
            answer_message(*snapshot, message, buffer, origin, summary, is_tcp ? &rest : nullptr);
        std::vector<std::vector<uint8_t>> messages;
        for (int guard = 0; guard < 10000 && length > 0; ++guard) {
            messages.emplace_back(buffer.begin(), buffer.begin() + static_cast<long>(length));
            length = rest ? rest->next(buffer) : 0;
        }
        return messages;
    }
};

const tsig::Key kKey{"transfer-key.", "hmac-sha256.", kSecret};

uint16_t rcode_of(const std::vector<uint8_t>& message) {
    return message[3] & 0x0f;
}

// Asks `served` for an AXFR of `name` signed with `key`: requires one message, checks that it
// is NOTAUTH, and returns what checking its signature with `key` finds.
auto notauth_answer_check(Served& served, const char* name, const tsig::Key& key) {
    const auto request = tsig::sign(testing::make_query(name, LDNS_RR_TYPE_AXFR), key);
    const auto messages = served.ask(request->message);
    REQUIRE(messages.size() == 1);
    CHECK(rcode_of(messages[0]) == wire::rcode::kNotAuth);
    return tsig::verify_response(messages[0], key, request->mac, tsig::current_time());
}

}  // namespace

TEST_CASE("signed_axfr_of_a_large_zone_is_a_stream_of_signed_messages_in_order") {
    Served served(3000);
    const auto request = tsig::sign(testing::make_query("example.com.", LDNS_RR_TYPE_AXFR), kKey);
    REQUIRE(request);
    const auto messages = served.ask(request->message);
    REQUIRE(messages.size() >= 3);
    tsig::StreamVerifier verifier(kKey, request->mac);
    size_t records = 0;
    for (const auto& message : messages) {
        CHECK(message.size() <= 65535);
        CHECK(verifier.verify_next(message, tsig::current_time()).verdict == tsig::Verdict::valid);
        auto packet = testing::AnswerFixture::parse(message);
        REQUIRE(packet);
        CHECK(ldns_pkt_get_rcode(packet.get()) == LDNS_RCODE_NOERROR);
        records += ldns_rr_list_rr_count(ldns_pkt_answer(packet.get()));
    }
    // SOA first and last: every record of the zone, plus the SOA once more.
    CHECK(records == served.snapshot->catalog.zones().front()->record_count() + 1);
    // Out of order, the chain of MACs breaks (RFC 8945 §5.3.1).
    tsig::StreamVerifier reordered(kKey, request->mac);
    CHECK(reordered.verify_next(messages[1], tsig::current_time()).verdict ==
          tsig::Verdict::bad_sig);
}

TEST_CASE("unsigned_axfr_from_an_address_that_needs_a_key_is_refused") {
    Served served(3);
    const auto messages = served.ask(testing::make_query("example.com.", LDNS_RR_TYPE_AXFR));
    REQUIRE(messages.size() == 1);
    CHECK(rcode_of(messages[0]) == wire::rcode::kRefused);
}

TEST_CASE("unsigned_axfr_from_a_network_without_key_is_served") {
    Served served(3, "10.9.8.7");
    const auto messages = served.ask(testing::make_query("example.com.", LDNS_RR_TYPE_AXFR));
    REQUIRE(messages.size() == 1);
    CHECK(rcode_of(messages[0]) == wire::rcode::kNoError);
    Served outside(3, "192.0.2.99");
    CHECK(rcode_of(outside.ask(testing::make_query("example.com.", LDNS_RR_TYPE_AXFR))[0]) ==
          wire::rcode::kRefused);
}

TEST_CASE("unknown_key_gets_notauth_with_badkey") {
    Served served(3);
    const tsig::Key stranger{"stranger.", "hmac-sha256.", kSecret};
    CHECK(notauth_answer_check(served, "example.com.", stranger).error == tsig::error::kBadKey);
}

TEST_CASE("zone_not_served_at_that_apex_is_notauth") {
    Served served(3);
    CHECK(notauth_answer_check(served, "host1.example.com.", kKey).verdict == tsig::Verdict::valid);
}

TEST_CASE("over_udp_axfr_is_refused_and_ixfr_gets_the_current_soa") {
    Served served(3);
    const auto axfr = tsig::sign(testing::make_query("example.com.", LDNS_RR_TYPE_AXFR), kKey);
    auto messages = served.ask(axfr->message, zones::Transport::udp);
    REQUIRE(messages.size() == 1);
    CHECK(rcode_of(messages[0]) == wire::rcode::kRefused);

    const auto ixfr = tsig::sign(testing::make_query("example.com.", LDNS_RR_TYPE_IXFR), kKey);
    messages = served.ask(ixfr->message, zones::Transport::udp);
    REQUIRE(messages.size() == 1);
    CHECK(tsig::verify_response(messages[0], kKey, ixfr->mac, tsig::current_time()).verdict ==
          tsig::Verdict::valid);
    auto packet = testing::AnswerFixture::parse(messages[0]);
    REQUIRE(packet);
    CHECK(testing::answer(packet) ==
          std::vector<std::string>{"example.com. 300 IN SOA ns1.example.com. "
                                   "hostmaster.example.com. 7 7200 900 1209600 60"});
}

TEST_CASE("ixfr_without_the_client_soa_is_formerr") {
    Served served(3);
    const auto ixfr = tsig::sign(testing::make_query("example.com.", LDNS_RR_TYPE_IXFR), kKey);
    const auto messages = served.ask(ixfr->message);
    REQUIRE(messages.size() == 1);
    CHECK(rcode_of(messages[0]) == wire::rcode::kFormErr);
}

TEST_CASE("signed_soa_query_gets_a_signed_answer") {
    Served served(3);
    const auto request = tsig::sign(testing::make_query("example.com.", LDNS_RR_TYPE_SOA), kKey);
    const auto messages = served.ask(request->message, zones::Transport::udp);
    REQUIRE(messages.size() == 1);
    CHECK(rcode_of(messages[0]) == wire::rcode::kNoError);
    CHECK(tsig::verify_response(messages[0], kKey, request->mac, tsig::current_time()).verdict ==
          tsig::Verdict::valid);
}
