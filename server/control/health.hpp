// Whether this server should attract traffic: the verdict /health and /ready report, which a
// BGP speaker turns into announcing or withdrawing the anycast route.
//
// Ready means answering: the snapshot is loaded and self-queries through the real UDP sockets
// are answered. It changes only through hysteresis (RFC 4786 §4.4.4: a route that flaps is
// worse than one that is late): `rise` answered self-checks in a row to become ready, `fall`
// unanswered ones in a row to stop being ready, and after a change the opposite one waits at
// least the hold-down. Ready also needs every checked pool's state known (a PoP that does not
// yet know which datacenters are up should not attract traffic). Serving means ready and not
// draining; an
// operator's drain and the drain before a stop both keep answering queries while /health
// already says 503, so the route is withdrawn before the answers stop.
#pragma once

#include <chrono>
#include <string_view>

#include "server/control/hysteresis.hpp"

namespace meridian::server {

class Health {
  public:
    Health(unsigned rise, unsigned fall,
           std::chrono::milliseconds hold_down = std::chrono::milliseconds(0))
        : answering_(rise, fall, hold_down) {}

    // One self-check's outcome. Returns true when readiness changed.
    bool record_check(bool answered, Hysteresis::Clock::time_point now = Hysteresis::Clock::now());
    // Whether every checked pool has a known state. Only the first time counts: a PoP that
    // does not yet know which datacenters are up should not attract traffic, but a pool a
    // reload adds (unknown, answering as up) must not withdraw a serving PoP's route.
    // Returns true when readiness changed.
    bool set_pools_known(bool known);
    void set_drained(bool drained) { is_drained_ = drained; }
    void begin_stop() { is_stopping_ = true; }

    bool is_ready() const {  // /ready
        return answering_.state() == Hysteresis::State::up && are_pools_known_;
    }
    bool is_answering() const { return answering_.state() == Hysteresis::State::up; }
    bool are_pools_known() const { return are_pools_known_; }
    bool is_held_down() const { return answering_.is_held_down(); }
    bool is_serving() const;                         // /health
    bool is_drained() const { return is_drained_; }  // by an operator (meridian ctl drain)
    bool is_stopping() const { return is_stopping_; }
    // One word: "starting", "serving", "failing", "drained" or "stopping".
    std::string_view state() const;
    // Same outcomes in a row, the last included.
    unsigned streak() const { return answering_.streak(); }

  private:
    Hysteresis answering_;
    bool are_pools_known_ = true;
    bool have_pools_been_known_ = false;  // once known, a later unknown pool changes nothing
    bool has_been_ready_ = false;
    bool is_drained_ = false;
    bool is_stopping_ = false;
};

}  // namespace meridian::server
