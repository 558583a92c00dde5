// A libuv loop owned by one test: run until a condition holds or a deadline passes (never a
// fixed sleep), and the objects on it closed before they go away, also when a REQUIRE ends
// the test early.
#pragma once

#include <doctest/doctest.h>
#include <uv.h>

#include <chrono>
#include <functional>

namespace meridian::testing {

class TestLoop {
  public:
    TestLoop() { REQUIRE(uv_loop_init(&loop_) == 0); }
    ~TestLoop() {
        run_until_idle();
        uv_loop_close(&loop_);  // EBUSY only when something under test never closed
    }
    TestLoop(const TestLoop&) = delete;
    TestLoop& operator=(const TestLoop&) = delete;

    uv_loop_t* get() { return &loop_; }

    // Runs the loop until `condition` holds (checked at least every 10 ms) or `timeout`
    // passes; returns the condition.
    bool run_until(const std::function<bool()>& condition, std::chrono::milliseconds timeout) {
        const auto deadline = std::chrono::steady_clock::now() + timeout;
        // Wakes the loop while it waits on the objects under test; unreferenced, so it never
        // keeps the loop alive by itself.
        uv_timer_t tick;
        uv_timer_init(&loop_, &tick);
        uv_unref(reinterpret_cast<uv_handle_t*>(&tick));
        uv_timer_start(
            &tick, [](uv_timer_t*) {}, 10, 10);
        bool holds = condition();
        while (!holds && std::chrono::steady_clock::now() < deadline) {
            const bool is_alive = uv_run(&loop_, UV_RUN_ONCE) != 0;
            holds = condition();
            if (!is_alive) break;  // nothing left on the loop that could make it hold
        }
        uv_close(reinterpret_cast<uv_handle_t*>(&tick), nullptr);
        uv_run(&loop_, UV_RUN_NOWAIT);  // finishes closing `tick` before it leaves scope
        return holds;
    }

    // Runs the loop until every handle has closed (bounded).
    bool run_until_idle() {
        return run_until([this] { return !uv_loop_alive(&loop_); }, std::chrono::seconds(5));
    }

    // At scope exit: calls `close` (the object's close()), then lets the loop finish closing
    // its handles, so nothing libuv still holds is freed first. Declare it after the object.
    class Closer {
      public:
        Closer(TestLoop& loop, std::function<void()> close)
            : loop_(loop), close_(std::move(close)) {}
        ~Closer() {
            close_();
            CHECK_MESSAGE(loop_.run_until_idle(), "a handle is still open after close()");
        }
        Closer(const Closer&) = delete;
        Closer& operator=(const Closer&) = delete;

      private:
        TestLoop& loop_;
        std::function<void()> close_;
    };

  private:
    uv_loop_t loop_;
};

}  // namespace meridian::testing
