// AXFR and IXFR questions on the plain answer path (RFC 5936, RFC 1995): refusals, NOTAUTH and
// the SOA alone are answered by respond() itself, allocation-free, with the incident noted
// for the counters; only a transfer the ACL allows over TCP is deferred (issue 13 defect 1).
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "support/allocation_count.hpp"
#include "support/answer_fixture.hpp"
#include "wire/constants.hpp"
#include "wire/name.hpp"

using namespace meridian;
using namespace meridian::testing;

namespace {

constexpr const char* kZone = R"($TTL 300
@ SOA ns1 hostmaster 7 7200 900 1209600 60
@ NS ns1
ns1 A 192.0.2.1
www A 192.0.2.10
)";

// example.com. whose allow_transfer is 10.0.0.0/8 without a key and 127.0.0.2 with
// "transfer-key.".
struct Primary : AnswerFixture {
    Primary() : AnswerFixture(ZoneTexts{{"example.com.", kZone}}) {
        REQUIRE(errors == "");
        zones::ZoneTransferPolicy policy;
        std::string error;
        policy.allow.push_back({*geoip::parse_prefix("10.0.0.0/8", error), ""});
        policy.allow.push_back({*geoip::parse_prefix("127.0.0.2/32", error), "transfer-key."});
        snapshot().transfers.zones[wire::wire_from_text("example.com.")] = std::move(policy);
    }
};

struct Answer {
    std::vector<uint8_t> bytes;
    zones::AnswerSummary summary;
    zones::Deferral deferred = zones::Deferral::none;
    size_t allocations = 0;

    uint16_t rcode() const { return bytes.size() >= 4 ? bytes[3] & 0x0F : 0xFFFF; }
};

// respond() with the allocation counter armed, asking for a deferral.
Answer ask(Primary& primary, const std::vector<uint8_t>& query, const char* client,
           zones::Transport transport, const zones::VerifiedSignature* signature = nullptr) {
    const auto address = geoip::parse_address(client);
    REQUIRE(address);
    zones::QueryOrigin origin{transport, &*address};
    origin.signature = signature;
    Answer answer;
    answer.bytes.resize(65535);
    allocations = 0;
    counting = true;
    const size_t length = zones::respond(primary.snapshot(), query, answer.bytes, origin,
                                         answer.summary, &answer.deferred);
    counting = false;
    answer.allocations = allocations.load();
    answer.bytes.resize(length);
    return answer;
}

