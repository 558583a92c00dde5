// Tests for opening, validating and reading mmdb databases (geoip/database.hpp).
#include <doctest/doctest.h>

#include <maxminddb.h>

#include <fstream>
#include <initializer_list>
#include <random>

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

// A temporary copy of `source` for a test to damage; removed with the object.
class DamagedCopy {
  public:
    explicit DamagedCopy(const std::string& source)
        : path_(std::filesystem::temp_directory_path() /
                ("meridian-geoip-" + std::to_string(std::random_device{}()) + ".mmdb")) {
        std::filesystem::copy_file(source, path_);
    }
    ~DamagedCopy() {
        std::error_code ignored;
        std::filesystem::remove(path_, ignored);
    }
    DamagedCopy(const DamagedCopy&) = delete;
    DamagedCopy& operator=(const DamagedCopy&) = delete;

    std::string path() const { return path_.string(); }
    size_t size() const { return std::filesystem::file_size(path_); }
    void truncate(size_t size) { std::filesystem::resize_file(path_, size); }
    void overwrite(size_t offset, size_t count, char byte) {
        std::fstream file(path_, std::ios::in | std::ios::out | std::ios::binary);
        file.seekp(static_cast<std::streamoff>(offset));
        for (size_t i = 0; i < count; ++i) file.put(byte);
    }

  private:
    std::filesystem::path path_;
};

void check_refused_with_the_path(const std::string& path) {
    const std::string error = open_error(path);
    INFO(error);
    CHECK(error.find(path + ": ") == 0);
    CHECK(error.size() > path.size() + 10);
}

