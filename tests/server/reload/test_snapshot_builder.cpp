// Building snapshots from a config: the zones and settings they serve, the errors that stop
// them (naming the config line), and the GeoDNS answers they give: steering, fallbacks and
// policy names brought into existence. What the config files themselves say is tested in
// tests/server/config/.
#include <doctest/doctest.h>

#include <unistd.h>

#include <memory>
#include <string>
#include <vector>

#include "geoip/network.hpp"
#include "server/config/config.hpp"
#include "server/reload/snapshot_builder.hpp"
#include "support/answer_fixture.hpp"
#include "support/config_files.hpp"
#include "support/config_loading.hpp"
#include "support/small_zone.hpp"
#include "support/temp_folder.hpp"

using namespace meridian;
using namespace meridian::testing;
using meridian::server::build_snapshot;
using meridian::server::load_config;

namespace {

constexpr const char* kZone = meridian::testing::kSmallExampleZone;

// A GeoDNS config (see support/config_files.hpp) and the snapshot built from it, if it loads.
struct Built : LoadedGeoConfig {
    std::unique_ptr<zones::Snapshot> snapshot;

    explicit Built(const std::string& extra, const std::string& server_extra = "")
        : LoadedGeoConfig(extra, server_extra) {
        if (config) snapshot = build_snapshot(*config, diagnostics);
    }

    Packet ask(const std::string& name, ldns_rr_type type, const std::string& client = "",
               uint8_t source = 24) {
        QueryOptions options;
        if (!client.empty()) {
            options.edns = true;
            options.client_subnet = client_subnet_option(client, source);
        }
        const auto query = make_query(name, type, options);
        std::vector<uint8_t> response(65535);
        // The resolver is 10.1.1.1, inside ecs_from, so the ECS address decides.
        const geoip::Address resolver = *geoip::parse_address("10.1.1.1");
        const zones::QueryOrigin origin{zones::Transport::udp, &resolver};
        response.resize(zones::respond(*snapshot, query, response, origin));
        return AnswerFixture::parse(response);
    }
};

// Checks that `built` has a diagnostic (an error or a warning) with `message` at the line of
// `needle` in its config, or `line_offset` lines from it.
void check_diagnostic_at(const Built& built, bool error, const std::string& needle,
                         const std::string& message, int line_offset = 0) {
    CHECK_MESSAGE(has_diagnostic(built.diagnostics, error,
                                 line_of(built.text, needle) + line_offset, message),
                  diagnostics_text(built.diagnostics));
}

// A map policy for www.example.com. with a TTL of 30; its rules follow.
constexpr const char* kWwwMap = R"(
[[geo]]
name = "www.example.com."
mode = "map"
ttl = 30
[geo.map]
)";

// A map policy for `name` that sends Asia to sin (no IPv6) and the rest to fra.
std::string asia_to_sin(const std::string& name) {
    return "\n[[geo]]\nname = \"" + name +
           "\"\nmode = \"map\"\n[geo.map]\ncontinent = { \"AS\" = [\"sin\"] }\n"
           "default = [\"fra\"]\n";
}

}  // namespace

TEST_CASE("build_snapshot_loads_zones_and_settings") {
    TempFolder folder;
    folder.write("zones/example.com.zone", kZone);
    const auto path =
        folder.write("m.toml",
                     "[server]\nlisten = [\"127.0.0.1:5300\"]\nidentity = \"fra1\"\n"
                     "udp_payload = 1400\n[[zone]]\nfile = \"zones/example.com.zone\"\n");
    Diagnostics diagnostics;
    const auto config = load_config(path, diagnostics);
    REQUIRE(config);
    const auto snapshot = meridian::server::build_snapshot(*config, diagnostics);
    REQUIRE_MESSAGE(snapshot, diagnostics_text(diagnostics));
    CHECK(snapshot->catalog.size() == 1);
    CHECK(snapshot->settings.identity == "fra1");
    CHECK(snapshot->settings.udp_payload == 1400);
    CHECK_FALSE(snapshot->settings.version.has_value());
}

