// Byte views of the strings that hold names and RDATA in wire form.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

namespace meridian::wire {

// Names, RDATA and whole messages are kept in std::string for its small-buffer and
// comparison; the writer and parser take bytes.
inline std::span<const uint8_t> bytes_of(std::string_view text) {
    return {reinterpret_cast<const uint8_t*>(text.data()), text.size()};
}

}  // namespace meridian::wire
