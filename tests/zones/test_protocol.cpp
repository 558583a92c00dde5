// Protocol rules of the responder: EDNS (RFC 6891), NSID (RFC 5001), CHAOS identity
// (RFC 4892), opcodes, question counts, and malformed input.
#include <doctest/doctest.h>

#include <random>

#include "support/answer_fixture.hpp"
#include "zones/edns_query_bytes.hpp"

using namespace meridian::testing;

namespace {

AnswerFixture simple() {
    return AnswerFixture(
        ZoneTexts{{"example.com.",
                   "$TTL 60\n@ SOA ns h 1 1 1 1 1\n@ NS ns\nns A 192.0.2.1\nwww A 192.0.2.80\n"}});
}

// The response's OPT as the EDNS checks look at it: present, our version and payload size,
// the flags field whole (DO and the rest), and how many octets of options it carries.
struct ResponseOpt {
    bool present = false;
    int version = -1;
    uint16_t udp_size = 0;
    uint16_t flags = 0;
    size_t option_octets = 0;
};

ResponseOpt response_opt(const Packet& p) {
    ResponseOpt opt;
    if (!p || !ldns_pkt_edns(p.get())) return opt;
    opt.present = true;
    opt.version = ldns_pkt_edns_version(p.get());
    opt.udp_size = ldns_pkt_edns_udp_size(p.get());
    opt.flags = ldns_pkt_edns_z(p.get());
    if (const ldns_rdf* data = ldns_pkt_edns_data(p.get())) opt.option_octets = ldns_rdf_size(data);
    return opt;
}

}  // namespace

TEST_CASE("edns_opt_echoed_with_our_payload_size") {
    auto f = simple();
    f.snapshot().settings.udp_payload = 1400;
    auto p = f.ask("www.example.com.", LDNS_RR_TYPE_A, {.edns = true, .udp_size = 4096});
    REQUIRE(p);
    CHECK(ldns_pkt_edns(p.get()));
    CHECK(ldns_pkt_edns_udp_size(p.get()) == 1400);
    CHECK(ldns_pkt_edns_version(p.get()) == 0);
}

TEST_CASE("no_opt_without_edns_in_query") {
    auto f = simple();
    auto p = f.ask("www.example.com.", LDNS_RR_TYPE_A);
    CHECK_FALSE(ldns_pkt_edns(p.get()));
}

TEST_CASE("edns_do_bit_is_copied") {
    auto f = simple();
    auto p = f.ask("www.example.com.", LDNS_RR_TYPE_A, {.edns = true, .dnssec_ok = true});
    CHECK(ldns_pkt_edns_do(p.get()));
}

TEST_CASE("edns_version_above_zero_gets_badvers") {
    auto f = simple();
    auto bytes = f.respond_bytes(
        make_query("www.example.com.", LDNS_RR_TYPE_A, {.edns = true, .edns_version = 1}));
    auto p = AnswerFixture::parse(bytes);
    REQUIRE(p);
    // BADVERS = 16: low bits 0 in the header, 1 in the OPT's extended rcode.
    CHECK(ldns_pkt_get_rcode(p.get()) == 0);
    CHECK(ldns_pkt_edns_extended_rcode(p.get()) == 1);
    CHECK(ldns_pkt_edns_version(p.get()) == 0);
    CHECK(answer(p).empty());
}

TEST_CASE("two_opt_records_get_formerr") {
    auto f = simple();
    auto query = make_query("www.example.com.", LDNS_RR_TYPE_A, {.edns = true});
    const std::vector<uint8_t> opt(query.end() - 11, query.end());
    query.insert(query.end(), opt.begin(), opt.end());
    query[11] = 2;  // ARCOUNT
    auto p = AnswerFixture::parse(f.respond_bytes(query));
    REQUIRE(p);
    CHECK(rcode(p) == LDNS_RCODE_FORMERR);
}

TEST_CASE("nsid_returns_identity") {
    auto f = simple();
    auto bytes = f.respond_bytes(
        make_query("www.example.com.", LDNS_RR_TYPE_A, {.edns = true, .nsid = true}));
    const std::string response(bytes.begin(), bytes.end());
    CHECK(response.find(std::string("\x00\x03\x00\x08test-pop", 12)) != std::string::npos);
    auto without = f.respond_bytes(make_query("www.example.com.", LDNS_RR_TYPE_A, {.edns = true}));
    CHECK(std::string(without.begin(), without.end()).find("test-pop") == std::string::npos);
}

