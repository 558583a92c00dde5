// IP addresses and networks as every layer above the sockets knows them: clients, primaries,
// listen addresses, config "nets", database networks and EDNS Client Subnet sources. Parsing,
// printing, matching and bit access; no sockets (server/socket_address.hpp converts).
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

// One IP address with a port: a client, a primary, a NOTIFY target or a listen address.
// `bytes` holds 4 (v4) or 16 (v6) bytes in network order, the rest zero.
struct Address {
    Family family = Family::v4;
    std::array<uint8_t, 16> bytes{};
    uint16_t port = 0;

    bool operator==(const Address&) const = default;
};

// Parses an address alone, "192.0.2.1" or "2001:db8::1" (RFC 4291 §2.2, with a dotted IPv4
// tail), into `family` and `bytes` (16 bytes of room). Strict as inet_pton: no leading zeros
// in IPv4 octets, no zone index, nothing around it.
bool parse_address_bytes(std::string_view text, Family& family, uint8_t* bytes);
// The address alone, port 0; nullopt when the text is not an address.
std::optional<Address> parse_address(std::string_view text);
// "192.0.2.1:53" or "[2001:db8::1]:53" (port 1..65535); with `default_port` non-zero the
// port may be left out ("192.0.2.1", "[2001:db8::1]" or "2001:db8::1").
std::optional<Address> parse_address_and_port(std::string_view text, uint16_t default_port = 0);

// "192.0.2.1" / "2001:db8::1" (RFC 5952: lowercase, the longest run of zero groups as "::",
// IPv4-mapped addresses with a dotted tail).
std::string address_text(Family family, const uint8_t* bytes);
std::string address_text(const Address& address);
// "192.0.2.1:53" / "[2001:db8::1]:53".
std::string to_string(const Address& address);

// An IPv4-mapped IPv6 address (::ffff:0:0/96, RFC 4291 §2.5.5.2) as the IPv4 address it
// stands for, as a dual-stack socket reports IPv4 clients; any other address unchanged.
Address unmapped(const Address& address);

// Whom a per-client limit counts as one client: an IPv4 address (an IPv4-mapped one as
// IPv4), or the /64 of an IPv6 address, since one IPv6 host usually holds a whole /64
// (RFC 7421). The rest of the address and the port are zero.
Address client_network(const Address& address);

// True when `address` lies inside `network`; an IPv4-mapped IPv6 address matches IPv4
// networks.
bool contains(const Prefix& network, const Address& address);
bool contains(const Prefix& network, Family family, const uint8_t* bytes);

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
