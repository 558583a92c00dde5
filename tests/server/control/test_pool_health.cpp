// Pool health without sockets: the check's config and its errors, rise/fall with the
// hold-down, forced states, what /ready waits for, the forced-pools file, states shared by
// successive snapshots, and the pool metrics.
#include <doctest/doctest.h>

#include "server/config/config.hpp"
#include "server/control/forced_pools_file.hpp"
#include "server/control/health.hpp"
#include "server/control/hysteresis.hpp"
#include "server/control/metrics_text.hpp"
#include "server/control/pool_health.hpp"
#include "server/reload/snapshot_builder.hpp"
#include "support/config_loading.hpp"

using meridian::Diagnostics;
using namespace meridian::server;
using meridian::geoip::CheckedState;
using meridian::geoip::ForcedState;
using namespace meridian::testing;
using namespace std::chrono_literals;

namespace {

// A served pool with a check of `rise` and `fall`, and its own state.
ServedPool checked_pool(const std::string& name, unsigned rise = 2, unsigned fall = 3,
                        unsigned hold_down_ms = 0) {
    PoolCheck check;
    check.port = 443;
    check.rise = rise;
    check.fall = fall;
    check.hold_down_ms = hold_down_ms;
    return {name,
            {std::string("\xC0\x00\x02\x0A", 4)},
            check,
            std::make_shared<meridian::geoip::PoolState>()};
}

const Hysteresis::Clock::time_point t0{};

}  // namespace

TEST_CASE("pool_check_reads_every_key_inline_or_as_a_table") {
    TempFolder folder;
    const auto path = folder.write("p.toml", std::string(kListenOnly) + R"(
[[pool]]
name = "fra"
addresses = ["192.0.2.10"]
check = { type = "tcp", port = 443, interval = 0.5, timeout = 0.25, rise = 3, fall = 4, hold_down = 30 }

[[pool]]
name = "sin"
addresses = ["192.0.2.20"]

[pool.check]
type = "http"
port = 8080
path = "/healthz?deep=1"
host = "sin.example"
expect = 204

[[pool]]
name = "iad"
addresses = ["192.0.2.30"]
)");
    Diagnostics diagnostics;
    const auto config = load_config(path, diagnostics);
    REQUIRE_MESSAGE(config, diagnostics_text(diagnostics));
    REQUIRE(config->pools.size() == 3);
    const auto& tcp = config->pools[0].check;
    REQUIRE(tcp);
    CHECK(tcp->type == PoolCheck::Type::tcp);
    CHECK(tcp->port == 443);
    CHECK(tcp->interval_ms == 500);
    CHECK(tcp->timeout_ms == 250);
    CHECK(tcp->rise == 3);
    CHECK(tcp->fall == 4);
    CHECK(tcp->hold_down_ms == 30000);
    const auto& http = config->pools[1].check;
    REQUIRE(http);
    CHECK(http->type == PoolCheck::Type::http);
    CHECK(http->port == 8080);
    CHECK(http->path == "/healthz?deep=1");
    CHECK(http->host == "sin.example");
    CHECK(http->expect == 204);
    CHECK(http->interval_ms == 10000);  // the defaults
    CHECK(http->timeout_ms == 2000);
    CHECK(http->rise == 2);
    CHECK(http->fall == 3);
    CHECK_FALSE(config->pools[2].check);
}

TEST_CASE("pool_check_errors_name_their_line") {
    TempFolder folder;
    check_config_errors(folder, std::string(kListenOnly) + R"(
[[pool]]
name = "a"
addresses = ["192.0.2.1"]
check = { type = "icmp", port = 0 }

[[pool]]
name = "b"
addresses = ["192.0.2.2"]
check = { port = 80, interval = 1, timeout = 2 }

[[pool]]
name = "c"
addresses = ["192.0.2.3"]
check = { type = "tcp", port = 80, path = "/", rise = 0, retries = 3 }

[[pool]]
name = "d"
addresses = ["192.0.2.4"]
check = "tcp:80"

[[pool]]
name = "e"
addresses = ["192.0.2.5"]
check = { type = "http", port = 80, path = "no slash", expect = 999 }

[[pool]]
name = "two words"
addresses = ["192.0.2.6"]
)",
                        {{7, "check type 'icmp' is not \"tcp\" or \"http\""},
                         {7, "'port' must be between 1 and 65535"},
                         {12, "missing 'type' in check"},
                         {12,
                          "check timeout (2000 ms) is longer than its "
                          "interval (1000 ms)"},
                         {17, "'rise' must be between 1 and 100"},
                         {17, "unknown key 'retries' in [[pool]] check"},
                         {17, "only apply to type = \"http\""},
                         {22, "'check' must be a table"},
                         {27, "check path 'no slash' must start with /"},
                         {27, "'expect' must be between 100 and 599"},
                         {30, "pool name 'two words' must be one word"}},
                        "bad.toml");
}

