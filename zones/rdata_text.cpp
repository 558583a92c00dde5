// The loader's fast path: master-file words to wire RDATA for the common types and the DNSSEC
// ones, with no allocation beyond the output string's (see rdata_text.hpp for why not ldns).
#include "zones/rdata_text.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <cstring>

#include "geoip/network.hpp"
#include "wire/constants.hpp"
#include "wire/name.hpp"
#include "zones/denial.hpp"
#include "zones/ldns.hpp"

namespace meridian::zones {

namespace {

constexpr uint16_t kSPF = 99;              // RFC 7208 §3.1: the TXT format under its own type
constexpr uint16_t kCDS = 59;              // RFC 7344 §3.1: the DS format, the child's copy
constexpr uint16_t kCDNSKEY = 60;          // RFC 7344 §3.2: the DNSKEY format
constexpr size_t kMaxRdataLength = 65535;  // RFC 1035 §3.2.1: RDLENGTH is 16 bits

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

char uppercase(char c) {
    return c >= 'a' && c <= 'z' ? static_cast<char>(c - 32) : c;
}

bool equals_ignoring_case(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (size_t i = 0; i < a.size(); ++i)
        if (uppercase(a[i]) != uppercase(b[i])) return false;
    return true;
}

bool less_ignoring_case(std::string_view a, std::string_view b) {
    return std::lexicographical_compare(a.begin(), a.end(), b.begin(), b.end(),
                                        [](char x, char y) { return uppercase(x) < uppercase(y); });
}

// RFC 3597 §5: "TYPE" and the number (1 to 5 digits, at most 65535), in any case.
bool parse_type_number(std::string_view text, uint16_t& type) {
    if (text.size() < 5 || text.size() > 9 || !equals_ignoring_case(text.substr(0, 4), "TYPE"))
        return false;
    uint32_t number;
    if (!parse_number(text.substr(4), 0xFFFF, number)) return false;
    type = static_cast<uint16_t>(number);
    return true;
}

// The record type mnemonics ldns knows, read once from its own descriptor table (which
// allocates nothing) into a fixed array sorted for binary search: a bitmap or a type covered
// then means here what it means to ldns, and the lookup costs a few comparisons instead of
// ldns_get_rr_type_by_name's strlen over every entry.
class TypeNames {
  public:
    TypeNames() {
        for (uint32_t type = 0; type <= 0xFFFF; ++type) {
            const ldns_rr_descriptor* descriptor = ldns_rr_descript(static_cast<uint16_t>(type));
            if (!descriptor || descriptor->_type != type || !descriptor->_name) continue;
            if (count_ == names_.size()) break;
            names_[count_++] = {descriptor->_name, static_cast<uint16_t>(type)};
        }
        std::sort(names_.begin(), names_.begin() + count_, [](const Entry& a, const Entry& b) {
            return less_ignoring_case(a.name, b.name);
        });
    }

    // A mnemonic (any case) or TYPEnnn; false for a word ldns would not read as a type.
    bool find(std::string_view text, uint16_t& type) const {
        if (parse_type_number(text, type)) return true;
        const auto end = names_.begin() + count_;
        const auto at = std::lower_bound(names_.begin(), end, text,
                                         [](const Entry& entry, std::string_view key) {
                                             return less_ignoring_case(entry.name, key);
                                         });
        if (at == end || !equals_ignoring_case(at->name, text)) return false;
        type = at->type;
        return true;
    }