TEST_CASE("chaos_identity_and_version") {
    auto f = simple();
    for (const char* name : {"id.server.", "hostname.bind.", "ID.SERVER."}) {
        auto p = f.ask(name, LDNS_RR_TYPE_TXT, {.rclass = LDNS_RR_CLASS_CH});
        REQUIRE(answer(p).size() == 1);
        CHECK(answer(p)[0].find("\"test-pop\"") != std::string::npos);
    }
    auto version = f.ask("version.bind.", LDNS_RR_TYPE_TXT, {.rclass = LDNS_RR_CLASS_CH});
    REQUIRE(answer(version).size() == 1);
    CHECK(answer(version)[0].find("\"Meridian test\"") != std::string::npos);
    f.snapshot().settings.version.reset();
    auto hidden = f.ask("version.bind.", LDNS_RR_TYPE_TXT, {.rclass = LDNS_RR_CLASS_CH});
    CHECK(rcode(hidden) == LDNS_RCODE_REFUSED);
    auto other = f.ask("other.bind.", LDNS_RR_TYPE_TXT, {.rclass = LDNS_RR_CLASS_CH});
    CHECK(rcode(other) == LDNS_RCODE_REFUSED);
}

TEST_CASE("opcode_other_than_query_gets_notimp") {
    auto f = simple();
    auto query = make_query("www.example.com.", LDNS_RR_TYPE_A);
    query[2] = static_cast<uint8_t>((query[2] & 0x87) | (2 << 3));  // STATUS
    auto p = AnswerFixture::parse(f.respond_bytes(query));
    REQUIRE(p);
    CHECK(rcode(p) == LDNS_RCODE_NOTIMPL);
}

TEST_CASE("responses_are_dropped") {
    auto f = simple();
    auto query = make_query("www.example.com.", LDNS_RR_TYPE_A);
    query[2] |= 0x80;
    CHECK(f.respond_bytes(query).empty());
}

TEST_CASE("qdcount_other_than_one_gets_formerr") {
    auto f = simple();
    auto query = make_query("www.example.com.", LDNS_RR_TYPE_A);
    query[5] = 0;
    auto zero = AnswerFixture::parse(f.respond_bytes(query));
    REQUIRE(zero);
    CHECK(rcode(zero) == LDNS_RCODE_FORMERR);
    query[5] = 2;
    auto two = AnswerFixture::parse(f.respond_bytes(query));
    REQUIRE(two);
    CHECK(rcode(two) == LDNS_RCODE_FORMERR);
}

TEST_CASE("zone_transfers_are_refused_for_now") {
    auto f = simple();
    CHECK(rcode(f.ask("example.com.", LDNS_RR_TYPE_AXFR)) == LDNS_RCODE_REFUSED);
    CHECK(rcode(f.ask("example.com.", LDNS_RR_TYPE_IXFR)) == LDNS_RCODE_REFUSED);
}

TEST_CASE("udp_payload_is_min_of_requester_and_ours") {
    std::string zone = "$TTL 60\n@ SOA ns h 1 1 1 1 1\n@ NS ns\nns A 192.0.2.1\n";
    for (int i = 0; i < 100; ++i) zone += "big A 192.0.2." + std::to_string(i + 1) + "\n";
    AnswerFixture f(ZoneTexts{{"t.example.", zone}});  // 100 * 16 = 1600 octets of answer
    f.snapshot().settings.udp_payload = 1232;
    auto small = f.respond_bytes(
        make_query("big.t.example.", LDNS_RR_TYPE_A, {.edns = true, .udp_size = 1000}));
    CHECK(small.size() <= 1000);
    CHECK(ldns_pkt_tc(AnswerFixture::parse(small).get()));
    auto large = f.respond_bytes(
        make_query("big.t.example.", LDNS_RR_TYPE_A, {.edns = true, .udp_size = 4096}));
    CHECK(large.size() <= 1232);
    f.snapshot().settings.udp_payload = 4096;
    auto fits = f.respond_bytes(
        make_query("big.t.example.", LDNS_RR_TYPE_A, {.edns = true, .udp_size = 4096}));
    CHECK_FALSE(ldns_pkt_tc(AnswerFixture::parse(fits).get()));
    auto tiny = f.respond_bytes(
        make_query("big.t.example.", LDNS_RR_TYPE_A, {.edns = true, .udp_size = 100}));
    CHECK(tiny.size() <= 512);  // below 512 counts as 512 (RFC 6891 §6.2.5)
}

TEST_CASE("malformed_packets_get_formerr_or_are_dropped") {
    auto f = simple();
    CHECK(f.respond_bytes({}).empty());
    CHECK(f.respond_bytes({0x12, 0x34, 0x01}).empty());
    // A header claiming one question and nothing after it.
    auto truncated = f.respond_bytes({0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0});
    REQUIRE_FALSE(truncated.empty());
    CHECK(rcode(AnswerFixture::parse(truncated)) == LDNS_RCODE_FORMERR);
    // A compression pointer pointing at itself.
    auto loop =
        f.respond_bytes({0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, 0xC0, 12, 0, 1, 0, 1});
    CHECK(rcode(AnswerFixture::parse(loop)) == LDNS_RCODE_FORMERR);
    // Trailing garbage after a complete question.
    auto query = make_query("www.example.com.", LDNS_RR_TYPE_A);
    query.push_back(0xFF);
    CHECK(rcode(AnswerFixture::parse(f.respond_bytes(query))) == LDNS_RCODE_FORMERR);
}

