// A GeoDNS config written to a temporary folder and read back, shared by the config tests
// (what is read) and the snapshot builder tests (what is served from it): the zone, the
// [geoip] / [[pool]] part, and finding a diagnostic by the line of some text in the config.
#pragma once

#include <doctest/doctest.h>

#include <algorithm>
#include <optional>
#include <string>

#include "server/config/config.hpp"
#include "support/temp_folder.hpp"
#include "zones/diagnostic.hpp"

namespace meridian::testing {

inline constexpr const char* kGeoZone = R"($ORIGIN example.com.
$TTL 3600
@      SOA ns1 hostmaster 1 7200 3600 1209600 300
       NS  ns1
ns1    A   192.0.2.1
www    A   192.0.2.53
www    AAAA 2001:db8::53
alias  CNAME www
sub    NS  ns.sub
ns.sub A   192.0.2.99
old    DNAME example.net.
*.wild A   192.0.2.77
)";

// Two pools (fra with both families, sin with IPv4 only), nets that locate three networks.
inline constexpr const char* kGeo = R"(
[geoip]
ecs_from = ["10.0.0.0/8"]

[[geoip.nets]]
networks = ["198.51.100.0/24"]
country = "de"

[[geoip.nets]]
networks = ["203.0.113.0/24", "2001:db8:aa::/48"]
pools = ["sin"]

[[geoip.nets]]
networks = ["192.0.2.128/25"]
location = [1.35, 103.99]

[[pool]]
name = "fra"
addresses = ["192.0.2.10", "2001:db8::10"]
location = [50.11, 8.68]

[[pool]]
name = "sin"
addresses = ["192.0.2.20"]
location = [1.29, 103.85]
)";

// The config serving kGeoZone from "example.com.zone", with kGeo, then `extra`;
// `server_extra` is added to [server].
inline std::string geo_config_text(const std::string& extra, const std::string& server_extra = "") {
    return "[server]\nlisten = [\"127.0.0.1:5300\"]\n" + server_extra +
           "\n[[zone]]\nfile = \"example.com.zone\"\n" + kGeo + extra;
}

inline bool has_diagnostic(const Diagnostics& diagnostics, bool error, int line,
                           const std::string& text) {
    for (const auto& d : diagnostics)
        if (d.is_error == error && d.line == line && d.message.find(text) != std::string::npos)
            return true;
    return false;
}

// The line of `needle`'s first occurrence in `text`, 1-based.
inline int line_of(const std::string& text, const std::string& needle) {
    const size_t at = text.find(needle);
    REQUIRE(at != std::string::npos);
    return 1 + static_cast<int>(std::count(text.begin(), text.begin() + at, '\n'));
}

// geo_config_text(extra, server_extra) and the zone written to a folder and loaded; `config`
// is nullopt when loading failed, and `diagnostics` says why.
struct LoadedGeoConfig {
    TempFolder folder;
    std::string text;
    Diagnostics diagnostics;
    std::optional<server::Config> config;

    explicit LoadedGeoConfig(const std::string& extra, const std::string& server_extra = "")
        : text(geo_config_text(extra, server_extra)) {
        folder.write("example.com.zone", kGeoZone);
        const auto path = folder.write("meridian.toml", text);
        config = server::load_config(path, diagnostics);
    }
};

}  // namespace meridian::testing
