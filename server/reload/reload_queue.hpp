// Reloads requested on the main loop (SIGHUP, `meridian ctl reload`) and run on libuv's
// thread pool, one at a time, so the loop keeps answering /health while zones are parsed: a
// health check that timed out during a long reload would withdraw the route for nothing.
#pragma once

#include <uv.h>
#include <functional>
#include <vector>

#include "server/config/config.hpp"
#include "server/reload/reload.hpp"
#include "server/snapshot_slot.hpp"

namespace meridian::server {

class ReloadQueue {
  public:
    using Done = std::function<void(const ReloadOutcome& outcome)>;

    // `on_each` runs on the loop after every reload, before the requesters hear of it.
    ReloadQueue(uv_loop_t* loop, SnapshotLoader& loader, SnapshotSlot& slot, const Config& running,
                Done on_each);
    ReloadQueue(const ReloadQueue&) = delete;
    ReloadQueue& operator=(const ReloadQueue&) = delete;

    // Asks for a reload; `done` (optional) hears the outcome of the first reload that starts
    // after this call. Requests made while one runs share the one after it, as a SIGHUP
    // arriving during a reload always did.
    void request(Done done = {});
    bool is_running() const { return is_running_; }

  private:
    void start();
    static void run(uv_work_t* work);
    static void finished(uv_work_t* work, int status);

    uv_loop_t* loop_;
    SnapshotLoader& loader_;
    SnapshotSlot& slot_;
    const Config& running_;
    Done on_each_;
    uv_work_t work_;
    bool is_running_ = false;
    bool is_wanted_ = false;  // another reload requested while one runs
    std::vector<Done> waiting_next_;
    std::vector<Done> waiting_current_;
    ReloadOutcome outcome_;
};

}  // namespace meridian::server