TEST_CASE("random_bytes_never_crash") {
    auto f = simple();
    std::mt19937 random(7871);
    const auto base = make_query("www.example.com.", LDNS_RR_TYPE_A, {.edns = true, .nsid = true});
    for (int i = 0; i < 20000; ++i) {
        std::vector<uint8_t> packet = base;
        const int flips = 1 + static_cast<int>(random() % 6);
        for (int k = 0; k < flips; ++k)
            packet[random() % packet.size()] = static_cast<uint8_t>(random());
        if (random() % 4 == 0) packet.resize(random() % (packet.size() + 1));
        auto response = f.respond_bytes(packet);
        CHECK(response.size() <= 512 + 0);  // every UDP answer stays within the limit
    }
}

TEST_CASE("unavailable_zone_answers_servfail_not_its_parent") {
    // A secondary zone below example.com. that is not transferred yet, or has expired.
    auto f = simple();
    REQUIRE(
        f.snapshot().catalog.add_unavailable(meridian::wire::wire_from_text("sub.example.com.")));
    auto p = f.ask("www.sub.example.com.", LDNS_RR_TYPE_A);
    REQUIRE(p);
    CHECK(rcode(p) == LDNS_RCODE_SERVFAIL);
    auto parent = f.ask("www.example.com.", LDNS_RR_TYPE_A);
    CHECK(rcode(parent) == LDNS_RCODE_NOERROR);
    auto other = f.ask("www.example.org.", LDNS_RR_TYPE_A);
    CHECK(rcode(other) == LDNS_RCODE_REFUSED);
}

// ISC's EDNS compliance list (ednscomp), one test each, on bytes through zones::respond.
// RFC 6891 §7: every response to a query with a parseable OPT carries an OPT, errors included.

TEST_CASE("ednscomp_plain_edns_query_is_answered_with_opt") {
    auto f = simple();
    auto p = AnswerFixture::parse(f.respond_bytes(edns_query("www.example.com.", LDNS_RR_TYPE_A)));
    REQUIRE(p);
    CHECK(rcode(p) == LDNS_RCODE_NOERROR);
    CHECK(answer(p) == std::vector<std::string>{"www.example.com. 60 IN A 192.0.2.80"});
    const auto opt = response_opt(p);
    CHECK(opt.present);
    CHECK(opt.version == 0);
    CHECK(opt.udp_size == 1232);
    CHECK(opt.flags == 0);
    CHECK(opt.option_octets == 0);
}

TEST_CASE("ednscomp_unknown_opcode_gets_notimp_with_opt") {
    auto f = simple();
    for (const uint8_t opcode : {uint8_t{15}, uint8_t{2}, uint8_t{3}}) {
        CAPTURE(int(opcode));
        const auto bytes = f.respond_bytes(edns_query_with_opcode(opcode));
        auto p = AnswerFixture::parse(bytes);
        REQUIRE(p);
        CHECK(rcode(p) == LDNS_RCODE_NOTIMPL);
        // Read from the header: ldns's opcode enum has no value for 3 or 15.
        REQUIRE(bytes.size() >= 3);
        CHECK(((bytes[2] >> 3) & 0x0F) == opcode);
        const auto opt = response_opt(p);
        CHECK(opt.present);
        CHECK(opt.version == 0);
        CHECK(answer(p).empty());
    }
}

TEST_CASE("ednscomp_no_question_gets_formerr_with_opt") {
    auto f = simple();
    auto p = AnswerFixture::parse(f.respond_bytes(edns_query_with_questions(0)));
    REQUIRE(p);
    CHECK(rcode(p) == LDNS_RCODE_FORMERR);
    CHECK(response_opt(p).present);
    CHECK(response_opt(p).version == 0);
}

TEST_CASE("ednscomp_two_questions_get_formerr_with_opt") {
    auto f = simple();
    auto p = AnswerFixture::parse(f.respond_bytes(edns_query_with_questions(2)));
    REQUIRE(p);
    CHECK(rcode(p) == LDNS_RCODE_FORMERR);
    CHECK(response_opt(p).present);
    CHECK(answer(p).empty());
}

