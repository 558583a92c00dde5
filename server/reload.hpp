// Loading the configuration into snapshots: once at start, and again on every reload, when
// only the zone files that changed are parsed again and the result replaces the running
// snapshot in one atomic step, or changes nothing at all if the config does not load.
#pragma once

#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "server/config.hpp"
#include "server/snapshot_builder.hpp"
#include "server/snapshot_slot.hpp"
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

  private:
    std::vector<std::filesystem::path> config_paths_;
    zones::ZoneCache zone_cache_;
};

// Re-reads everything and publishes the new snapshot when it loads; logs each problem and
// one summary line (what changed and how long it took). `running` is the config the
// sockets were opened with: changes that need new sockets are reported, not applied.
// Returns true when a new snapshot was published.
bool reload(SnapshotLoader& loader, SnapshotSlot& slot, const Config& running);

}  // namespace meridian::server
