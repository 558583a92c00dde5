// Shared helpers for the GeoIP tests: where the shared test databases live, and addresses.
#pragma once

#include <doctest/doctest.h>

#include <arpa/inet.h>

#include <array>
#include <filesystem>
#include <string>

#include "geoip/network.hpp"

namespace meridian::geoip::testing {

// The read-only shared material sits beside the checkout; tests using it skip without it.
inline std::filesystem::path shared_geoip_dir() {
    return std::filesystem::path(MERIDIAN_SOURCE_DIR) / ".." / "shared" / "geoip";
}

inline bool have_shared(const std::filesystem::path& file) {
    if (std::filesystem::exists(file)) return true;
    MESSAGE("skipped: " << file.string() << " is absent");
    return false;
}

struct Address {
    Family family;
    std::array<uint8_t, 16> bytes{};
};

inline Address address(const char* text) {
    Address parsed{Family::v4, {}};
    if (inet_pton(AF_INET, text, parsed.bytes.data()) == 1) return parsed;
    parsed.family = Family::v6;
    REQUIRE(inet_pton(AF_INET6, text, parsed.bytes.data()) == 1);
    return parsed;
}

}  // namespace meridian::geoip::testing