TEST_CASE("formerr_for_an_unparseable_opt_carries_no_opt") {
    // RFC 6891 §7 asks for an OPT only when the query's OPT could be read: an option whose
    // length runs past the record's RDATA cannot.
    auto f = simple();
    auto query = edns_query_with_questions(0);
    query[query.size() - 1] = 4;                // RDLENGTH 4 ...
    query.insert(query.end(), {0, 100, 0, 9});  // ... holding an option that claims 9 octets
    auto p = AnswerFixture::parse(f.respond_bytes(query));
    REQUIRE(p);
    CHECK(rcode(p) == LDNS_RCODE_FORMERR);
    CHECK_FALSE(response_opt(p).present);
}

TEST_CASE("ednscomp_unknown_edns_flag_is_not_echoed") {
    auto f = simple();
    auto p = AnswerFixture::parse(
        f.respond_bytes(edns_query("www.example.com.", LDNS_RR_TYPE_A, 0x4000)));
    REQUIRE(p);
    CHECK(rcode(p) == LDNS_RCODE_NOERROR);
    CHECK(answer(p).size() == 1);
    CHECK(response_opt(p).flags == 0);
    // With DO as well, only DO comes back.
    auto with_do = AnswerFixture::parse(
        f.respond_bytes(edns_query("www.example.com.", LDNS_RR_TYPE_A, 0xC001)));
    REQUIRE(with_do);
    CHECK(response_opt(with_do).flags == 0x8000);
}

TEST_CASE("ednscomp_edns_version_1_gets_badvers_with_version_0") {
    auto f = simple();
    // edns1, edns1opt and edns1flags: an unknown option or flag changes nothing.
    for (const auto& query :
         {edns_query("www.example.com.", LDNS_RR_TYPE_A, 0, {}, 1),
          edns_query("www.example.com.", LDNS_RR_TYPE_A, 0, edns_option(100, {1, 2, 3}), 1),
          edns_query("www.example.com.", LDNS_RR_TYPE_A, 0x4000, {}, 1)}) {
        auto p = AnswerFixture::parse(f.respond_bytes(query));
        REQUIRE(p);
        // BADVERS = 16: low bits 0 in the header, 1 in the OPT's extended rcode.
        CHECK(rcode(p) == 0);
        CHECK(ldns_pkt_edns_extended_rcode(p.get()) == 1);
        const auto opt = response_opt(p);
        CHECK(opt.present);
        CHECK(opt.version == 0);
        CHECK(opt.flags == 0);
        CHECK(opt.option_octets == 0);
        CHECK(answer(p).empty());
    }
}

TEST_CASE("ednscomp_unknown_option_is_ignored_and_not_echoed") {
    auto f = simple();
    // An unassigned option code, and a COOKIE (RFC 7873 §5.2.2: a server without cookie
    // support answers as if the option were absent).
    for (const auto& option :
         {edns_option(100, {0xAB, 0xCD}), edns_option(10, {1, 2, 3, 4, 5, 6, 7, 8})}) {
        auto p = AnswerFixture::parse(
            f.respond_bytes(edns_query("www.example.com.", LDNS_RR_TYPE_A, 0, option)));
        REQUIRE(p);
        CHECK(rcode(p) == LDNS_RCODE_NOERROR);
        CHECK(answer(p) == std::vector<std::string>{"www.example.com. 60 IN A 192.0.2.80"});
        CHECK(response_opt(p).present);
        CHECK(response_opt(p).option_octets == 0);
    }
}

TEST_CASE("ednscomp_do_bit_is_echoed") {
    auto f = simple();
    auto p = AnswerFixture::parse(
        f.respond_bytes(edns_query("www.example.com.", LDNS_RR_TYPE_A, 0x8000)));
    REQUIRE(p);
    CHECK(rcode(p) == LDNS_RCODE_NOERROR);
    CHECK(response_opt(p).flags == 0x8000);
    // On error responses too.
    auto query = edns_query_with_opcode(15);
    query[query.size() - 4] = 0x80;  // the OPT's DO bit
    auto notimp = AnswerFixture::parse(f.respond_bytes(query));
    REQUIRE(notimp);
    CHECK(rcode(notimp) == LDNS_RCODE_NOTIMPL);
    CHECK(response_opt(notimp).flags == 0x8000);
}

TEST_CASE("ednscomp_edns_over_tcp") {
    auto f = simple();
    auto p = AnswerFixture::parse(f.respond_bytes(edns_query("www.example.com.", LDNS_RR_TYPE_A),
                                                  meridian::zones::Transport::tcp));
    REQUIRE(p);
    CHECK(rcode(p) == LDNS_RCODE_NOERROR);
    CHECK(answer(p).size() == 1);
    CHECK(response_opt(p).present);
    CHECK(response_opt(p).version == 0);
    auto notimp = AnswerFixture::parse(
        f.respond_bytes(edns_query_with_opcode(15), meridian::zones::Transport::tcp));
    REQUIRE(notimp);
    CHECK(rcode(notimp) == LDNS_RCODE_NOTIMPL);
    CHECK(response_opt(notimp).present);
}