TEST_CASE("control_hold_down_has_a_default_and_is_validated") {
    TempFolder folder;
    Diagnostics diagnostics;
    const auto defaults =
        load_config(folder.write("a.toml", std::string(kListenOnly) + "[control]\n"), diagnostics);
    REQUIRE_MESSAGE(defaults, diagnostics_text(diagnostics));
    CHECK(defaults->control.hold_down_ms == 10000);
    const auto set = load_config(
        folder.write("b.toml", std::string(kListenOnly) + "[control]\nhold_down = 2.5\n"),
        diagnostics);
    REQUIRE_MESSAGE(set, diagnostics_text(diagnostics));
    CHECK(set->control.hold_down_ms == 2500);
    Diagnostics errors;
    CHECK_FALSE(load_config(
        folder.write("c.toml", std::string(kListenOnly) + "[control]\nhold_down = -1\n"), errors));
    CHECK_MESSAGE(has_error_at(errors, 4, "'hold_down' must be a number of seconds"),
                  diagnostics_text(errors));
}

TEST_CASE("hysteresis_needs_rise_passes_or_fall_failures_in_a_row") {
    Hysteresis h(2, 3, 0ms);
    CHECK(h.state() == Hysteresis::State::unknown);
    CHECK_FALSE(h.record(true, t0));
    CHECK_FALSE(h.record(false, t0));  // a failure restarts the count
    CHECK_FALSE(h.record(true, t0));
    CHECK(h.record(true, t0));
    CHECK(h.state() == Hysteresis::State::up);
    CHECK_FALSE(h.record(false, t0));
    CHECK_FALSE(h.record(false, t0));
    CHECK(h.record(false, t0));
    CHECK(h.state() == Hysteresis::State::down);
    CHECK(h.streak() == 3);
}

TEST_CASE("hysteresis_holds_the_opposite_change_down") {
    Hysteresis h(1, 1, 10s);
    REQUIRE(h.record(true, t0));  // up at 0 s
    CHECK_FALSE(h.record(false, t0 + 2s));
    CHECK(h.is_held_down());
    CHECK(h.state() == Hysteresis::State::up);
    CHECK_FALSE(h.record(false, t0 + 9s));
    CHECK(h.record(false, t0 + 10s));  // still failing once the hold-down ran out
    CHECK(h.state() == Hysteresis::State::down);
    // A recovery during the hold-down that does not last changes nothing.
    CHECK_FALSE(h.record(true, t0 + 11s));
    CHECK_FALSE(h.record(false, t0 + 12s));
    CHECK_FALSE(h.record(false, t0 + 25s));  // already down
    CHECK(h.record(true, t0 + 26s));
}

TEST_CASE("hysteresis_first_conclusion_of_down_starts_no_hold_down") {
    // A server starting with its address not yet up, or a pool never reached: nobody saw
    // it up, so coming up is not a flap and must not wait.
    Hysteresis h(1, 1, 60s);
    REQUIRE(h.record(false, t0));
    CHECK(h.state() == Hysteresis::State::down);
    CHECK(h.record(true, t0 + 1s));
    CHECK(h.state() == Hysteresis::State::up);
}

TEST_CASE("health_keeps_the_route_through_the_hold_down") {
    Health health(1, 1, 5s);
    REQUIRE(health.record_check(true, t0));
    CHECK(health.is_serving());
    CHECK_FALSE(health.record_check(false, t0 + 1s));  // would flap: held
    CHECK(health.is_serving());
    CHECK(health.is_held_down());
    CHECK(health.record_check(false, t0 + 6s));
    CHECK_FALSE(health.is_serving());
    CHECK(health.state() == "failing");
}

TEST_CASE("health_is_not_ready_while_a_checked_pool_is_unknown") {
    Health health(1, 1);
    CHECK_FALSE(health.set_pools_known(false));
    CHECK_FALSE(health.record_check(true, t0));  // answering, but pools unknown
    CHECK(health.is_answering());
    CHECK_FALSE(health.is_ready());
    CHECK(health.state() == "starting");
    CHECK(health.set_pools_known(true));
    CHECK(health.is_ready());
    CHECK(health.is_serving());
    // A pool a reload adds is unknown until its check concludes; the route stays.
    CHECK_FALSE(health.set_pools_known(false));
    CHECK(health.is_serving());
}

