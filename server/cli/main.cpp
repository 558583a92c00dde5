// The command line: `meridian serve`, `check`, `explain`, `ctl`, `--version`, `--help`.
#include <toml++/toml.h>
#include <uv.h>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "geoip/geoip.hpp"
#include "server/cli/ctl_command.hpp"
#include "server/cli/explain_command.hpp"
#include "server/cli/serve.hpp"
#include "server/config/config.hpp"
#include "server/config/config_merge.hpp"
#include "server/reload/reload.hpp"
#include "server/reload/snapshot_builder.hpp"
#include "server/snapshot_slot.hpp"
#include "version.hpp"

#include "zones/ldns.hpp"

namespace {

using namespace meridian;

constexpr const char* kUsage =
    "usage: meridian serve --config FILE...   serve the zones the config names\n"
    "       meridian check --config FILE... [--print]\n"
    "                                         check the config and every zone, then exit;\n"
    "                                         --print shows the merged config\n"
    "       meridian explain --config FILE... NAME [TYPE] [--client IP] [--ecs PREFIX]\n"
    "                                         show how a query would be answered, and why\n"
    "       meridian ctl [--socket PATH | --config FILE...] COMMAND\n"
    "                                         control a running server: drain, undrain,\n"
    "                                         status, reload, pools, pool NAME down|up|auto\n"
    "       meridian --version\n"
    "       meridian --help\n"
    "Several --config files are merged in order: later files override keys, tables merge,\n"
    "and [[zone]], [[pool]], [[geo]] and [[geoip.nets]] entries add up.\n";

using ConfigPaths = std::vector<std::filesystem::path>;

// "base.toml + pop.toml", for messages about the config as a whole.
std::string describe(const ConfigPaths& paths) {
    std::string text;
    for (const auto& path : paths) text += (text.empty() ? "" : " + ") + path.string();
    return text;
}

void print_diagnostics(const Diagnostics& diagnostics) {
    for (const auto& d : diagnostics) std::fprintf(stderr, "%s\n", d.to_string().c_str());
}

// Loads the config and every zone, printing each problem. Null when any is an error.
std::unique_ptr<zones::Snapshot> load_everything(const ConfigPaths& paths,
                                                 std::optional<server::Config>& config) {
    Diagnostics diagnostics;
    config = server::load_config(paths, diagnostics);
    std::unique_ptr<zones::Snapshot> snapshot;
    // check verifies every RRSIG of signed zones, as ldns-verify-zone does.
    server::BuildContext context;
    context.verify_signatures = true;
    if (config) snapshot = server::build_snapshot(*config, diagnostics, &context);
    print_diagnostics(diagnostics);
    if (has_errors(diagnostics)) snapshot.reset();
    return snapshot;
}

// The merged document on stdout, valid TOML, so `check --print > merged.toml` keeps it.
// Printed even when the config has errors: seeing what the merge produced explains them.
void print_merged_config(const ConfigPaths& paths) {
    Diagnostics ignored;  // already reported by the load
    const auto merged = server::read_config_files(paths, ignored);
    if (!merged) return;
    std::printf("# merged from %s\n", describe(paths).c_str());
    std::fputs(server::to_toml_text(*merged).c_str(), stdout);
}

int check(const ConfigPaths& paths, bool print_merged) {
    std::optional<server::Config> config;
    auto snapshot = load_everything(paths, config);
    if (print_merged) print_merged_config(paths);
    if (!snapshot) {
        std::fprintf(stderr, "meridian: %s has errors\n", describe(paths).c_str());
        return 1;
    }
    size_t records = 0;
    for (const auto& zone : snapshot->catalog.zones()) records += zone->record_count();
    const size_t zones = snapshot->catalog.size();
    const size_t policies = snapshot->steering.size();
    // With --print, stdout holds the TOML alone and the verdict goes to stderr.
    std::fprintf(print_merged ? stderr : stdout, "ok: %zu %s, %zu %s, %zu geo %s\n", zones,
                 zones == 1 ? "zone" : "zones", records, records == 1 ? "record" : "records",
                 policies, policies == 1 ? "policy" : "policies");
    return 0;
}

int serve(const ConfigPaths& paths) {
    server::SnapshotLoader loader(paths);
    auto loaded = loader.load();
    print_diagnostics(loaded.diagnostics);
    if (!loaded.snapshot) {
        std::fprintf(stderr, "meridian: not starting: %s has errors\n", describe(paths).c_str());
        return 1;
    }
    const server::Config& config = *loaded.config;
    server::SnapshotSlot slot(std::move(loaded.snapshot), server::effective_workers(config.server));
    return server::serve(config, loader, slot);
}

void print_version() {
    std::printf("meridian %s (libuv %s, ldns %s, libmaxminddb %s, toml++ %d.%d.%d)\n", kVersion,
                uv_version_string(), ldns_version(), geoip::maxminddb_version(), TOML_LIB_MAJOR,
                TOML_LIB_MINOR, TOML_LIB_PATCH);
}

}  // namespace

int main(int argc, char** argv) {
    const std::string_view command = argc > 1 ? argv[1] : "";
    if (command == "--version" || command == "-V") {
        print_version();
        return 0;
    }
    if (command == "--help" || command == "-h") {
        std::fputs(kUsage, stdout);
        return 0;
    }
    if (command == "explain") return server::explain_command(argc - 2, argv + 2);
    if (command == "ctl") return server::ctl_command(argc - 2, argv + 2);
    if (command != "serve" && command != "check") {
        if (!command.empty()) std::fprintf(stderr, "meridian: unknown command '%s'\n", argv[1]);
        std::fputs(kUsage, stderr);
        return 2;
    }
    ConfigPaths config_paths;
    bool print_merged = false;
    for (int i = 2; i < argc; ++i) {
        const std::string_view argument = argv[i];
        if ((argument == "--config" || argument == "-c") && i + 1 < argc) {
            config_paths.emplace_back(argv[++i]);
        } else if (argument.starts_with("--config=")) {
            config_paths.emplace_back(std::string(argument.substr(std::strlen("--config="))));
        } else if (argument == "--print" && command == "check") {
            print_merged = true;
        } else {
            std::fprintf(stderr, "meridian: unexpected argument '%s'\n", argv[i]);
            std::fputs(kUsage, stderr);
            return 2;
        }
    }
    if (config_paths.empty()) {
        std::fprintf(stderr, "meridian: %s needs --config FILE\n", argv[1]);
        std::fputs(kUsage, stderr);
        return 2;
    }
    return command == "check" ? check(config_paths, print_merged) : serve(config_paths);
}
