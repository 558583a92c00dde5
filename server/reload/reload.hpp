// Loading the configuration into snapshots: once at start, and again on every reload, when
// only the zone files that changed are parsed again and the result replaces the running
// snapshot in one atomic step, or changes nothing at all if the config does not load.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "server/config/config.hpp"
#include "server/reload/snapshot_builder.hpp"
#include "server/snapshot_slot.hpp"
#include "server/transfer/transfer_history.hpp"
#include "zones/zone_cache.hpp"

namespace meridian::server {

class SnapshotLoader {
  public:
    // The config files, merged in this order on every load (see config_merge.hpp).
    explicit SnapshotLoader(std::vector<std::filesystem::path> config_paths)
        : config_paths_(std::move(config_paths)) {}

    struct Loaded {
        std::optional<Config> config;
        std::unique_ptr<zones::Snapshot> snapshot;  // null when anything is an error
        Diagnostics diagnostics;
        BuildContext build;
    };
    Loaded load();

    const std::vector<std::filesystem::path>& config_paths() const { return config_paths_; }
    SecondaryStore& secondaries() { return secondaries_; }
    // Seconds the last parse of each zone took, by origin in wire form; a zone reused
    // unchanged keeps the time of the parse that produced it. Read by whoever loads.
    const std::map<std::string, double>& zone_load_seconds() const { return zone_load_seconds_; }

  private:
    std::vector<std::filesystem::path> config_paths_;
    zones::ZoneCache zone_cache_;
    SecondaryStore secondaries_;
    PoolRegistry pool_registry_;
    std::map<std::string, double> zone_load_seconds_;
};

// What is being served, copied out of a snapshot and its config for the main thread (status,
// metrics, the self-check), which must not read a snapshot that a reload may free.
struct ServedZone {
    std::string origin;  // text, "example.com."
    uint32_t serial = 0;
    double load_seconds = 0;  // how long its last parse took
    // A signed zone's earliest RRSIG expiration (seconds since the epoch); 0: unsigned.
    uint32_t earliest_signature_expiry = 0;
};
// A pool with what its check needs; `state` is the object the snapshot's steering reads.
struct ServedPool {
    std::string name;
    std::vector<std::string> addresses;  // 4- or 16-byte wire addresses
    std::optional<PoolCheck> check;
    std::shared_ptr<geoip::PoolState> state;
};
struct Served {
    std::vector<ServedZone> zones;
    std::string first_origin;  // wire form, for the self-check's SOA query; empty: no zone
    size_t policies = 0;
    std::vector<ServedPool> pools;
    std::string config_hash;
    std::string policy_hash;
    std::chrono::system_clock::time_point published;
};
Served describe_served(const zones::Snapshot& snapshot, const Config& config,
                       const std::map<std::string, double>& zone_load_seconds = {});

struct ReloadOutcome {
    bool is_published = false;
    double seconds = 0;
    std::string summary;                    // the log line: what changed, or why nothing did
    std::optional<Served> served;           // set when published
    std::shared_ptr<const Config> config;   // set when published: what it was built from
    std::vector<ZoneChange> changed_zones;  // serials that changed, with secondaries to notify
};

// Re-reads everything and publishes the new snapshot when it loads; logs each problem and
// one summary line (what changed and how long it took). `running` is the config the
// sockets were opened with: changes that need new sockets are reported, not applied.
// Runs on any one thread at a time (the one that publishes).
ReloadOutcome reload(SnapshotLoader& loader, SnapshotSlot& slot, const Config& running);

}  // namespace meridian::server
