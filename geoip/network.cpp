// Parsing and printing of IP networks for config nets, database networks and ECS sources.
#include "geoip/network.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <charconv>

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

}  // namespace

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
    const std::string_view address_text = text.substr(0, slash);
    // inet_pton needs a terminated string; an address is never longer than this.
    if (address_text.empty() || address_text.size() >= INET6_ADDRSTRLEN) {
        error = quoted + ": not an IPv4 or IPv6 address";
        return std::nullopt;
    }
    const std::string address(address_text);
    Prefix prefix;
    if (inet_pton(AF_INET, address.c_str(), prefix.address.data()) == 1) {
        prefix.family = Family::v4;
    } else if (inet_pton(AF_INET6, address.c_str(), prefix.address.data()) == 1) {
        prefix.family = Family::v6;
    } else {
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
    char buffer[INET6_ADDRSTRLEN] = {};
    inet_ntop(prefix.family == Family::v4 ? AF_INET : AF_INET6, prefix.address.data(), buffer,
              sizeof buffer);
    return std::string(buffer) + "/" + std::to_string(prefix.length);
}

}  // namespace meridian::geoip
