// Every pool's PoolState by name, for as long as the server runs: each snapshot built takes
// its pools' states from here, so a reload keeps what the checks and the operator decided for
// pools that still exist, and a pool removed and added back finds its state again.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "geoip/pool_state.hpp"

namespace meridian::server {

class PoolRegistry {
  public:
    // The state of the pool called `name`, created (unknown, not forced) on first use with
    // the next counter slot. Safe from any thread; never on the query path.
    std::shared_ptr<geoip::PoolState> obtain(const std::string& name) {
        std::lock_guard lock(mutex_);
        auto& state = states_[name];
        if (!state) {
            state = std::make_shared<geoip::PoolState>(next_slot_);
            if (next_slot_ < UINT16_MAX) ++next_slot_;
        }
        return state;
    }

  private:
    std::mutex mutex_;
    std::map<std::string, std::shared_ptr<geoip::PoolState>> states_;
    uint16_t next_slot_ = 0;
};

}  // namespace meridian::server
