// The TOML configuration: its schema, its validation with file:line diagnostics, and the
// building of the first Snapshot from it.
#pragma once

#include <sys/socket.h>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "zones/diagnostic.hpp"
#include "zones/snapshot.hpp"

namespace meridian::server {

struct ListenAddress {
    std::string text;  // as written in the config, e.g. "[::1]:5300"
    sockaddr_storage address{};
    socklen_t length = 0;
};

struct ServerSettings {
    std::vector<ListenAddress> listen;   // UDP and TCP on each
    unsigned workers = 0;                // 0 = one per CPU
    std::string identity;                // NSID, CHAOS id.server / hostname.bind
    std::optional<std::string> version;  // CHAOS version.bind; unset = REFUSED
    uint16_t udp_payload = 1232;         // 512..4096
    unsigned tcp_idle_timeout_ms = 10000;
    unsigned tcp_max_connections = 1024;  // per worker
};

struct ZoneEntry {
    std::filesystem::path file;  // resolved against the config file's folder
    std::string origin;          // may be empty
    int line = 0;                // where the [[zone]] table starts, for diagnostics
};

struct Config {
    std::filesystem::path path;
    ServerSettings server;
    std::vector<ZoneEntry> zones;
};

// Parses "192.0.2.1:53" or "[2001:db8::1]:53" (numeric addresses only, port 1..65535).
// Returns nullopt on anything else; no name resolution, so a config never depends on DNS.
std::optional<ListenAddress> parse_listen_address(std::string_view text);

// Parses and validates the file. Unknown keys and wrong types are errors naming the key and
// its line. Returns nullopt when any error was found (all of them are in `diagnostics`).
std::optional<Config> load_config(const std::filesystem::path& path, Diagnostics& diagnostics);

// Loads every zone the config names. Returns null when any zone has an error.
std::unique_ptr<zones::Snapshot> build_snapshot(const Config& config, Diagnostics& diagnostics);

// The worker count actually used: `workers`, or one per CPU when it is 0.
unsigned effective_workers(const ServerSettings& settings);

}  // namespace meridian::server
