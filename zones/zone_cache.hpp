// Zones kept from the previous load, so a reload re-parses only the zone files that changed
// (by modification time and size of the file and every file it includes).
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "zones/zone.hpp"
#include "zones/zone_loader.hpp"

namespace meridian::zones {

class ZoneCache {
  public:
    enum class Outcome { parsed, reused, kept_previous, failed };

    // Like load_zone_file, but returns the zone kept from an earlier call with the same file
    // and origin when none of its files has changed since (reused). When the files changed
    // and no longer load, the result carries the errors and the previous zone
    // (kept_previous): a broken edit never takes a working zone away. A failed load is
    // retried on the next call.
    ZoneLoadResult load(const std::filesystem::path& file, const std::string& origin,
                        Outcome& outcome);

    // Forgets every zone not loaded (or reused) since the previous call, so zones removed
    // from the config do not stay in memory.
    void drop_unused();

  private:
    struct Stamp {
        std::string path;
        std::filesystem::file_time_type modified;
        uintmax_t size = 0;
        bool operator==(const Stamp&) const = default;
    };
    struct Entry {
        std::vector<Stamp> stamps;
        std::shared_ptr<const Zone> zone;
        bool used = false;
    };
    static bool stamp(const std::string& path, Stamp& out);

    std::map<std::pair<std::string, std::string>, Entry> entries_;  // by (file, origin)
};

}  // namespace meridian::zones
