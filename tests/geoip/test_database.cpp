// Tests for opening, validating and reading mmdb databases (geoip/database.hpp).
#include <doctest/doctest.h>

#include <maxminddb.h>

#include <fstream>

#include "fixtures.hpp"
#include "geoip/database.hpp"
#include "geoip/error.hpp"
#include "support/maxmind_reference.hpp"

using namespace meridian::geoip;
using namespace meridian::geoip::testing;

namespace {

std::string open_error(const std::string& path) {
    try {
        Database::open(path);
    } catch (const GeoipError& error) {
        return error.what();
    }
    return "";
}

}  // namespace

TEST_CASE("a_missing_database_is_refused_naming_the_file") {
    const std::string error = open_error("/nonexistent/GeoIP2-City.mmdb");
    CHECK(error.find("/nonexistent/GeoIP2-City.mmdb") == 0);
    CHECK(error.find("No such file") != std::string::npos);
}

TEST_CASE("a_file_that_is_not_a_database_is_refused") {
    const auto path = std::filesystem::temp_directory_path() / "meridian-geoip-not-mmdb.mmdb";
    std::ofstream(path) << "this is not a MaxMind database\n";
    const std::string error = open_error(path.string());
    std::filesystem::remove(path);
    CHECK(error.find(path.string() + ": ") == 0);
}

TEST_CASE("every_corrupt_database_is_refused_with_a_message") {
    const auto bad = shared_geoip_dir() / "maxmind-test" / "bad";
    if (!have_shared(bad)) return;
    int refused = 0;
    for (const auto& entry : std::filesystem::directory_iterator(bad)) {
        const std::string path = entry.path().string();
        CAPTURE(path);
        const std::string error = open_error(path);
        INFO(error);
        CHECK(error.find(path + ": ") == 0);
        CHECK(error.size() > path.size() + 10);
        ++refused;
    }
    CHECK(refused >= 14);
}

TEST_CASE("maxmind_city_locations_read_with_default_paths") {
    const auto path = shared_geoip_dir() / "maxmind-test" / "GeoIP2-City-Test.mmdb";
    if (!have_shared(path)) return;
    const auto database = Database::open(path.string());
    CHECK(database->has_ipv6());

    const auto london = address("81.2.69.142");
    const Database::Match match = database->find(london.family, london.bytes.data());
    REQUIRE(match.location);
    CHECK(match.location->country == "GB");
    CHECK(match.location->subdivision == "GB-ENG");
    CHECK(match.location->continent == "EU");
    REQUIRE(match.location->coordinates);
    CHECK(match.location->coordinates->latitude == doctest::Approx(51.5142));

    const auto milton = address("216.160.83.56");
    const auto us = database->find(milton.family, milton.bytes.data());
    REQUIRE(us.location);
    CHECK(us.location->subdivision == "US-WA");
    CHECK(us.location->continent == "NA");

    const auto japan = address("2001:218::");
    const auto jp = database->find(japan.family, japan.bytes.data());
    REQUIRE(jp.location);
    CHECK(jp.location->country == "JP");
    CHECK(jp.network.length == 32);

    const auto nowhere = address("10.0.0.1");
    CHECK(database->find(nowhere.family, nowhere.bytes.data()).location == nullptr);
}

TEST_CASE("database_networks_match_libmaxminddb_lookups") {
    const auto path = shared_geoip_dir() / "maxmind-test" / "GeoIP2-City-Test.mmdb";
    if (!have_shared(path)) return;
    const auto database = Database::open(path.string());
    MMDB_s mmdb;
    REQUIRE(MMDB_open(path.c_str(), MMDB_MODE_MMAP, &mmdb) == MMDB_SUCCESS);
    for (const char* text : {"2.125.160.216", "81.2.69.142", "89.160.20.112", "216.160.83.56",
                             "2001:218::", "2a02:d300::1", "::ffff:81.2.69.142", "1.1.1.1"}) {
        CAPTURE(text);
        const MMDB_lookup_result_s result = meridian::testing::reference_lookup(mmdb, text);
        const auto parsed = address(text);
        const auto match = database->find(parsed.family, parsed.bytes.data());
        const unsigned ipv4_offset = parsed.family == Family::v4 ? 96 : 0;
        CHECK(match.network.length + ipv4_offset == result.netmask);
        CHECK(result.found_entry == (match.location != nullptr));
    }
    MMDB_close(&mmdb);
}

TEST_CASE("the_builtin_continent_table_agrees_with_maxmind_data") {
    for (const char* name : {"GeoIP2-City-Test.mmdb", "GeoIP2-Country-Test.mmdb"}) {
        const auto path = shared_geoip_dir() / "maxmind-test" / name;
        if (!have_shared(path)) return;
        const auto database = Database::open(path.string());
        size_t compared = 0;
        for (size_t i = 0; i < database->location_count(); ++i) {
            const Location& location = database->location(i);
            if (location.country.empty() || location.continent.empty()) continue;
            CAPTURE(location.country);
            CHECK(continent_of_country(location.country) == location.continent);
            ++compared;
        }
        CHECK(compared > 0);
    }
}

TEST_CASE("a_flat_schema_database_reads_country_code") {
    const auto path = shared_geoip_dir() / "real" / "geo-whois-asn-country.mmdb";
    if (!have_shared(path)) return;
    const auto database = Database::open(path.string());
    const auto google = address("8.8.8.8");
    const auto match = database->find(google.family, google.bytes.data());
    REQUIRE(match.location);
    CHECK(match.location->country == "US");
    CHECK(match.location->continent == "NA");  // from the built-in table
    CHECK_FALSE(match.location->coordinates);
}

TEST_CASE("lookup_paths_are_configurable") {
    const auto path = shared_geoip_dir() / "maxmind-test" / "GeoIP2-City-Test.mmdb";
    if (!have_shared(path)) return;
    LocationPaths paths;
    paths.country = {{"registered_country", "iso_code"}};
    const auto database = Database::open(path.string(), paths);
    // 2.125.160.216 is located in GB but registered in FR.
    const auto parsed = address("2.125.160.216");
    const auto match = database->find(parsed.family, parsed.bytes.data());
    REQUIRE(match.location);
    CHECK(match.location->country == "FR");
}
