// Rise/fall hysteresis and the drain states: see health.hpp.
#include "server/control/health.hpp"

namespace meridian::server {

bool Health::record_check(bool answered, Hysteresis::Clock::time_point now) {
    const bool was_ready = is_ready();
    answering_.record(answered, now);
    has_been_ready_ = has_been_ready_ || is_ready();
    return was_ready != is_ready();
}

bool Health::set_pools_known(bool known) {
    const bool was_ready = is_ready();
    if (!have_pools_been_known_) are_pools_known_ = known;
    have_pools_been_known_ = have_pools_been_known_ || known;
    has_been_ready_ = has_been_ready_ || is_ready();
    return was_ready != is_ready();
}

bool Health::is_serving() const {
    return is_ready() && !is_drained_ && !is_stopping_;
}

std::string_view Health::state() const {
    if (is_stopping_) return "stopping";
    if (is_drained_) return "drained";
    if (is_ready()) return "serving";
    return has_been_ready_ ? "failing" : "starting";
}

}  // namespace meridian::server
