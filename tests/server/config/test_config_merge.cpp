// Several --config files read as one: later files override keys, tables merge, arrays of
// tables add up, and every diagnostic names the file and line that wrote the value.
#include <doctest/doctest.h>

#include "server/config/config.hpp"
#include "server/config/config_merge.hpp"
#include "support/diagnostics.hpp"
#include "support/temp_folder.hpp"

using meridian::Diagnostics;
using meridian::server::Config;
using meridian::server::load_config;
using meridian::testing::diagnostics_text;
using meridian::testing::TempFolder;

namespace {

constexpr const char* kBase = R"([server]
listen = ["127.0.0.1:5300", "[::1]:5300"]
workers = 2
identity = "base"
udp_payload = 1400

[[zone]]
file = "zones/example.com.zone"

[[pool]]
name = "fra"
addresses = ["192.0.2.10"]
)";

bool has_error(const Diagnostics& diagnostics, const std::string& file, int line,
               const std::string& text) {
    for (const auto& d : diagnostics)
        if (d.is_error && d.file == file && d.line == line &&
            d.message.find(text) != std::string::npos)
            return true;
    return false;
}

std::optional<Config> load(const std::vector<std::filesystem::path>& paths,
                           Diagnostics& diagnostics) {
    return load_config(paths, diagnostics);
}

// kBase and a later PoP file, written to `base_name` and `pop_name` and loaded in that order.
struct BaseAndPop {
    TempFolder folder;
    std::filesystem::path base;
    std::filesystem::path pop;
    Diagnostics diagnostics;
    std::optional<Config> config;

    explicit BaseAndPop(const std::string& pop_text, const char* base_name = "base.toml",
                        const char* pop_name = "pop.toml")
        : base(folder.write(base_name, kBase)),
          pop(folder.write(pop_name, pop_text)),
          config(load({base, pop}, diagnostics)) {}
};

}  // namespace

TEST_CASE("later_file_overrides_only_the_keys_it_sets") {
    BaseAndPop loaded("[server]\nidentity = \"fra1\"\npool = \"fra\"\n");
    auto& [folder, base, pop, diagnostics, config] = loaded;
    REQUIRE_MESSAGE(config, diagnostics_text(diagnostics));
    CHECK(config->server.identity == "fra1");
    CHECK(config->server.pool == "fra");
    CHECK(config->server.workers == 2);  // from the base, untouched
    CHECK(config->server.udp_payload == 1400);
    CHECK(config->server.listen.size() == 2);
    CHECK(config->files.size() == 2);
    CHECK(config->path == base);
}

TEST_CASE("an_array_of_values_is_replaced_not_extended") {
    BaseAndPop loaded("[server]\nlisten = [\"198.51.100.53:53\"]\n");
    auto& [folder, base, pop, diagnostics, config] = loaded;
    REQUIRE_MESSAGE(config, diagnostics_text(diagnostics));
    REQUIRE(config->server.listen.size() == 1);
    CHECK(config->server.listen[0].text == "198.51.100.53:53");
}

TEST_CASE("arrays_of_tables_concatenate_in_file_order") {
    BaseAndPop loaded(R"([[zone]]
file = "zones/example.net.zone"

[[pool]]
name = "sin"
addresses = ["192.0.2.20"]
)");
    auto& [folder, base, pop, diagnostics, config] = loaded;
    REQUIRE_MESSAGE(config, diagnostics_text(diagnostics));
    REQUIRE(config->zones.size() == 2);
    CHECK(config->zones[0].file == folder.path() / "zones/example.com.zone");
    CHECK(config->zones[1].file == folder.path() / "zones/example.net.zone");
    CHECK(*config->zones[1].place.file == pop.string());
    CHECK(config->zones[1].place.line == 1);
    REQUIRE(config->pools.size() == 2);
    CHECK(config->pools[0].pool.name == "fra");
    CHECK(config->pools[1].pool.name == "sin");
}

TEST_CASE("errors_name_the_file_and_line_that_wrote_the_value") {
    BaseAndPop loaded(R"(# this PoP
[server]
udp_payload = 99999
workerz = 3
)");
    auto& [folder, base, pop, diagnostics, config] = loaded;
    CHECK_FALSE(config);
    CHECK_MESSAGE(has_error(diagnostics, pop.string(), 3, "'udp_payload' must be between"),
                  diagnostics_text(diagnostics));
    CHECK_MESSAGE(has_error(diagnostics, pop.string(), 4, "unknown key 'workerz'"),
                  diagnostics_text(diagnostics));
}

TEST_CASE("a_duplicate_pool_across_files_names_both_places") {
    BaseAndPop loaded("[[pool]]\nname = \"fra\"\naddresses = [\"192.0.2.11\"]\n");
    auto& [folder, base, pop, diagnostics, config] = loaded;
    CHECK_FALSE(config);
    CHECK_MESSAGE(
        has_error(diagnostics, pop.string(), 1, "already defined at " + base.string() + ":10"),
        diagnostics_text(diagnostics));
}