// An IXFR query whose authority section has the client's SOA at `serial` (RFC 1995 §3).
std::vector<uint8_t> ixfr_query(const char* name, uint32_t serial) {
    auto message = make_query(name, LDNS_RR_TYPE_IXFR);
    message.push_back(0xC0);  // the owner: a pointer to the question's name
    message.push_back(12);
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

TEST_CASE("udp_axfr_is_refused_whoever_asks_and_whatever_the_zone") {
    Primary primary;
    for (const char* name : {"example.com.", "www.example.com.", "example.org."}) {
        for (const char* client : {"10.1.2.3", "192.0.2.99"}) {
            CAPTURE(std::string(name));
            CAPTURE(std::string(client));
            const auto answer =
                ask(primary, make_query(name, LDNS_RR_TYPE_AXFR), client, zones::Transport::udp);
            CHECK(answer.deferred == zones::Deferral::none);
            CHECK(answer.rcode() == LDNS_RCODE_REFUSED);
            CHECK(answer.summary.incident == zones::Incident::transfer_refused);
            CHECK(answer.allocations == 0);
        }
    }
}

TEST_CASE("udp_ixfr_gets_the_soa_alone_when_allowed_refused_or_notauth_otherwise") {
    Primary primary;
    auto answer = ask(primary, ixfr_query("example.com.", 3), "10.1.2.3", zones::Transport::udp);
    CHECK(answer.deferred == zones::Deferral::none);
    CHECK(answer.rcode() == LDNS_RCODE_NOERROR);
    CHECK(answer.summary.incident == zones::Incident::none);
    CHECK(answer.allocations == 0);
    auto packet = AnswerFixture::parse(answer.bytes);
    REQUIRE(packet);
    CHECK(ldns_pkt_aa(packet.get()));
    CHECK(testing::answer(packet) ==
          std::vector<std::string>{
              "example.com. 300 IN SOA ns1.example.com. hostmaster.example.com. 7 7200 900 "
              "1209600 60"});

    answer = ask(primary, ixfr_query("example.com.", 3), "192.0.2.99", zones::Transport::udp);
    CHECK(answer.rcode() == LDNS_RCODE_REFUSED);
    CHECK(answer.summary.incident == zones::Incident::transfer_refused);
    CHECK(answer.allocations == 0);

    for (const char* name : {"www.example.com.", "example.org."}) {
        answer = ask(primary, ixfr_query(name, 3), "10.1.2.3", zones::Transport::udp);
        CHECK(answer.rcode() == LDNS_RCODE_NOTAUTH);
        CHECK(answer.summary.incident == zones::Incident::transfer_refused);
        CHECK(answer.allocations == 0);
    }
}

TEST_CASE("tcp_transfer_is_deferred_only_when_the_acl_allows_it") {
    Primary primary;
    auto answer = ask(primary, make_query("example.com.", LDNS_RR_TYPE_AXFR), "10.1.2.3",
                      zones::Transport::tcp);
    CHECK(answer.deferred == zones::Deferral::transfer);
    CHECK(answer.bytes.empty());
    // 127.0.0.2 must sign with transfer-key.; unsigned it is refused, signed it is deferred.
    answer = ask(primary, make_query("example.com.", LDNS_RR_TYPE_AXFR), "127.0.0.2",
                 zones::Transport::tcp);
    CHECK(answer.deferred == zones::Deferral::none);
    CHECK(answer.rcode() == LDNS_RCODE_REFUSED);
    CHECK(answer.allocations == 0);
    const zones::VerifiedSignature signature{"transfer-key.", 61};
    answer = ask(primary, make_query("example.com.", LDNS_RR_TYPE_AXFR), "127.0.0.2",
                 zones::Transport::tcp, &signature);
    CHECK(answer.deferred == zones::Deferral::transfer);
    const zones::VerifiedSignature other{"other-key.", 59};
    answer = ask(primary, make_query("example.com.", LDNS_RR_TYPE_AXFR), "127.0.0.2",
                 zones::Transport::tcp, &other);
    CHECK(answer.rcode() == LDNS_RCODE_REFUSED);
    answer = ask(primary, make_query("example.com.", LDNS_RR_TYPE_AXFR), "192.0.2.99",
                 zones::Transport::tcp);
    CHECK(answer.rcode() == LDNS_RCODE_REFUSED);
    CHECK(answer.summary.incident == zones::Incident::transfer_refused);
    CHECK(answer.allocations == 0);

    // Without a caller to stream it, an allowed transfer is refused.
    const auto address = geoip::parse_address("10.1.2.3");
    std::vector<uint8_t> response(65535);
    const size_t length =
        zones::respond(primary.snapshot(), make_query("example.com.", LDNS_RR_TYPE_AXFR), response,
                       {zones::Transport::tcp, &*address});
    REQUIRE(length > 0);
    CHECK((response[3] & 0x0F) == LDNS_RCODE_REFUSED);
}

TEST_CASE("tcp_ixfr_needs_the_client_soa_and_a_current_client_gets_the_soa_alone") {
    Primary primary;
    auto answer = ask(primary, make_query("example.com.", LDNS_RR_TYPE_IXFR), "10.1.2.3",
                      zones::Transport::tcp);
    CHECK(answer.rcode() == LDNS_RCODE_FORMERR);
    CHECK(answer.allocations == 0);
    for (const uint32_t serial : {7u, 8u}) {
        answer =
            ask(primary, ixfr_query("example.com.", serial), "10.1.2.3", zones::Transport::tcp);
        CHECK(answer.deferred == zones::Deferral::none);
        CHECK(answer.rcode() == LDNS_RCODE_NOERROR);
        auto packet = AnswerFixture::parse(answer.bytes);
        REQUIRE(packet);
        CHECK(ldns_rr_list_rr_count(ldns_pkt_answer(packet.get())) == 1);
    }
    answer = ask(primary, ixfr_query("example.com.", 6), "10.1.2.3", zones::Transport::tcp);
    CHECK(answer.deferred == zones::Deferral::transfer);
}

TEST_CASE("signed_message_is_deferred_until_verified_then_answered_with_room_for_its_tsig") {
    Primary primary;
    auto query = make_query("www.example.com.", LDNS_RR_TYPE_A, {.edns = true, .udp_size = 512});
    // A TSIG record (its content is the verifier's business, not respond()'s).
    const std::string owner = wire::wire_from_text("transfer-key.");
    const std::string algorithm = wire::wire_from_text("hmac-sha256.");
    query.insert(query.end(), owner.begin(), owner.end());
    query.insert(query.end(),
                 {0, 250, 0, 255, 0, 0, 0, 0, 0, static_cast<uint8_t>(algorithm.size() + 16 + 32)});
    query.insert(query.end(), algorithm.begin(), algorithm.end());
    query.insert(query.end(), {0, 0, 0x65, 0x53, 0xf1, 0, 1, 0x2c, 0, 32});
    query.insert(query.end(), 32, 0xAB);
    query.insert(query.end(), {0x12, 0x34, 0, 0, 0, 0});
    query[11] = 2;  // ARCOUNT: the OPT and the TSIG
    auto answer = ask(primary, query, "127.0.0.2", zones::Transport::udp);
    CHECK(answer.deferred == zones::Deferral::signed_message);
    CHECK(answer.bytes.empty());
    const zones::VerifiedSignature signature{"transfer-key.", 61};
    answer = ask(primary, query, "127.0.0.2", zones::Transport::udp, &signature);
    CHECK(answer.deferred == zones::Deferral::none);
    CHECK(answer.rcode() == LDNS_RCODE_NOERROR);
    CHECK(answer.bytes.size() + 61 <= 512);
    CHECK(answer.allocations == 0);
}

TEST_CASE("ixfr_client_serial_reads_the_authority_soa") {
    CHECK(zones::ixfr_client_serial(ixfr_query("example.com.", 4242)) == 4242u);
    CHECK(!zones::ixfr_client_serial(make_query("example.com.", LDNS_RR_TYPE_IXFR)));
    auto cut = ixfr_query("example.com.", 4242);
    cut.resize(cut.size() - 19);  // inside the serial
    CHECK(!zones::ixfr_client_serial(cut));
    auto not_soa = ixfr_query("example.com.", 4242);
    not_soa[12 + 13 + 4 + 2 + 1] = 1;  // the authority record's type: A
    CHECK(!zones::ixfr_client_serial(not_soa));
}
