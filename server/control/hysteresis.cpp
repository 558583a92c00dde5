// Rise/fall counting and the hold-down: see hysteresis.hpp.
#include "server/control/hysteresis.hpp"

namespace meridian::server {

bool Hysteresis::record(bool passed, Clock::time_point now) {
    streak_ = passed == last_passed_ && streak_ > 0 ? streak_ + 1 : 1;
    last_passed_ = passed;
    is_held_ = false;
    const State wanted = passed && streak_ >= rise_    ? State::up
                         : !passed && streak_ >= fall_ ? State::down
                                                       : state_;
    if (wanted == state_) return false;
    if (has_changed_ && now - changed_at_ < hold_down_) {
        is_held_ = true;
        return false;
    }
    if (!(state_ == State::unknown && wanted == State::down)) {
        has_changed_ = true;
        changed_at_ = now;
    }
    state_ = wanted;
    return true;
}

}  // namespace meridian::server