// Our reader's network for each address must be libmaxminddb's, and so must whether it has
// data there.
void check_networks_match_libmaxminddb(const std::string& path,
                                       std::initializer_list<const char*> addresses) {
    const auto database = Database::open(path);
    MMDB_s mmdb;
    REQUIRE(MMDB_open(path.c_str(), MMDB_MODE_MMAP, &mmdb) == MMDB_SUCCESS);
    for (const char* text : addresses) {
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

TEST_CASE("a_truncated_database_is_refused") {
    // Cut inside the search tree, and just before the metadata at the end.
    for (const double kept : {0.3, 0.9}) {
        CAPTURE(kept);
        DamagedCopy copy(fixture_database("Meridian-City-Test.mmdb"));
        copy.truncate(static_cast<size_t>(static_cast<double>(copy.size()) * kept));
        check_refused_with_the_path(copy.path());
    }
}

TEST_CASE("a_database_whose_search_tree_points_nowhere_is_refused") {
    // All ones in the first nodes: records far beyond the nodes and the data section.
    DamagedCopy copy(fixture_database("Meridian-City-Test.mmdb"));
    copy.overwrite(0, 70, '\xff');
    check_refused_with_the_path(copy.path());
}

TEST_CASE("an_asn_database_is_refused_as_locating_nothing") {
    // The wrong database in the config: it opens, but no record has a location.
    const std::string path = fixture_database("Meridian-ASN-Test.mmdb");
    const std::string error = open_error(path);
    CHECK(error.find(path + ": ") == 0);
    CHECK(error.find("no record has a country, continent or coordinates") != std::string::npos);
    CHECK(error.find("Meridian-ASN-Test") != std::string::npos);
}

TEST_CASE("city_locations_read_with_default_paths") {
    const auto database = Database::open(fixture_database("Meridian-City-Test.mmdb"));
    CHECK(database->has_ipv6());
    CHECK(database->database_type() == "Meridian-City-Test");

    const auto london = address("100.64.16.7");
    const Database::Match match = database->find(london.family, london.bytes.data());
    REQUIRE(match.location);
    CHECK(match.location->country == "GB");
    CHECK(match.location->subdivision == "GB-ENG");
    CHECK(match.location->continent == "EU");
    REQUIRE(match.location->coordinates);
    CHECK(match.location->coordinates->latitude == doctest::Approx(51.51));
    CHECK(match.network.length == 25);  // the /24 less the /31 of another record

    const auto seattle = address("100.64.8.9");
    const auto us = database->find(seattle.family, seattle.bytes.data());
    REQUIRE(us.location);
    CHECK(us.location->subdivision == "US-WA");
    CHECK(us.location->continent == "NA");
    CHECK(us.network.length == 29);

    const auto japan = address("2001:db8:30::1");
    const auto jp = database->find(japan.family, japan.bytes.data());
    REQUIRE(jp.location);
    CHECK(jp.location->country == "JP");
    CHECK(jp.network.length == 48);

    // Continent alone, and a record without any location.
    const auto europe = address("100.64.17.1");
    const auto eu = database->find(europe.family, europe.bytes.data());
    REQUIRE(eu.location);
    CHECK(eu.location->country.empty());
    CHECK(eu.location->continent == "EU");
    CHECK_FALSE(eu.location->coordinates);
    const auto empty = address("100.64.40.1");
    const auto no_location = database->find(empty.family, empty.bytes.data());
    CHECK((no_location.location == nullptr || no_location.location->is_unknown()));

    const auto nowhere = address("10.0.0.1");
    CHECK(database->find(nowhere.family, nowhere.bytes.data()).location == nullptr);
}

TEST_CASE("ipv4_aliases_in_an_ipv6_database_find_the_ipv4_record") {
    // ::ffff:0:0/96 (IPv4-mapped) and Teredo 2001::/32, whose bits 32-63 are the IPv4
    // address of the Teredo server (RFC 4380 §4): 2001:0:6440:808:: is 100.64.8.8.
    const auto database = Database::open(fixture_database("Meridian-City-Test.mmdb"));
    for (const char* text : {"::ffff:100.64.8.9", "2001:0:6440:808::1"}) {
        CAPTURE(text);
        const auto alias = address(text);
        const auto match = database->find(alias.family, alias.bytes.data());
        REQUIRE(match.location);
        CHECK(match.location->subdivision == "US-WA");
    }
}

TEST_CASE("database_networks_match_libmaxminddb_lookups") {
    check_networks_match_libmaxminddb(
        fixture_database("Meridian-City-Test.mmdb"),
        {"100.64.0.1", "100.64.8.9", "100.64.16.142", "100.64.16.7", "100.64.17.200", "100.64.40.1",
         "100.127.0.1", "2001:db8:10::1", "2001:db8:30::", "2001:db8::1", "::ffff:100.64.16.142",
         "2001:0:6440:808::", "2002:6440:1000::", "10.0.0.1"});
}

TEST_CASE("a_country_database_locates_without_coordinates") {
    const auto database = Database::open(fixture_database("Meridian-Country-Test.mmdb"));
    const auto germany = address("100.65.1.1");
    const auto match = database->find(germany.family, germany.bytes.data());
    REQUIRE(match.location);
    CHECK(match.location->country == "DE");
    CHECK(match.location->continent == "EU");
    CHECK_FALSE(match.location->coordinates);
    CHECK(match.network.length == 16);
}

TEST_CASE("a_flat_schema_database_reads_country_code") {
    const auto database = Database::open(fixture_database("Meridian-Flat-Country-Test.mmdb"));
    for (const char* text : {"100.64.8.8", "2001:db8:1::53"}) {
        CAPTURE(text);
        const auto parsed = address(text);
        const auto match = database->find(parsed.family, parsed.bytes.data());
        REQUIRE(match.location);
        CHECK(match.location->country == "US");
        CHECK(match.location->continent == "NA");  // from the built-in table
        CHECK_FALSE(match.location->coordinates);
    }
}

TEST_CASE("lookup_paths_are_configurable") {
    LocationPaths paths;
    paths.country = {{"registered_country", "iso_code"}};
    const auto database = Database::open(fixture_database("Meridian-City-Test.mmdb"), paths);
    // 100.64.16.0/24 is located in GB but registered in the US.
    const auto parsed = address("100.64.16.7");
    const auto match = database->find(parsed.family, parsed.bytes.data());
    REQUIRE(match.location);
    CHECK(match.location->country == "US");
    CHECK(match.location->subdivision == "US-ENG");  // the configured country's prefix
}

// MaxMind's own databases: an independent writer's output, its corrupt corpus, a real
// database. CTest's unit_geoip_shared; skipped where ../shared is absent.

TEST_CASE("every_corrupt_maxmind_database_is_refused_with_a_message" *
          doctest::test_suite("shared")) {
    int refused = 0;
    for (const auto& entry :
         std::filesystem::directory_iterator(shared_database("maxmind-test/bad"))) {
        const std::string path = entry.path().string();
        CAPTURE(path);
        check_refused_with_the_path(path);
        ++refused;
    }
    CHECK(refused >= 14);
}

TEST_CASE("maxmind_city_locations_read_with_default_paths" * doctest::test_suite("shared")) {
    const auto database = Database::open(shared_database("maxmind-test/GeoIP2-City-Test.mmdb"));
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

TEST_CASE("maxmind_database_networks_match_libmaxminddb_lookups" * doctest::test_suite("shared")) {
    check_networks_match_libmaxminddb(
        shared_database("maxmind-test/GeoIP2-City-Test.mmdb"),
        {"2.125.160.216", "81.2.69.142", "89.160.20.112", "216.160.83.56",
         "2001:218::", "2a02:d300::1", "::ffff:81.2.69.142", "1.1.1.1"});
}

TEST_CASE("the_builtin_continent_table_agrees_with_maxmind_data" * doctest::test_suite("shared")) {
    for (const char* name :
         {"maxmind-test/GeoIP2-City-Test.mmdb", "maxmind-test/GeoIP2-Country-Test.mmdb"}) {
        CAPTURE(name);
        const auto database = Database::open(shared_database(name));
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

TEST_CASE("a_real_flat_schema_database_reads_country_code" * doctest::test_suite("shared")) {
    const auto database = Database::open(shared_database("real/geo-whois-asn-country.mmdb"));
    const auto google = address("8.8.8.8");
    const auto match = database->find(google.family, google.bytes.data());
    REQUIRE(match.location);
    CHECK(match.location->country == "US");
    CHECK(match.location->continent == "NA");  // from the built-in table
    CHECK_FALSE(match.location->coordinates);
}

TEST_CASE("maxmind_lookup_paths_are_configurable" * doctest::test_suite("shared")) {
    LocationPaths paths;
    paths.country = {{"registered_country", "iso_code"}};
    const auto database =
        Database::open(shared_database("maxmind-test/GeoIP2-City-Test.mmdb"), paths);
    // 2.125.160.216 is located in GB but registered in FR.
    const auto parsed = address("2.125.160.216");
    const auto match = database->find(parsed.family, parsed.bytes.data());
    REQUIRE(match.location);
    CHECK(match.location->country == "FR");
}
