// What the main thread knows about every pool's health: the rise/fall/hold-down state of its
// check, what an operator forced, and the counts /metrics shows. Each change is written to
// the pool's geoip::PoolState, which is what the query path reads. No libuv here: the check
// rounds come from server/control/pool_check.hpp, and the tests feed them by hand.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "geoip/pool_state.hpp"
#include "server/control/hysteresis.hpp"
#include "server/reload/reload.hpp"

namespace meridian::server {

std::string_view checked_state_name(geoip::CheckedState state);  // "unknown", "up", "down"
std::string_view forced_state_name(geoip::ForcedState state);    // "none", "up", "down"
// What the query path does with the pool: "up" or "down" (unknown answers as up).
std::string_view effective_state_name(const geoip::PoolState& state);

class PoolHealthTable {
  public:
    struct Pool {
        ServedPool served;
        std::optional<Hysteresis> hysteresis;  // set when the pool has a check
        uint64_t rounds_passed = 0;
        uint64_t rounds_failed = 0;
        uint64_t transitions = 0;  // of the checked state, after rise/fall and hold-down
        std::string last_problem;  // of the last failed round; empty after a passed one
    };

    // The pools served now (at start and after each reload). A pool that stays keeps its
    // counts, and its check's state when the check did not change; a pool whose check was
    // removed goes back to unknown. Forced states come from `forced` (the state file), so
    // a pool added back finds what the operator said.
    void update(const std::vector<ServedPool>& pools,
                const std::map<std::string, geoip::ForcedState>& forced);

    // One check round of `name`. Returns the log line when the checked state changed.
    std::optional<std::string> record_round(const std::string& name, bool passed,
                                            const std::string& problem,
                                            Hysteresis::Clock::time_point now);
    // Sets the forced state; false when no pool has that name.
    bool force(const std::string& name, geoip::ForcedState forced);

    // True when every pool with a check has concluded up or down, or is forced (/ready).
    bool are_known() const;
    const Pool* find(const std::string& name) const;
    const std::vector<Pool>& pools() const { return pools_; }
    // One line per pool: "fra up checked=up forced=none transitions=1" (`meridian ctl pools`,
    // which `meridian explain` reads).
    std::string describe() const;

  private:
    std::vector<Pool> pools_;
};

}  // namespace meridian::server
