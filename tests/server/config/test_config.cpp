// The TOML config contract: accepted keys, and errors that name the file, line and key.
#include <doctest/doctest.h>

#include <string>

#include "geoip/network.hpp"
#include "server/config/config.hpp"
#include "support/config_loading.hpp"

using meridian::Diagnostics;
using meridian::geoip::Family;
using meridian::server::load_config;
using namespace meridian::testing;

namespace {

// True when some diagnostic is "<file>:<line>: ..." and contains `text`.
// Only the errors: configs without [[zone]] also carry a warning.
Diagnostics errors(const Diagnostics& diagnostics) {
    Diagnostics result;
    for (const auto& d : diagnostics)
        if (d.is_error) result.push_back(d);
    return result;
}

}  // namespace

TEST_CASE("valid_config_sets_every_server_key") {
    TempFolder folder;
    Diagnostics diagnostics;
    const auto config = load_config_text(folder, R"([server]
listen = ["127.0.0.1:5300", "[::1]:5300"]
workers = 2
identity = "fra1"
version = "meridian"
udp_payload = 1400
tcp_idle_timeout = 7
tcp_max_connections = 50

[[zone]]
file = "zones/example.com.zone"
origin = "example.com."
)",
                                         diagnostics);
    REQUIRE_MESSAGE(config, diagnostics_text(diagnostics));
    CHECK(diagnostics.empty());
    const auto& server = config->server;
    REQUIRE(server.listen.size() == 2);
    CHECK(server.listen[0].address.family == Family::v4);
    CHECK(server.listen[0].address.port == 5300);
    CHECK(server.listen[1].address.family == Family::v6);
    CHECK(server.listen[1].text == "[::1]:5300");
    CHECK(server.workers == 2);
    CHECK(server.identity == "fra1");
    CHECK(server.version == "meridian");
    CHECK(server.udp_payload == 1400);
    CHECK(server.tcp_idle_timeout_ms == 7000);
    CHECK(server.tcp_max_connections == 50);
    REQUIRE(config->zones.size() == 1);
    CHECK(config->zones[0].origin == "example.com.");
    CHECK(config->zones[0].place.line == 10);
}

TEST_CASE("defaults_apply_when_keys_are_absent") {
    TempFolder folder;
    Diagnostics diagnostics;
    const auto config = load_config_text(folder, kListenOnly, diagnostics, "m.toml");
    REQUIRE(config);
    CHECK(config->server.workers == 0);
    CHECK_FALSE(config->server.version.has_value());
    CHECK(config->server.udp_payload == 1232);
    CHECK(config->server.tcp_idle_timeout_ms == 10000);
    CHECK(config->server.tcp_max_connections == 1024);
}

TEST_CASE("unknown_key_is_an_error_naming_key_and_line") {
    TempFolder folder;
    const auto path = folder.write("m.toml", "[server]\nlisten = [\"127.0.0.1:5300\"]\nfoo = 1\n");
    Diagnostics diagnostics;
    CHECK_FALSE(load_config(path, diagnostics));
    REQUIRE(errors(diagnostics).size() == 1);
    CHECK(errors(diagnostics)[0].to_string() ==
          path.string() + ":3: unknown key 'foo' in [server]");
}

TEST_CASE("wrong_type_is_an_error_naming_key_and_line") {
    TempFolder folder;
    // Every error is reported, not only the first.
    check_config_errors(folder, std::string(kListenOnly) + "\nworkers = \"two\"\nidentity = 3\n",
                        {{4, "'workers' must be an integer"}, {5, "'identity' must be a string"}},
                        "m.toml");
}

TEST_CASE("bad_listen_address_is_an_error") {
    TempFolder folder;
    const auto path = folder.write(
        "m.toml",
        "[server]\nlisten = [\n  \"localhost:53\",\n  \"::1:53\",\n  \"127.0.0.1:0\",\n"
        "  \"127.0.0.1:70000\",\n  \"[::1]:53\",\n]\n");
    Diagnostics diagnostics;
    CHECK_FALSE(load_config(path, diagnostics));
    check_errors_at(diagnostics, {{3, "bad listen address"},
                                  {4, "bad listen address"},
                                  {5, "bad listen address"},
                                  {6, "bad listen address"}});
    CHECK(errors(diagnostics).size() == 4);
}

