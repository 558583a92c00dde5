// `meridian explain` called in-process with a config and zone in a temporary folder: the rows
// it prints (question, client, steering, answer, ECS scope), the pool states it takes from a
// running server's control socket or says it could not, and exit 2 for bad input, 1 for a
// config with errors.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "server/cli/explain_command.hpp"
#include "support/cli_command.hpp"
#include "support/config_files.hpp"
#include "support/config_loading.hpp"
#include "support/small_zone.hpp"
#include "support/temp_folder.hpp"

using meridian::server::explain_command;
using meridian::testing::CommandRun;
using meridian::testing::TempFolder;

namespace {

// www.example.com. sends Asia to sin (IPv4 only) and everyone else to fra.
constexpr const char* kWwwByContinent = R"(
[[geo]]
name = "www.example.com."
mode = "map"
[geo.map]
continent = { "AS" = ["sin"] }
default = ["fra"]
)";

// A folder holding a config and its zone; explain() runs the command on that config.
struct Explained {
    TempFolder folder;
    std::string config;

    explicit Explained(const std::string& text, const char* zone = meridian::testing::kGeoZone) {
        folder.write("example.com.zone", zone);
        config = folder.write("meridian.toml", text).string();
    }

    CommandRun explain(std::vector<std::string> arguments) const {
        arguments.insert(arguments.begin(), {"--config", config});
        return meridian::testing::run_command(explain_command, std::move(arguments));
    }
    // explain() of a query it answers: exit 0.
    CommandRun answered(std::vector<std::string> arguments) const {
        const CommandRun run = explain(std::move(arguments));
        CHECK_MESSAGE(run.exit_code == 0, run.err);
        return run;
    }
};

// The geo config of support/config_files.hpp with the continent map on www and `extra`.
Explained geo_explained(const std::string& extra = "") {
    return Explained(meridian::testing::geo_config_text(kWwwByContinent + extra));
}

std::string small_config() {
    return std::string(meridian::testing::kListenOnly) + "[[zone]]\nfile = \"example.com.zone\"\n";
}

bool has_row(const CommandRun& run, const std::string& row) {
    return run.out.find(row + "\n") != std::string::npos;
}

#define CHECK_ROWS(run, ...)                                                               \
    for (const std::string& row : std::vector<std::string>{__VA_ARGS__})                   \
    CHECK_MESSAGE(has_row(run, row), "missing row: ", row, "\n--- exit ", (run).exit_code, \
                  " stdout:\n", (run).out, "--- stderr:\n", (run).err)

}  // namespace

TEST_CASE("explain_prints_the_question_the_default_client_and_the_zones_answer") {
    const Explained explained(small_config(), meridian::testing::kSmallExampleZone);
    const CommandRun run = explained.answered({"www.example.com"});
    CHECK_ROWS(run, "question    www.example.com. IN A",
               "client      resolver 127.0.0.1 (the default; pass --client)",
               "steering    none: no [[geo]] policy on this name; the zone answers",
               "rcode       NOERROR, authoritative",
               "answer      www.example.com.\t3600\tIN\tA\t192.0.2.10");
    CHECK(run.out.find("ecs scope") == std::string::npos);  // no ECS asked, no scope row
}

TEST_CASE("explain_of_a_missing_name_shows_nxdomain_an_empty_answer_and_the_soa") {
    const Explained explained(small_config(), meridian::testing::kSmallExampleZone);
    const CommandRun run = explained.answered({"nope.example.com.", "AAAA"});
    CHECK_ROWS(run, "question    nope.example.com. IN AAAA", "rcode       NXDOMAIN, authoritative",
               "answer      (empty)");
    CHECK(run.out.find("authority   example.com.\t300\tIN\tSOA\tns1.example.com. "
                       "hostmaster.example.com. 1 7200 3600 1209600 300") != std::string::npos);
}

TEST_CASE("explain_steers_by_the_ecs_subnet_of_a_trusted_resolver_and_reports_the_scope") {
    const Explained explained = geo_explained();
    const CommandRun run =
        explained.answered({"www.example.com", "AAAA", "--client", "10.1.2.3", "--ecs",
                            "203.0.113.9/24"});  // host bits are forgiven
    // The net names sin alone, which has no IPv6: the zone's own AAAA answers.
    CHECK_ROWS(run, "client      resolver 10.1.2.3, ECS 203.0.113.0/24",
               "deciding    203.0.113.0 (the ECS subnet, source /24)", "rule        net pools",
               "pools       sin: skipped: no AAAA addresses",
               "fallback    the zone's own records at the name (NODATA when it has none)",
               "answer      www.example.com.\t3600\tIN\tAAAA\t2001:db8::53",
               "ecs scope   /24: resolvers cache this answer for 203.0.113.0/24");
}

TEST_CASE("explain_uses_the_resolvers_address_when_its_ecs_is_not_trusted") {
    const Explained explained = geo_explained();
    const CommandRun run = explained.answered(
        {"www.example.com", "A", "--client", "198.51.100.7", "--ecs", "203.0.113.0/24"});
    CHECK_ROWS(run,
               "deciding    198.51.100.7 (the resolver's address: it is not in [geoip] ecs_from)",
               "pools       fra: chosen (1 A address)");
    CHECK(run.out.find("IN\tA\t192.0.2.10") != std::string::npos);
}

