// What the main thread knows about the running server besides the workers' traffic counters:
// what is served, reloads, health, the secondary zones' copies on disk. Read by /metrics and
// `meridian ctl status`.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "server/reload/reload.hpp"
#include "server/secondary/secondary_store.hpp"

namespace meridian::server {

// One pool as /metrics and `ctl status` show it.
struct PoolStatus {
    std::string name;
    uint16_t slot = 0;      // its steered-answer counters (geoip::PoolState::slot())
    bool is_usable = true;  // what the query path does: up, or skipped
    std::string checked;    // "up", "down", "unknown"; "unchecked" without a check
    std::string forced;     // "none", "up", "down"
    uint64_t transitions = 0;
    uint64_t rounds_passed = 0;
    uint64_t rounds_failed = 0;
};

struct ServerStatus {
    std::string identity;
    unsigned workers = 0;
    std::chrono::system_clock::time_point started;
    Served served;

    uint64_t reloads_published = 0;
    uint64_t reloads_failed = 0;
    double reload_seconds_sum = 0;
    double last_reload_seconds = 0;

    std::string health_state = "starting";  // Health::state()
    bool is_ready = false;
    bool is_serving = false;
    bool is_drained = false;
    bool is_stopping = false;
    uint64_t checks_answered = 0;
    uint64_t checks_failed = 0;
    uint64_t health_changes = 0;
    std::string last_check_problem;  // empty when the last self-check was answered
    bool are_pools_known = true;     // every checked pool has concluded up or down
    std::vector<PoolStatus> pools;

    // The secondary zones' versions, read when shown: which copies could not be written.
    // Null without a loader (tests of the status alone).
    const SecondaryStore* secondaries = nullptr;
};

}  // namespace meridian::server
