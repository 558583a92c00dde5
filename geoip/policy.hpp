// Pools and steering policies as the config describes them, and the rule that turns one
// client Location into an ordered list of pools.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "geoip/location.hpp"

namespace meridian::geoip {

// One datacenter's service addresses, known here only by name and place; the addresses
// themselves live with the zone data.
struct Pool {
    std::string name;
    std::optional<Coordinates> coordinates;  // required by "nearest" policies
};

using PoolIndex = uint16_t;  // index into the pool list the policy was built with

// One "map" entry. The scope is explicit because continent and country codes collide
// (NA = North America / Namibia, AS, AF, SA likewise); the config syntax resolves it.
struct MapRule {
    enum class Scope : uint8_t { subdivision, country, continent };
    Scope scope = Scope::country;
    std::string code;                // "US-CA" (ISO 3166-2 with country), "US", "NA"
    std::vector<std::string> pools;  // preference order
};

struct Policy {
    enum class Mode : uint8_t { map, nearest, local };
    std::string name;
    Mode mode = Mode::map;
    std::vector<MapRule> map;                // map: most specific match wins
    std::vector<std::string> default_pools;  // map: when nothing matches; empty = fallback
    std::vector<std::string> nearest_pools;  // nearest: candidates; empty = every pool
    std::string local_pool;                  // local: this PoP's own pool
};

// What a policy decides for one location. An empty pool list is "fallback": the caller
// answers as if the name had no policy.
struct Choice {
    std::vector<PoolIndex> pools;
    std::string rule;  // which rule decided, for `explain`: "country US", "default", ...
};

// A Policy resolved against the pool list: names checked and turned into indices once.
class Steering {
  public:
    // Throws GeoipError naming the policy and the bad pool, map key or missing coordinates.
    Steering(const Policy& policy, std::span<const Pool> pools);

    Choice choose(const Location& location) const;
    // Resolves pool names (a net mapped straight to pools); throws on an unknown name.
    std::vector<PoolIndex> resolve(const std::vector<std::string>& names,
                                   const std::string& where) const;
    bool depends_on_location() const { return mode_ != Policy::Mode::local; }

  private:
    Policy::Mode mode_;
    std::string policy_name_;
    std::span<const Pool> pools_;
    std::unordered_map<std::string, PoolIndex> pool_by_name_;
    std::unordered_map<std::string, std::vector<PoolIndex>> by_subdivision_, by_country_,
        by_continent_;
    std::vector<PoolIndex> default_pools_;
    std::vector<PoolIndex> candidates_;  // nearest
    PoolIndex local_pool_ = 0;
};

}  // namespace meridian::geoip
