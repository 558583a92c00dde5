// The operator's slow path: why one address steers where it does (for `explain`).
#pragma once

#include <span>
#include <string>
#include <vector>

#include "geoip/database.hpp"
#include "geoip/nets.hpp"
#include "geoip/policy.hpp"

namespace meridian::geoip {

struct Explanation {
    enum class Source { none, database, net };
    Source source = Source::none;
    Prefix network;     // the database network or config net that located the address
    Location location;  // empty when a net names pools directly, or nothing located it
    std::string rule;   // the rule that decided: "country US", "net pools", "default", ...
    std::vector<std::string> pools;  // the decision, most preferred first; empty = fallback
};

// Decides the same way compile_policy does, but by looking things up one by one, reporting
// each step. Not for the query path.
Explanation explain_address(const Policy& policy, std::span<const Pool> pools, const NetTable& nets,
                            const Database* database, Family family, const uint8_t* address);

}  // namespace meridian::geoip
