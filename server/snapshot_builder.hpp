// Building a Snapshot from a Config: every zone loaded, and every geo policy checked against
// the zones and compiled with the database and nets into the steering table queries read.
#pragma once

#include <memory>

#include "geoip/database.hpp"
#include "server/config.hpp"
#include "zones/diagnostic.hpp"
#include "zones/snapshot.hpp"

namespace meridian::server {

// Returns null when anything is an error (all problems are in `diagnostics`, warnings too).
// When `database` is given, it receives the GeoIP database the snapshot was compiled from
// (null without one), for `explain`.
std::unique_ptr<zones::Snapshot> build_snapshot(
    const Config& config, Diagnostics& diagnostics,
    std::shared_ptr<const geoip::Database>* database = nullptr);

}  // namespace meridian::server
