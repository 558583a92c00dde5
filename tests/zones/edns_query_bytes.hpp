// Test support for the EDNS compliance checks (ISC's ednscomp list): queries whose OPT record
// carries what ldns will not write for us (unknown flags and options, other opcodes, question
// counts other than one), shared by the protocol and the no-allocation tests.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "support/answer_fixture.hpp"

namespace meridian::testing {

// An EDNS query for `name`/`type` whose OPT (RFC 6891 §6.1.2) has these flags, version and
// encoded options; the OPT is the message's last record.
inline std::vector<uint8_t> edns_query(const std::string& name, ldns_rr_type type,
                                       uint16_t flags = 0, std::vector<uint8_t> options = {},
                                       uint8_t version = 0) {
    auto query = make_query(name, type, {.edns = true, .edns_version = version});
    const size_t opt = query.size() - 11;  // ldns wrote an OPT without options
    query[opt + 7] = static_cast<uint8_t>(flags >> 8);
    query[opt + 8] = static_cast<uint8_t>(flags);
    query[opt + 9] = static_cast<uint8_t>(options.size() >> 8);
    query[opt + 10] = static_cast<uint8_t>(options.size());
    query.insert(query.end(), options.begin(), options.end());
    return query;
}

// An EDNS query with `opcode` in the header (RFC 6895 §2.2).
inline std::vector<uint8_t> edns_query_with_opcode(uint8_t opcode) {
    auto query = edns_query("www.example.com.", LDNS_RR_TYPE_A);
    query[2] = static_cast<uint8_t>((query[2] & 0x87) | (opcode << 3));
    return query;
}

// An EDNS query whose question section holds `questions` copies of one question.
inline std::vector<uint8_t> edns_query_with_questions(uint8_t questions) {
    const auto one = edns_query("www.example.com.", LDNS_RR_TYPE_A);
    const size_t opt = one.size() - 11;
    std::vector<uint8_t> query(one.begin(), one.begin() + 12);
    query[4] = 0;
    query[5] = questions;
    for (uint8_t i = 0; i < questions; ++i)
        query.insert(query.end(), one.begin() + 12, one.begin() + opt);
    query.insert(query.end(), one.begin() + opt, one.end());
    return query;
}

// One EDNS option, encoded (RFC 6891 §6.1.2).
inline std::vector<uint8_t> edns_option(uint16_t code, const std::vector<uint8_t>& data) {
    std::vector<uint8_t> option = {static_cast<uint8_t>(code >> 8), static_cast<uint8_t>(code),
                                   static_cast<uint8_t>(data.size() >> 8),
                                   static_cast<uint8_t>(data.size())};
    option.insert(option.end(), data.begin(), data.end());
    return option;
}

}  // namespace meridian::testing
