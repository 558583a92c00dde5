// Query parsing: header rules, the question, OPT and its options (NSID, Client Subnet).
#include <doctest/doctest.h>

#include <vector>

#include "wire/constants.hpp"
#include "wire/query.hpp"

using namespace meridian::wire;

namespace {

// www.example.com A IN, id 0x1234, RD; optionally with an OPT carrying `options`.
std::vector<uint8_t> query_bytes(std::vector<uint8_t> options = {}, bool with_opt = false) {
    std::vector<uint8_t> m = {
        0x12, 0x34, 0x01, 0x00, 0, 1,   0,   0,   0,   0,   0,   uint8_t(with_opt ? 1 : 0),
        3,    'w',  'w',  'w',  7, 'e', 'x', 'a', 'm', 'p', 'l', 'e',
        3,    'c',  'o',  'm',  0, 0,   1,   0,   1};
    if (with_opt) {
        // push_back rather than insert: GCC 12 warns falsely (-Warray-bounds) on the latter.
        for (uint8_t octet : {0, 0, 41, 0x10, 0, 0, 0, 0x80, 0, int(options.size() >> 8),
                              int(options.size() & 0xFF)})
            m.push_back(octet);
        for (uint8_t octet : options) m.push_back(octet);
    }
    return m;
}

ParseStatus parse(const std::vector<uint8_t>& m, Query& q) {
    return parse_query({m.data(), m.size()}, q);
}

}  // namespace

TEST_CASE("plain_query_parses") {
    Query q;
    REQUIRE(parse(query_bytes(), q) == ParseStatus::ok);
    CHECK(q.id == 0x1234);
    CHECK(q.recursion_desired);
    CHECK(q.qtype == type::kA);
    CHECK_FALSE(q.edns.present);
}

TEST_CASE("opt_fields_and_nsid") {
    Query q;
    REQUIRE(parse(query_bytes({0, 3, 0, 0}, true), q) == ParseStatus::ok);
    CHECK(q.edns.present);
    CHECK(q.edns.udp_size == 4096);
    CHECK(q.edns.dnssec_ok);
    CHECK(q.edns.nsid_requested);
}

TEST_CASE("client_subnet_valid") {
    Query q;
    REQUIRE(parse(query_bytes({0, 8, 0, 7, 0, 1, 24, 0, 198, 51, 100}, true), q) ==
            ParseStatus::ok);
    CHECK(q.edns.has_client_subnet);
    CHECK(q.edns.client_subnet.family == 1);
    CHECK(q.edns.client_subnet.source_prefix == 24);
    CHECK(q.edns.client_subnet.address[2] == 100);
}

TEST_CASE("client_subnet_malformed_is_formerr") {
    Query q;
    // RFC 7871 §7.1.1 / §6: unknown family, prefix too long, wrong address length, bits past
    // prefix.
    CHECK(parse(query_bytes({0, 8, 0, 7, 0, 3, 24, 0, 198, 51, 100}, true), q) ==
          ParseStatus::formerr);
    CHECK(parse(query_bytes({0, 8, 0, 8, 0, 1, 33, 0, 198, 51, 100, 1}, true), q) ==
          ParseStatus::formerr);
    CHECK(parse(query_bytes({0, 8, 0, 8, 0, 1, 24, 0, 198, 51, 100, 1}, true), q) ==
          ParseStatus::formerr);
    CHECK(parse(query_bytes({0, 8, 0, 7, 0, 1, 23, 0, 198, 51, 101}, true), q) ==
          ParseStatus::formerr);
    CHECK(parse(query_bytes({0, 8, 0, 2, 0, 1}, true), q) == ParseStatus::formerr);
    // Source prefix 0 with no address octets is valid.
    CHECK(parse(query_bytes({0, 8, 0, 4, 0, 1, 0, 0}, true), q) == ParseStatus::ok);
}

TEST_CASE("option_running_past_opt_is_formerr") {
    Query q;
    CHECK(parse(query_bytes({0, 3, 0, 9}, true), q) == ParseStatus::formerr);
}

TEST_CASE("short_and_response_messages_are_dropped") {
    Query q;
    std::vector<uint8_t> m = query_bytes();
    m[2] |= 0x80;
    CHECK(parse(m, q) == ParseStatus::drop);
    CHECK(parse(std::vector<uint8_t>(11, 0), q) == ParseStatus::drop);
}

TEST_CASE("truncated_question_is_formerr") {
    Query q;
    auto m = query_bytes();
    m.resize(m.size() - 2);
    CHECK(parse(m, q) == ParseStatus::formerr);
}

TEST_CASE("opt_is_read_when_qdcount_is_not_one") {
    // RFC 6891 §7: the FORMERR for QDCOUNT != 1 must carry an OPT, so the parser reads past
    // the questions to it.
    const auto one = query_bytes({}, true);
    const std::vector<uint8_t> question(one.begin() + 12, one.end() - 11);
    const std::vector<uint8_t> opt(one.end() - 11, one.end());
    for (const uint8_t questions : {uint8_t{0}, uint8_t{2}}) {
        CAPTURE(int(questions));
        std::vector<uint8_t> m(one.begin(), one.begin() + 12);
        m[5] = questions;
        for (uint8_t i = 0; i < questions; ++i) m.insert(m.end(), question.begin(), question.end());
        m.insert(m.end(), opt.begin(), opt.end());
        Query q;
        REQUIRE(parse(m, q) == ParseStatus::ok);
        CHECK_FALSE(q.has_question);
        CHECK(q.edns.present);
        CHECK(q.edns.dnssec_ok);
        // A question that runs past the message is malformed, as with one question.
        m.resize(12 + (questions ? question.size() - 2 : 0));
        m[11] = 0;
        if (questions) CHECK(parse(m, q) == ParseStatus::formerr);
    }
}
