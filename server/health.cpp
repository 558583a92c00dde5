// Rise/fall hysteresis and the drain states: see health.hpp.
#include "server/health.hpp"

namespace meridian::server {

bool Health::record_check(bool answered) {
    streak_ = answered == last_answered_ ? streak_ + 1 : 1;
    last_answered_ = answered;
    const bool was_ready = is_ready_;
    if (!is_ready_ && answered && streak_ >= rise_) is_ready_ = true;
    if (is_ready_ && !answered && streak_ >= fall_) is_ready_ = false;
    has_been_ready_ = has_been_ready_ || is_ready_;
    return was_ready != is_ready_;
}

bool Health::is_serving() const {
    return is_ready_ && !is_drained_ && !is_stopping_;
}

std::string_view Health::state() const {
    if (is_stopping_) return "stopping";
    if (is_drained_) return "drained";
    if (is_ready_) return "serving";
    return has_been_ready_ ? "failing" : "starting";
}

}  // namespace meridian::server
