// The GeoDNS config: [geoip], [[geoip.nets]], [[pool]], [[geo]] and [server] pool are read
// as written, and every mistake is reported at its line. What snapshots built from them
// answer is in tests/server/reload/test_snapshot_builder.cpp.
#include <doctest/doctest.h>

#include <string>

#include "support/config_files.hpp"
#include "support/diagnostics.hpp"

using namespace meridian;
using namespace meridian::testing;

TEST_CASE("geo_shape_errors_name_their_lines") {
    const std::string extra = R"(
[[pool]]
name = "bad"
addresses = ["192.0.2.300"]
colour = "red"

[[geoip.nets]]
networks = ["10.1.0.0/8"]
country = "DE"
pools = ["fra"]

[[geo]]
name = "www.example.com."
mode = "closest"

[[geo]]
name = "ftp.example.com."
mode = "nearest"
[geo.map]
country = { "DE" = [] }
)";
    LoadedGeoConfig built(extra);
    CHECK_FALSE(built.config);
    const auto& d = built.diagnostics;
    const auto& text = built.text;
    CHECK_MESSAGE(has_diagnostic(d, true, line_of(text, "\"192.0.2.300\""), "not an IPv4 or IPv6"),
                  diagnostics_text(d));
    CHECK_MESSAGE(
        has_diagnostic(d, true, line_of(text, "colour"), "unknown key 'colour' in [[pool]]"),
        diagnostics_text(d));
    CHECK_MESSAGE(has_diagnostic(d, true, line_of(text, "\"10.1.0.0/8\""), "10.1.0.0/8"),
                  diagnostics_text(d));
    CHECK_MESSAGE(has_diagnostic(d, true, line_of(text, "country = \"DE\"") - 2,
                                 "either 'pools' or a location"),
                  diagnostics_text(d));
    CHECK_MESSAGE(has_diagnostic(d, true, line_of(text, "\"closest\""), "mode 'closest'"),
                  diagnostics_text(d));
    CHECK_MESSAGE(has_diagnostic(d, true, line_of(text, "name = \"ftp") - 1,
                                 "only applies to mode = \"map\""),
                  diagnostics_text(d));
    CHECK_MESSAGE(has_diagnostic(d, true, line_of(text, "\"DE\" = []"), "lists no pools"),
                  diagnostics_text(d));
    for (const auto& one : d)
        CHECK_MESSAGE(one.message.find("needs a [geo.map]") == std::string::npos, one.to_string());
}
