// Health, drains, reloads and status on the main loop: see control.hpp.
#include "server/control/control.hpp"

#include <ctime>

#include "server/control/metrics_text.hpp"
#include "server/system/log.hpp"

namespace meridian::server {

namespace {

std::string utc_text(std::chrono::system_clock::time_point when) {
    const std::time_t seconds = std::chrono::system_clock::to_time_t(when);
    char text[32];
    std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&seconds));
    return text;
}

SelfCheckQuestion question_for(const Served& served) {
    SelfCheckQuestion question;
    if (served.first_origin.empty()) {
        question.name = std::string("\2id\6server", 10) + '\0';
        question.type = 16;              // TXT
        question.klass = 3;              // CH
        question.needs_noerror = false;  // REFUSED without an identity is still an answer
    } else {
        question.name = served.first_origin;  // SOA IN, NOERROR expected
    }
    return question;
}

std::string row(std::string_view name, const std::string& value) {
    std::string text(name);
    text.resize(14, ' ');
    return text + value + "\n";
}

}  // namespace

Control::Control(uv_loop_t* loop, const Config& config, SnapshotLoader& loader, SnapshotSlot& slot,
                 TrafficCounters& counters, unsigned workers, Served served)
    : loop_(loop),
      config_(config),
      counters_(counters),
      health_(config.control.rise, config.control.fall,
              std::chrono::milliseconds(config.control.hold_down_ms)),
      drain_file_(config.control.state),
      forced_file_(config.control.state),
      reloads_(loop, loader, slot, config,
               [this](const ReloadOutcome& outcome) { record_reload(outcome); }) {
    status_.identity = config.server.identity;
    status_.workers = workers;
    status_.secondaries = &loader.secondaries();
    status_.started = std::chrono::system_clock::now();
    status_.served = std::move(served);
    if (drain_file_.is_drained()) {
        health_.set_drained(true);
        log_event("starting drained: " + drain_file_.path().string() +
                  " exists (`meridian ctl undrain` serves again)");
    }
    std::string problem;
    forced_ = forced_file_.read(problem);
    if (!problem.empty()) log_event(problem + " (line skipped)");
    for (const auto& [name, state] : forced_)
        log_event("pool " + name + " starts forced " + std::string(forced_state_name(state)) +
                  " (" + forced_file_.path().string() + "; `meridian ctl pool " + name +
                  " auto` follows its check again)");
    follow_pools(status_.served.pools);
    update_health_status();
}

bool Control::open(std::string& error) {
    const ControlSettings& control = config_.control;
    if (!control.is_enabled) return true;
    if (control.http) {
        http_ = std::make_unique<HttpEndpoint>(
            loop_, [this](std::string_view path) { return route(path); });
        if (!http_->open(*control.http, error)) return false;
    }
    if (!control.socket.empty()) {
        socket_ = std::make_unique<ControlSocket>(
            loop_, [this](std::string_view command, ControlSocket::Reply reply) {
                run_command(command, std::move(reply));
            });
        if (!socket_->open(control.socket, error)) return false;
    }
    return true;
}

bool Control::start(std::string& error) {
    are_checks_running_ = true;
    follow_pools(status_.served.pools);
    if (!config_.control.is_enabled) return true;
    check_ = std::make_unique<SelfCheck>(
        loop_, config_.server.listen, config_.control.check_interval_ms,
        [this](bool answered, const std::string& problem) { record_check(answered, problem); });
    return check_->start(question_for(status_.served), error);
}

void Control::request_reload() {
    reloads_.request();
}

void Control::begin_stop() {
    health_.begin_stop();
    update_health_status();
}

unsigned Control::drain_seconds() const {
    return config_.control.is_enabled ? config_.control.drain_seconds : 0;
}

void Control::close() {
    are_checks_running_ = false;
    for (auto& [name, runner] : runners_) runner->close();
    runners_.clear();
    if (check_) check_->close();
    if (http_) http_->close();
    if (socket_) socket_->close();
}

void Control::record_check(bool answered, const std::string& problem) {
    ++(answered ? status_.checks_answered : status_.checks_failed);
    status_.last_check_problem = problem;
    if (health_.record_check(answered)) {
        ++status_.health_changes;
        if (health_.is_ready())
            log_event("health: ready (" + std::to_string(health_.streak()) +
                      " self-checks answered in a row)" +
                      (health_.is_serving()
                           ? "; /health reports 200"
                           : "; /health stays 503: " + std::string(health_.state())));
        else
            log_event("health: failing after " + std::to_string(health_.streak()) +
                      " unanswered self-checks (" + problem + "); /health reports 503");
    }
    update_health_status();
}

void Control::record_pool_round(const std::string& name, bool passed, const std::string& problem) {
    if (auto change = pools_.record_round(name, passed, problem, Hysteresis::Clock::now()))
        log_event(*change);
    update_health_status();
}