  private:
    struct Entry {
        std::string_view name;
        uint16_t type = 0;
    };
    std::array<Entry, 512> names_{};  // ldns 1.8 names about 90
    size_t count_ = 0;
};

bool find_type(std::string_view text, uint16_t& type) {
    static const TypeNames names;
    return names.find(text, type);
}

// A DNSSEC algorithm (RFC 4034 §A.1): a number, or a mnemonic in ldns's own table.
// not_handled for a mnemonic ldns does not list (it decides), failed for a bad number.
RdataOutcome parse_algorithm(std::string_view text, uint32_t& algorithm) {
    if (!text.empty() && text[0] >= '0' && text[0] <= '9')
        return parse_number(text, 0xFF, algorithm) ? RdataOutcome::parsed : RdataOutcome::failed;
    for (const ldns_lookup_table* entry = ldns_algorithms; entry->name; ++entry) {
        if (equals_ignoring_case(text, entry->name)) {
            algorithm = static_cast<uint32_t>(entry->id);
            return RdataOutcome::parsed;
        }
    }
    return RdataOutcome::not_handled;
}

constexpr std::array<int8_t, 256> kBase64Values = [] {
    std::array<int8_t, 256> values{};
    values.fill(-1);
    const char* alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    for (int i = 0; i < 64; ++i)
        values[static_cast<unsigned char>(alphabet[i])] = static_cast<int8_t>(i);
    return values;
}();

// RFC 4648 §4 base64 spread over several words (RFC 4034 §2.2 and §3.2 allow blanks anywhere
// in it), decoded straight into `out`; written here because no library decodes across words
// without first copying them together. As ldns reads it: padding only at the very end, and
// the bits after the last octet zero (RFC 4648 §3.5). False on anything else.
bool append_base64(std::span<const Token> words, std::string& out) {
    uint32_t bits = 0;
    int digits = 0;   // in the current quantum of four
    int padding = 0;  // '=' seen
    for (const Token& word : words) {
        for (const char c : word.text) {
            if (c == '=') {
                ++padding;
                continue;
            }
            const int value = kBase64Values[static_cast<unsigned char>(c)];
            if (value < 0 || padding > 0) return false;
            bits = bits << 6 | static_cast<uint32_t>(value);
            if (++digits == 4) {
                out += static_cast<char>(bits >> 16);
                out += static_cast<char>(bits >> 8);
                out += static_cast<char>(bits);
                bits = 0;
                digits = 0;
            }
        }
    }
    if (padding == 0) return digits == 0;
    if (digits == 2 && padding == 2 && (bits & 0xF) == 0) {
        out += static_cast<char>(bits >> 4);
        return true;
    }
    if (digits == 3 && padding == 1 && (bits & 0x3) == 0) {
        out += static_cast<char>(bits >> 10);
        out += static_cast<char>(bits >> 2);
        return true;
    }
    return false;
}

// ldns reads a lone "-" or "0" as empty base64 data; that notation stays ldns's to judge.
bool is_ldns_empty_base64(std::span<const Token> words) {
    return words.size() == 1 && (words[0].text == "-" || words[0].text == "0");
}

// An even number of hex digits, one word.
bool append_hex(std::string_view text, std::string& out) {
    if (text.size() % 2 != 0) return false;
    for (size_t i = 0; i < text.size(); i += 2) {
        const int high = hex_value(text[i]), low = hex_value(text[i + 1]);
        if (high < 0 || low < 0) return false;
        out += static_cast<char>(high << 4 | low);
    }
    return true;
}

// RFC 5155 §3.3: the salt as hex, or "-" for none; in wire form after its length octet.
bool append_salt(std::string_view text, std::string_view type, std::string& out,
                 std::string& error) {
    const size_t at = out.size();
    out += '\0';
    if (text == "-") return true;
    if (!append_hex(text, out)) {
        error = "bad " + std::string(type) + " salt '" + std::string(text) + "'";
        return false;
    }
    const size_t length = out.size() - at - 1;
    if (length > 255) {
        error = std::string(type) + " salt longer than 255 octets";
        return false;
    }
    out[at] = static_cast<char>(length);
    return true;
}

// RFC 4034 §4.1.2 (and RFC 5155 §3.2.1): the types in ascending order, one window for each
// high octet in use, each window only as long as its highest type needs. not_handled when a
// word is no type ldns knows by name (ldns decides; it takes it as type 0).
RdataOutcome append_type_bitmap(std::span<const Token> words, std::string& out) {
    std::array<uint16_t, 512> types;
    if (words.size() > types.size()) return RdataOutcome::not_handled;
    for (size_t i = 0; i < words.size(); ++i)
        if (!find_type(words[i].text, types[i])) return RdataOutcome::not_handled;
    const auto end = types.begin() + words.size();
    std::sort(types.begin(), end);
    for (auto first = types.begin(); first != end;) {
        const int window = *first >> 8;
        const auto last = std::find_if(first, end, [&](uint16_t t) { return t >> 8 != window; });
        const size_t length = (last[-1] & 0xFF) / 8 + 1;
        out += static_cast<char>(window);
        out += static_cast<char>(length);
        const size_t at = out.size();
        out.append(length, '\0');
        for (; first != last; ++first)
            out[at + (*first & 0xFF) / 8] |= static_cast<char>(0x80 >> (*first & 7));
    }
    return RdataOutcome::parsed;
}

bool is_leap_year(uint32_t year) {
    return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
}

// RFC 4034 §3.2: a signature time as YYYYMMDDHHmmSS in UTC, or, when it is not 14 digits,
// seconds since 1970. Either way a serial number modulo 2^32 (§3.1.5), so dates after
// 2106-02-07 wrap, as ldns writes them. Stricter than ldns, which takes 30 February as
// 2 March.
bool parse_signature_time(std::string_view text, uint32_t& out) {
    if (text.size() != 14) return parse_number(text, 0xFFFFFFFF, out);
    uint32_t year, month, day, hour, minute, second;
    if (!parse_number(text.substr(0, 4), 9999, year) ||
        !parse_number(text.substr(4, 2), 12, month) || !parse_number(text.substr(6, 2), 31, day) ||
        !parse_number(text.substr(8, 2), 23, hour) ||
        !parse_number(text.substr(10, 2), 59, minute) ||
        !parse_number(text.substr(12, 2), 59, second))
        return false;
    static constexpr uint32_t kDaysBefore[] = {0,   31,  59,  90,  120, 151,
                                               181, 212, 243, 273, 304, 334};
    static constexpr uint32_t kDaysIn[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (year < 1970 || month < 1 || day < 1) return false;
    if (day > kDaysIn[month - 1] + (month == 2 && is_leap_year(year) ? 1 : 0)) return false;
    const auto leap_days_before = [](uint64_t y) {
        return (y - 1) / 4 - (y - 1) / 100 + (y - 1) / 400;
    };
    uint64_t days = 365 * uint64_t(year - 1970) + leap_days_before(year) - leap_days_before(1970);
    days += kDaysBefore[month - 1] + (month > 2 && is_leap_year(year) ? 1 : 0) + day - 1;
    out = static_cast<uint32_t>(((days * 24 + hour) * 60 + minute) * 60 + second);
    return true;
}

RdataOutcome parse_fields(uint16_t type, std::span<const Token> fields,
                          std::string_view origin_wire, std::string& out, std::string& error);

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
        // RFC 4034 §2-§4, RFC 5155 §3-§4, RFC 7344 §3: most records of a signed zone.
        {"RRSIG", wire::type::kRRSIG},
        {"NSEC", wire::type::kNSEC},
        {"NSEC3", wire::type::kNSEC3},
        {"DNSKEY", wire::type::kDNSKEY},
        {"NSEC3PARAM", wire::type::kNSEC3PARAM},
        {"CDS", kCDS},
        {"CDNSKEY", kCDNSKEY},
    };
    uint16_t number;
    const bool is_number = parse_type_number(mnemonic, number);
    for (const auto& entry : kTypes)
        if (is_number ? number == entry.type : equals_ignoring_case(mnemonic, entry.name))
            return entry.type;
    return 0;
}

RdataOutcome parse_rdata(uint16_t type, std::span<const Token> fields, std::string_view origin_wire,
                         std::string& out, std::string& error) {
    const size_t start = out.size();
    const RdataOutcome outcome = parse_fields(type, fields, origin_wire, out, error);
    if (outcome == RdataOutcome::parsed && out.size() - start > kMaxRdataLength) {
        error = "record data longer than 65535 octets";
        return RdataOutcome::failed;
    }
    return outcome;
}

namespace {

RdataOutcome parse_fields(uint16_t type, std::span<const Token> fields,
                          std::string_view origin_wire, std::string& out, std::string& error) {
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
        case wire::type::kDS:
        case kCDS: {
            // RFC 4034 §5.3: key tag, algorithm (number or mnemonic) and digest type, the
            // digest in hex, possibly split into several words.
            if (fields.size() < 4 || !unquoted(0)) return RdataOutcome::not_handled;
            uint32_t tag, algorithm, digest;
            if (!parse_number(fields[0].text, 0xFFFF, tag)) return RdataOutcome::not_handled;
            if (parse_algorithm(fields[1].text, algorithm) != RdataOutcome::parsed)
                return RdataOutcome::not_handled;
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
        case wire::type::kDNSKEY:
        case kCDNSKEY: {
            // RFC 4034 §2.2: flags, protocol, algorithm, the key in base64 over any number of
            // words. ldns's "-" and "0" for an empty key are its own.
            const std::string_view name = type == kCDNSKEY ? "CDNSKEY" : "DNSKEY";
            if (fields.size() < 4 || !unquoted(0) || is_ldns_empty_base64(fields.subspan(3)))
                return RdataOutcome::not_handled;
            if (!parse_number(fields[0].text, 0xFFFF, n))
                return fail("bad " + std::string(name) + " flags '" + std::string(fields[0].text) +
                            "'");
            append16(out, n);
            if (!parse_number(fields[1].text, 0xFF, n))
                return fail("bad " + std::string(name) + " protocol '" +
                            std::string(fields[1].text) + "'");
            out += static_cast<char>(n);
            const RdataOutcome algorithm = parse_algorithm(fields[2].text, n);
            if (algorithm == RdataOutcome::not_handled) return algorithm;
            if (algorithm == RdataOutcome::failed)
                return fail("bad algorithm '" + std::string(fields[2].text) + "'");
            out += static_cast<char>(n);
            if (!append_base64(fields.subspan(3), out))
                return fail("bad base64 in the " + std::string(name) + " public key");
            return RdataOutcome::parsed;
        }
        case wire::type::kRRSIG: {
            // RFC 4034 §3.2: type covered, algorithm, labels, original TTL, expiration,
            // inception, key tag, signer's name, the signature in base64 over any number of
            // words.
            if (fields.size() < 9 || !unquoted(0) || is_ldns_empty_base64(fields.subspan(8)))
                return RdataOutcome::not_handled;
            uint16_t covered;
            if (!find_type(fields[0].text, covered)) return RdataOutcome::not_handled;
            append16(out, covered);
            const RdataOutcome algorithm = parse_algorithm(fields[1].text, n);
            if (algorithm == RdataOutcome::not_handled) return algorithm;
            if (algorithm == RdataOutcome::failed)
                return fail("bad algorithm '" + std::string(fields[1].text) + "'");
            out += static_cast<char>(n);
            if (!parse_number(fields[2].text, 0xFF, n))
                return fail("bad RRSIG labels '" + std::string(fields[2].text) + "'");
            out += static_cast<char>(n);
            if (!parse_number(fields[3].text, 0xFFFFFFFF, n))
                return fail("bad RRSIG original TTL '" + std::string(fields[3].text) + "'");
            append32(out, n);
            if (!parse_signature_time(fields[4].text, n))
                return fail("bad RRSIG expiration '" + std::string(fields[4].text) + "'");
            append32(out, n);
            if (!parse_signature_time(fields[5].text, n))
                return fail("bad RRSIG inception '" + std::string(fields[5].text) + "'");
            append32(out, n);
            if (!parse_number(fields[6].text, 0xFFFF, n))
                return fail("bad RRSIG key tag '" + std::string(fields[6].text) + "'");
            append16(out, n);
            if (!name_field(7)) return bad_name(7);
            if (!append_base64(fields.subspan(8), out))
                return fail("bad base64 in the RRSIG signature");
            return RdataOutcome::parsed;
        }
        case wire::type::kNSEC:
            // RFC 4034 §4.2: the next owner name, then the types present there.
            if (fields.empty() || !unquoted(0)) return RdataOutcome::not_handled;
            if (!name_field(0)) return bad_name(0);
            return append_type_bitmap(fields.subspan(1), out);
        case wire::type::kNSEC3:
        case wire::type::kNSEC3PARAM: {
            // RFC 5155 §3.3 and §4.3: hash algorithm, flags, iterations, salt; for NSEC3 then
            // the next hashed owner in unpadded base32hex and the types present.
            const bool is_nsec3 = type == wire::type::kNSEC3;
            const std::string_view name = is_nsec3 ? "NSEC3" : "NSEC3PARAM";
            if (fields.size() < (is_nsec3 ? 5u : 4u) || (!is_nsec3 && fields.size() != 4) ||
                !unquoted(0))
                return RdataOutcome::not_handled;
            if (!parse_number(fields[0].text, 0xFF, n))
                return fail("bad " + std::string(name) + " hash algorithm '" +
                            std::string(fields[0].text) + "'");
            out += static_cast<char>(n);
            if (!parse_number(fields[1].text, 0xFF, n))
                return fail("bad " + std::string(name) + " flags '" + std::string(fields[1].text) +
                            "'");
            out += static_cast<char>(n);
            if (!parse_number(fields[2].text, 0xFFFF, n))
                return fail("bad " + std::string(name) + " iterations '" +
                            std::string(fields[2].text) + "'");
            append16(out, n);
            if (!append_salt(fields[3].text, name, out, error)) return RdataOutcome::failed;
            if (!is_nsec3) return RdataOutcome::parsed;
            // SHA-1's 20 octets, the one hash defined (RFC 5155 §11); other lengths, and
            // padding, are ldns's to judge.
            const std::string_view next = fields[4].text;
            if (next.size() != 32 || next.find('=') != std::string_view::npos)
                return RdataOutcome::not_handled;
            uint8_t hash[kNsec3HashLength];
            if (!decode_nsec3_label({reinterpret_cast<const uint8_t*>(next.data()), next.size()},
                                    hash))
                return fail("bad base32hex in the NSEC3 next hashed owner '" + std::string(next) +
                            "'");
            out += static_cast<char>(kNsec3HashLength);
            out.append(reinterpret_cast<const char*>(hash), kNsec3HashLength);
            return append_type_bitmap(fields.subspan(5), out);
        }
        default:
            return RdataOutcome::not_handled;
    }
}

}  // namespace

}  // namespace meridian::zones
