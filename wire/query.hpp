// Parsing an incoming DNS message into a Query: header, the one question, and the EDNS OPT
// record with the options we act on (NSID, Client Subnet). No allocation; every length is
// checked before it is read.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "wire/name.hpp"

namespace meridian::wire {

// RFC 7871 §6: the option as the resolver sent it, already validated.
struct ClientSubnet {
    uint16_t family = 0;  // 1 = IPv4, 2 = IPv6
    uint8_t source_prefix = 0;
    uint8_t scope_prefix = 0;
    uint8_t address[16] = {};  // zero-padded past source_prefix
};

struct Edns {
    bool present = false;
    uint16_t udp_size = 0;  // requester's payload size, as sent
    uint8_t version = 0;
    bool dnssec_ok = false;
    bool nsid_requested = false;
    bool has_client_subnet = false;
    ClientSubnet client_subnet;
};

// What parse_query decided about a message.
enum class ParseStatus {
    ok,       // a well-formed message; look at opcode and the question
    drop,     // not worth an answer: too short for a header, or a response (QR=1)
    formerr,  // malformed: answer FORMERR (the header is valid, the id can be echoed)
};

struct Query {
    uint16_t id = 0;
    uint8_t opcode = 0;
    bool recursion_desired = false;
    bool checking_disabled = false;
    uint16_t qdcount = 0, ancount = 0, nscount = 0, arcount = 0;

    // The one question parsed (even if something later did not); false when QDCOUNT != 1,
    // whose questions are only skipped on the way to the OPT.
    bool has_question = false;
    Name qname;        // as sent, original case (echoed back)
    Name qname_lower;  // lowercase, for lookups
    uint16_t qtype = 0;
    uint16_t qclass = 0;

    Edns edns;
    bool has_tsig = false;  // a TSIG record is present (verified by the transfer code, later)
};

ParseStatus parse_query(std::span<const uint8_t> message, Query& query);

}  // namespace meridian::wire