void Control::record_reload(const ReloadOutcome& outcome) {
    ++(outcome.is_published ? status_.reloads_published : status_.reloads_failed);
    status_.reload_seconds_sum += outcome.seconds;
    status_.last_reload_seconds = outcome.seconds;
    if (outcome.served) {
        status_.served = *outcome.served;
        if (check_) check_->set_question(question_for(status_.served));
        follow_pools(status_.served.pools);
        update_health_status();
    }
    if (reload_listener_) reload_listener_(outcome);
}

void Control::follow_pools(const std::vector<ServedPool>& pools) {
    // A runner whose pool is gone, or whose addresses or check changed, is replaced.
    for (auto it = runners_.begin(); it != runners_.end();) {
        const PoolHealthTable::Pool* before = pools_.find(it->first);
        const ServedPool* now = nullptr;
        for (const auto& pool : pools)
            if (pool.name == it->first) now = &pool;
        const bool is_same = before && now && now->check &&
                             before->served.addresses == now->addresses &&
                             before->served.check == now->check;
        if (is_same) {
            ++it;
            continue;
        }
        it->second->close();
        it = runners_.erase(it);
    }
    pools_.update(pools, forced_);
    if (!are_checks_running_) return;
    for (const auto& pool : pools) {
        if (!pool.check || runners_.count(pool.name)) continue;
        runners_[pool.name] = PoolCheckRunner::start(
            loop_, pool, [this, name = pool.name](bool passed, const std::string& problem) {
                record_pool_round(name, passed, problem);
            });
    }
}

void Control::update_pool_status() {
    status_.pools.clear();
    for (const auto& pool : pools_.pools()) {
        const geoip::PoolState& state = *pool.served.state;
        status_.pools.push_back(
            {pool.served.name, state.slot(), state.is_usable(),
             pool.hysteresis ? std::string(checked_state_name(state.checked())) : "unchecked",
             std::string(forced_state_name(state.forced())), pool.transitions, pool.rounds_passed,
             pool.rounds_failed});
    }
    status_.are_pools_known = pools_.are_known();
}

void Control::update_health_status() {
    if (health_.set_pools_known(pools_.are_known()) && health_.is_answering())
        log_event(health_.are_pools_known()
                      ? "health: every checked pool's state is known; ready"
                      : "health: a checked pool's state is unknown; not ready");
    update_pool_status();
    status_.health_state = std::string(health_.state());
    status_.is_ready = health_.is_ready();
    status_.is_serving = health_.is_serving();
    status_.is_drained = health_.is_drained();
    status_.is_stopping = health_.is_stopping();
}

HttpEndpoint::Reply Control::route(std::string_view path) const {
    const std::string state = status_.health_state + "\n";
    if (path == "/health") return {status_.is_serving ? 200u : 503u, "text/plain", state};
    if (path == "/ready")
        return {status_.is_ready ? 200u : 503u, "text/plain",
                status_.is_ready ? "ready (" + status_.health_state + ")\n"
                : !status_.are_pools_known
                    ? status_.health_state + " (waiting for the pool checks)\n"
                    : state};
    if (path == "/metrics") return {200, kPrometheusContentType, metrics_text()};
    return {404, "text/plain", "not found: try /health, /ready or /metrics\n"};
}

std::string Control::metrics_text() const {
    return render_metrics(counters_.sum(), status_);
}

void Control::run_command(std::string_view command, ControlSocket::Reply reply) {
    if (command == "status") {
        reply("ok: " + status_.health_state + "\n" + status_text());
    } else if (command == "drain" || command == "undrain") {
        set_drained(command == "drain", std::move(reply));
    } else if (command == "pools") {
        reply("ok: " + std::to_string(pools_.pools().size()) + " pools\n" + pools_.describe());
    } else if (command.starts_with("pool ")) {
        force_pool(command.substr(5), std::move(reply));
    } else if (command == "reload") {
        log_event("reloading on `meridian ctl reload`");
        reloads_.request([reply = std::move(reply)](const ReloadOutcome& outcome) {
            reply(outcome.is_published
                      ? "ok: " + outcome.summary + "\n"
                      : "error: " + outcome.summary + "; each problem is in the server's log\n");
        });
    } else {
        reply("error: unknown command '" + std::string(command) +
              "' (drain, undrain, status, reload, pools, pool NAME up|down|auto)\n");
    }
}

