// A worker's loop: set up in the main thread, run in its own thread, torn down in order.
#include "server/worker.hpp"

#include <pthread.h>
#include <stdexcept>

namespace meridian::server {

Worker::Worker(unsigned index, const WorkerSettings& settings, SnapshotSlot& slot,
               WorkerCounters& counters, MessageQueue* notify)
    : index_(index),
      batch_(std::make_unique<UdpBatch>(settings.udp_payload)),
      snapshots_(slot.reader(index)),
      counters_(counters),
      notify_(notify),
      connections_(&loop_, snapshots_, settings.tcp_idle_timeout_ms, settings.tcp_max_connections,
                   counters) {
    const int rc = uv_loop_init(&loop_);
    if (rc != 0) throw std::runtime_error(std::string("uv_loop_init: ") + uv_strerror(rc));
    uv_async_init(&loop_, &stop_, on_stop);  // cannot fail on an initialized loop
    stop_.data = this;
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

void Worker::close_handles() {
    for (auto& listener : udp_) listener->close();
    for (auto& listener : tcp_) listener->close();
    connections_.close_all();
    if (notify_replies_) notify_replies_->close();
    auto* stop = reinterpret_cast<uv_handle_t*>(&stop_);
    if (!uv_is_closing(stop)) uv_close(stop, nullptr);
}

}  // namespace meridian::server
