// Tests for locations: the country-to-continent table and distances (geoip/location.hpp).
#include <doctest/doctest.h>

#include "geoip/location.hpp"

using namespace meridian::geoip;

TEST_CASE("every_iso_3166_country_has_a_continent") {
    // 249 ISO 3166-1 codes plus XK.
    CHECK(known_country_count() == 250);
    CHECK(continent_of_country("DE") == "EU");
    CHECK(continent_of_country("us") == "NA");
    CHECK(continent_of_country("BR") == "SA");
    CHECK(continent_of_country("JP") == "AS");
    CHECK(continent_of_country("AU") == "OC");
    CHECK(continent_of_country("ZA") == "AF");
    CHECK(continent_of_country("AQ") == "AN");
    CHECK(continent_of_country("AD") == "EU");  // first entry
    CHECK(continent_of_country("ZW") == "AF");  // last entry
    CHECK(continent_of_country("RU") == "EU");
    CHECK(continent_of_country("TR") == "AS");
    CHECK(continent_of_country("PA") == "NA");
}

TEST_CASE("unknown_country_codes_have_no_continent") {
    CHECK(continent_of_country("").empty());
    CHECK(continent_of_country("ZZ").empty());
    CHECK(continent_of_country("USA").empty());
    CHECK(continent_of_country("A1").empty());
}

TEST_CASE("completing_a_location_adds_country_prefix_and_continent") {
    Location location{"us", "ca", "", std::nullopt};
    complete_location(location);
    CHECK(location.country == "US");
    CHECK(location.subdivision == "US-CA");
    CHECK(location.continent == "NA");

    Location given{"GB", "GB-ENG", "EU", std::nullopt};
    complete_location(given);
    CHECK(given.subdivision == "GB-ENG");
}

TEST_CASE("great_circle_distance_is_about_right") {
    const Coordinates paris{48.8566, 2.3522}, new_york{40.7128, -74.0060};
    CHECK(distance_km(paris, new_york) == doctest::Approx(5837).epsilon(0.01));
    CHECK(distance_km(paris, paris) == doctest::Approx(0));
}
