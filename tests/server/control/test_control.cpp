// The control side's logic without sockets: rise/fall hysteresis and drains, the drain state
// file, the [control] table, the config digests, and the Prometheus text format.
#include <doctest/doctest.h>

#include <regex>
#include <set>
#include <sstream>

#include "server/config/config.hpp"
#include "server/control/drain_file.hpp"
#include "server/control/health.hpp"
#include "server/control/metrics_text.hpp"
#include "support/config_loading.hpp"

using meridian::Diagnostics;
using namespace meridian::server;
using namespace meridian::testing;

TEST_CASE("health_becomes_ready_after_rise_answered_checks_in_a_row") {
    Health health(2, 3);
    CHECK(health.state() == "starting");
    CHECK_FALSE(health.is_ready());
    CHECK_FALSE(health.record_check(true));
    CHECK_FALSE(health.is_ready());
    CHECK_FALSE(health.record_check(false));  // an unanswered one restarts the count
    CHECK_FALSE(health.record_check(true));
    CHECK(health.record_check(true));
    CHECK(health.is_ready());
    CHECK(health.is_serving());
    CHECK(health.state() == "serving");
}

TEST_CASE("health_stays_ready_until_fall_unanswered_checks_in_a_row") {
    Health health(1, 3);
    REQUIRE(health.record_check(true));
    CHECK_FALSE(health.record_check(false));
    CHECK_FALSE(health.record_check(false));
    CHECK_FALSE(health.record_check(true));  // one answer in between: the route stays
    CHECK_FALSE(health.record_check(false));
    CHECK_FALSE(health.record_check(false));
    CHECK(health.is_ready());
    CHECK(health.record_check(false));
    CHECK_FALSE(health.is_ready());
    CHECK(health.state() == "failing");
    CHECK(health.record_check(true));  // rise = 1
    CHECK(health.state() == "serving");
}

TEST_CASE("a_drained_or_stopping_server_is_ready_but_not_serving") {
    Health health(1, 1);
    health.record_check(true);
    health.set_drained(true);
    CHECK(health.is_ready());
    CHECK_FALSE(health.is_serving());
    CHECK(health.state() == "drained");
    health.set_drained(false);
    CHECK(health.is_serving());
    health.begin_stop();
    CHECK_FALSE(health.is_serving());
    CHECK(health.state() == "stopping");
}

TEST_CASE("drain_file_remembers_a_drain_across_restarts") {
    TempFolder folder;
    const DrainFile file(folder.path() / "state");
    CHECK(file.is_persistent());
    CHECK_FALSE(file.is_drained());
    std::string error;
    REQUIRE_MESSAGE(file.remember(true, error), error);
    CHECK(DrainFile(folder.path() / "state").is_drained());  // as a restarted server sees it
    REQUIRE_MESSAGE(file.remember(false, error), error);
    CHECK_FALSE(file.is_drained());
    CHECK(file.remember(false, error));  // undraining twice is fine
}

TEST_CASE("drain_file_without_a_state_folder_remembers_nothing") {
    const DrainFile file(std::nullopt);
    CHECK_FALSE(file.is_persistent());
    std::string error;
    CHECK(file.remember(true, error));
    CHECK_FALSE(file.is_drained());
}

TEST_CASE("control_table_defaults_and_every_key") {
    TempFolder folder;
    Diagnostics diagnostics;
    const auto bare = load_config(folder.write("a.toml", kListenOnly), diagnostics);
    REQUIRE_MESSAGE(bare, diagnostics_text(diagnostics));
    CHECK_FALSE(bare->control.is_enabled);

    const auto defaults =
        load_config(folder.write("b.toml", std::string(kListenOnly) + "[control]\n"), diagnostics);
    REQUIRE_MESSAGE(defaults, diagnostics_text(diagnostics));
    CHECK(defaults->control.is_enabled);
    CHECK_FALSE(defaults->control.http);
    CHECK(defaults->control.socket == "/run/meridian/control.sock");
    CHECK(defaults->control.drain_seconds == 5);
    CHECK(defaults->control.check_interval_ms == 1000);
    CHECK(defaults->control.rise == 2);
    CHECK(defaults->control.fall == 3);

    const auto path = folder.write("c.toml", std::string(kListenOnly) + R"([control]
http = "[::1]:8053"
socket = "run/control.sock"
state = "state"
drain_seconds = 0
check_interval = 0.25
rise = 4
fall = 1
)");
    const auto set = load_config(path, diagnostics);
    REQUIRE_MESSAGE(set, diagnostics_text(diagnostics));
    REQUIRE(set->control.http);
    CHECK(set->control.http->text == "[::1]:8053");
    CHECK(set->control.socket == folder.path() / "run/control.sock");
    CHECK(*set->control.state == folder.path() / "state");
    CHECK(set->control.drain_seconds == 0);
    CHECK(set->control.check_interval_ms == 250);
    CHECK(set->control.rise == 4);
    CHECK(set->control.fall == 1);

    const auto no_socket =
        load_config(folder.write("d.toml", std::string(kListenOnly) + "[control]\nsocket = \"\"\n"),
                    diagnostics);
    REQUIRE_MESSAGE(no_socket, diagnostics_text(diagnostics));
    CHECK(no_socket->control.socket.empty());
}

