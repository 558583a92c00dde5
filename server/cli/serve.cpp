// The main thread while serving: sockets for every worker, the workers, the control side, and
// the signals that reload, drain and stop them.
#include "server/cli/serve.hpp"

#include <uv.h>
#include <algorithm>
#include <csignal>
#include <memory>
#include <string>
#include <vector>

#include "server/control/control.hpp"
#include "server/metrics.hpp"
#include "server/secondary/secondary_zones.hpp"
#include "server/system/log.hpp"
#include "server/transfer/notify_out.hpp"
#include "server/worker.hpp"

namespace meridian::server {

namespace {

// The main loop's handles and what they act on.
struct MainLoop {
    uv_signal_t terminate;
    uv_signal_t interrupt;
    uv_signal_t hangup;
    uv_timer_t drain;
    std::vector<std::unique_ptr<Worker>>* workers = nullptr;
    Control* control = nullptr;
    Notifier* notifier = nullptr;
    SecondaryZones* secondaries = nullptr;
    bool is_draining = false;
    bool is_stopped = false;
};

void close_handles(MainLoop& main) {
    for (auto* handle : {reinterpret_cast<uv_handle_t*>(&main.terminate),
                         reinterpret_cast<uv_handle_t*>(&main.interrupt),
                         reinterpret_cast<uv_handle_t*>(&main.hangup),
                         reinterpret_cast<uv_handle_t*>(&main.drain)})
        if (!uv_is_closing(handle)) uv_close(handle, nullptr);
}

void stop_now(MainLoop& main) {
    if (main.is_stopped) return;
    main.is_stopped = true;
    for (auto& worker : *main.workers) worker->request_stop();
    if (main.control) main.control->close();
    if (main.notifier) main.notifier->close();
    if (main.secondaries) main.secondaries->close();
    close_handles(main);
}

void on_drained(uv_timer_t* timer) {
    auto* main = static_cast<MainLoop*>(timer->data);
    log_event("drain over: stopping");
    stop_now(*main);
}

void on_reload_signal(uv_signal_t* signal, int) {
    auto* main = static_cast<MainLoop*>(signal->data);
    log_event("reloading on SIGHUP");
    main->control->request_reload();
}

void on_stop_signal(uv_signal_t* signal, int number) {
    auto* main = static_cast<MainLoop*>(signal->data);
    const unsigned drain = main->control ? main->control->drain_seconds() : 0;
    // SIGTERM is how a service manager stops us: drain first, so the BGP speaker sees /health
    // fail and withdraws the route while queries in flight, and those still routed here
    // until the withdrawal spreads, are answered. SIGINT is a person at a terminal.
    if (number == SIGTERM && drain > 0 && !main->is_draining) {
        main->is_draining = true;
        main->control->begin_stop();
        log_event("draining on SIGTERM: /health reports 503; answering for " +
                  std::to_string(drain) + " s more, then stopping (SIGTERM again stops now)");
        uv_timer_start(&main->drain, on_drained, drain * 1000ull, 0);
        return;
    }
    log_event(std::string("stopping on ") + (number == SIGTERM ? "SIGTERM" : "SIGINT"));
    stop_now(*main);
}

std::string describe_listening(const Config& config, unsigned workers) {
    std::string text = "serving " + std::to_string(config.zones.size()) +
                       (config.zones.size() == 1 ? " zone on " : " zones on ");
    for (size_t i = 0; i < config.server.listen.size(); ++i) {
        if (i > 0) text += ", ";
        text += config.server.listen[i].text;
    }
    text += " (udp, tcp) with " + std::to_string(workers) + (workers == 1 ? " worker" : " workers");
    if (config.control.http) text += "; health and metrics on http://" + config.control.http->text;
    if (config.control.is_enabled && !config.control.socket.empty())
        text += "; meridian ctl on " + config.control.socket.string();
    return text;
}

// Every worker with its own sockets; false (logged) when one cannot be opened.
bool open_workers(const Config& config, SnapshotSlot& slot, TrafficCounters& counters,
                  unsigned count, MessageQueue* notify,
                  std::vector<std::unique_ptr<Worker>>& workers) {
    WorkerSettings settings{config.server.udp_payload, config.server.tcp_idle_timeout_ms,
                            config.server.tcp_max_connections};
    settings.tcp_query_timeout_ms = config.server.tcp_query_timeout_ms;
    // No client may take more than a quarter of a worker's slots unless the config says so.
    settings.tcp_max_connections_per_client = config.server.tcp_max_connections_per_client.value_or(
        std::max(1u, config.server.tcp_max_connections / 4));
    // Every TCP connection is a descriptor: without enough, accept fails and clients wait in
    // the backlog however many slots the workers have free.
    const uint64_t files = raise_open_file_limit();
    const uint64_t needed = uint64_t{count} * (config.server.tcp_max_connections + 16) + 256;
    if (files < needed)
        log_event("warning: open files are limited to " + std::to_string(files) + ", and " +
                  std::to_string(count) + " workers of tcp_max_connections = " +
                  std::to_string(config.server.tcp_max_connections) + " need about " +
                  std::to_string(needed) + " (raise LimitNOFILE= or ulimit -Hn)");
    try {
        for (unsigned i = 0; i < count; ++i) {
            workers.push_back(
                std::make_unique<Worker>(i, settings, slot, counters.worker(i), notify));
            std::vector<Socket> udp, tcp;
            std::string error;
            for (const auto& address : config.server.listen) {
                udp.push_back(open_udp_socket(address.address, error));
                if (!udp.back().is_open()) break;
                tcp.push_back(open_tcp_listener(address.address, SOMAXCONN, error));
                if (!tcp.back().is_open()) break;
            }
            if (error.empty()) workers.back()->open(std::move(udp), std::move(tcp), error);
            if (!error.empty()) {
                log_event(error);
                return false;
            }
        }
    } catch (const std::exception& e) {
        log_event(e.what());
        return false;
    }
    return true;
}

}  // namespace

int serve(const Config& config, SnapshotLoader& loader, SnapshotSlot& slot) {
    // A client that resets its TCP connection must cost us an EPIPE, not the process.
    std::signal(SIGPIPE, SIG_IGN);

    uv_loop_t loop;
    if (const int rc = uv_loop_init(&loop); rc != 0) {
        log_event(std::string("uv_loop_init: ") + uv_strerror(rc));
        return 1;
    }
    std::vector<std::unique_ptr<Worker>> workers;
    MainLoop main;
    main.workers = &workers;
    uv_signal_init(&loop, &main.terminate);
    uv_signal_init(&loop, &main.interrupt);
    uv_signal_init(&loop, &main.hangup);
    uv_timer_init(&loop, &main.drain);
    main.terminate.data = main.interrupt.data = main.hangup.data = main.drain.data = &main;
    uv_signal_start(&main.terminate, on_stop_signal, SIGTERM);
    uv_signal_start(&main.interrupt, on_stop_signal, SIGINT);
    uv_signal_start(&main.hangup, on_reload_signal, SIGHUP);

    const unsigned count = effective_workers(config.server);
    TrafficCounters counters(count);
    // The main thread reads the snapshot only here, before any reload can replace it.
    Control control(&loop, config, loader, slot, counters, count,
                    describe_served(slot.current(), config, loader.zone_load_seconds()));
    const std::vector<ZoneChange> notify_at_start = zones_to_notify(slot.current());
    main.control = &control;
    // NOTIFY out for the zones a reload changed, from this loop, off the workers.
    Notifier notifier(&loop);
    main.notifier = &notifier;
    // Transfers publish through the same reloads as SIGHUP, one at a time.
    SecondaryZones secondaries(&loop, config, loader.secondaries(),
                               [&control] { control.request_reload(); });
    main.secondaries = &secondaries;
    control.set_reload_listener([&notifier, &secondaries](const ReloadOutcome& outcome) {
        for (const auto& change : outcome.changed_zones) notifier.notify(change);
        if (outcome.config) secondaries.reconcile(*outcome.config);
    });
    std::string error;
    // A server already running refuses this one before any DNS socket is bound: the sockets
    // set SO_REUSEPORT, which would let the two share the port silently (control_socket.hpp).
    bool is_ready = control.open(error) && are_listen_addresses_free(config.server.listen, error);
    if (!is_ready) log_event(error + "; not starting");
    is_ready = is_ready &&
               open_workers(config, slot, counters, count, secondaries.notify_queue(), workers);
    if (is_ready) {
        for (auto& worker : workers) worker->start();
        log_event(describe_listening(config, count));
        for (const auto& change : notify_at_start) notifier.notify(change);
        secondaries.start();
        if (!control.start(error)) {
            log_event(error);
            stop_now(main);
            is_ready = false;
        }
        uv_run(&loop, UV_RUN_DEFAULT);  // returns once every handle is closed
        for (auto& worker : workers) worker->join();
    } else {
        control.close();
        notifier.close();
        secondaries.close();
        close_handles(main);
        uv_run(&loop, UV_RUN_DEFAULT);
    }
    workers.clear();
    uv_loop_close(&loop);
    if (is_ready) log_event("stopped");
    return is_ready ? 0 : 1;
}

}  // namespace meridian::server