TEST_CASE("pool_table_follows_rise_fall_and_writes_the_shared_state") {
    PoolHealthTable table;
    const ServedPool fra = checked_pool("fra", 2, 2);
    table.update({fra, {"sin", {}, std::nullopt, std::make_shared<meridian::geoip::PoolState>()}},
                 {});
    CHECK_FALSE(table.are_known());  // fra has a check and no conclusion yet
    CHECK(fra.state->is_usable());   // unknown answers as up
    CHECK_FALSE(table.record_round("fra", true, "", t0));
    const auto up = table.record_round("fra", true, "", t0);
    REQUIRE(up);
    CHECK(*up == "pool fra: up after 2 passed checks in a row; answering with it again");
    CHECK(table.are_known());
    CHECK(fra.state->checked() == CheckedState::up);
    CHECK_FALSE(table.record_round("fra", false, "192.0.2.10:443: connection refused", t0));
    const auto down = table.record_round("fra", false, "192.0.2.10:443: connection refused", t0);
    REQUIRE(down);
    CHECK(down->find("pool fra: down after 2 failed checks in a row (192.0.2.10:443: "
                     "connection refused); its answers go to the next pool") == 0);
    CHECK_FALSE(fra.state->is_usable());
    const auto* row = table.find("fra");
    REQUIRE(row);
    CHECK(row->transitions == 2);
    CHECK(row->rounds_passed == 2);
    CHECK(row->rounds_failed == 2);
    CHECK(table.describe() ==
          "fra down checked=down forced=none transitions=2 last-problem: 192.0.2.10:443: "
          "connection refused\nsin up checked=unchecked forced=none transitions=0\n");
}

TEST_CASE("a_forced_state_overrides_the_check_and_counts_as_known") {
    PoolHealthTable table;
    const ServedPool fra = checked_pool("fra", 1, 1);
    table.update({fra}, {});
    CHECK_FALSE(table.are_known());
    REQUIRE(table.force("fra", ForcedState::down));
    CHECK(table.are_known());
    CHECK_FALSE(fra.state->is_usable());
    table.record_round("fra", true, "", t0);  // the check says up; the operator decides
    CHECK(fra.state->checked() == CheckedState::up);
    CHECK_FALSE(fra.state->is_usable());
    REQUIRE(table.force("fra", ForcedState::up));
    table.record_round("fra", false, "x", t0);
    CHECK(fra.state->checked() == CheckedState::down);
    CHECK(fra.state->is_usable());
    REQUIRE(table.force("fra", ForcedState::none));
    CHECK_FALSE(fra.state->is_usable());
    CHECK_FALSE(table.force("nowhere", ForcedState::down));
}

TEST_CASE("a_reload_keeps_states_counts_and_applies_forced_states") {
    PoolHealthTable table;
    ServedPool fra = checked_pool("fra", 1, 1);
    table.update({fra}, {});
    table.record_round("fra", false, "refused", t0);
    REQUIRE(fra.state->checked() == CheckedState::down);
    // The same pool in the next snapshot: same state object, same check.
    table.update({fra}, {{"fra", ForcedState::up}});
    CHECK(table.find("fra")->transitions == 1);
    CHECK(fra.state->checked() == CheckedState::down);
    CHECK(fra.state->forced() == ForcedState::up);
    // Its check removed: unknown (answers as up), not forced any more.
    ServedPool unchecked = fra;
    unchecked.check.reset();
    table.update({unchecked}, {});
    CHECK(fra.state->checked() == CheckedState::unknown);
    CHECK(fra.state->forced() == ForcedState::none);
    CHECK(table.are_known());
}

TEST_CASE("forced_pools_file_round_trips_and_reports_bad_lines") {
    TempFolder folder;
    const ForcedPoolsFile file(folder.path() / "state");
    std::string problem, error;
    CHECK(file.read(problem).empty());
    REQUIRE(file.write({{"fra", ForcedState::down}, {"sin", ForcedState::up}}, error));
    const auto forced = file.read(problem);
    CHECK(problem.empty());
    CHECK(forced ==
          std::map<std::string, ForcedState>{{"fra", ForcedState::down}, {"sin", ForcedState::up}});
    REQUIRE(file.write({}, error));
    CHECK_FALSE(std::filesystem::exists(file.path()));
    folder.write("state/forced-pools", "fra down\nsin sideways\n");
    CHECK(file.read(problem).size() == 1);
    CHECK(problem == file.path().string() + ":2: expected \"POOL up\" or \"POOL down\"");
    const ForcedPoolsFile nowhere(std::nullopt);
    CHECK(nowhere.write({{"fra", ForcedState::down}}, error));
    CHECK(nowhere.read(problem).empty());
}