TEST_CASE("relative_paths_resolve_against_the_file_that_sets_them") {
    BaseAndPop loaded("[[zone]]\nfile = \"local.zone\"\n", "etc/base.toml", "pop/fra1.toml");
    auto& [folder, base, pop, diagnostics, config] = loaded;
    REQUIRE_MESSAGE(config, diagnostics_text(diagnostics));
    REQUIRE(config->zones.size() == 2);
    CHECK(config->zones[0].file == folder.path() / "etc/zones/example.com.zone");
    CHECK(config->zones[1].file == folder.path() / "pop/local.zone");
}

TEST_CASE("a_syntax_error_in_any_file_names_that_file") {
    BaseAndPop loaded("[server]\nidentity = \"fra1\n");
    auto& [folder, base, pop, diagnostics, config] = loaded;
    CHECK_FALSE(config);
    REQUIRE(diagnostics.size() == 1);
    CHECK(diagnostics[0].file == pop.string());
    CHECK(diagnostics[0].line == 2);
}

TEST_CASE("a_table_in_a_later_file_replaces_a_value_of_another_type") {
    BaseAndPop loaded("server = 3\n");
    auto& [folder, base, pop, diagnostics, config] = loaded;
    CHECK_FALSE(config);
    CHECK_MESSAGE(has_error(diagnostics, pop.string(), 1, "'server' must be a table"),
                  diagnostics_text(diagnostics));
}

TEST_CASE("printed_merged_config_loads_to_the_same_settings") {
    TempFolder folder;
    const auto base = folder.write("base.toml", kBase);
    const auto pop = folder.write("pop.toml", R"([server]
identity = "fra1"

[[zone]]
file = "zones/example.net.zone"
)");
    Diagnostics diagnostics;
    const auto merged = meridian::server::read_config_files({base, pop}, diagnostics);
    REQUIRE(merged);
    const auto printed = folder.write("merged.toml", meridian::server::to_toml_text(*merged));
    const auto direct = load({base, pop}, diagnostics);
    const auto reloaded = load({printed}, diagnostics);
    REQUIRE_MESSAGE(direct, diagnostics_text(diagnostics));
    REQUIRE_MESSAGE(reloaded, diagnostics_text(diagnostics));
    CHECK(reloaded->server.identity == direct->server.identity);
    CHECK(reloaded->server.workers == direct->server.workers);
    CHECK(reloaded->server.listen.size() == direct->server.listen.size());
    REQUIRE(reloaded->zones.size() == direct->zones.size());
    for (size_t i = 0; i < direct->zones.size(); ++i)
        CHECK(reloaded->zones[i].file == direct->zones[i].file);
}

TEST_CASE("printed_config_quotes_keys_that_are_not_bare") {
    // toml++ 3.3's own printer writes a key with a quote or a tab bare (`D'E = ...`).
    const auto document = toml::parse(R"(country = { "D'E" = "fra", "a b" = "x", "q\"x" = "y" }
[[pool]]
name = "fra"
"back\\slash" = 1
"tab\there" = 2
"" = 3
plain-key_1 = 4
)");
    const std::string printed = meridian::server::to_toml_text(document);
    toml::table reread;
    try {
        reread = toml::parse(printed);
    } catch (const toml::parse_error& e) {
        FAIL("printed config is not TOML: " << e.description() << "\n" << printed);
    }
    CHECK_MESSAGE(reread == document, printed);
    CHECK(reread["country"]["D'E"].value<std::string>() == "fra");
    CHECK(reread["pool"][0]["tab\there"].value<int64_t>() == 2);
}

namespace {

constexpr const char* kTsig = R"([[tsig]]
name = "transfer-key"
algorithm = "hmac-sha256"
secret = "%s"

[[zone]]
file = "zones/%s.zone"
)";

toml::table tsig_config(const std::string& secret, const std::string& zone) {
    char text[512];
    std::snprintf(text, sizeof text, kTsig, secret.c_str(), zone.c_str());
    return toml::parse(text);
}

}  // namespace

TEST_CASE("config_hashes_ignore_tsig_secrets_and_never_contain_them") {
    const std::string secret_a = "c2VjcmV0LWEtc2VjcmV0LWEtc2VjcmV0LWE=";
    const std::string secret_b = "b3RoZXItc2VjcmV0LW90aGVyLXNlY3JldA==";
    const auto a = meridian::server::hash_config(tsig_config(secret_a, "example.com"));
    const auto b = meridian::server::hash_config(tsig_config(secret_b, "example.com"));
    const auto other_zone = meridian::server::hash_config(tsig_config(secret_a, "example.net"));
    CHECK(a.config == b.config);
    CHECK(a.policy == b.policy);
    CHECK(a.config != other_zone.config);
    CHECK(a.policy != other_zone.policy);
    CHECK(a.config.size() == 16);

    const std::string hashed = meridian::server::hashed_config_text(tsig_config(secret_a, "x"));
    CHECK(hashed.find(secret_a) == std::string::npos);
    CHECK(hashed.find("transfer-key") != std::string::npos);  // only the secret goes
}
