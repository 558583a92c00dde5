// `meridian serve`: opens every worker's sockets, runs the workers, reloads on SIGHUP, and
// stops them all on SIGTERM or SIGINT.
#pragma once

#include <functional>

#include "server/config.hpp"
#include "server/snapshot_slot.hpp"

namespace meridian::server {

// Blocks until SIGTERM or SIGINT; on SIGHUP calls `reload` on this (the main) thread, off the
// workers' query path. Returns the process exit code: 0 after a clean stop, 1 when a socket
// could not be opened (the reason is logged).
int serve(const Config& config, SnapshotSlot& slot, std::function<void()> reload);

}  // namespace meridian::server
