// The main thread's side of running a PoP: health (self-check, rise/fall, drains), pool
// health checks and forced pool states, the HTTP endpoint (/health, /ready, /metrics), the
// control socket (`meridian ctl`), reloads off the loop, and the status both show. Everything here
// runs on the main thread's libuv loop; the workers never wait for it.
#pragma once

#include <uv.h>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "server/config/config.hpp"
#include "server/control/control_socket.hpp"
#include "server/control/drain_file.hpp"
#include "server/control/forced_pools_file.hpp"
#include "server/control/health.hpp"
#include "server/control/http_endpoint.hpp"
#include "server/control/pool_check.hpp"
#include "server/control/pool_health.hpp"
#include "server/control/self_check.hpp"
#include "server/control/server_status.hpp"
#include "server/metrics.hpp"
#include "server/reload/reload_queue.hpp"

namespace meridian::server {

class Control {
  public:
    // `served` describes the snapshot in `slot` when serving starts.
    Control(uv_loop_t* loop, const Config& config, SnapshotLoader& loader, SnapshotSlot& slot,
            TrafficCounters& counters, unsigned workers, Served served);
    Control(const Control&) = delete;
    Control& operator=(const Control&) = delete;

    // Opens the HTTP endpoint and the control socket that [control] asks for, before the
    // workers start; false and `error` when one cannot be opened.
    bool open(std::string& error);
    // Starts the self-checks, once the workers answer, and the pool checks.
    bool start(std::string& error);
    void request_reload();  // SIGHUP
    // Hears every reload's outcome on the loop (NOTIFY out acts on the zones that changed).
    void set_reload_listener(std::function<void(const ReloadOutcome&)> listener) {
        reload_listener_ = std::move(listener);
    }
    // SIGTERM: /health reports 503 from now on; the caller stops the workers after the drain.
    void begin_stop();
    unsigned drain_seconds() const;
    // Closes every handle; a reload in progress still finishes (the loop waits for it).
    void close();

    // For tests and the command line: what `meridian ctl status` and /metrics would show.
    std::string status_text() const;
    std::string metrics_text() const;
    HttpEndpoint::Reply route(std::string_view path) const;

  private:
    void run_command(std::string_view command, ControlSocket::Reply reply);
    void set_drained(bool drained, ControlSocket::Reply reply);
    void force_pool(std::string_view arguments, ControlSocket::Reply reply);
    void record_check(bool answered, const std::string& problem);
    void record_pool_round(const std::string& name, bool passed, const std::string& problem);
    void record_reload(const ReloadOutcome& outcome);
    // Follows the served pools: their states, and a check runner for each pool with a check.
    void follow_pools(const std::vector<ServedPool>& pools);
    void update_health_status();
    void update_pool_status();

    uv_loop_t* loop_;
    const Config& config_;
    TrafficCounters& counters_;
    Health health_;
    DrainFile drain_file_;
    ForcedPoolsFile forced_file_;
    std::map<std::string, geoip::ForcedState> forced_;
    PoolHealthTable pools_;
    std::map<std::string, PoolCheckRunner*> runners_;  // each deletes itself on close()
    bool are_checks_running_ = false;
    ServerStatus status_;
    ReloadQueue reloads_;
    std::unique_ptr<HttpEndpoint> http_;
    std::unique_ptr<ControlSocket> socket_;
    std::unique_ptr<SelfCheck> check_;
    std::function<void(const ReloadOutcome&)> reload_listener_;
};

}  // namespace meridian::server
