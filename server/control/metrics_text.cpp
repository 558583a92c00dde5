// Writing the Prometheus text format by hand: it is a few lines of printf, and no Debian
// package offers a C++ client library worth a dependency for it.
#include "server/control/metrics_text.hpp"

#include <cstdio>
#include <string_view>

#include "server/system/log.hpp"
#include "version.hpp"

namespace meridian::server {

namespace {

class PrometheusText {
  public:
    void family(std::string_view name, std::string_view type, std::string_view help) {
        text_ += "# HELP ";
        text_ += name;
        text_ += ' ';
        text_ += help;
        text_ += "\n# TYPE ";
        text_ += name;
        text_ += ' ';
        text_ += type;
        text_ += '\n';
    }

    // `labels` is already formatted: `transport="udp",qtype="A"` (or empty).
    void sample(std::string_view name, std::string_view labels, double value) {
        text_ += name;
        if (!labels.empty()) {
            text_ += '{';
            text_ += labels;
            text_ += '}';
        }
        char number[64];
        std::snprintf(number, sizeof number, " %.17g\n", value);
        text_ += number;
    }
    void sample(std::string_view name, std::string_view labels, uint64_t value) {
        text_ += name;
        if (!labels.empty()) {
            text_ += '{';
            text_ += labels;
            text_ += '}';
        }
        text_ += ' ';
        text_ += std::to_string(value);
        text_ += '\n';
    }

    std::string take() { return std::move(text_); }