void Control::set_drained(bool drained, ControlSocket::Reply reply) {
    health_.set_drained(drained);
    update_health_status();
    std::string error;
    const bool is_remembered = drain_file_.remember(drained, error);
    log_event(std::string(drained ? "drained" : "undrained") + " by `meridian ctl`; /health " +
              (health_.is_serving() ? "reports 200" : "reports 503") +
              (is_remembered ? "" : " (not remembered: " + error + ")"));
    std::string text =
        drained ? "ok: drained: /health reports 503; queries are still answered\n"
                : "ok: undrained: /health reports " +
                      std::string(health_.is_serving()
                                      ? "200\n"
                                      : "503 until ready (" + status_.health_state + ")\n");
    if (!is_remembered)
        text = "error: " + std::string(drained ? "drained" : "undrained") +
               " for now, but the state file failed: " + error + "\n";
    else if (drain_file_.is_persistent())
        text += drained ? "remembered across restarts in " + drain_file_.path().string() + "\n"
                        : "removed " + drain_file_.path().string() + "\n";
    else
        text += "not remembered across restarts: [control] has no state folder\n";
    reply(text);
}

void Control::force_pool(std::string_view arguments, ControlSocket::Reply reply) {
    const size_t space = arguments.find(' ');
    const std::string name(arguments.substr(0, space));
    const std::string_view word =
        space == std::string_view::npos ? std::string_view() : arguments.substr(space + 1);
    if (word != "up" && word != "down" && word != "auto") {
        reply("error: expected `pool NAME up|down|auto`\n");
        return;
    }
    const auto forced = word == "up"     ? geoip::ForcedState::up
                        : word == "down" ? geoip::ForcedState::down
                                         : geoip::ForcedState::none;
    if (!pools_.force(name, forced)) {
        reply("error: no pool '" + name + "' is served\n");
        return;
    }
    if (forced == geoip::ForcedState::none)
        forced_.erase(name);
    else
        forced_[name] = forced;
    update_health_status();
    std::string error;
    const bool is_remembered = forced_file_.write(forced_, error);
    const PoolHealthTable::Pool& pool = *pools_.find(name);
    const std::string now = std::string(effective_state_name(*pool.served.state));
    log_event("pool " + name + ": " +
              (forced == geoip::ForcedState::none ? "follows its check again"
                                                  : "forced " + std::string(word)) +
              " by `meridian ctl`; answering as " + now +
              (is_remembered ? "" : " (not remembered: " + error + ")"));
    std::string text =
        "ok: pool " + name + " " + now +
        (forced == geoip::ForcedState::none ? " (follows its check)\n" : " (forced)\n");
    if (!is_remembered)
        text = "error: pool " + name + " is " + now +
               " for now, but the state file failed: " + error + "\n";
    else if (forced_file_.is_persistent())
        text += "remembered across restarts in " + forced_file_.path().string() + "\n";
    else
        text += "not remembered across restarts: [control] has no state folder\n";
    reply(text);
}

std::string Control::status_text() const {
    const Served& served = status_.served;
    std::string text;
    text += row("identity", status_.identity.empty() ? "(the host name)" : status_.identity);
    std::string health = status_.health_state;
    health += status_.is_ready ? ", ready" : ", not ready";
    if (!status_.last_check_problem.empty())
        health += " (last self-check: " + status_.last_check_problem + ")";
    text += row("health", health);
    text += row("started", utc_text(status_.started));
    text += row("workers", std::to_string(status_.workers));
    std::string files;
    for (const auto& file : config_.files) files += (files.empty() ? "" : " + ") + file.string();
    text += row("config", files);
    text += row("config hash", served.config_hash);
    text += row("policy hash", served.policy_hash);
    for (const auto& zone : served.zones)
        text += row("zone", zone.origin + " serial " + std::to_string(zone.serial));
    if (status_.secondaries)
        for (const auto& failure : status_.secondaries->failing_copies())
            text += row("copy error", failure.zone + " not kept on disk: " + failure.error);
    text += row("geo policies", std::to_string(served.policies));
    for (const auto& pool : status_.pools) {
        std::string line = pool.name + " " + (pool.is_usable ? "up" : "down");
        if (pool.forced != "none") line += " (forced " + pool.forced + ")";
        if (pool.checked != "unchecked")
            line += "; check says " + pool.checked + ", " + std::to_string(pool.transitions) +
                    " transitions";
        else
            line += "; no check";
        text += row("pool", line);
    }
    text += row("loaded", utc_text(served.published));
    char last[32];
    std::snprintf(last, sizeof last, "%.0f ms", status_.last_reload_seconds * 1000);
    text += row("reloads", std::to_string(status_.reloads_published) + " published, " +
                               std::to_string(status_.reloads_failed) + " failed" +
                               (status_.reloads_published + status_.reloads_failed > 0
                                    ? std::string("; the last took ") + last
                                    : std::string()));
    const TrafficTotals traffic = counters_.sum();
    uint64_t answered[kTransports] = {};
    for (size_t t = 0; t < kTransports; ++t)
        for (size_t q = 0; q < kQtypeBuckets; ++q) answered[t] += traffic.queries[t][q];
    text +=
        row("queries", std::to_string(answered[0]) + " udp, " + std::to_string(answered[1]) +
                           " tcp answered; " +
                           std::to_string(traffic.dropped[0] + traffic.dropped[1]) + " dropped");
    return text;
}

}  // namespace meridian::server
