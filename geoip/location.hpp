// Where a client is, as far as steering cares: country, subdivision, continent, coordinates;
// and the built-in country-to-continent table used when a database gives no continent.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace meridian::geoip {

struct Coordinates {
    double latitude = 0;   // degrees, north positive
    double longitude = 0;  // degrees, east positive

    bool operator==(const Coordinates&) const = default;
};

// Codes are upper case. `subdivision` is ISO 3166-2 with its country prefix ("US-CA"), the
// form operators write in a map; an empty string means unknown.
struct Location {
    std::string country;      // ISO 3166-1 alpha-2, "US"
    std::string subdivision;  // ISO 3166-2, "US-CA"
    std::string continent;    // "AF" "AN" "AS" "EU" "NA" "OC" "SA"
    std::optional<Coordinates> coordinates;

    bool is_unknown() const { return country.empty() && continent.empty() && !coordinates; }
    bool operator==(const Location&) const = default;
};

// Continent code of an ISO 3166-1 alpha-2 country ("DE" -> "EU"), case-insensitive; empty
// when the code is not a country.
std::string_view continent_of_country(std::string_view country);

// Number of countries the built-in table knows (for tests and `explain`).
size_t known_country_count();

// Fills in what can be derived: upper-cases codes, prefixes a bare subdivision code with its
// country ("CA" -> "US-CA", as MaxMind stores subdivisions without it) and takes the
// continent from the built-in table when the source gave none.
void complete_location(Location& location);

// Great-circle distance in kilometres (haversine on a spherical Earth; the error of at most
// ~0.5% against the ellipsoid never changes which datacenter is nearest in practice).
double distance_km(const Coordinates& from, const Coordinates& to);

}  // namespace meridian::geoip
