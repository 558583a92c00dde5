// IP networks (address + prefix length) as GeoDNS sees them: config "nets" entries, database
// networks and EDNS Client Subnet sources. Parsing and bit access only; no sockets.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace meridian::geoip {

enum class Family : uint8_t { v4, v6 };

constexpr unsigned address_bits(Family family) {
    return family == Family::v4 ? 32 : 128;
}

// One IP network. `address` holds 4 (v4) or 16 (v6) bytes in network order; bits past
// `length` are always zero, so two equal networks compare equal.
struct Prefix {
    Family family = Family::v4;
    std::array<uint8_t, 16> address{};
    uint8_t length = 0;

    bool operator==(const Prefix&) const = default;
};

// Bit `index` (0 = most significant) of an address in network order.
inline unsigned address_bit(const uint8_t* address, unsigned index) {
    return (address[index >> 3] >> (7 - (index & 7))) & 1u;
}

// Parses "198.18.0.0/16", "2001:db8::/32", or a bare address (a host network: /32 or /128).
// Host bits past the length must be zero: "10.1.0.0/8" is refused rather than silently
// truncated, as the operator probably mistyped either the address or the length.
// On failure returns nullopt and sets `error` to a sentence naming the text and the cause.
std::optional<Prefix> parse_prefix(std::string_view text, std::string& error);

// Builds a network from raw address bytes, zeroing the bits past `length` (clamped to the
// family's width).
Prefix make_prefix(Family family, const uint8_t* address, unsigned length);

// "198.18.0.0/16" / "2001:db8::/32".
std::string to_string(const Prefix& prefix);

}  // namespace meridian::geoip
