// Whether this server should attract traffic: the verdict /health and /ready report, which a
// BGP speaker turns into announcing or withdrawing the anycast route.
//
// Ready means answering: the snapshot is loaded and self-queries through the real UDP sockets
// are answered. It changes only through hysteresis (RFC 4786 §4.4.4: a route that flaps is
// worse than one that is late): `rise` answered self-checks in a row to become ready, `fall`
// unanswered ones in a row to stop being ready. Serving means ready and not draining; an
// operator's drain and the drain before a stop both keep answering queries while /health
// already says 503, so the route is withdrawn before the answers stop.
#pragma once

#include <string_view>

namespace meridian::server {

class Health {
  public:
    Health(unsigned rise, unsigned fall) : rise_(rise), fall_(fall) {}

    // One self-check's outcome. Returns true when readiness changed.
    bool record_check(bool answered);
    void set_drained(bool drained) { is_drained_ = drained; }
    void begin_stop() { is_stopping_ = true; }

    bool is_ready() const { return is_ready_; }      // /ready
    bool is_serving() const;                         // /health
    bool is_drained() const { return is_drained_; }  // by an operator (meridian ctl drain)
    bool is_stopping() const { return is_stopping_; }
    // One word: "starting", "serving", "failing", "drained" or "stopping".
    std::string_view state() const;
    unsigned streak() const { return streak_; }  // same outcomes in a row, the last included

  private:
    unsigned rise_;
    unsigned fall_;
    bool is_ready_ = false;
    bool has_been_ready_ = false;
    bool last_answered_ = false;
    unsigned streak_ = 0;
    bool is_drained_ = false;
    bool is_stopping_ = false;
};

}  // namespace meridian::server
