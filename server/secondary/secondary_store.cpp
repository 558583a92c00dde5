// The secondary zones' current versions: see secondary_store.hpp.
#include "server/secondary/secondary_store.hpp"

#include <algorithm>

namespace meridian::server {

namespace {

uint32_t read32(const std::string& s, size_t at) {
    return (uint32_t(uint8_t(s[at])) << 24) | (uint32_t(uint8_t(s[at + 1])) << 16) |
           (uint32_t(uint8_t(s[at + 2])) << 8) | uint32_t(uint8_t(s[at + 3]));
}

}  // namespace

SoaTimers soa_timers(const zones::Zone& zone) {
    // SERIAL REFRESH RETRY EXPIRE MINIMUM close the SOA's RDATA.
    const std::string& rdata = zone.soa().rdatas.front();
    const size_t at = rdata.size() - 16;
    return {read32(rdata, at), read32(rdata, at + 4), read32(rdata, at + 8)};
}

WallClock::time_point SecondaryVersion::expires() const {
    return refreshed + std::chrono::seconds(zone ? soa_timers(*zone).expire : 0);
}

std::optional<SecondaryVersion> SecondaryStore::find(const std::string& origin) const {
    std::lock_guard lock(mutex_);
    auto it = versions_.find(origin);
    if (it == versions_.end()) return std::nullopt;
    return it->second;
}

void SecondaryStore::keep(const std::string& origin, SecondaryVersion version) {
    std::lock_guard lock(mutex_);
    versions_[origin] = std::move(version);
}

void SecondaryStore::confirm(const std::string& origin, WallClock::time_point when) {
    std::lock_guard lock(mutex_);
    auto it = versions_.find(origin);
    if (it != versions_.end()) it->second.refreshed = when;
}

void SecondaryStore::forget(const std::string& origin) {
    std::lock_guard lock(mutex_);
    versions_.erase(origin);
    failing_.erase(origin);
}

void SecondaryStore::record_copy_write(const std::string& origin, const std::string& zone,
                                       std::string error) {
    std::lock_guard lock(mutex_);
    if (error.empty()) {
        failing_.erase(origin);
        return;
    }
    ++copy_write_failures_;
    failing_[origin] = {zone, std::move(error)};
}

uint64_t SecondaryStore::copy_write_failures() const {
    std::lock_guard lock(mutex_);
    return copy_write_failures_;
}

std::vector<CopyWriteFailure> SecondaryStore::failing_copies() const {
    std::vector<CopyWriteFailure> result;
    {
        std::lock_guard lock(mutex_);
        for (const auto& [origin, failure] : failing_) result.push_back(failure);
    }
    std::sort(result.begin(), result.end(),
              [](const auto& a, const auto& b) { return a.zone < b.zone; });
    return result;
}

}  // namespace meridian::server
