// The secondary zones while serving, on the main loop: each zone's SOA timers (RFC 1035
// §3.3.13: refresh, retry, expire), NOTIFY from its primaries (RFC 1996), and transfers run
// on libuv's thread pool. A completed transfer is written to the zone's file and published
// through the normal reload, so queries switch to it in one step; until then, and whenever
// a transfer fails, the previous version keeps answering.
#pragma once

#include <uv.h>
#include <chrono>
#include <deque>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "server/config.hpp"
#include "server/notify_queue.hpp"
#include "server/secondary_store.hpp"
#include "server/zone_fetch.hpp"

namespace meridian::server {

class SecondaryZones {
  public:
    // `publish` asks for a reload (which reads `store`); it runs on `loop`.
    SecondaryZones(uv_loop_t* loop, const Config& config, SecondaryStore& store,
                   std::function<void()> publish);
    ~SecondaryZones();
    SecondaryZones(const SecondaryZones&) = delete;
    SecondaryZones& operator=(const SecondaryZones&) = delete;

    bool is_empty() const { return zones_.empty(); }
    // Where workers hand NOTIFY requests; null when there is no secondary zone.
    MessageQueue* notify_queue() { return notify_.get(); }

    // Refreshes every zone at once: a zone served from its file is checked against the
    // primary right after start.
    void start();
    // Closes the timers and the queue; transfers in progress finish, and are dropped.
    void close();

  private:
    struct ZoneState;
    void refresh(ZoneState& zone);
    void schedule(ZoneState& zone, std::chrono::seconds delay);
    void arm_timer(ZoneState& zone);
    void check_expiry(ZoneState& zone);
    void finish_refresh(ZoneState& zone);
    void answer_notify(const QueuedMessage& notify);
    void send_answer(const QueuedMessage& notify, std::span<const uint8_t> answer);
    static void on_timer(uv_timer_t* timer);
    static void run_fetch(uv_work_t* work);
    static void fetched(uv_work_t* work, int status);

    uv_loop_t* loop_;
    SecondaryStore& store_;
    std::function<void()> publish_;
    std::vector<std::unique_ptr<ZoneState>> zones_;
    std::unique_ptr<MessageQueue> notify_;
    // libuv's pool has four threads and reloads need one: transfers take at most two, and
    // the zones beyond wait their turn in order.
    static constexpr size_t kMaxFetches = 2;
    size_t fetches_ = 0;
    std::deque<ZoneState*> waiting_;
    bool is_closed_ = false;
};

}  // namespace meridian::server
