// Building a Snapshot from a Config: every zone loaded, and every geo policy checked against
// the zones and compiled with the database and nets into the steering table queries read.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "geoip/database.hpp"
#include "server/config/config.hpp"
#include "server/reload/pool_registry.hpp"
#include "server/secondary/secondary_store.hpp"
#include "zones/diagnostic.hpp"
#include "zones/snapshot.hpp"
#include "zones/zone_cache.hpp"

namespace meridian::server {

// What a caller lends a build, and what it learns from it.
struct BuildContext {
    zones::ZoneCache* zone_cache = nullptr;  // reuse zones whose files have not changed
    SecondaryStore* secondaries = nullptr;  // the secondary zones' versions (transferred or cached)
    PoolRegistry* pool_registry = nullptr;  // pool states to share; null: fresh ones (unknown)
    // Verify every RRSIG of signed zones (`meridian check`; too slow to do on each reload).
    bool verify_signatures = false;
    std::shared_ptr<const geoip::Database> database;  // out: the database compiled from
    size_t zones_parsed = 0;                          // out
    size_t zones_reused = 0;                          // out: unchanged, from `zone_cache`
    size_t zones_kept = 0;  // out: broken on disk, previous version from `zone_cache`
    // out: how long each zone parsed this time took, by origin in wire form
    std::vector<std::pair<std::string, double>> zone_load_seconds;
};

// Returns null when anything is an error (all problems are in `diagnostics`, warnings too).
std::unique_ptr<zones::Snapshot> build_snapshot(const Config& config, Diagnostics& diagnostics,
                                                BuildContext* context = nullptr);

}  // namespace meridian::server
