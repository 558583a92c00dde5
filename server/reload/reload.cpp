// Reloading: build the next snapshot beside the running one, then swap.
#include "server/reload/reload.hpp"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <map>

#include "server/system/log.hpp"
#include "wire/name.hpp"

namespace meridian::server {

namespace {

std::string origin_text(const zones::Zone& zone) {
    return wire::to_text(
        {reinterpret_cast<const uint8_t*>(zone.origin().data()), zone.origin().size()});
}

// "example.com. serial 1 -> 2, example.net. added" for the zones that differ.
std::string describe_zone_changes(const zones::Snapshot& before, const zones::Snapshot& after) {
    std::map<std::string, const zones::Zone*> old_by_origin;
    for (const auto& zone : before.catalog.zones()) old_by_origin[zone->origin()] = zone.get();
    std::string text;
    auto add = [&](const std::string& change) { text += (text.empty() ? "" : ", ") + change; };
    for (const auto& zone : after.catalog.zones()) {
        auto old = old_by_origin.find(zone->origin());
        if (old == old_by_origin.end()) {
            add(origin_text(*zone) + " added");
            continue;
        }
        if (old->second->serial() != zone->serial())
            add(origin_text(*zone) + " serial " + std::to_string(old->second->serial()) + " -> " +
                std::to_string(zone->serial()));
        old_by_origin.erase(old);
    }
    for (const auto& [origin, zone] : old_by_origin) {
        const auto& unavailable = after.catalog.unavailable();
        const bool is_unavailable =
            std::find(unavailable.begin(), unavailable.end(), origin) != unavailable.end();
        add(origin_text(*zone) + (is_unavailable ? " unavailable (SERVFAIL)" : " removed"));
    }
    return text.empty() ? "no zone serial changed" : text;
}

bool same_address(const ListenAddress& a, const ListenAddress& b) {
    return a.address == b.address;
}

// Settings fixed by the sockets and threads opened at start.
std::string restart_only_changes(const ServerSettings& running, const ServerSettings& next) {
    std::string changed;
    auto note = [&](const char* key) {
        changed += (changed.empty() ? "" : ", ") + std::string(key);
    };
    bool same_listen = running.listen.size() == next.listen.size();
    for (size_t i = 0; same_listen && i < running.listen.size(); ++i)
        same_listen = same_address(running.listen[i], next.listen[i]);
    if (!same_listen) note("listen");
    if (running.workers != next.workers) note("workers");
    if (running.tcp_idle_timeout_ms != next.tcp_idle_timeout_ms) note("tcp_idle_timeout");
    if (running.tcp_max_connections != next.tcp_max_connections) note("tcp_max_connections");
    if (running.tcp_query_timeout_ms != next.tcp_query_timeout_ms) note("tcp_query_timeout");
    if (running.tcp_max_connections_per_client != next.tcp_max_connections_per_client)
        note("tcp_max_connections_per_client");
    return changed;
}

bool same_control(const ControlSettings& a, const ControlSettings& b) {
    const bool same_http =
        a.http.has_value() == b.http.has_value() && (!a.http || same_address(*a.http, *b.http));
    return a.is_enabled == b.is_enabled && same_http && a.socket == b.socket &&
           a.state == b.state && a.drain_seconds == b.drain_seconds &&
           a.check_interval_ms == b.check_interval_ms && a.rise == b.rise && a.fall == b.fall &&
           a.hold_down_ms == b.hold_down_ms;
}

}  // namespace

SnapshotLoader::Loaded SnapshotLoader::load() {
    Loaded loaded;
    loaded.build.zone_cache = &zone_cache_;
    loaded.build.secondaries = &secondaries_;
    loaded.build.pool_registry = &pool_registry_;
    loaded.config = load_config(config_paths_, loaded.diagnostics);
    if (loaded.config)
        loaded.snapshot = build_snapshot(*loaded.config, loaded.diagnostics, &loaded.build);
    if (loaded.snapshot)
        for (const auto& [origin, seconds] : loaded.build.zone_load_seconds)
            zone_load_seconds_[origin] = seconds;
    return loaded;
}

Served describe_served(const zones::Snapshot& snapshot, const Config& config,
                       const std::map<std::string, double>& zone_load_seconds) {
    Served served;
    for (const auto& zone : snapshot.catalog.zones()) {
        const auto seconds = zone_load_seconds.find(zone->origin());
        served.zones.push_back({origin_text(*zone), zone->serial(),
                                seconds == zone_load_seconds.end() ? 0.0 : seconds->second,
                                zone->is_signed() ? zone->earliest_signature_expiry() : 0});
        if (served.first_origin.empty()) served.first_origin = zone->origin();
    }
    served.policies = snapshot.steering.size();
    const auto& states = snapshot.steering.pool_states;
    for (size_t i = 0; i < config.pools.size() && i < states.size(); ++i) {
        const PoolEntry& entry = config.pools[i];
        ServedPool pool{entry.pool.name, entry.ipv4, entry.check, states[i]};
        pool.addresses.insert(pool.addresses.end(), entry.ipv6.begin(), entry.ipv6.end());
        served.pools.push_back(std::move(pool));
    }
    served.config_hash = config.config_hash;
    served.policy_hash = config.policy_hash;
    served.published = std::chrono::system_clock::now();
    return served;
}

ReloadOutcome reload(SnapshotLoader& loader, SnapshotSlot& slot, const Config& running) {
    const auto start = std::chrono::steady_clock::now();
    ReloadOutcome outcome;
    SnapshotLoader::Loaded loaded;
    // A reload must never take the server down: whatever building the snapshot throws
    // (a bad_alloc from a hostile zone, a filesystem error), the old version stays.
    try {
        loaded = loader.load();
    } catch (const std::exception& e) {
        loaded = {};
        log_event(std::string("reload: building the snapshot failed: ") + e.what());
    } catch (...) {
        loaded = {};
        log_event("reload: building the snapshot failed with an unknown exception");
    }
    for (const auto& d : loaded.diagnostics) log_event(d.to_string());
    const auto elapsed = [&] {
        outcome.seconds =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        return std::to_string(static_cast<long long>(outcome.seconds * 1000));
    };
    if (!loaded.snapshot) {
        outcome.summary = "reload failed after " + elapsed() +
                          " ms: nothing changed, still serving the previous configuration and "
                          "zones";
        log_event(outcome.summary);
        return outcome;
    }
    if (const auto fixed = restart_only_changes(running.server, loaded.config->server);
        !fixed.empty())
        log_event("reload: changes to [server] " + fixed +
                  " take effect on restart; everything else is reloaded");
    if (!same_control(running.control, loaded.config->control))
        log_event("reload: changes to [control] take effect on restart");
    const std::string changes = describe_zone_changes(slot.current(), *loaded.snapshot);
    outcome.changed_zones = advance_transfer_history(slot.current(), *loaded.snapshot);
    const auto& build = loaded.build;
    const size_t policies = loaded.snapshot->steering.size();
    // Everything the main thread learns of this version is built before it is published: an
    // allocation failing after the swap would otherwise leave status, metrics and the pool
    // checks describing a version that is no longer served.
    auto served = describe_served(*loaded.snapshot, *loaded.config, loader.zone_load_seconds());
    auto config = std::make_shared<const Config>(std::move(*loaded.config));
    std::string line = "reloaded in " + elapsed() + " ms: " + changes + "; " +
                       std::to_string(build.zones_parsed) + " zone files parsed, " +
                       std::to_string(build.zones_reused) + " unchanged";
    if (build.zones_kept > 0)
        line += ", " + std::to_string(build.zones_kept) + " broken (previous version kept)";
    line += "; " + std::to_string(policies) + (policies == 1 ? " geo policy" : " geo policies");
    slot.publish(std::move(loaded.snapshot));
    outcome.is_published = true;
    outcome.served = std::move(served);
    outcome.config = std::move(config);
    outcome.summary = std::move(line);
    try {
        log_event(outcome.summary);
    } catch (...) {
        // Published either way; a lost log line is no reason to report a failed reload.
    }
    return outcome;
}

}  // namespace meridian::server
