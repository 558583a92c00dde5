// Health, drains, reloads and status on the main loop: see control.hpp.
#include "server/control.hpp"

#include <ctime>

#include "server/log.hpp"
#include "server/metrics_text.hpp"

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
      health_(config.control.rise, config.control.fall),
      drain_file_(config.control.state),
      reloads_(loop, loader, slot, config,
               [this](const ReloadOutcome& outcome) { record_reload(outcome); }) {
    status_.identity = config.server.identity;
    status_.workers = workers;
    status_.started = std::chrono::system_clock::now();
    status_.served = std::move(served);
    if (drain_file_.is_drained()) {
        health_.set_drained(true);
        log_event("starting drained: " + drain_file_.path().string() +
                  " exists (`meridian ctl undrain` serves again)");
    }
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

void Control::record_reload(const ReloadOutcome& outcome) {
    ++(outcome.is_published ? status_.reloads_published : status_.reloads_failed);
    status_.reload_seconds_sum += outcome.seconds;
    status_.last_reload_seconds = outcome.seconds;
    if (outcome.served) {
        status_.served = *outcome.served;
        if (check_) check_->set_question(question_for(status_.served));
    }
    if (reload_listener_) reload_listener_(outcome);
}

void Control::update_health_status() {
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
                status_.is_ready ? "ready (" + status_.health_state + ")\n" : state};
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
    } else if (command == "reload") {
        log_event("reloading on `meridian ctl reload`");
        reloads_.request([reply = std::move(reply)](const ReloadOutcome& outcome) {
            reply(outcome.is_published
                      ? "ok: " + outcome.summary + "\n"
                      : "error: " + outcome.summary + "; each problem is in the server's log\n");
        });
    } else {
        reply("error: unknown command '" + std::string(command) +
              "' (drain, undrain, status, reload)\n");
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
    text += row("geo policies", std::to_string(served.policies));
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
