// The command line: `meridian serve`, `meridian check`, `--version`, `--help`.
#include <toml++/toml.h>
#include <uv.h>
#include <cstdio>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>

#include "geoip/geoip.hpp"
#include "server/config.hpp"
#include "server/explain_command.hpp"
#include "server/reload.hpp"
#include "server/serve.hpp"
#include "server/snapshot_builder.hpp"
#include "server/snapshot_slot.hpp"
#include "version.hpp"

#include "zones/ldns_include.hpp"

namespace {

using namespace meridian;

constexpr const char* kUsage =
    "usage: meridian serve --config FILE    serve the zones the config names\n"
    "       meridian check --config FILE    check the config and every zone, then exit\n"
    "       meridian explain --config FILE NAME [TYPE] [--client IP] [--ecs PREFIX]\n"
    "                                       show how a query would be answered, and why\n"
    "       meridian --version\n"
    "       meridian --help\n";

void print_diagnostics(const Diagnostics& diagnostics) {
    for (const auto& d : diagnostics) std::fprintf(stderr, "%s\n", d.to_string().c_str());
}

// Loads the config and every zone, printing each problem. Null when any is an error.
std::unique_ptr<zones::Snapshot> load_everything(const std::string& path,
                                                 std::optional<server::Config>& config) {
    Diagnostics diagnostics;
    config = server::load_config(path, diagnostics);
    std::unique_ptr<zones::Snapshot> snapshot;
    if (config) snapshot = server::build_snapshot(*config, diagnostics);
    print_diagnostics(diagnostics);
    if (has_errors(diagnostics)) snapshot.reset();
    return snapshot;
}

int check(const std::string& path) {
    std::optional<server::Config> config;
    auto snapshot = load_everything(path, config);
    if (!snapshot) {
        std::fprintf(stderr, "meridian: %s has errors\n", path.c_str());
        return 1;
    }
    size_t records = 0;
    for (const auto& zone : snapshot->catalog.zones()) records += zone->record_count();
    const size_t zones = snapshot->catalog.size();
    const size_t policies = snapshot->steering.size();
    std::printf("ok: %zu %s, %zu %s, %zu geo %s\n", zones, zones == 1 ? "zone" : "zones", records,
                records == 1 ? "record" : "records", policies,
                policies == 1 ? "policy" : "policies");
    return 0;
}

int serve(const std::string& path) {
    server::SnapshotLoader loader(path);
    auto loaded = loader.load();
    print_diagnostics(loaded.diagnostics);
    if (!loaded.snapshot) {
        std::fprintf(stderr, "meridian: not starting: %s has errors\n", path.c_str());
        return 1;
    }
    const server::Config& config = *loaded.config;
    server::SnapshotSlot slot(std::move(loaded.snapshot), server::effective_workers(config.server));
    return server::serve(config, slot, [&] { server::reload(loader, slot, config); });
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
    if (command != "serve" && command != "check") {
        if (!command.empty()) std::fprintf(stderr, "meridian: unknown command '%s'\n", argv[1]);
        std::fputs(kUsage, stderr);
        return 2;
    }
    std::optional<std::string> config_path;
    for (int i = 2; i < argc; ++i) {
        const std::string_view argument = argv[i];
        if ((argument == "--config" || argument == "-c") && i + 1 < argc) {
            config_path = argv[++i];
        } else if (argument.starts_with("--config=")) {
            config_path = std::string(argument.substr(std::strlen("--config=")));
        } else {
            std::fprintf(stderr, "meridian: unexpected argument '%s'\n", argv[i]);
            std::fputs(kUsage, stderr);
            return 2;
        }
    }
    if (!config_path) {
        std::fprintf(stderr, "meridian: %s needs --config FILE\n", argv[1]);
        std::fputs(kUsage, stderr);
        return 2;
    }
    return command == "check" ? check(*config_path) : serve(*config_path);
}
