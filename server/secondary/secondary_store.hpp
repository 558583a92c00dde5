// The versions of the secondary zones that the snapshots serve: filled from the cache file
// when a zone is first loaded, then by each completed transfer, and read by every snapshot
// build, which serves a zone whose expiry has passed as unavailable (SERVFAIL). Also whether
// each zone's copy on disk could be written, for /metrics and `meridian ctl status`. Shared
// by the main loop (transfers, status) and the reload thread (builds); never read by the
// workers.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "zones/zone.hpp"

namespace meridian::server {

using WallClock = std::chrono::system_clock;

// RFC 1035 §3.3.13: the SOA's REFRESH, RETRY and EXPIRE, in seconds.
struct SoaTimers {
    uint32_t refresh = 0;
    uint32_t retry = 0;
    uint32_t expire = 0;
};
SoaTimers soa_timers(const zones::Zone& zone);

struct SecondaryVersion {
    std::shared_ptr<const zones::Zone> zone;
    // When the primary last confirmed this version (a transfer, or an SOA query showing the
    // same serial); for a version read from the cache file, the file's modification time.
    WallClock::time_point refreshed;

    // RFC 1035 §3.3.13: past refreshed + EXPIRE the zone is no longer authoritative.
    WallClock::time_point expires() const;
    bool is_expired(WallClock::time_point now) const { return zone && now >= expires(); }
};

// A zone whose last transfer is served but could not be written to its file: a restart would
// serve the older copy there, or none.
struct CopyWriteFailure {
    std::string zone;   // text, "example.net."
    std::string error;  // the file and the cause
};

class SecondaryStore {
  public:
    // The version kept for `origin` (lowercase wire form), if any.
    std::optional<SecondaryVersion> find(const std::string& origin) const;
    // Keeps `version` as what `origin` serves from now on.
    void keep(const std::string& origin, SecondaryVersion version);
    // The primary confirmed the kept version at `when` (its expiry moves on).
    void confirm(const std::string& origin, WallClock::time_point when);
    // `origin` is no longer a secondary zone: if it comes back, its file is read again.
    void forget(const std::string& origin);

    // The outcome of writing the copy of `origin` (named `zone` in text): an empty `error`
    // says it was written, which clears an earlier failure.
    void record_copy_write(const std::string& origin, const std::string& zone, std::string error);
    // Failed writes since the start, and the zones whose last write failed (by name).
    uint64_t copy_write_failures() const;
    std::vector<CopyWriteFailure> failing_copies() const;

  private:
    mutable std::mutex mutex_;
    std::unordered_map<std::string, SecondaryVersion> versions_;
    std::unordered_map<std::string, CopyWriteFailure> failing_;  // by origin
    uint64_t copy_write_failures_ = 0;
};

}  // namespace meridian::server
