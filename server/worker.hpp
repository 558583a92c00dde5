// One worker thread: its own libuv loop with its own UDP socket and TCP listener per listen
// address (SO_REUSEPORT lets the kernel spread clients across workers), stopped from the
// main thread through a uv_async_t.
#pragma once

#include <uv.h>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "server/metrics.hpp"
#include "server/snapshot_slot.hpp"
#include "server/socket.hpp"
#include "server/tcp_connection.hpp"
#include "server/tcp_listener.hpp"
#include "server/udp_listener.hpp"

namespace meridian::server {

// What a worker's sockets need to know of the [server] settings.
struct WorkerSettings {
    uint16_t udp_payload = 1232;  // the largest UDP answer; the size of each answer buffer
    unsigned tcp_idle_timeout_ms = 10000;
    unsigned tcp_max_connections = 1024;
    unsigned tcp_query_timeout_ms = 5000;
    unsigned tcp_max_connections_per_client = 256;  // 0: no cap
};

class Worker {
  public:
    // Throws std::runtime_error when libuv cannot create the loop. `counters` is this
    // worker's own block: only its thread writes it.
    // `notify` (optional) receives the NOTIFY requests this worker's sockets get.
    Worker(unsigned index, const WorkerSettings& settings, SnapshotSlot& slot,
           WorkerCounters& counters, MessageQueue* notify = nullptr);
    ~Worker();
    Worker(const Worker&) = delete;
    Worker& operator=(const Worker&) = delete;

    // Hands this worker's sockets to its loop: one UDP and one TCP socket per listen address,
    // in the same order. Call before start(); returns false and sets `error` on failure.
    bool open(std::vector<Socket> udp, std::vector<Socket> tcp, std::string& error);

    void start();
    // Safe from any thread: asks the loop to close everything and return.
    void request_stop();
    void join();

  private:
    static void on_stop(uv_async_t* async);
    // Every kIncidentPeriodMs, the incidents this worker's answers met become a few log lines
    // (server/transfer/exchange.hpp: log_incident_summary).
    static void on_incident_timer(uv_timer_t* timer);
    void close_handles();

    unsigned index_;
    uv_loop_t loop_;
    uv_async_t stop_;
    uv_timer_t incident_timer_;
    uint64_t incident_period_start_ms_ = 0;
    std::unique_ptr<UdpBatch> batch_;
    SnapshotSlot::Reader snapshots_;
    WorkerCounters& counters_;
    MessageQueue* notify_;
    std::unique_ptr<MessageQueue> notify_replies_;  // answers to NOTIFY over TCP, from main
    TcpConnectionPool connections_;
    std::vector<std::unique_ptr<UdpListener>> udp_;
    std::vector<std::unique_ptr<TcpListener>> tcp_;
    std::thread thread_;
    bool has_run_ = false;
};

}  // namespace meridian::server
