// The secondary zones while serving, on the main loop: each zone's SOA timers (RFC 1035
// §3.3.13: refresh, retry, expire), NOTIFY from its primaries (RFC 1996), and transfers run
// on libuv's thread pool. A completed transfer is written to the zone's file and published
// through the normal reload, so queries switch to it in one step; until then, and whenever
// a transfer fails, the previous version keeps answering. Each successful reload reconciles
// the zones with the new config: zones added start, zones removed stop, zones whose
// primaries, key or file changed use the new ones from a refresh started at once.
#pragma once

#include <uv.h>
#include <chrono>
#include <deque>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "server/config/config.hpp"
#include "server/notify_queue.hpp"
#include "server/secondary/secondary_store.hpp"
#include "server/secondary/zone_fetch.hpp"

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
    // Where workers hand NOTIFY requests. It exists even without a secondary zone, since a
    // reload may add one, but accepts nothing until then (the workers answer NOTIMP).
    MessageQueue* notify_queue() { return notify_.get(); }

    // Refreshes every zone at once: a zone served from its file is checked against the
    // primary right after start.
    void start();
    // Closes the timers and the queue; transfers in progress finish, and are dropped.
    void close();
    // After a reload published `config`: starts the secondary zones it adds, stops those it
    // removes, and refreshes at once those whose primaries, key or file changed.
    void reconcile(const Config& config);

  private:
    struct ZoneState;
    std::unique_ptr<ZoneState> make_zone(const ZoneEntry& entry, const tsig::Keyring& keyring);
    void begin(ZoneState& zone, std::string reason);
    void retire(std::unique_ptr<ZoneState> zone);
    void collect(ZoneState& zone);
    void refresh(ZoneState& zone);
    void start_write(ZoneState& zone);
    void finish_fetch(ZoneState& zone);
    void schedule(ZoneState& zone, std::chrono::seconds delay);
    void arm_timer(ZoneState& zone);
    void check_expiry(ZoneState& zone);
    void finish_refresh(ZoneState& zone);
    void answer_notify(const QueuedMessage& notify);
    void send_answer(const QueuedMessage& notify, std::span<const uint8_t> answer);
    static void on_timer(uv_timer_t* timer);
    static void run_fetch(uv_work_t* work);
    static void fetched(uv_work_t* work, int status);
    static void run_write(uv_work_t* work);
    static void written(uv_work_t* work, int status);
    static void on_timer_closed(uv_handle_t* handle);

    uv_loop_t* loop_;
    SecondaryStore& store_;
    std::function<void()> publish_;
    std::vector<std::unique_ptr<ZoneState>> zones_;
    // Zones a reload removed, kept until their timer has closed and their transfer (whose
    // result is dropped) has come back from the pool.
    std::vector<std::unique_ptr<ZoneState>> retired_;
    std::unique_ptr<MessageQueue> notify_;
    // libuv's pool has four threads and reloads need one: transfers take at most two, and
    // the zones beyond wait their turn in order.
    static constexpr size_t kMaxFetches = 2;
    size_t fetches_ = 0;
    std::deque<ZoneState*> waiting_;
    bool is_closed_ = false;
};

}  // namespace meridian::server