TEST_CASE("listen_address_parsing") {
    using meridian::server::parse_listen_address;
    CHECK(parse_listen_address("192.0.2.1:53"));
    CHECK(parse_listen_address("[2001:db8::1]:5300"));
    CHECK(parse_listen_address("[::]:53"));
    CHECK_FALSE(parse_listen_address("192.0.2.1"));
    CHECK_FALSE(parse_listen_address("[2001:db8::1]"));
    CHECK_FALSE(parse_listen_address("2001:db8::1:53"));
    CHECK_FALSE(parse_listen_address("192.0.2.1:53x"));
    CHECK_FALSE(parse_listen_address("192.0.2.256:53"));
}

TEST_CASE("duplicate_listen_address_is_an_error") {
    TempFolder folder;
    check_config_errors(folder, "[server]\nlisten = [\"127.0.0.1:5300\",\n\"127.0.0.1:5300\"]\n",
                        {{3, "duplicate listen address"}}, "m.toml");
}

TEST_CASE("udp_payload_out_of_range_is_an_error") {
    TempFolder folder;
    for (const char* value : {"511", "4097"})
        check_config_errors(folder, std::string(kListenOnly) + "udp_payload = " + value + "\n",
                            {{3, "'udp_payload' must be between 512 and 4096"}}, "m.toml");
}

TEST_CASE("zone_paths_resolve_against_the_config_folder") {
    TempFolder folder;
    const auto path = folder.write("etc/meridian.toml",
                                   "[server]\nlisten = [\"127.0.0.1:5300\"]\n[[zone]]\n"
                                   "file = \"zones/example.com.zone\"\n[[zone]]\n"
                                   "file = \"/absolute/z.zone\"\n");
    Diagnostics diagnostics;
    const auto config = load_config(path, diagnostics);
    REQUIRE(config);
    REQUIRE(config->zones.size() == 2);
    CHECK(config->zones[0].file == folder.path() / "etc/zones/example.com.zone");
    CHECK(config->zones[0].place.line == 3);
    CHECK(config->zones[1].file == "/absolute/z.zone");
}

TEST_CASE("toml_syntax_error_gives_its_line") {
    TempFolder folder;
    const auto path =
        folder.write("m.toml", "[server]\nlisten = [\"127.0.0.1:5300\"]\nworkers = = 2\n");
    Diagnostics diagnostics;
    CHECK_FALSE(load_config(path, diagnostics));
    REQUIRE(diagnostics.size() == 1);
    CHECK(diagnostics[0].file == path.string());
    CHECK(diagnostics[0].line == 3);
}

TEST_CASE("unknown_top_level_table_is_an_error") {
    TempFolder folder;
    check_config_errors(folder, std::string(kListenOnly) + "\n[zones]\nfile = \"x.zone\"\n",
                        {{4, "unknown table 'zones'"}}, "m.toml");
}

TEST_CASE("zone_table_errors_name_their_lines") {
    TempFolder folder;
    check_config_errors(folder,
                        std::string(kListenOnly) + "[[zone]]\norigin = \"example.com.\"\nttl = 5\n",
                        {{3, "missing 'file'"}, {5, "unknown key 'ttl' in [[zone]]"}}, "m.toml");
}

TEST_CASE("config_without_zones_is_only_a_warning") {
    TempFolder folder;
    const auto path = folder.write("m.toml", kListenOnly);
    Diagnostics diagnostics;
    CHECK(load_config(path, diagnostics));
    REQUIRE(diagnostics.size() == 1);
    CHECK_FALSE(diagnostics[0].is_error);
    CHECK(diagnostics[0].message == "no [[zone]] configured");
}

TEST_CASE("missing_listen_is_an_error") {
    TempFolder folder;
    check_config_errors(folder, "[server]\nworkers = 1\n", {{1, "missing 'listen'"}}, "m.toml");
}