TEST_CASE("successive_snapshots_share_pool_states_through_the_registry") {
    TempFolder folder;
    folder.write("zones/example.com.zone",
                 "$ORIGIN example.com.\n$TTL 60\n@ SOA ns h 1 1 1 1 1\n@ NS ns\nns A 192.0.2.1\n");
    Diagnostics diagnostics;
    const auto config = load_config_text(folder, std::string(kListenOnly) + R"(
[[zone]]
file = "zones/example.com.zone"

[[pool]]
name = "fra"
addresses = ["192.0.2.10"]

[[pool]]
name = "sin"
addresses = ["192.0.2.20"]
)",
                                         diagnostics, "p.toml");
    REQUIRE_MESSAGE(config, diagnostics_text(diagnostics));
    PoolRegistry registry;
    BuildContext first_context, second_context;
    first_context.pool_registry = second_context.pool_registry = &registry;
    const auto first = build_snapshot(*config, diagnostics, &first_context);
    const auto second = build_snapshot(*config, diagnostics, &second_context);
    REQUIRE(first);
    REQUIRE(second);
    REQUIRE(first->steering.pool_states.size() == 2);
    CHECK(first->steering.pool_states[0] == second->steering.pool_states[0]);
    CHECK(first->steering.pool_states[1]->slot() == 1);
    // Without a registry every build has its own states.
    const auto alone = build_snapshot(*config, diagnostics);
    CHECK(alone->steering.pool_states[0] != first->steering.pool_states[0]);
}

TEST_CASE("metrics_show_pool_states_transitions_and_steered_answers") {
    TrafficTotals traffic;
    traffic.steered_by_pool[3] = 7;
    traffic.steered_by_source[static_cast<size_t>(meridian::zones::SteeringSource::ecs)] = 5;
    traffic.steered_by_source[static_cast<size_t>(meridian::zones::SteeringSource::fallback)] = 2;
    ServerStatus status;
    status.pools = {{"fra", 3, false, "down", "none", 4, 10, 6},
                    {"sin", 1, true, "unknown", "none", 0, 0, 1},
                    {"iad", 2, false, "up", "down", 1, 3, 0},
                    {"gru", 0, true, "unchecked", "none", 0, 0, 0}};
    status.served.zones = {{"example.com.", 7, 0.125}};
    const std::string text = render_metrics(traffic, status);
    for (const char* line : {
             "meridian_steered_answers_total{pool=\"fra\"} 7\n",
             "meridian_steered_answers_total{pool=\"sin\"} 0\n",
             "meridian_steering_decisions_total{source=\"ecs\"} 5\n",
             "meridian_steering_decisions_total{source=\"fallback\"} 2\n",
             "meridian_steering_decisions_total{source=\"net\"} 0\n",
             "meridian_pool_state{pool=\"fra\",state=\"down\"} 1\n",
             "meridian_pool_state{pool=\"fra\",state=\"up\"} 0\n",
             "meridian_pool_state{pool=\"sin\",state=\"unknown\"} 1\n",
             "meridian_pool_state{pool=\"sin\",state=\"up\"} 0\n",
             "meridian_pool_state{pool=\"iad\",state=\"down\"} 1\n",
             "meridian_pool_forced{pool=\"iad\",state=\"down\"} 1\n",
             "meridian_pool_transitions_total{pool=\"fra\"} 4\n",
             "meridian_pool_checks_total{pool=\"fra\",result=\"failed\"} 6\n",
             "meridian_pool_state{pool=\"gru\",state=\"up\"} 1\n",
             "meridian_zone_load_duration_seconds{zone=\"example.com.\"} 0.125\n",
         })
        CHECK_MESSAGE(text.find(line) != std::string::npos, line);
    // An unchecked pool has no check counts.
    CHECK(text.find("meridian_pool_transitions_total{pool=\"gru\"}") == std::string::npos);
    CHECK(text.find("source=\"none\"") == std::string::npos);
}
