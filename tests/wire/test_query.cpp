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

namespace {

// The plain query with `records` appended: `answers` of them counted in ANCOUNT, the rest in
// ARCOUNT.
std::vector<uint8_t> with_records(const std::vector<uint8_t>& records, uint8_t answers,
                                  uint8_t additional) {
    std::vector<uint8_t> m = query_bytes();
    m[7] = answers;
    m[11] = additional;
    for (uint8_t octet : records) m.push_back(octet);
    return m;
}

// A record owned by the question's name (a pointer to offset 12), of class IN unless given.
std::vector<uint8_t> record(uint16_t type, const std::vector<uint8_t>& rdata,
                            uint16_t rclass = klass::kIN) {
    std::vector<uint8_t> r = {0xC0,
                              12,
                              uint8_t(type >> 8),
                              uint8_t(type),
                              uint8_t(rclass >> 8),
                              uint8_t(rclass),
                              0,
                              0,
                              0,
                              0,
                              uint8_t(rdata.size() >> 8),
                              uint8_t(rdata.size())};
    for (uint8_t octet : rdata) r.push_back(octet);
    return r;
}

// TSIG RDATA (RFC 8945 §4.2): hmac-sha256., time, fudge, MAC, original ID, error, other.
std::vector<uint8_t> tsig_rdata(uint16_t mac_size, size_t mac_octets, uint16_t other_len,
                                size_t other_octets) {
    std::vector<uint8_t> r = {11, 'h', 'm', 'a', 'c', '-', 's', 'h', 'a', '2', '5', '6', 0};
    for (uint8_t octet : {0, 0, 0x66, 0x6a, 0x8b, 0x00, 0x01, 0x2c}) r.push_back(octet);
    r.push_back(uint8_t(mac_size >> 8));
    r.push_back(uint8_t(mac_size));
    r.insert(r.end(), mac_octets, 0xAB);
    for (uint8_t octet : {0x12, 0x34, 0, 0}) r.push_back(octet);
    r.push_back(uint8_t(other_len >> 8));
    r.push_back(uint8_t(other_len));
    r.insert(r.end(), other_octets, 0);
    return r;
}

}  // namespace

TEST_CASE("client_subnet_scope_in_a_query_is_formerr") {
    // RFC 7871 §6: SCOPE PREFIX-LENGTH is 0 in queries; §7.2.1: a malformed option is FORMERR.
    Query q;
    CHECK(parse(query_bytes({0, 8, 0, 7, 0, 1, 24, 24, 198, 51, 100}, true), q) ==
          ParseStatus::formerr);
    CHECK(parse(query_bytes({0, 8, 0, 7, 0, 1, 24, 0, 198, 51, 100}, true), q) == ParseStatus::ok);
}

TEST_CASE("cookie_of_a_wrong_length_is_formerr") {
    // RFC 7873 §4 and §5.2.2: a client cookie of 8 octets, alone or followed by a server
    // cookie of 8 to 32; any other length is FORMERR.
    for (size_t length = 0; length <= 48; ++length) {
        CAPTURE(length);
        std::vector<uint8_t> option = {0, 10, 0, uint8_t(length)};
        option.insert(option.end(), length, 0x5A);
        Query q;
        const bool is_valid = length == 8 || (length >= 16 && length <= 40);
        CHECK(parse(query_bytes(option, true), q) ==
              (is_valid ? ParseStatus::ok : ParseStatus::formerr));
    }
}

TEST_CASE("records_owned_by_bad_pointers_are_formerr") {
    Query q;
    std::vector<uint8_t> a = record(type::kA, {192, 0, 2, 1});
    REQUIRE(parse(with_records(a, 1, 0), q) == ParseStatus::ok);
    a[1] = 0xFF;  // beyond the end
    CHECK(parse(with_records(a, 1, 0), q) == ParseStatus::formerr);
    a[1] = 33;  // the record's own position: a loop
    CHECK(parse(with_records(a, 0, 1), q) == ParseStatus::formerr);
    a[1] = 4;  // into the header
    CHECK(parse(with_records(a, 1, 0), q) == ParseStatus::formerr);
}

TEST_CASE("address_records_of_a_wrong_length_are_formerr") {
    // RFC 1035 §3.4.1, RFC 3596 §2.2: A is 4 octets, AAAA 16, in class IN.
    Query q;
    CHECK(parse(with_records(record(type::kA, {1, 2, 3, 4, 5}), 1, 0), q) == ParseStatus::formerr);
    CHECK(parse(with_records(record(type::kA, {1, 2, 3}), 0, 1), q) == ParseStatus::formerr);
    CHECK(parse(with_records(record(type::kAAAA, {1, 2, 3, 4}), 0, 1), q) == ParseStatus::formerr);
    CHECK(parse(with_records(record(type::kAAAA, std::vector<uint8_t>(16, 1)), 0, 1), q) ==
          ParseStatus::ok);
    // In another class A means something else (RFC 1035 §3.4.1 is class IN's).
    CHECK(parse(with_records(record(type::kA, {1, 2, 3, 4, 5}, klass::kCH), 1, 0), q) ==
          ParseStatus::ok);
}

TEST_CASE("tsig_whose_lengths_lie_is_formerr") {
    // RFC 8945 §4.2: the fields must fill RDLENGTH exactly; a lie in MAC Size or Other Len
    // is malformed (§5.2: FORMERR), decided here before any key or MAC is looked at.
    Query q;
    const auto tsig = [](const std::vector<uint8_t>& rdata) {
        return record(type::kTSIG, rdata, klass::kANY);
    };
    REQUIRE(parse(with_records(tsig(tsig_rdata(32, 32, 0, 0)), 0, 1), q) == ParseStatus::ok);
    CHECK(q.has_tsig);
    REQUIRE(parse(with_records(tsig(tsig_rdata(32, 32, 6, 6)), 0, 1), q) == ParseStatus::ok);
    struct Case {
        const char* what;
        std::vector<uint8_t> rdata;
    };
    std::vector<uint8_t> cut = tsig_rdata(32, 32, 0, 0);
    cut.resize(19);
    const std::vector<Case> lies = {
        {"empty", {}},
        {"cut after Time Signed", cut},
        {"MAC Size past the RDATA", tsig_rdata(200, 32, 0, 0)},
        {"MAC Size 65535", tsig_rdata(65535, 32, 0, 0)},
        {"MAC Size shorter than the MAC", tsig_rdata(8, 32, 0, 0)},
        {"Other Len past the RDATA", tsig_rdata(32, 32, 60, 0)},
        {"octets after Other Data", tsig_rdata(32, 32, 0, 6)},
        {"algorithm name past the RDATA", {11, 'h', 'm', 'a', 'c', '-', 's', 'h', 'a', 63, 'x'}},
    };
    for (const auto& lie : lies) {
        const std::string what = lie.what;
        CAPTURE(what);
        CHECK(parse(with_records(tsig(lie.rdata), 0, 1), q) == ParseStatus::formerr);
    }
}
