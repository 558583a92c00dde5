// A small compiled steering policy for tests of the answer path: pools fra (IPv4 and IPv6),
// sin (IPv4 only) and iad (IPv4), placed by config nets alone (no database).
#pragma once

#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <initializer_list>

#include "geoip/compile.hpp"
#include "zones/steering.hpp"

namespace meridian::testing {

inline geoip::Prefix prefix(const char* text) {
    std::string error;
    auto parsed = geoip::parse_prefix(text, error);
    REQUIRE_MESSAGE(parsed, error);
    return *parsed;
}

inline zones::OwnedRRset address_rrset(uint16_t type,
                                       std::initializer_list<const char*> addresses) {
    zones::OwnedRRset rrset{type, 30, {}};
    for (const char* text : addresses) {
        uint8_t bytes[16];
        const int family = type == 1 ? AF_INET : AF_INET6;
        REQUIRE(inet_pton(family, text, bytes) == 1);
        rrset.rdatas.emplace_back(reinterpret_cast<char*>(bytes), type == 1 ? 4 : 16);
    }
    return rrset;
}

// Nets: 198.51.100.0/24 -> pool fra, 203.0.113.0/24 in SG, 2001:db8:aa::/48 in US. Map:
// country SG -> sin, continent NA -> iad, fra; local mode answers fra.
inline zones::SteeredName steered(geoip::Policy::Mode mode) {
    const std::vector<geoip::Pool> pools = {{"fra", {}}, {"sin", {}}, {"iad", {}}};
    geoip::Policy policy;
    policy.name = "www.example.com.";
    policy.mode = mode;
    policy.map = {{geoip::MapRule::Scope::country, "SG", {"sin"}},
                  {geoip::MapRule::Scope::continent, "NA", {"iad", "fra"}}};
    policy.local_pool = "fra";
    std::vector<geoip::Net> nets;
    nets.push_back({prefix("198.51.100.0/24"), {}, {"fra"}});
    geoip::Location singapore;
    singapore.country = "SG";
    geoip::complete_location(singapore);
    nets.push_back({prefix("203.0.113.0/24"), singapore, {}});
    geoip::Location virginia;
    virginia.country = "US";
    geoip::complete_location(virginia);
    nets.push_back({prefix("2001:db8:aa::/48"), virginia, {}});
    const geoip::NetTable table(std::move(nets));
    zones::SteeredName name;
    name.tree = geoip::compile_policy(policy, pools, table, nullptr);
    name.depends_on_client = mode != geoip::Policy::Mode::local;
    name.pools = {{address_rrset(1, {"192.0.2.10"}), address_rrset(28, {"2001:db8::10"})},
                  {address_rrset(1, {"192.0.2.20"}), address_rrset(28, {})},
                  {address_rrset(1, {"192.0.2.30"}), address_rrset(28, {})}};
    return name;
}

}  // namespace meridian::testing
