// Shared helpers for the GeoIP tests: the test databases the build writes, the read-only
// shared ones beside the checkout, and addresses.
#pragma once

#include <doctest/doctest.h>

#include <cstdlib>
#include <filesystem>
#include <string>

#include "geoip/network.hpp"

namespace meridian::geoip::testing {

// A database the build writes from tests/fixtures/maxmind/<name>.json (CMake's mmdb_fixtures
// target), so tests using it always run; a missing one is a broken build, not a skip.
inline std::string fixture_database(const char* name) {
    const auto path = std::filesystem::path(MERIDIAN_FIXTURES_DIR) / "maxmind" / name;
    REQUIRE_MESSAGE(std::filesystem::is_regular_file(path),
                    path.string() << " is missing: build the mmdb_fixtures target");
    return path.string();
}

// MaxMind's own test databases, their corrupt ones and a real CC0 database, read-only beside
// the checkout (MERIDIAN_SHARED_DIR overrides where). Test cases using them belong to the
// doctest suite "shared", which CTest runs as unit_geoip_shared and reports as skipped where
// the material is absent; once it runs, a missing file fails.
inline std::filesystem::path shared_geoip_dir() {
    const char* overridden = std::getenv("MERIDIAN_SHARED_DIR");
    return std::filesystem::path(overridden && *overridden ? overridden : MERIDIAN_SHARED_DIR) /
           "geoip";
}

inline std::string shared_database(const char* relative) {
    const auto path = shared_geoip_dir() / relative;
    REQUIRE_MESSAGE(std::filesystem::exists(path), path.string() << " is missing");
    return path.string();
}

inline Address address(const char* text) {
    const auto parsed = parse_address(text);
    REQUIRE(parsed);
    return *parsed;
}

}  // namespace meridian::geoip::testing