TEST_CASE("duplicate_zone_origin_is_an_error_naming_the_config_line") {
    TempFolder folder;
    folder.write("zones/a.zone", kZone);
    folder.write("zones/b.zone", kZone);
    Diagnostics diagnostics;
    const auto config = load_config_text(
        folder,
        std::string(kListenOnly) +
            "[[zone]]\nfile = \"zones/a.zone\"\n[[zone]]\nfile = \"zones/b.zone\"\n",
        diagnostics, "m.toml");
    REQUIRE(config);
    CHECK_FALSE(meridian::server::build_snapshot(*config, diagnostics));
    CHECK_MESSAGE(has_error_at(diagnostics, 5, "duplicate zone origin 'example.com.'"),
                  diagnostics_text(diagnostics));
    CHECK(diagnostics.back().file == (folder.path() / "m.toml").string());
}

TEST_CASE("missing_zone_file_fails_the_snapshot") {
    TempFolder folder;
    Diagnostics diagnostics;
    const auto config =
        load_config_text(folder, std::string(kListenOnly) + "[[zone]]\nfile = \"nope.zone\"\n",
                         diagnostics, "m.toml");
    REQUIRE(config);
    CHECK_FALSE(meridian::server::build_snapshot(*config, diagnostics));
    CHECK(meridian::has_errors(diagnostics));
}

TEST_CASE("identity_defaults_to_host_name") {
    TempFolder folder;
    Diagnostics diagnostics;
    auto config = load_config_text(folder, kListenOnly, diagnostics, "m.toml");
    REQUIRE(config);
    auto snapshot = meridian::server::build_snapshot(*config, diagnostics);
    REQUIRE(snapshot);
    char host[256] = {};
    REQUIRE(gethostname(host, sizeof host - 1) == 0);
    CHECK(snapshot->settings.identity == host);
}

TEST_CASE("geo_config_reads_pools_nets_and_policies") {
    Built built(std::string(kWwwMap) + R"(subdivision = { "US-CA" = ["sin"] }
country = { "DE" = ["fra"] }
continent = { "AS" = ["sin", "fra"] }
default = ["fra"]
)");
    REQUIRE_MESSAGE(built.snapshot, diagnostics_text(built.diagnostics));
    const auto& config = *built.config;
    CHECK(config.geoip.ecs);
    REQUIRE(config.geoip.ecs_from.size() == 1);
    CHECK(geoip::to_string(config.geoip.ecs_from[0]) == "10.0.0.0/8");
    REQUIRE(config.geoip.nets.size() == 4);  // one entry per network
    CHECK(config.geoip.nets[0].location.country == "DE");
    CHECK(config.geoip.nets[0].location.continent == "EU");  // from the built-in table
    CHECK(config.geoip.nets[2].pools == std::vector<std::string>{"sin"});
    CHECK(config.geoip.net_places[1] == config.geoip.net_places[2]);
    REQUIRE(config.geoip.nets[3].location.coordinates);
    CHECK(config.geoip.nets[3].location.coordinates->latitude == doctest::Approx(1.35));
    REQUIRE(config.pools.size() == 2);
    CHECK(config.pools[0].ipv4.size() == 1);
    CHECK(config.pools[0].ipv6.size() == 1);
    CHECK(config.pools[1].ipv6.empty());
    REQUIRE(config.geo.size() == 1);
    CHECK(config.geo[0].ttl == 30u);
    CHECK(config.geo[0].policy.map.size() == 3);
    CHECK(config.geo[0].policy.default_pools == std::vector<std::string>{"fra"});
    CHECK(built.snapshot->steering.size() == 1);
}

