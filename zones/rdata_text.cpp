// The loader's fast path: master-file words to wire RDATA for the common types, with no
// allocation beyond the output string's (see rdata_text.hpp for why not ldns here).
#include "zones/rdata_text.hpp"

#include <cctype>
#include <cstring>

#include "geoip/network.hpp"
#include "wire/constants.hpp"
#include "wire/name.hpp"
#include "zones/ldns.hpp"

namespace meridian::zones {

namespace {

constexpr uint16_t kSPF = 99;  // RFC 7208 §3.1: the TXT format under its own type

bool is_blank(char c) {
    return c == ' ' || c == '\t' || c == '\r';
}

void append16(std::string& out, uint32_t v) {
    out += static_cast<char>(v >> 8);
    out += static_cast<char>(v);
}
void append32(std::string& out, uint32_t v) {
    append16(out, v >> 16);
    append16(out, v & 0xFFFF);
}

// A decimal number of at most `max`. Stricter than ldns, which wraps an over-large value
// into the field silently.
bool parse_number(std::string_view text, uint32_t max, uint32_t& out) {
    if (text.empty() || text.size() > 10) return false;
    uint64_t value = 0;
    for (char c : text) {
        if (c < '0' || c > '9') return false;
        value = value * 10 + uint64_t(c - '0');
    }
    if (value > max) return false;
    out = static_cast<uint32_t>(value);
    return true;
}

// A TTL-like period ("3600", "1h30m"), as ldns_str2period reads it.
bool parse_period(std::string_view text, uint32_t& out) {
    if (text.empty() || text.size() > 31) return false;
    uint32_t plain;
    if (parse_number(text, 0xFFFFFFFF, plain)) {
        out = plain;
        return true;
    }
    char buffer[32];
    std::memcpy(buffer, text.data(), text.size());
    buffer[text.size()] = '\0';
    const char* end = nullptr;
    out = ldns_str2period(buffer, &end);
    return end && *end == '\0';
}

// RFC 1035 §5.1 escapes in a character string: "\X" is X, "\DDD" the octet DDD.
bool append_unescaped(std::string_view text, std::string& out) {
    for (size_t i = 0; i < text.size(); ++i) {
        char c = text[i];
        if (c == '\\') {
            if (i + 1 >= text.size()) return false;
            if (text[i + 1] >= '0' && text[i + 1] <= '9') {
                if (i + 3 >= text.size()) return false;
                uint32_t value;
                if (!parse_number(text.substr(i + 1, 3), 255, value)) return false;
                c = static_cast<char>(value);
                i += 3;
            } else {
                c = text[++i];
            }
        }
        out += c;
    }
    return true;
}

// One <character-string>: a length octet and at most 255 octets (RFC 1035 §3.3).
bool append_character_string(const Token& token, std::string& out, std::string& error) {
    if (!token.is_quoted && token.text.find('"') != std::string_view::npos) return false;
    const size_t at = out.size();
    out += '\0';
    if (!append_unescaped(token.text, out)) {
        error = "bad escape in '" + std::string(token.text) + "'";
        return false;
    }
    const size_t length = out.size() - at - 1;
    if (length > 255) {
        error = "character string longer than 255 octets";
        return false;
    }
    out[at] = static_cast<char>(length);
    return true;
}

bool append_address(geoip::Family family, std::string_view text, std::string& out) {
    geoip::Family parsed;
    uint8_t bytes[16];
    if (!geoip::parse_address_bytes(text, parsed, bytes) || parsed != family) return false;
    out.append(reinterpret_cast<const char*>(bytes), family == geoip::Family::v4 ? 4 : 16);
    return true;
}

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

// Whether a name's text ends in a dot that is not escaped.
bool is_absolute(std::string_view text) {
    bool last_was_dot = false;
    for (size_t i = 0; i < text.size(); ++i) {
        if (text[i] == '\\') {
            last_was_dot = false;
            if (i + 1 < text.size() && text[i + 1] >= '0' && text[i + 1] <= '9')
                i += 3;
            else
                ++i;
            continue;
        }
        last_was_dot = text[i] == '.';
    }
    return last_was_dot;
}

bool equals_ignoring_case(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (size_t i = 0; i < a.size(); ++i) {
        char x = a[i], y = b[i];
        if (x >= 'a' && x <= 'z') x = static_cast<char>(x - 32);
        if (y >= 'a' && y <= 'z') y = static_cast<char>(y - 32);
        if (x != y) return false;
    }
    return true;
}

}  // namespace

size_t tokenize(std::string_view entry, std::span<Token> out, bool& overflow) {
    size_t count = 0;
    overflow = false;
    size_t i = 0;
    while (i < entry.size()) {
        while (i < entry.size() && is_blank(entry[i])) ++i;
        if (i >= entry.size()) break;
        Token token;
        if (entry[i] == '"') {
            const size_t start = ++i;
            while (i < entry.size() && entry[i] != '"') i += entry[i] == '\\' ? 2 : 1;
            token = {entry.substr(start, std::min(i, entry.size()) - start), true};
            ++i;  // the closing quote
        } else {
            const size_t start = i;
            while (i < entry.size() && !is_blank(entry[i])) i += entry[i] == '\\' ? 2 : 1;
            i = std::min(i, entry.size());
            token = {entry.substr(start, i - start), false};
        }
        if (count == out.size()) {
            overflow = true;
            return count;
        }
        out[count++] = token;
    }
    return count;
}

bool append_name(std::string_view text, std::string_view origin_wire, std::string& out) {
    if (text == "@") {
        if (origin_wire.empty()) return false;
        out.append(origin_wire);
        return true;
    }
    wire::Name name;
    if (!wire::from_text(text, name)) return false;
    if (is_absolute(text)) {
        out.append(reinterpret_cast<const char*>(name.bytes), name.length);
        return true;
    }
    if (origin_wire.empty()) return false;
    // The relative labels without their root octet, then the origin.
    if (name.length - 1 + origin_wire.size() > wire::kMaxNameLength) return false;
    out.append(reinterpret_cast<const char*>(name.bytes), name.length - 1);
    out.append(origin_wire);
    return true;
}

uint16_t direct_type(std::string_view mnemonic) {
    static constexpr struct {
        std::string_view name;
        uint16_t type;
    } kTypes[] = {
        {"A", wire::type::kA},
        {"AAAA", wire::type::kAAAA},
        {"NS", wire::type::kNS},
        {"CNAME", wire::type::kCNAME},
        {"SOA", wire::type::kSOA},
        {"PTR", wire::type::kPTR},
        {"MX", wire::type::kMX},
        {"TXT", wire::type::kTXT},
        {"SRV", wire::type::kSRV},
        {"DNAME", wire::type::kDNAME},
        {"DS", wire::type::kDS},
        {"CAA", wire::type::kCAA},
        {"SPF", kSPF},
    };
    for (const auto& entry : kTypes)
        if (equals_ignoring_case(mnemonic, entry.name)) return entry.type;
    return 0;
}

RdataOutcome parse_rdata(uint16_t type, std::span<const Token> fields, std::string_view origin_wire,
                         std::string& out, std::string& error) {
    // RFC 3597 §5 generic data, and quoted words where a type expects none, go to ldns.
    if (!fields.empty() && !fields[0].is_quoted && fields[0].text == "\\#")
        return RdataOutcome::not_handled;
    const auto expect = [&](size_t count) { return fields.size() == count; };
    const auto unquoted = [&](size_t from) {
        for (size_t i = from; i < fields.size(); ++i)
            if (fields[i].is_quoted) return false;
        return true;
    };
    const auto fail = [&](std::string message) {
        error = std::move(message);
        return RdataOutcome::failed;
    };
    const auto name_field = [&](size_t i) { return append_name(fields[i].text, origin_wire, out); };
    const auto bad_name = [&](size_t i) {
        // With no origin yet, a relative name is ldns's to judge (as before this parser).
        if (origin_wire.empty()) return RdataOutcome::not_handled;
        return fail("bad domain name '" + std::string(fields[i].text) + "'");
    };
    uint32_t n;
    switch (type) {
        case wire::type::kA:
        case wire::type::kAAAA:
            if (!expect(1) || !unquoted(0)) return RdataOutcome::not_handled;
            if (!append_address(type == wire::type::kA ? geoip::Family::v4 : geoip::Family::v6,
                                fields[0].text, out))
                return fail(std::string("bad ") + (type == wire::type::kA ? "IPv4" : "IPv6") +
                            " address '" + std::string(fields[0].text) + "'");
            return RdataOutcome::parsed;
        case wire::type::kNS:
        case wire::type::kCNAME:
        case wire::type::kPTR:
        case wire::type::kDNAME:
            if (!expect(1) || !unquoted(0)) return RdataOutcome::not_handled;
            if (!name_field(0)) return bad_name(0);
            return RdataOutcome::parsed;
        case wire::type::kMX:
            if (!expect(2) || !unquoted(0)) return RdataOutcome::not_handled;
            if (!parse_number(fields[0].text, 0xFFFF, n))
                return fail("bad MX preference '" + std::string(fields[0].text) + "'");
            append16(out, n);
            if (!name_field(1)) return bad_name(1);
            return RdataOutcome::parsed;
        case wire::type::kSRV:
            if (!expect(4) || !unquoted(0)) return RdataOutcome::not_handled;
            for (size_t i = 0; i < 3; ++i) {
                if (!parse_number(fields[i].text, 0xFFFF, n))
                    return fail("bad SRV number '" + std::string(fields[i].text) + "'");
                append16(out, n);
            }
            if (!name_field(3)) return bad_name(3);
            return RdataOutcome::parsed;
        case wire::type::kSOA: {
            if (!expect(7) || !unquoted(0)) return RdataOutcome::not_handled;
            if (!name_field(0)) return bad_name(0);
            if (!name_field(1)) return bad_name(1);
            if (!parse_number(fields[2].text, 0xFFFFFFFF, n))
                return fail("bad SOA serial '" + std::string(fields[2].text) + "'");
            append32(out, n);
            for (size_t i = 3; i < 7; ++i) {
                if (!parse_period(fields[i].text, n))
                    return fail("bad SOA time '" + std::string(fields[i].text) + "'");
                append32(out, n);
            }
            return RdataOutcome::parsed;
        }
        case wire::type::kTXT:
        case kSPF:
            if (fields.empty()) return RdataOutcome::not_handled;
            for (const Token& field : fields) {
                if (!append_character_string(field, out, error))
                    return error.empty() ? RdataOutcome::not_handled : RdataOutcome::failed;
            }
            return RdataOutcome::parsed;
        case wire::type::kCAA: {
            // RFC 8659 §4.1: flags, a tag of letters and digits, the value's octets (no length).
            if (!expect(3) || fields[0].is_quoted || fields[1].is_quoted)
                return RdataOutcome::not_handled;
            if (!parse_number(fields[0].text, 0xFF, n))
                return fail("bad CAA flags '" + std::string(fields[0].text) + "'");
            const std::string_view tag = fields[1].text;
            if (tag.empty() || tag.size() > 255) return RdataOutcome::not_handled;
            for (char c : tag)
                if (!std::isalnum(static_cast<unsigned char>(c))) return RdataOutcome::not_handled;
            out += static_cast<char>(n);
            out += static_cast<char>(tag.size());
            out.append(tag);
            if (!fields[2].is_quoted && fields[2].text.find('"') != std::string_view::npos)
                return RdataOutcome::not_handled;
            if (!append_unescaped(fields[2].text, out))
                return fail("bad escape in '" + std::string(fields[2].text) + "'");
            return RdataOutcome::parsed;
        }
        case wire::type::kDS: {
            // RFC 4034 §5.3: key tag, algorithm and digest type as numbers (mnemonics go to
            // ldns), the digest in hex, possibly split into several words.
            if (fields.size() < 4 || !unquoted(0)) return RdataOutcome::not_handled;
            uint32_t tag, algorithm, digest;
            if (!parse_number(fields[0].text, 0xFFFF, tag)) return RdataOutcome::not_handled;
            if (!parse_number(fields[1].text, 0xFF, algorithm)) return RdataOutcome::not_handled;
            if (!parse_number(fields[2].text, 0xFF, digest)) return RdataOutcome::not_handled;
            append16(out, tag);
            out += static_cast<char>(algorithm);
            out += static_cast<char>(digest);
            int high = -1;
            for (size_t i = 3; i < fields.size(); ++i) {
                for (char c : fields[i].text) {
                    const int v = hex_value(c);
                    if (v < 0) return fail("bad hex digit in DS digest");
                    if (high < 0) {
                        high = v;
                    } else {
                        out += static_cast<char>(high << 4 | v);
                        high = -1;
                    }
                }
            }
            if (high >= 0) return fail("DS digest has an odd number of hex digits");
            return RdataOutcome::parsed;
        }
        default:
            return RdataOutcome::not_handled;
    }
}

}  // namespace meridian::zones
