// Byte views of the strings that hold names and RDATA in wire form, and the one reader of a
// 16-bit or 32-bit field in network order.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

namespace meridian::wire {

// Names, RDATA and whole messages are kept in std::string for its small-buffer and
// comparison; the writer and parser take bytes.
inline std::span<const uint8_t> bytes_of(std::string_view text) {
    return {reinterpret_cast<const uint8_t*>(text.data()), text.size()};
}

// The 32-bit field at `at`, in network order; the caller has checked that four octets are
// there.
inline uint32_t read32(std::span<const uint8_t> message, size_t at) {
    return (uint32_t(message[at]) << 24) | (uint32_t(message[at + 1]) << 16) |
           (uint32_t(message[at + 2]) << 8) | uint32_t(message[at + 3]);
}

// The 16-bit field at `at` (RFC 1035 §2.3.2: network order); the caller has checked that
// two octets are there.
inline uint16_t read16(std::span<const uint8_t> message, size_t at) {
    return static_cast<uint16_t>((message[at] << 8) | message[at + 1]);
}

}  // namespace meridian::wire