TEST_CASE("geo_answers_follow_the_config") {
    Built built(std::string(kWwwMap) + R"(country = { "DE" = ["fra"] }
continent = { "AS" = ["sin", "fra"] }
)");
    REQUIRE_MESSAGE(built.snapshot, diagnostics_text(built.diagnostics));
    // A config net with a country: the map's country rule.
    auto p = built.ask("www.example.com.", LDNS_RR_TYPE_A, "198.51.100.7");
    CHECK(answer(p) == std::vector<std::string>{"www.example.com. 30 IN A 192.0.2.10"});
    CHECK(ecs_scope(p) == 24);
    // A net naming a pool; sin has no IPv6, so AAAA falls to the zone's own record.
    p = built.ask("www.example.com.", LDNS_RR_TYPE_A, "203.0.113.9");
    CHECK(answer(p) == std::vector<std::string>{"www.example.com. 30 IN A 192.0.2.20"});
    p = built.ask("www.example.com.", LDNS_RR_TYPE_AAAA, "203.0.113.9");
    CHECK(answer(p) == std::vector<std::string>{"www.example.com. 3600 IN AAAA 2001:db8::53"});
    // Unknown location: the zone's own records, scope still says where that holds.
    p = built.ask("www.example.com.", LDNS_RR_TYPE_A, "100.64.0.1");
    CHECK(answer(p) == std::vector<std::string>{"www.example.com. 3600 IN A 192.0.2.53"});
    CHECK(ecs_scope(p) > 0);
    // A CNAME into the steered name is steered; other types are untouched.
    p = built.ask("alias.example.com.", LDNS_RR_TYPE_A, "198.51.100.7");
    CHECK(answer(p).back() == "www.example.com. 30 IN A 192.0.2.10");
    p = built.ask("www.example.com.", LDNS_RR_TYPE_MX, "198.51.100.7");
    CHECK(answer(p).empty());
    CHECK(ecs_scope(p) == 0);
}

TEST_CASE("geo_policy_brings_a_missing_name_into_existence") {
    Built built(R"(
[[geo]]
name = "cdn.edge.example.com."
mode = "nearest"
)");
    REQUIRE_MESSAGE(built.snapshot, diagnostics_text(built.diagnostics));
    // Coordinates near Singapore: the nearest pool is sin; the TTL defaults to 60.
    auto p = built.ask("cdn.edge.example.com.", LDNS_RR_TYPE_A, "192.0.2.200", 32);
    CHECK(rcode(p) == LDNS_RCODE_NOERROR);
    CHECK(answer(p) == std::vector<std::string>{"cdn.edge.example.com. 60 IN A 192.0.2.20"});
    // The next nearest pool answers the type the nearest lacks.
    p = built.ask("cdn.edge.example.com.", LDNS_RR_TYPE_AAAA, "192.0.2.200", 32);
    CHECK(answer(p) == std::vector<std::string>{"cdn.edge.example.com. 60 IN AAAA 2001:db8::10"});
    // Unsteered types are NODATA, and so is the empty non-terminal above it.
    p = built.ask("cdn.edge.example.com.", LDNS_RR_TYPE_TXT);
    CHECK(rcode(p) == LDNS_RCODE_NOERROR);
    CHECK(answer(p).empty());
    CHECK(authority(p).size() == 1);
    p = built.ask("edge.example.com.", LDNS_RR_TYPE_A);
    CHECK(rcode(p) == LDNS_RCODE_NOERROR);
    // Unlocated clients find no zone record to fall back on: NODATA.
    p = built.ask("cdn.edge.example.com.", LDNS_RR_TYPE_A, "100.64.0.1");
    CHECK(rcode(p) == LDNS_RCODE_NOERROR);
    CHECK(answer(p).empty());
}

TEST_CASE("geo_local_mode_answers_this_pops_pool_with_scope_zero") {
    Built built(R"(
[[geo]]
name = "www.example.com."
mode = "local"
)",
                "pool = \"sin\"\n");
    REQUIRE_MESSAGE(built.snapshot, diagnostics_text(built.diagnostics));
    auto p = built.ask("www.example.com.", LDNS_RR_TYPE_A, "198.51.100.7");
    CHECK(answer(p) == std::vector<std::string>{"www.example.com. 3600 IN A 192.0.2.20"});
    CHECK(ecs_scope(p) == 0);
}

