// `meridian serve`: opens every worker's sockets, runs the workers, and stops them all on
// SIGTERM or SIGINT.
#pragma once

#include "server/config.hpp"
#include "server/snapshot_slot.hpp"

namespace meridian::server {

// Blocks until SIGTERM or SIGINT. Returns the process exit code: 0 after a clean stop, 1 when
// a socket could not be opened (the reason is logged).
int serve(const Config& config, const SnapshotSlot& slot);

}  // namespace meridian::server
