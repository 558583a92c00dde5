// Probing one pool's service from the main thread's loop, off the query path: every interval
// a round connects to each of the pool's addresses (tcp), or also sends a GET and reads the
// status line (http), each probe bounded by the check's timeout. A round passes when at least
// half of the addresses pass (as gdnsd's default up_thresh of 0.5): a pool with one dead
// server of four still answers, one with most of them dead does not.
#pragma once

#include <uv.h>
#include <functional>
#include <string>
#include <vector>

#include "server/reload/reload.hpp"

namespace meridian::server {

class PoolCheckRunner {
  public:
    // One round's verdict, and the first failure when it failed.
    using Verdict = std::function<void(bool passed, const std::string& problem)>;

    // Starts the rounds (the first at once). Create with new; close() deletes it once
    // libuv is done with every handle.
    static PoolCheckRunner* start(uv_loop_t* loop, const ServedPool& pool, Verdict verdict);
    void close();

  private:
    struct Probe;
    PoolCheckRunner(uv_loop_t* loop, const ServedPool& pool, Verdict verdict);
    ~PoolCheckRunner() = default;
    static void on_tick(uv_timer_t* timer);
    void start_round();
    void finish_probe(Probe& probe, bool passed, std::string problem);
    void release_probe();
    void delete_when_idle();

    uv_loop_t* loop_;
    ServedPool pool_;
    Verdict verdict_;
    uv_timer_t timer_;
    bool is_closed_ = false;
    bool is_timer_closed_ = false;
    unsigned live_probes_ = 0;  // allocated, not yet freed
    unsigned round_pending_ = 0;
    unsigned round_passed_ = 0;
    std::string round_problem_;
};

}  // namespace meridian::server
