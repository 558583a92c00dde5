// Turning a series of pass/fail probes into a state that does not flap: rise passes in a row
// to conclude up, fall failures in a row to conclude down, and a hold-down (RFC 4786 §4.4.4)
// so that after a change the opposite change waits at least that long. Used by the server's
// own health (/health, /ready) and by every pool check.
#pragma once

#include <chrono>
#include <cstdint>

namespace meridian::server {

class Hysteresis {
  public:
    enum class State : uint8_t { unknown, up, down };
    using Clock = std::chrono::steady_clock;

    Hysteresis(unsigned rise, unsigned fall, std::chrono::milliseconds hold_down,
               State initial = State::unknown)
        : rise_(rise), fall_(fall), hold_down_(hold_down), state_(initial) {}

    // One probe's outcome at `now`. Returns true when the state changed.
    bool record(bool passed, Clock::time_point now);

    State state() const { return state_; }
    unsigned streak() const { return streak_; }  // same outcomes in a row, the last included
    // A change the streak already calls for, waiting for the hold-down to run out.
    bool is_held_down() const { return is_held_; }

  private:
    unsigned rise_;
    unsigned fall_;
    std::chrono::milliseconds hold_down_;
    State state_;
    bool last_passed_ = false;
    unsigned streak_ = 0;
    bool is_held_ = false;
    // When the hold-down started: the last change, except a first conclusion of "down",
    // which nobody had seen as "up" (a server starting, a pool never reached).
    bool has_changed_ = false;
    Clock::time_point changed_at_{};
};

}  // namespace meridian::server
