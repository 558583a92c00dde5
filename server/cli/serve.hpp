// `meridian serve`: opens every worker's sockets, runs the workers and the control side
// (health, HTTP endpoint, control socket), reloads on SIGHUP, drains and stops on SIGTERM,
// stops at once on SIGINT.
#pragma once

#include "server/config/config.hpp"
#include "server/reload/reload.hpp"
#include "server/snapshot_slot.hpp"

namespace meridian::server {

// Blocks until stopped. SIGHUP reloads through `loader` on a thread of libuv's pool, off the
// workers' query path and off the loop /health is answered on. SIGTERM reports draining on
// /health at once, keeps answering for [control] drain_seconds, then stops (a second SIGTERM,
// or SIGINT, stops at once). Returns the process exit code: 0 after a clean stop, 1 when a
// socket could not be opened (the reason is logged).
int serve(const Config& config, SnapshotLoader& loader, SnapshotSlot& slot);

}  // namespace meridian::server
