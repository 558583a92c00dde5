// One pool's health as the query path sees it: what its check last concluded and what an
// operator forced. Written only by the main thread (checks, `meridian ctl pool`); read by the
// workers with relaxed loads, so a query never waits for a check and never takes a lock.
#pragma once

#include <atomic>
#include <cstdint>

namespace meridian::geoip {

// What the pool's check concluded after rise/fall; unknown before the first conclusion, and
// for a pool without a check.
enum class CheckedState : uint8_t { unknown, up, down };
// What an operator forced with `meridian ctl pool NAME up|down`; none follows the check.
enum class ForcedState : uint8_t { none, up, down };

class PoolState {
  public:
    // `slot` numbers the pool for the per-worker counters, stable across reloads.
    explicit PoolState(uint16_t slot = 0) : slot_(slot) {}
    PoolState(const PoolState&) = delete;
    PoolState& operator=(const PoolState&) = delete;

    // The query path: a pool is skipped only when it is known down, or forced down. An
    // unknown state answers as up, so a PoP whose checks have not concluded yet (or cannot
    // reach anything) still steers as configured rather than sending everyone to fallback.
    bool is_usable() const noexcept {
        const auto forced = static_cast<ForcedState>(forced_.load(std::memory_order_relaxed));
        if (forced != ForcedState::none) return forced == ForcedState::up;
        return static_cast<CheckedState>(checked_.load(std::memory_order_relaxed)) !=
               CheckedState::down;
    }
    uint16_t slot() const noexcept { return slot_; }

    CheckedState checked() const {
        return static_cast<CheckedState>(checked_.load(std::memory_order_relaxed));
    }
    ForcedState forced() const {
        return static_cast<ForcedState>(forced_.load(std::memory_order_relaxed));
    }
    // The main thread only.
    void set_checked(CheckedState state) {
        checked_.store(static_cast<uint8_t>(state), std::memory_order_relaxed);
    }
    void set_forced(ForcedState state) {
        forced_.store(static_cast<uint8_t>(state), std::memory_order_relaxed);
    }

  private:
    std::atomic<uint8_t> checked_{static_cast<uint8_t>(CheckedState::unknown)};
    std::atomic<uint8_t> forced_{static_cast<uint8_t>(ForcedState::none)};
    uint16_t slot_;
};

}  // namespace meridian::geoip
