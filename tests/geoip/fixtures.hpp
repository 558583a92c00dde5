// Shared helpers for the GeoIP tests: where the shared test databases live, and addresses.
#pragma once

#include <doctest/doctest.h>

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

inline Address address(const char* text) {
    const auto parsed = parse_address(text);
    REQUIRE(parsed);
    return *parsed;
}

}  // namespace meridian::geoip::testing