  private:
    std::string text_;
};

// A label pair with the value escaped as the format requires (backslash, quote, newline).
std::string label(std::string_view name, std::string_view value) {
    std::string text(name);
    text += "=\"";
    for (const char c : value) {
        if (c == '\\')
            text += "\\\\";
        else if (c == '"')
            text += "\\\"";
        else if (c == '\n')
            text += "\\n";
        else
            text += c;
    }
    text += '"';
    return text;
}

double seconds_since_epoch(std::chrono::system_clock::time_point when) {
    return std::chrono::duration<double>(when.time_since_epoch()).count();
}

void write_traffic(PrometheusText& out, const TrafficTotals& traffic) {
    out.family("meridian_queries_total", "counter",
               "Queries answered, by transport and question type.");
    for (size_t t = 0; t < kTransports; ++t)
        for (size_t q = 0; q < kQtypeBuckets; ++q)
            out.sample(
                "meridian_queries_total",
                label("transport", transport_label(t)) + "," + label("qtype", qtype_label(q)),
                traffic.queries[t][q]);
    out.family("meridian_responses_total", "counter", "Responses sent, by transport and rcode.");
    for (size_t t = 0; t < kTransports; ++t)
        for (size_t r = 0; r < kRcodeBuckets; ++r)
            out.sample(
                "meridian_responses_total",
                label("transport", transport_label(t)) + "," + label("rcode", rcode_label(r)),
                traffic.responses[t][r]);
    const auto per_transport = [&](std::string_view name, std::string_view help,
                                   const uint64_t(&values)[kTransports]) {
        out.family(name, "counter", help);
        for (size_t t = 0; t < kTransports; ++t)
            out.sample(name, label("transport", transport_label(t)), values[t]);
    };
    per_transport("meridian_ecs_queries_total",
                  "Answered queries carrying an EDNS Client Subnet option (RFC 7871).",
                  traffic.client_subnet_queries);
    per_transport("meridian_truncated_responses_total", "Responses sent with TC set.",
                  traffic.truncated);
    per_transport("meridian_dropped_queries_total",
                  "Messages dropped without an answer: malformed, oversized, or responses.",
                  traffic.dropped);
    out.family("meridian_udp_unsent_responses_total", "counter",
               "UDP responses dropped because the socket's send buffer was full.");
    out.sample("meridian_udp_unsent_responses_total", "", traffic.udp_unsent);
    out.family("meridian_tcp_connections_total", "counter", "TCP connections accepted.");
    out.sample("meridian_tcp_connections_total", "", traffic.tcp_accepted);
    out.family("meridian_tcp_connections_refused_total", "counter",
               "TCP connections closed at once because a worker had tcp_max_connections and "
               "none to evict.");
    out.sample("meridian_tcp_connections_refused_total", "", traffic.tcp_refused);
    out.family("meridian_tcp_connections_open", "gauge", "TCP connections open now.");
    out.sample("meridian_tcp_connections_open", "", traffic.tcp_open);
    out.family("meridian_tcp_buffers_in_use", "gauge",
               "TCP buffers lent to connections with a partial query or unsent answers.");
    out.sample("meridian_tcp_buffers_in_use", "", traffic.tcp_buffers_in_use);
    out.family("meridian_tcp_buffer_allocations_total", "counter",
               "TCP buffers allocated because no spare one was free.");
    out.sample("meridian_tcp_buffer_allocations_total", "", traffic.tcp_buffer_allocations);
    out.family("meridian_tcp_connections_evicted_total", "counter",
               "TCP connections closed to make room for a new one when a worker had "
               "tcp_max_connections: the longest idle, else the slowest on its query.");
    out.sample("meridian_tcp_connections_evicted_total", "", traffic.tcp_evicted);
    out.family("meridian_tcp_connections_client_refused_total", "counter",
               "TCP connections closed at once because their client address (an IPv6 /64) had "
               "tcp_max_connections_per_client in that worker.");
    out.sample("meridian_tcp_connections_client_refused_total", "", traffic.tcp_client_refused);
    out.family("meridian_tcp_query_timeouts_total", "counter",
               "TCP connections closed because a query did not arrive whole within "
               "tcp_query_timeout.");
    out.sample("meridian_tcp_query_timeouts_total", "", traffic.tcp_query_timeouts);
    out.family("meridian_tcp_buffer_shortages_total", "counter",
               "TCP connections closed because every buffer a worker may lend was lent.");
    out.sample("meridian_tcp_buffer_shortages_total", "", traffic.tcp_buffer_shortages);
    const auto incidents = [&traffic](zones::Incident incident) {
        return traffic.incidents[static_cast<size_t>(incident)];
    };
    out.family("meridian_transfer_refusals_total", "counter",
               "AXFR and IXFR requests answered REFUSED or NOTAUTH: not in allow_transfer, not "
               "a zone apex we serve, or AXFR over UDP.");
    out.sample("meridian_transfer_refusals_total", "",
               incidents(zones::Incident::transfer_refused));
    out.family("meridian_tsig_failures_total", "counter",
               "Signed requests that failed TSIG verification, by TSIG error (FORMERR: the "
               "record could not be read).");
    for (const auto& [error, incident] : {std::pair{"BADKEY", zones::Incident::tsig_bad_key},
                                          std::pair{"BADSIG", zones::Incident::tsig_bad_sig},
                                          std::pair{"BADTIME", zones::Incident::tsig_bad_time},
                                          std::pair{"BADTRUNC", zones::Incident::tsig_bad_trunc},
                                          std::pair{"FORMERR", zones::Incident::tsig_malformed}})
        out.sample("meridian_tsig_failures_total", label("error", error), incidents(incident));
    out.family("meridian_log_lines_dropped_total", "counter",
               "Log lines from the workers dropped because the log could not keep up.");
    out.sample("meridian_log_lines_dropped_total", "", dropped_log_events());
}

// Steered answers by pool need the pools' names; counts of pools no longer served are left
// out (a counter that disappears is how Prometheus sees a series end).
void write_steering(PrometheusText& out, const TrafficTotals& traffic, const ServerStatus& status) {
    out.family("meridian_steered_answers_total", "counter",
               "Answers of GeoDNS-steered names by the pool that answered.");
    for (const auto& pool : status.pools)
        if (pool.slot < kCountedPools)
            out.sample("meridian_steered_answers_total", label("pool", pool.name),
                       traffic.steered_by_pool[pool.slot]);
    if (traffic.steered_other_pool > 0)
        out.sample("meridian_steered_answers_total", label("pool", "(other)"),
                   traffic.steered_other_pool);
    out.family("meridian_steering_decisions_total", "counter",
               "Answers of GeoDNS-steered names by what decided: a config net, the database "
               "location of the ECS subnet or of the resolver's address, a local policy, or "
               "fallback to the zone's own records.");
    for (size_t source = 1; source < zones::kSteeringSources; ++source)
        out.sample("meridian_steering_decisions_total",
                   label("source", steering_source_label(source)),
                   traffic.steered_by_source[source]);
}

void write_pools(PrometheusText& out, const ServerStatus& status) {
    out.family("meridian_pool_state", "gauge",
               "Each pool's state as answers use it (forced or checked; unknown answers as up); "
               "1 for the current one.");
    for (const auto& pool : status.pools) {
        const bool is_unknown = pool.forced == "none" && pool.checked == "unknown";
        for (const char* state : {"up", "down", "unknown"}) {
            const bool is_current = std::string_view(state) == "unknown"
                                        ? is_unknown
                                        : !is_unknown && (pool.is_usable == (state[0] == 'u'));
            out.sample("meridian_pool_state",
                       label("pool", pool.name) + "," + label("state", state),
                       uint64_t{is_current});
        }
    }
    out.family("meridian_pool_forced", "gauge",
               "1 while an operator forces the pool up or down (meridian ctl pool).");
    for (const auto& pool : status.pools)
        for (const char* state : {"up", "down"})
            out.sample("meridian_pool_forced",
                       label("pool", pool.name) + "," + label("state", state),
                       uint64_t{pool.forced == state});
    out.family("meridian_pool_transitions_total", "counter",
               "Changes of a pool's checked state after rise/fall and hold-down.");
    for (const auto& pool : status.pools)
        if (pool.checked != "unchecked")
            out.sample("meridian_pool_transitions_total", label("pool", pool.name),
                       pool.transitions);
    out.family("meridian_pool_checks_total", "counter", "Pool check rounds, by outcome.");
    for (const auto& pool : status.pools) {
        if (pool.checked == "unchecked") continue;
        out.sample("meridian_pool_checks_total",
                   label("pool", pool.name) + "," + label("result", "passed"), pool.rounds_passed);
        out.sample("meridian_pool_checks_total",
                   label("pool", pool.name) + "," + label("result", "failed"), pool.rounds_failed);
    }
}

void write_status(PrometheusText& out, const ServerStatus& status) {
    out.family("meridian_build_info", "gauge", "The running version; always 1.");
    out.sample("meridian_build_info", label("version", kVersion), uint64_t{1});
    out.family("meridian_start_time_seconds", "gauge", "When the server started (Unix time).");
    out.sample("meridian_start_time_seconds", "", seconds_since_epoch(status.started));
    out.family("meridian_workers", "gauge", "Worker threads answering queries.");
    out.sample("meridian_workers", "", uint64_t{status.workers});

    const Served& served = status.served;
    out.family("meridian_config_info", "gauge",
               "Digests of the merged config and of its shared part (zones, GeoIP, pools, "
               "policies); always 1. PoPs of one fleet should share policy_hash.");
    out.sample("meridian_config_info",
               label("identity", status.identity) + "," + label("config_hash", served.config_hash) +
                   "," + label("policy_hash", served.policy_hash),
               uint64_t{1});
    out.family("meridian_zone_serial", "gauge", "The SOA serial of each zone served.");
    for (const auto& zone : served.zones)
        out.sample("meridian_zone_serial", label("zone", zone.origin), uint64_t{zone.serial});
    out.family("meridian_zone_load_duration_seconds", "gauge",
               "How long the last parse of each zone took (kept while the file is unchanged).");
    for (const auto& zone : served.zones)
        out.sample("meridian_zone_load_duration_seconds", label("zone", zone.origin),
                   zone.load_seconds);
    // Alert on this before it reaches 0: the zone turns bogus for validating resolvers
    // then (RFC 4035 §5.3.1), and only re-signing where it is signed fixes it.
    out.family("meridian_zone_rrsig_expiry_seconds", "gauge",
               "Seconds until the earliest RRSIG of each signed zone expires (negative: expired).");
    const auto now = static_cast<uint32_t>(std::chrono::duration_cast<std::chrono::seconds>(
                                               std::chrono::system_clock::now().time_since_epoch())
                                               .count());
    for (const auto& zone : served.zones)
        if (zone.earliest_signature_expiry != 0)
            // RFC 4034 §3.1.5: serial arithmetic, so the difference is signed 32-bit.
            out.sample(
                "meridian_zone_rrsig_expiry_seconds", label("zone", zone.origin),
                static_cast<double>(static_cast<int32_t>(zone.earliest_signature_expiry - now)));
    out.family("meridian_zones", "gauge", "Zones served.");
    out.sample("meridian_zones", "", uint64_t{served.zones.size()});
    out.family("meridian_secondary_copy_write_failures_total", "counter",
               "Transfers served whose copy could not be written to the zone's file.");
    out.sample("meridian_secondary_copy_write_failures_total", "",
               status.secondaries ? status.secondaries->copy_write_failures() : uint64_t{0});
    out.family("meridian_secondary_copy_failing", "gauge",
               "1 for each secondary zone whose last transferred version is not on disk.");
    if (status.secondaries)
        for (const auto& failure : status.secondaries->failing_copies())
            out.sample("meridian_secondary_copy_failing", label("zone", failure.zone), uint64_t{1});
    out.family("meridian_geo_policies", "gauge", "GeoDNS policies compiled.");
    out.sample("meridian_geo_policies", "", uint64_t{served.policies});
    out.family("meridian_snapshot_published_timestamp_seconds", "gauge",
               "When the data being served was loaded (Unix time).");
    out.sample("meridian_snapshot_published_timestamp_seconds", "",
               seconds_since_epoch(served.published));

    out.family("meridian_reloads_total", "counter",
               "Reloads (SIGHUP, meridian ctl reload), by whether they published new data.");
    out.sample("meridian_reloads_total", label("result", "published"), status.reloads_published);
    out.sample("meridian_reloads_total", label("result", "failed"), status.reloads_failed);
    out.family("meridian_reload_duration_seconds", "summary", "How long reloads took.");
    out.sample("meridian_reload_duration_seconds_sum", "", status.reload_seconds_sum);
    out.sample("meridian_reload_duration_seconds_count", "",
               status.reloads_published + status.reloads_failed);
    out.family("meridian_reload_last_duration_seconds", "gauge", "How long the last reload took.");
    out.sample("meridian_reload_last_duration_seconds", "", status.last_reload_seconds);

    out.family("meridian_ready", "gauge",
               "1 while self-queries through the UDP listeners are answered (/ready).");
    out.sample("meridian_ready", "", uint64_t{status.is_ready});
    out.family("meridian_serving", "gauge",
               "1 while /health reports 200: ready, not drained, not stopping.");
    out.sample("meridian_serving", "", uint64_t{status.is_serving});
    out.family("meridian_health_state", "gauge", "The health state; 1 for the current one.");
    for (const char* state : {"starting", "serving", "failing", "drained", "stopping"})
        out.sample("meridian_health_state", label("state", state),
                   uint64_t{status.health_state == state});
    out.family("meridian_self_checks_total", "counter", "Self-check rounds, by outcome.");
    out.sample("meridian_self_checks_total", label("result", "answered"), status.checks_answered);
    out.sample("meridian_self_checks_total", label("result", "failed"), status.checks_failed);
    out.family("meridian_health_changes_total", "counter",
               "Times readiness changed after rise/fall hysteresis.");
    out.sample("meridian_health_changes_total", "", status.health_changes);
}

}  // namespace

std::string render_metrics(const TrafficTotals& traffic, const ServerStatus& status) {
    PrometheusText out;
    write_traffic(out, traffic);
    write_steering(out, traffic, status);
    write_status(out, status);
    write_pools(out, status);
    return out.take();
}

}  // namespace meridian::server
