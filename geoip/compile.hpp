// Compiling one policy, the config nets and the database into the PrefixTree queries read.
#pragma once

#include <span>

#include "geoip/database.hpp"
#include "geoip/nets.hpp"
#include "geoip/policy.hpp"
#include "geoip/prefix_tree.hpp"

namespace meridian::geoip {

// Walks the database's search tree once, deciding each distinct location once, and overlays
// the nets (a net beats the database; the longest net wins). `database` may be null: then
// only nets decide and everything else is fallback. A "local" policy compiles to one leaf
// (scope 0): its answer does not depend on the client.
//
// IPv4 and IPv6 have separate roots in one node array. Where an IPv6 database aliases its
// IPv4 tree (::/96, ::ffff:0:0/96, 2002::/16), the IPv6 tree shares the compiled IPv4
// subtree, so such addresses steer as the database says for the embedded IPv4 address;
// IPv4 nets are not applied there (a net applies to its own family only).
//
// Throws GeoipError for policy errors (unknown pool, nearest pool without coordinates).
PrefixTree compile_policy(const Policy& policy, std::span<const Pool> pools, const NetTable& nets,
                          const Database* database);

}  // namespace meridian::geoip