TEST_CASE("geo_placement_errors_name_the_policy_line") {
    struct Case {
        const char* name;
        const char* message;
    };
    const Case cases[] = {
        {"www.example.org.", "not inside any served zone"},
        {"alias.example.com.", "has a CNAME"},
        {"host.sub.example.com.", "below the delegation 'sub.example.com.'"},
        {"sub.example.com.", "the delegation"},
        {"x.old.example.com.", "below the DNAME"},
        {"*.wild.example.com.", "is a wildcard"},
    };
    for (const auto& c : cases) {
        CAPTURE(c.name);
        const std::string extra = std::string("\n[[geo]]\nname = \"") + c.name +
                                  "\"\nmode = \"map\"\n[geo.map]\ndefault = [\"fra\"]\n";
        Built built(extra);
        CHECK_FALSE(built.snapshot);
        check_diagnostic_at(built, true, "[[geo]]", c.message);
    }
}

TEST_CASE("geo_policy_errors_name_the_policy_line") {
    struct Case {
        const char* policy;
        const char* server;
        const char* message;
    };
    const Case cases[] = {
        {"mode = \"map\"\n[geo.map]\ncountry = { \"DE\" = [\"ams\"] }\n", "",
         "unknown pool \"ams\""},
        {"mode = \"local\"\n", "", "needs [server] pool"},
        {"mode = \"map\"\n[geo.map]\ncountry = { \"DEU\" = [\"fra\"] }\n", "",
         "map key \"DEU\" is invalid"},
    };
    for (const auto& c : cases) {
        CAPTURE(c.message);
        Built built(std::string("\n[[geo]]\nname = \"www.example.com.\"\n") + c.policy, c.server);
        CHECK_FALSE(built.snapshot);
        check_diagnostic_at(built, true, "[[geo]]", c.message);
    }
    // A nearest policy needs every candidate's coordinates; a pool needs addresses.
    Built nearest(R"(
[[pool]]
name = "ams"
addresses = []

[[geo]]
name = "www.example.com."
mode = "nearest"
)");
    CHECK_FALSE(nearest.snapshot);
    check_diagnostic_at(nearest, true, "[[geo]]", "coordinates for pool \"ams\"");
    check_diagnostic_at(nearest, true, "name = \"ams\"", "pool 'ams' has no addresses", -1);
    // [server] pool must name a pool.
    Built own("", "pool = \"lhr\"\n");
    CHECK_FALSE(own.snapshot);
    check_diagnostic_at(own, true, "pool = \"lhr\"", "[server] pool 'lhr' is not a [[pool]]");
}

TEST_CASE("geo_warns_where_a_type_is_nodata_only_in_some_places") {
    // sin has no IPv6 and the new name has no zone records: AAAA is NODATA for Asia only.
    Built built(asia_to_sin("app.example.com."));
    REQUIRE_MESSAGE(built.snapshot, diagnostics_text(built.diagnostics));
    check_diagnostic_at(built, false, "[[geo]]", "AAAA is NODATA for clients steered to 'sin'");
    // The zone's own AAAA at www is the fallback, so no warning there.
    Built covered(asia_to_sin("www.example.com."));
    REQUIRE(covered.snapshot);
    for (const auto& d : covered.diagnostics) CHECK_MESSAGE(d.is_error, d.to_string());
}

TEST_CASE("geo_database_errors_and_lookup_paths") {
    // A missing database stops the snapshot with an error at its line.
    {
        TempFolder folder;
        folder.write("example.com.zone", kGeoZone);
        std::string text =
            geo_config_text("\n[geoip.paths]\ncountry = [\"cc\", \"registered.country.code\"]\n");
        text.replace(text.find("[geoip]\n"), 8, "[geoip]\ndatabase = \"no-such.mmdb\"\n");
        const auto path = folder.write("meridian.toml", text);
        Diagnostics diagnostics;
        const auto config = load_config(path, diagnostics);
        REQUIRE_MESSAGE(config, diagnostics_text(diagnostics));
        REQUIRE(config->geoip.paths.country.size() == 2);
        CHECK(config->geoip.paths.country[1] ==
              std::vector<std::string>{"registered", "country", "code"});
        CHECK(config->geoip.paths.continent.size() == 2);  // untouched defaults
        CHECK_FALSE(build_snapshot(*config, diagnostics));
        CHECK_MESSAGE(
            has_diagnostic(diagnostics, true, line_of(text, "no-such.mmdb"), "no-such.mmdb"),
            diagnostics_text(diagnostics));
    }
}
