// A worker's loop: set up in the main thread, run in its own thread, torn down in order.
#include "server/worker.hpp"

#include <pthread.h>
#include <stdexcept>

#include "server/system/log.hpp"
#include "server/transfer/exchange.hpp"

namespace meridian::server {

namespace {

// How often a worker writes its incident summary: "1,234 transfer refusals from
// 203.0.113.0/24 in the last 10 s".
constexpr uint64_t kIncidentPeriodMs = 10000;

}  // namespace

Worker::Worker(unsigned index, const WorkerSettings& settings, SnapshotSlot& slot,
               WorkerCounters& counters, MessageQueue* notify)
    : index_(index),
      batch_(std::make_unique<UdpBatch>(settings.udp_payload)),
      snapshots_(slot.reader(index)),
      counters_(counters),
      notify_(notify),
      connections_(&loop_, snapshots_,
                   TcpLimits{settings.tcp_idle_timeout_ms, settings.tcp_query_timeout_ms,
                             settings.tcp_max_connections, settings.tcp_max_connections_per_client},
                   counters) {
    const int rc = uv_loop_init(&loop_);
    if (rc != 0) throw std::runtime_error(std::string("uv_loop_init: ") + uv_strerror(rc));
    uv_async_init(&loop_, &stop_, on_stop);  // cannot fail on an initialized loop
    stop_.data = this;
    uv_timer_init(&loop_, &incident_timer_);
    incident_timer_.data = this;
    // Workers log through the background writer; start it here, on the main thread.
    start_log_writer();
    if (notify_) {
        notify_replies_ = std::make_unique<MessageQueue>(
            &loop_, [this](const QueuedMessage& reply) { connections_.deliver(reply); });
        connections_.set_notify(notify_, notify_replies_.get());
    }
}

Worker::~Worker() {
    if (thread_.joinable()) {
        request_stop();
        join();
    }
    if (!has_run_) {
        // Never started (a later worker failed to open): close what was opened and let the
        // loop run the close callbacks, so uv_loop_close finds nothing left.
        close_handles();
        uv_run(&loop_, UV_RUN_DEFAULT);
    }
    uv_loop_close(&loop_);
}

bool Worker::open(std::vector<Socket> udp, std::vector<Socket> tcp, std::string& error) {
    for (auto& socket : udp) {
        udp_.push_back(
            std::make_unique<UdpListener>(&loop_, *batch_, snapshots_, counters_, notify_));
        if (const int rc = udp_.back()->open(std::move(socket)); rc != 0) {
            error = std::string("UDP listener: ") + uv_strerror(rc);
            return false;
        }
    }
    for (auto& socket : tcp) {
        tcp_.push_back(std::make_unique<TcpListener>(&loop_, connections_));
        if (const int rc = tcp_.back()->open(std::move(socket)); rc != 0) {
            error = std::string("TCP listener: ") + uv_strerror(rc);
            return false;
        }
    }
    return true;
}

void Worker::start() {
    has_run_ = true;
    incident_period_start_ms_ = uv_now(&loop_);
    uv_timer_start(&incident_timer_, on_incident_timer, kIncidentPeriodMs, kIncidentPeriodMs);
    thread_ = std::thread([this] { uv_run(&loop_, UV_RUN_DEFAULT); });
    // Named per worker so `top -H` and perf show which loop is busy.
    const std::string name = "meridian-w" + std::to_string(index_);
    pthread_setname_np(thread_.native_handle(), name.substr(0, 15).c_str());
}

void Worker::request_stop() {
    uv_async_send(&stop_);
}

void Worker::join() {
    if (thread_.joinable()) thread_.join();
}

void Worker::on_stop(uv_async_t* async) {
    static_cast<Worker*>(async->data)->close_handles();
}

void Worker::on_incident_timer(uv_timer_t* timer) {
    auto* worker = static_cast<Worker*>(timer->data);
    const uint64_t now = uv_now(&worker->loop_);
    const uint64_t seconds = (now - worker->incident_period_start_ms_ + 500) / 1000;
    worker->incident_period_start_ms_ = now;
    log_incident_summary(static_cast<unsigned>(seconds > 0 ? seconds : 1));
}

void Worker::close_handles() {
    // What the last period counted, before the worker goes (it runs on the worker's thread,
    // whose incident table it is).
    if (has_run_) on_incident_timer(&incident_timer_);
    auto* timer = reinterpret_cast<uv_handle_t*>(&incident_timer_);
    if (!uv_is_closing(timer)) uv_close(timer, nullptr);
    for (auto& listener : udp_) listener->close();
    for (auto& listener : tcp_) listener->close();
    connections_.close_all();
    if (notify_replies_) notify_replies_->close();
    auto* stop = reinterpret_cast<uv_handle_t*>(&stop_);
    if (!uv_is_closing(stop)) uv_close(stop, nullptr);
}

}  // namespace meridian::server