TEST_CASE("explain_of_an_unlocated_client_falls_back_to_the_zones_records") {
    const Explained explained = geo_explained();
    const CommandRun run = explained.answered({"www.example.com", "--client", "127.0.9.9"});
    CHECK_ROWS(run, "deciding    127.0.9.9 (the resolver's address; no ECS)",
               "located     nowhere: no config net matches and no database is configured",
               "rule        location unknown (fallback)",
               "fallback    the zone's own records at the name (NODATA when it has none)",
               "answer      www.example.com.\t3600\tIN\tA\t192.0.2.53");
    CHECK(run.out.find("pools ") == std::string::npos);
}

TEST_CASE("explain_of_a_cname_explains_the_policy_of_its_steered_target") {
    const Explained explained = geo_explained();
    const CommandRun run = explained.answered({"alias.example.com", "--client", "198.51.100.7"});
    CHECK_ROWS(run, "question    alias.example.com. IN A",
               "answer      alias.example.com.\t3600\tIN\tCNAME\twww.example.com.",
               "pools       fra: chosen (1 A address)");
    CHECK(run.out.find("policy      www.example.com. mode map (" + explained.config + ":") !=
          std::string::npos);
    CHECK(run.out.find("IN\tA\t192.0.2.10\n") != std::string::npos);
}

TEST_CASE("explain_says_when_no_control_socket_can_give_the_pool_states") {
    SUBCASE("no [control] table") {
        const Explained explained = geo_explained();
        const CommandRun run = explained.answered({"www.example.com", "--client", "198.51.100.7"});
        CHECK_ROWS(run,
                   "pool states unknown: the config has no [control] socket to ask the running "
                   "server; every pool is taken as up");
    }
    SUBCASE("no server at the socket") {
        // The path is relative to the config's folder.
        const Explained explained = geo_explained("\n[control]\nsocket = \"control.sock\"\n");
        const CommandRun run = explained.answered({"www.example.com", "--client", "198.51.100.7"});
        CHECK_ROWS(run,
                   "pool states unknown (cannot reach the server at " +
                       (explained.folder.path() / "control.sock").string() +
                       ": No such file or directory); every pool is taken as up",
                   "pools       fra: chosen (1 A address)");
    }
}

TEST_CASE("explain_takes_the_pool_states_from_the_running_server") {
    const Explained explained = geo_explained("\n[control]\nsocket = \"control.sock\"\n");
    const auto socket = explained.folder.path() / "control.sock";
    meridian::testing::ServedControlSocket server(socket, [](std::string_view command) {
        if (command != "pools") return std::string("error: unexpected\n");
        return std::string(
            "ok 2 pools\nfra up checked=up forced=none transitions=0\n"
            "sin down checked=up forced=down transitions=1\n");
    });
    // 203.0.113.0/24 names sin alone, forced down; 198.51.100.0/24 (de) gets the default fra.
    const CommandRun sin = explained.answered({"www.example.com", "--client", "203.0.113.9"});
    CHECK_ROWS(sin, "pool states from the running server at " + socket.string(),
               "pools       sin: skipped: down (forced down)");
    const CommandRun fra = explained.answered({"www.example.com", "--client", "198.51.100.7"});
    CHECK_ROWS(fra, "pools       fra: chosen (1 A address), up (its check says up)");
    CHECK(server.commands() == std::vector<std::string>{"pools", "pools"});
}

TEST_CASE("explain_bad_input_exits_2_with_a_message") {
    const Explained explained(small_config(), meridian::testing::kSmallExampleZone);
    struct Case {
        std::vector<std::string> arguments;
        std::string message;
    };
    const std::vector<Case> cases = {
        {{"www.example.com", "BOGUS"}, "meridian: 'BOGUS' is not a record type\n"},
        {{"www.example.com", "--client", "300.1.2.3"},
         "meridian: --client '300.1.2.3' is not an IP address\n"},
        {{"www.example.com", "--ecs", "203.0.113.0/33"},
         "meridian: --ecs '203.0.113.0/33' is not a prefix like 198.51.100.0/24\n"},
        {{"www..example.com"}, "meridian: 'www..example.com' is not a domain name\n"},
        {{"www.example.com", "--client"}, "meridian: --client needs a value\n"},
        {{"www.example.com", "--verbose"}, "meridian: unexpected argument '--verbose'\n"},
    };
    for (const auto& c : cases) {
        const CommandRun run = explained.explain(c.arguments);
        CHECK_MESSAGE(run.exit_code == 2, c.message);
        CHECK_MESSAGE(run.err.starts_with(c.message), run.err);
        CHECK(run.out.empty());
    }
}

TEST_CASE("explain_without_a_config_or_a_name_prints_the_usage_and_exits_2") {
    const Explained explained(small_config(), meridian::testing::kSmallExampleZone);
    for (const auto& arguments : std::vector<std::vector<std::string>>{
             {"www.example.com"}, {"--config", explained.config}, {}}) {
        const CommandRun run = meridian::testing::run_command(explain_command, arguments);
        CHECK(run.exit_code == 2);
        CHECK(run.err.starts_with("usage: meridian explain"));
    }
    // Three positional words: NAME TYPE and one too many.
    CHECK(explained.explain({"www.example.com", "A", "extra"}).exit_code == 2);
}

TEST_CASE("explain_with_a_config_that_has_errors_prints_them_and_exits_1") {
    const Explained explained(std::string(meridian::testing::kListenOnly) +
                              "[[zone]]\nfile = \"missing.zone\"\n");
    const CommandRun run = explained.explain({"www.example.com"});
    CHECK(run.exit_code == 1);
    CHECK(run.out.empty());
    CHECK(run.err.find("meridian: " + explained.config + " has errors\n") != std::string::npos);
    CHECK(run.err.find("missing.zone") != std::string::npos);
}
