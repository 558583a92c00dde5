// Parsing an incoming DNS message into a Query. Every length is checked before it is read
// and every loop is bounded by the message size, so hostile input cannot crash or hang us.
#include "wire/query.hpp"

#include <cstring>

#include "wire/bytes.hpp"
#include "wire/constants.hpp"

namespace meridian::wire {

namespace {

// RFC 7871 §6 and §7.1.1: the checks whose failure must give FORMERR.
bool parse_client_subnet(std::span<const uint8_t> option, ClientSubnet& out) {
    if (option.size() < 4) return false;
    out.family = read16(option, 0);
    out.source_prefix = option[2];
    out.scope_prefix = option[3];
    if (out.scope_prefix != 0) return false;  // §6: "In queries, it MUST be set to 0"
    size_t max_prefix;
    if (out.family == 1) {
        max_prefix = 32;
    } else if (out.family == 2) {
        max_prefix = 128;
    } else {
        return false;
    }
    if (out.source_prefix > max_prefix) return false;
    const size_t address_length = (size_t(out.source_prefix) + 7) / 8;
    if (option.size() - 4 != address_length) return false;
    std::memset(out.address, 0, sizeof out.address);
    std::memcpy(out.address, option.data() + 4, address_length);
    // Bits past SOURCE PREFIX-LENGTH must be zero (§6: "MUST be set to 0").
    if (out.source_prefix % 8 != 0) {
        const uint8_t last = out.address[address_length - 1];
        const uint8_t mask = static_cast<uint8_t>(0xFF >> (out.source_prefix % 8));
        if (last & mask) return false;
    }
    return true;
}

// Reads the OPT record's fixed part and its options (RFC 6891 §6.1.2).
bool parse_opt(std::span<const uint8_t> m, size_t fixed_at, size_t rdata_at, size_t rdlength,
               Edns& edns) {
    edns.udp_size = read16(m, fixed_at + 2);
    edns.version = m[fixed_at + 5];
    edns.dnssec_ok = (m[fixed_at + 6] & 0x80) != 0;
    size_t at = rdata_at;
    const size_t end = rdata_at + rdlength;
    while (at < end) {
        if (end - at < 4) return false;
        const uint16_t code = read16(m, at);
        const uint16_t length = read16(m, at + 2);
        at += 4;
        if (end - at < length) return false;
        const auto body = m.subspan(at, length);
        if (code == edns::kNsid) {
            edns.nsid_requested = true;
        } else if (code == edns::kCookie) {
            // RFC 7873 §4, §5.2.2: a client cookie of 8 octets, alone or with a server
            // cookie of 8 to 32; any other length is malformed. We do not answer cookies
            // yet, but a broken one is FORMERR all the same, as servers that do answer it.
            if (length != 8 && (length < 16 || length > 40)) return false;
        } else if (code == edns::kClientSubnet) {
            if (edns.has_client_subnet) return false;  // RFC 7871 §7.1.1: only one
            if (!parse_client_subnet(body, edns.client_subnet)) return false;
            edns.has_client_subnet = true;
        }
        at += length;
    }
    edns.present = true;
    return true;
}

// RFC 8945 §4.2: Algorithm Name, Time Signed (6), Fudge (2), MAC Size (2), MAC, Original
// ID (2), Error (2), Other Len (2), Other Data, filling RDLENGTH exactly. A record whose
// sizes lie is malformed (§5.2: FORMERR) before any key or MAC is looked at.
bool is_tsig_rdata_whole(std::span<const uint8_t> m, size_t rdata_at, size_t rdlength) {
    const auto rdata = m.first(rdata_at + rdlength);  // names may point back into the message
    size_t at = rdata_at;
    if (!skip_name(rdata, at)) return false;
    if (rdata.size() - at < 10) return false;
    const size_t mac_size = read16(rdata, at + 8);
    at += 10;
    if (rdata.size() - at < mac_size + 6) return false;
    at += mac_size;
    const size_t other_length = read16(rdata, at + 4);
    at += 6;
    return rdata.size() - at == other_length;
}

// RFC 1035 §3.4.1 and RFC 3596 §2.2: in class IN, A is 4 octets and AAAA 16.
bool is_address_length_wrong(uint16_t type, uint16_t rclass, size_t rdlength) {
    if (rclass != klass::kIN) return false;
    return (type == type::kA && rdlength != 4) || (type == type::kAAAA && rdlength != 16);
}

}  // namespace

ParseStatus parse_query(std::span<const uint8_t> m, Query& query) {
    if (m.size() < kHeaderSize) return ParseStatus::drop;
    if (m[2] & 0x80) return ParseStatus::drop;  // a response: answering it invites loops
    query.id = read16(m, 0);
    query.opcode = (m[2] >> 3) & 0x0F;
    query.recursion_desired = (m[2] & 0x01) != 0;
    query.checking_disabled = (m[3] & 0x10) != 0;
    query.qdcount = read16(m, 4);
    query.ancount = read16(m, 6);
    query.nscount = read16(m, 8);
    query.arcount = read16(m, 10);
    query.has_question = false;
    query.edns = Edns{};
    query.has_tsig = false;

    size_t pos = kHeaderSize;
    if (query.qdcount == 1) {
        if (!read_name(m, pos, query.qname)) return ParseStatus::formerr;
        if (m.size() - pos < 4) return ParseStatus::formerr;
        query.qtype = read16(m, pos);
        query.qclass = read16(m, pos + 2);
        pos += 4;
        query.qname_lower = query.qname;
        to_lower(query.qname_lower);
        query.has_question = true;
    } else {
        // Only a single question is meaningful (RFC 9619); the caller answers others FORMERR,
        // but reads on to the OPT, which that answer must carry too (RFC 6891 §7). Each
        // question takes at least 5 octets, so the message size bounds this loop.
        for (size_t i = 0; i < query.qdcount; ++i) {
            if (!skip_name(m, pos)) return ParseStatus::formerr;
            if (m.size() - pos < 4) return ParseStatus::formerr;
            pos += 4;
        }
    }

    const size_t records = size_t(query.ancount) + query.nscount + query.arcount;
    for (size_t i = 0; i < records; ++i) {
        const size_t owner_at = pos;
        if (!skip_name(m, pos)) return ParseStatus::formerr;
        if (m.size() - pos < 10) return ParseStatus::formerr;
        const size_t fixed_at = pos;
        const uint16_t type = read16(m, pos);
        const uint16_t rclass = read16(m, pos + 2);
        const uint16_t rdlength = read16(m, pos + 8);
        pos += 10;
        if (m.size() - pos < rdlength) return ParseStatus::formerr;
        if (is_address_length_wrong(type, rclass, rdlength)) return ParseStatus::formerr;
        const bool in_additional = i >= size_t(query.ancount) + query.nscount;
        if (type == type::kOPT) {
            // RFC 6891 §6.1.1: one OPT, in the additional section, owned by the root.
            if (!in_additional || query.edns.present || m[owner_at] != 0)
                return ParseStatus::formerr;
            if (!parse_opt(m, fixed_at, pos, rdlength, query.edns)) return ParseStatus::formerr;
        } else if (type == type::kTSIG) {
            // RFC 8945 §5.1: TSIG is the last record of the additional section.
            if (!in_additional || i + 1 != records) return ParseStatus::formerr;
            if (!is_tsig_rdata_whole(m, pos, rdlength)) return ParseStatus::formerr;
            query.has_tsig = true;
        }
        pos += rdlength;
    }
    if (pos != m.size()) return ParseStatus::formerr;  // trailing octets: not a DNS message
    return ParseStatus::ok;
}

}  // namespace meridian::wire
