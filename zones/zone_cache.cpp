// Reusing unchanged zones across reloads.
#include "zones/zone_cache.hpp"

namespace meridian::zones {

bool ZoneCache::stamp(const std::string& path, Stamp& out) {
    std::error_code error;
    out.path = path;
    out.modified = std::filesystem::last_write_time(path, error);
    if (error) return false;
    out.size = std::filesystem::file_size(path, error);
    return !error;
}

ZoneLoadResult ZoneCache::load(const std::filesystem::path& file, const std::string& origin,
                               Outcome& outcome) {
    const auto key = std::make_pair(file.string(), origin);
    auto found = entries_.find(key);
    if (found != entries_.end()) {
        bool unchanged = true;
        for (const Stamp& old : found->second.stamps) {
            Stamp now;
            unchanged = unchanged && stamp(old.path, now) && now == old;
        }
        if (unchanged) {
            found->second.used = true;
            outcome = Outcome::reused;
            return {found->second.zone, {}, {}};
        }
    }
    // The zone file's stamp is taken before parsing: an edit during the parse then shows as
    // a change next time instead of being mistaken for the content just read.
    Stamp main;
    const bool has_main = stamp(file.string(), main);
    ZoneLoadResult result = load_zone_file(file, origin);
    if (!result.zone || !has_main) {
        outcome = Outcome::failed;
        if (found != entries_.end() && !result.zone) {
            // Keep the previous version, and its old stamps so the next call parses again.
            found->second.used = true;
            result.zone = found->second.zone;
            outcome = Outcome::kept_previous;
        }
        return result;
    }
    outcome = Outcome::parsed;
    Entry entry{{main}, result.zone, true};
    for (size_t i = 1; i < result.files.size(); ++i) {
        Stamp included;
        if (!stamp(result.files[i], included)) return result;  // not kept: parsed again next time
        entry.stamps.push_back(included);
    }
    entries_[key] = std::move(entry);
    return result;
}

void ZoneCache::drop_unused() {
    for (auto it = entries_.begin(); it != entries_.end();) {
        if (!it->second.used) {
            it = entries_.erase(it);
        } else {
            it->second.used = false;
            ++it;
        }
    }
}

}  // namespace meridian::zones
