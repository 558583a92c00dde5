// Parsing, printing and matching of IP addresses and networks. Written here rather than with
// inet_pton/inet_ntop so that nothing below the front end includes a socket header.
#include "geoip/network.hpp"

#include <algorithm>
#include <charconv>
#include <cstring>

namespace meridian::geoip {

namespace {

void clear_host_bits(Prefix& prefix) {
    const unsigned bytes = address_bits(prefix.family) / 8;
    for (unsigned i = 0; i < bytes; ++i) {
        const unsigned first_bit = i * 8;
        if (first_bit >= prefix.length) {
            prefix.address[i] = 0;
        } else if (prefix.length - first_bit < 8) {
            prefix.address[i] &= static_cast<uint8_t>(0xffu << (8 - (prefix.length - first_bit)));
        }
    }
}

bool is_digit(char c) {
    return c >= '0' && c <= '9';
}

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

// Four decimal octets, each 0..255 without leading zeros ("01" is refused, as by inet_pton).
bool parse_ipv4(std::string_view text, uint8_t* bytes) {
    unsigned octet = 0;
    for (size_t pos = 0; octet < 4; ++octet) {
        size_t end = pos;
        while (end < text.size() && is_digit(text[end]) && end - pos < 4) ++end;
        const size_t digits = end - pos;
        if (digits == 0 || digits > 3 || (digits > 1 && text[pos] == '0')) return false;
        unsigned value = 0;
        for (size_t i = pos; i < end; ++i) value = value * 10 + unsigned(text[i] - '0');
        if (value > 255) return false;
        bytes[octet] = static_cast<uint8_t>(value);
        if (octet == 3) return end == text.size();
        if (end >= text.size() || text[end] != '.') return false;
        pos = end + 1;
    }
    return false;
}

// RFC 4291 §2.2: eight groups of one to four hex digits, at most one "::" standing for one
// or more zero groups, and the last 32 bits optionally in dotted IPv4 form.
bool parse_ipv6(std::string_view text, uint8_t* bytes) {
    uint8_t out[16] = {};
    size_t written = 0;  // bytes filled so far
    long gap = -1;       // where "::" stands, in bytes
    size_t pos = 0;
    if (text.size() >= 2 && text[0] == ':' && text[1] == ':') {
        gap = 0;
        pos = 2;
        if (text.size() == 2) {
            std::memset(bytes, 0, 16);
            return true;
        }
    } else if (!text.empty() && text[0] == ':') {
        return false;
    }
    while (pos < text.size()) {
        if (written == 16) return false;
        // A dotted IPv4 tail: the rest of the text, two groups' worth.
        const size_t next_colon = text.find(':', pos);
        const std::string_view group = text.substr(
            pos, next_colon == std::string_view::npos ? std::string_view::npos : next_colon - pos);
        if (next_colon == std::string_view::npos && group.find('.') != std::string_view::npos) {
            if (written > 12 || !parse_ipv4(group, out + written)) return false;
            written += 4;
            pos = text.size();
            break;
        }
        if (group.empty() || group.size() > 4) return false;
        unsigned value = 0;
        for (const char c : group) {
            const int digit = hex_value(c);
            if (digit < 0) return false;
            value = value * 16 + unsigned(digit);
        }
        out[written++] = static_cast<uint8_t>(value >> 8);
        out[written++] = static_cast<uint8_t>(value & 0xff);
        if (next_colon == std::string_view::npos) {
            pos = text.size();
            break;
        }
        pos = next_colon + 1;
        if (pos < text.size() && text[pos] == ':') {
            if (gap >= 0) return false;  // a second "::"
            gap = static_cast<long>(written);
            ++pos;
        } else if (pos == text.size()) {
            return false;  // a single trailing ':'
        }
    }
    if (gap < 0) {
        if (written != 16) return false;
        std::memcpy(bytes, out, 16);
        return true;
    }
    if (written == 16) return false;  // "::" must stand for at least one group
    const size_t tail = written - static_cast<size_t>(gap);
    std::memset(bytes, 0, 16);
    std::memcpy(bytes, out, static_cast<size_t>(gap));
    std::memcpy(bytes + 16 - tail, out + gap, tail);
    return true;
}

void append_ipv4(std::string& out, const uint8_t* bytes) {
    for (int i = 0; i < 4; ++i) {
        if (i) out += '.';
        out += std::to_string(bytes[i]);
    }
}

}  // namespace

bool parse_address_bytes(std::string_view text, Family& family, uint8_t* bytes) {
    if (text.find(':') != std::string_view::npos) {
        family = Family::v6;
        return parse_ipv6(text, bytes);
    }
    family = Family::v4;
    std::memset(bytes, 0, 16);
    return parse_ipv4(text, bytes);
}

std::optional<Address> parse_address(std::string_view text) {
    Address address;
    if (!parse_address_bytes(text, address.family, address.bytes.data())) return std::nullopt;
    return address;
}

std::optional<Address> parse_address_and_port(std::string_view text, uint16_t default_port) {
    std::string_view host = text;
    std::string_view port_text;
    if (!text.empty() && text.front() == '[') {
        const size_t close = text.find(']');
        if (close == std::string_view::npos) return std::nullopt;
        host = text.substr(1, close - 1);
        const std::string_view rest = text.substr(close + 1);
        if (!rest.empty()) {
            if (rest.front() != ':') return std::nullopt;
            port_text = rest.substr(1);
            if (port_text.empty()) return std::nullopt;
        }
        if (host.find(':') == std::string_view::npos) return std::nullopt;  // IPv6 only
    } else if (std::count(text.begin(), text.end(), ':') == 1) {
        const size_t colon = text.find(':');
        host = text.substr(0, colon);
        port_text = text.substr(colon + 1);
        if (port_text.empty()) return std::nullopt;
    }
    auto address = parse_address(host);
    if (!address) return std::nullopt;
    if (port_text.empty()) {
        if (default_port == 0) return std::nullopt;
        address->port = default_port;
        return address;
    }
    if (port_text.size() > 5 || !std::all_of(port_text.begin(), port_text.end(), is_digit))
        return std::nullopt;
    unsigned port = 0;
    std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
    if (port == 0 || port > 65535) return std::nullopt;
    address->port = static_cast<uint16_t>(port);
    return address;
}

std::string address_text(Family family, const uint8_t* bytes) {
    std::string out;
    if (family == Family::v4) {
        append_ipv4(out, bytes);
        return out;
    }
    uint16_t groups[8];
    for (int i = 0; i < 8; ++i)
        groups[i] = static_cast<uint16_t>(bytes[2 * i] << 8 | bytes[2 * i + 1]);
    // RFC 5952 §4.2: the longest run of two or more zero groups becomes "::", the first such
    // run when two are equally long.
    int best = -1, best_length = 0;
    for (int i = 0; i < 8;) {
        if (groups[i] != 0) {
            ++i;
            continue;
        }
        int end = i;
        while (end < 8 && groups[end] == 0) ++end;
        if (end - i > best_length && end - i >= 2) {
            best = i;
            best_length = end - i;
        }
        i = end;
    }
    // RFC 5952 §5: IPv4-mapped addresses keep their dotted tail; so do the deprecated
    // IPv4-compatible ones (::a.b.c.d), as inet_ntop prints them.
    const bool dotted_tail =
        best == 0 && (best_length == 6 || (best_length == 5 && groups[5] == 0xffff));
    const int hex_groups = dotted_tail ? 6 : 8;
    static constexpr char kHex[] = "0123456789abcdef";
    for (int i = 0; i < hex_groups; ++i) {
        if (i == best) {
            out += "::";
            i += best_length - 1;
            continue;
        }
        if (i != 0 && !(best >= 0 && i == best + best_length)) out += ':';
        bool started = false;
        for (int shift = 12; shift >= 0; shift -= 4) {
            const unsigned digit = (groups[i] >> shift) & 0xf;
            if (digit || started || shift == 0) {
                out += kHex[digit];
                started = true;
            }
        }
    }
    if (dotted_tail) {
        if (best + best_length != 6) out += ':';
        append_ipv4(out, bytes + 12);
    }
    return out;
}

std::string address_text(const Address& address) {
    return address_text(address.family, address.bytes.data());
}

std::string to_string(const Address& address) {
    // Appends rather than "[" + ...: GCC 12 warns falsely (-Wrestrict) on that at -O3.
    std::string text;
    if (address.family == Family::v6) text += '[';
    text += address_text(address);
    if (address.family == Family::v6) text += ']';
    text += ':';
    text += std::to_string(address.port);
    return text;
}

Address unmapped(const Address& address) {
    static constexpr uint8_t kMappedPrefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (address.family != Family::v6 || std::memcmp(address.bytes.data(), kMappedPrefix, 12) != 0)
        return address;
    Address v4;
    v4.family = Family::v4;
    std::memcpy(v4.bytes.data(), address.bytes.data() + 12, 4);
    v4.port = address.port;
    return v4;
}

Address client_network(const Address& address) {
    Address client = unmapped(address);
    client.port = 0;
    if (client.family == Family::v6) std::fill(client.bytes.begin() + 8, client.bytes.end(), 0);
    return client;
}

bool contains(const Prefix& network, Family family, const uint8_t* bytes) {
    if (network.family != family) return false;
    const unsigned whole = network.length / 8;
    if (std::memcmp(network.address.data(), bytes, whole) != 0) return false;
    const unsigned rest = network.length % 8;
    if (rest == 0) return true;
    const uint8_t mask = static_cast<uint8_t>(0xffu << (8 - rest));
    return (bytes[whole] & mask) == network.address[whole];
}

bool contains(const Prefix& network, const Address& address) {
    const Address plain = unmapped(address);
    return contains(network, plain.family, plain.bytes.data());
}

Prefix make_prefix(Family family, const uint8_t* address, unsigned length) {
    Prefix prefix;
    prefix.family = family;
    const unsigned bits = address_bits(family);
    std::copy_n(address, bits / 8, prefix.address.begin());
    prefix.length = static_cast<uint8_t>(std::min(length, bits));
    clear_host_bits(prefix);
    return prefix;
}

std::optional<Prefix> parse_prefix(std::string_view text, std::string& error) {
    // Built by append: GCC 12 at -O3 warns falsely (-Wrestrict) on "\"" + std::string(...).
    std::string quoted(1, '"');
    quoted.append(text);
    quoted += '"';
    const size_t slash = text.find('/');
    Prefix prefix;
    if (!parse_address_bytes(text.substr(0, slash), prefix.family, prefix.address.data())) {
        error = quoted + ": not an IPv4 or IPv6 address";
        return std::nullopt;
    }
    const unsigned bits = address_bits(prefix.family);
    unsigned length = bits;
    if (slash != std::string_view::npos) {
        const std::string_view length_text = text.substr(slash + 1);
        const char* end = length_text.data() + length_text.size();
        // Digits only: from_chars would accept nothing else anyway, but "+8" or " 8" must not
        // slip through a later change to a more lenient parser.
        const bool digits_only = !length_text.empty() && length_text.size() <= 3 &&
                                 std::all_of(length_text.begin(), length_text.end(),
                                             [](char c) { return c >= '0' && c <= '9'; });
        auto [ptr, ec] = std::from_chars(length_text.data(), end, length);
        if (!digits_only || ec != std::errc() || ptr != end) {
            error = quoted + ": prefix length is not a number";
            return std::nullopt;
        }
        if (length > bits) {
            error = quoted + ": prefix length " + std::to_string(length) + " exceeds " +
                    std::to_string(bits) + " bits";
            return std::nullopt;
        }
    }
    prefix.length = static_cast<uint8_t>(length);
    Prefix masked = prefix;
    clear_host_bits(masked);
    if (masked != prefix) {
        error = quoted + ": host bits set past the prefix length (network is " + to_string(masked) +
                ")";
        return std::nullopt;
    }
    return prefix;
}

std::string to_string(const Prefix& prefix) {
    return address_text(prefix.family, prefix.address.data()) + "/" + std::to_string(prefix.length);
}

}  // namespace meridian::geoip
