// The main thread while serving: sockets for every worker, the workers, and the signals that
// stop them.
#include "server/serve.hpp"

#include <uv.h>
#include <csignal>
#include <memory>
#include <string>
#include <vector>

#include "server/log.hpp"
#include "server/worker.hpp"

namespace meridian::server {

namespace {

struct StopSignals {
    uv_signal_t terminate;
    uv_signal_t interrupt;
    uv_signal_t hangup;
    std::vector<std::unique_ptr<Worker>>* workers;
    std::function<void()> reload;
};

void close_signals(StopSignals& signals) {
    uv_close(reinterpret_cast<uv_handle_t*>(&signals.terminate), nullptr);
    uv_close(reinterpret_cast<uv_handle_t*>(&signals.interrupt), nullptr);
    uv_close(reinterpret_cast<uv_handle_t*>(&signals.hangup), nullptr);
}

void on_reload_signal(uv_signal_t* signal, int) {
    auto* signals = static_cast<StopSignals*>(signal->data);
    log_event("reloading on SIGHUP");
    // A reload takes as long as parsing the changed zones; signals arriving meanwhile wait
    // in libuv and run one more reload after this one, which is what the operator wants.
    signals->reload();
}

void on_stop_signal(uv_signal_t* signal, int number) {
    auto* signals = static_cast<StopSignals*>(signal->data);
    log_event(std::string("stopping on ") + (number == SIGTERM ? "SIGTERM" : "SIGINT"));
    for (auto& worker : *signals->workers) worker->request_stop();
    close_signals(*signals);
}

std::string describe_listening(const Config& config, unsigned workers) {
    std::string text = "serving " + std::to_string(config.zones.size()) +
                       (config.zones.size() == 1 ? " zone on " : " zones on ");
    for (size_t i = 0; i < config.server.listen.size(); ++i) {
        if (i > 0) text += ", ";
        text += config.server.listen[i].text;
    }
    text += " (udp, tcp) with " + std::to_string(workers) + (workers == 1 ? " worker" : " workers");
    return text;
}

}  // namespace

int serve(const Config& config, SnapshotSlot& slot, std::function<void()> reload) {
    // A client that resets its TCP connection must cost us an EPIPE, not the process.
    std::signal(SIGPIPE, SIG_IGN);

    uv_loop_t loop;
    if (const int rc = uv_loop_init(&loop); rc != 0) {
        log_event(std::string("uv_loop_init: ") + uv_strerror(rc));
        return 1;
    }
    std::vector<std::unique_ptr<Worker>> workers;
    StopSignals signals;
    signals.workers = &workers;
    signals.reload = std::move(reload);
    uv_signal_init(&loop, &signals.terminate);
    uv_signal_init(&loop, &signals.interrupt);
    uv_signal_init(&loop, &signals.hangup);
    signals.terminate.data = signals.interrupt.data = signals.hangup.data = &signals;
    uv_signal_start(&signals.terminate, on_stop_signal, SIGTERM);
    uv_signal_start(&signals.interrupt, on_stop_signal, SIGINT);
    uv_signal_start(&signals.hangup, on_reload_signal, SIGHUP);

    const unsigned count = effective_workers(config.server);
    TrafficCounters counters(count);
    bool is_ready = true;
    try {
        for (unsigned i = 0; i < count && is_ready; ++i) {
            workers.push_back(std::make_unique<Worker>(i, config.server, slot, counters.worker(i)));
            std::vector<Socket> udp, tcp;
            std::string error;
            for (const auto& address : config.server.listen) {
                udp.push_back(open_udp_socket(address, error));
                if (!udp.back().is_open()) break;
                tcp.push_back(open_tcp_listener(address, SOMAXCONN, error));
                if (!tcp.back().is_open()) break;
            }
            if (error.empty()) workers.back()->open(std::move(udp), std::move(tcp), error);
            if (!error.empty()) {
                log_event(error);
                is_ready = false;
            }
        }
    } catch (const std::exception& e) {
        log_event(e.what());
        is_ready = false;
    }

    if (is_ready) {
        for (auto& worker : workers) worker->start();
        log_event(describe_listening(config, count));
        uv_run(&loop, UV_RUN_DEFAULT);  // returns once a stop signal has closed the handles
        for (auto& worker : workers) worker->join();
    } else {
        close_signals(signals);
        uv_run(&loop, UV_RUN_DEFAULT);
    }
    workers.clear();
    uv_loop_close(&loop);
    if (is_ready) log_event("stopped");
    return is_ready ? 0 : 1;
}

}  // namespace meridian::server
