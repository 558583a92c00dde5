// Master-file text of the common record types and the DNSSEC ones straight to wire RDATA
// (RFC 1035 §5.1 and the types' own RFCs), for the zone loader's fast path.
//
// Why by hand when ldns parses every type: ldns builds an ldns_rr with one ldns_rdf per
// field, about fifteen allocations per record, and formats names back to text on the way;
// on a zone of millions of records that was most of the load time. The types here make up
// nearly all of a large zone, signed or not (RRSIG, NSEC, NSEC3 and DNSKEY are most records
// of a signed one), and have simple syntax. Everything else (rare types, RFC 3597 "\#"
// data, mnemonics this code does not know, ldns's own notations) is left to ldns, which the
// loader calls when parse_rdata() says not_handled; tests/zones/test_rdata_text.cpp checks
// that both give the same octets for every type handled here. Type and algorithm mnemonics
// come from ldns's own tables, so both read them alike.
//
// Deliberately stricter than ldns, which wraps or normalises these silently: a number too
// large for its field, an RRSIG time that is no date (30 February) or over 32 bits, and
// RDATA over 65535 octets are errors.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace meridian::zones {

// One word of a master-file entry. A quoted word's text is between the quotes, escapes
// still in it.
struct Token {
    std::string_view text;
    bool is_quoted = false;
};

// Splits one entry (parentheses and comments already gone) into words at unquoted,
// unescaped blanks. Returns the number of tokens (at most out.size()); `overflow` is set when
// there were more.
size_t tokenize(std::string_view entry, std::span<Token> out, bool& overflow);

// A name in presentation form, relative to `origin_wire` (lowercase or not, as given) unless
// it ends in an unescaped dot; "@" is the origin. Appends the wire form to `out`. False on a
// malformed or over-long name, or a relative one with no origin.
bool append_name(std::string_view text, std::string_view origin_wire, std::string& out);

// The record type a mnemonic (case-insensitive) or TYPEnnn (RFC 3597 §5) names, among those
// parse_rdata() handles; 0 for any other.
uint16_t direct_type(std::string_view mnemonic);

enum class RdataOutcome { parsed, not_handled, failed };

// Appends the wire RDATA of `type` read from `fields` to `out`. not_handled: leave this record
// to ldns (a type or a syntax this parser does not cover); failed: `error` says why (the
// loader adds file and line). Allocates nothing beyond what `out` grows by, and `error` on
// failure.
RdataOutcome parse_rdata(uint16_t type, std::span<const Token> fields, std::string_view origin_wire,
                         std::string& out, std::string& error);

}  // namespace meridian::zones