TEST_CASE("control_table_errors_name_their_line") {
    TempFolder folder;
    check_config_errors(folder, std::string(kListenOnly) + R"([control]
http = "localhost:8053"
check_interval = 0
rise = 0
drain = 5
)",
                        {{4, "bad http address 'localhost:8053'"},
                         {5, "'check_interval' must be a number of seconds"},
                         {6, "'rise' must be between 1 and 100"},
                         {7, "unknown key 'drain' in [control]"}},
                        "m.toml");
}

TEST_CASE("config_digests_ignore_order_and_comments_and_policy_digest_ignores_the_pop_part") {
    TempFolder folder;
    const std::string pool = "[[pool]]\nname = \"fra\"\naddresses = [\"192.0.2.10\"]\n";
    Diagnostics diagnostics;
    const auto a = load_config(
        folder.write("a.toml",
                     "[server]\nlisten = [\"127.0.0.1:5300\"]\nidentity = \"fra1\"\n" + pool),
        diagnostics);
    const auto b =
        load_config(folder.write("b.toml",
                                 "# the same, written otherwise\n[server]\nidentity = \"fra1\"\n"
                                 "listen = [ \"127.0.0.1:5300\" ]\n" +
                                     pool),
                    diagnostics);
    const auto other_pop = load_config(
        folder.write("c.toml", "[server]\nlisten = [\"127.0.0.1:5300\"]\nidentity = \"sin1\"\n" +
                                   pool + "[control]\ndrain_seconds = 9\n"),
        diagnostics);
    const auto other_pool =
        load_config(folder.write("d.toml",
                                 "[server]\nlisten = [\"127.0.0.1:5300\"]\nidentity = \"fra1\"\n"
                                 "[[pool]]\nname = \"fra\"\naddresses = [\"192.0.2.11\"]\n"),
                    diagnostics);
    REQUIRE_MESSAGE((a && b && other_pop && other_pool), diagnostics_text(diagnostics));
    CHECK(a->config_hash.size() == 16);
    CHECK(a->config_hash == b->config_hash);
    CHECK(a->policy_hash == b->policy_hash);
    CHECK(a->config_hash != other_pop->config_hash);
    CHECK(a->policy_hash == other_pop->policy_hash);  // same fleet data, another PoP
    CHECK(a->policy_hash != other_pool->policy_hash);
}

TEST_CASE("metrics_text_is_strict_prometheus_text") {
    TrafficTotals traffic;
    traffic.queries[0][0] = 5;
    traffic.responses[1][3] = 2;
    ServerStatus status;
    status.identity = "fra\"1\\";  // needs escaping
    status.workers = 2;
    status.served.zones = {{"example.com.", 7}, {"we\"ird\\.example.", 1}};
    status.served.config_hash = "0123456789abcdef";
    const std::string text = render_metrics(traffic, status);

    const std::regex help(R"(# HELP ([a-zA-Z_:][a-zA-Z0-9_:]*) \S.*)");
    const std::regex type(R"(# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|summary))");
    const std::regex sample(
        R"(([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([a-zA-Z_][a-zA-Z0-9_]*="([^"\\\n]|\\[\\"n])*")(,[a-zA-Z_][a-zA-Z0-9_]*="([^"\\\n]|\\[\\"n])*")*\})? (-?[0-9.e+-]+|NaN|\+Inf|-Inf))");
    std::set<std::string> typed, series;
    std::string current;
    std::istringstream lines(text);
    std::string line;
    size_t samples = 0;
    while (std::getline(lines, line)) {
        std::smatch match;
        if (std::regex_match(line, match, help)) continue;
        if (std::regex_match(line, match, type)) {
            CHECK_MESSAGE(typed.insert(match[1]).second, "a second TYPE: " << line);
            current = match[1];
            continue;
        }
        REQUIRE_MESSAGE(std::regex_match(line, match, sample), "not a sample: " << line);
        const std::string name = match[1];
        // A summary's samples are NAME_sum and NAME_count.
        CHECK_MESSAGE((name == current || name == current + "_sum" || name == current + "_count"),
                      "sample outside its family: " << line);
        CHECK_MESSAGE(series.insert(line.substr(0, line.rfind(' '))).second,
                      "a series twice: " << line);
        ++samples;
    }
    CHECK(samples > 50);
    CHECK(text.find("meridian_queries_total{transport=\"udp\",qtype=\"A\"} 5\n") !=
          std::string::npos);
    CHECK(text.find("meridian_responses_total{transport=\"tcp\",rcode=\"NXDOMAIN\"} 2\n") !=
          std::string::npos);
    CHECK(text.find("meridian_zone_serial{zone=\"we\\\"ird\\\\.example.\"} 1\n") !=
          std::string::npos);
}
