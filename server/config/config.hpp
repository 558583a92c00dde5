// The TOML configuration: its schema, its validation with file:line diagnostics, and the
// building of the first Snapshot from it.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "geoip/database.hpp"
#include "geoip/nets.hpp"
#include "geoip/network.hpp"
#include "geoip/policy.hpp"
#include "server/config/toml_reader.hpp"
#include "server/config/tsig_config.hpp"
#include "zones/diagnostic.hpp"
#include "zones/snapshot.hpp"

namespace meridian::server {

struct ListenAddress {
    std::string text;  // as written in the config, e.g. "[::1]:5300"
    geoip::Address address;
};

struct ServerSettings {
    std::vector<ListenAddress> listen;   // UDP and TCP on each
    unsigned workers = 0;                // 0 = one per CPU
    std::string identity;                // NSID, CHAOS id.server / hostname.bind
    std::optional<std::string> version;  // CHAOS version.bind; unset = REFUSED
    uint16_t udp_payload = 1232;         // 512..4096
    unsigned tcp_idle_timeout_ms = 10000;
    unsigned tcp_max_connections = 1024;  // per worker
    std::string pool;                     // this PoP's own pool, the answer of "local" geo policies
    ConfigPlace pool_place;
    // A TCP query, once its first octet has come, must arrive whole within this.
    unsigned tcp_query_timeout_ms = 5000;
    // Per worker and client (an IPv4 address or an IPv6 /64); 0 = no cap; unset: a quarter
    // of tcp_max_connections.
    std::optional<unsigned> tcp_max_connections_per_client;
    // Where secondary zones keep their copies when their `file` is left out: the folder the
    // systemd unit makes writable (StateDirectory=meridian; ProtectSystem=strict makes the
    // rest, the config folder included, read-only).
    std::filesystem::path state_directory = "/var/lib/meridian";
};

// A zone's limits: beyond them a transfer is refused and the previous version kept, and a
// zone file does not load. A primary is outside input; without a bound, a broken or hostile
// one could stream records until memory runs out. Deliberately not unlimited, unlike Knot's
// zone-max-size: 10 million records is about 1 GB here, above the zones a PoP serves (bench/
// loads 1.8 million unsigned; the same 1M names signed with NSEC3 are 5.6 million records
// with their RRSIGs, about 700 MB as AXFR messages).
inline constexpr uint64_t kDefaultMaxZoneRecords = 10'000'000;
inline constexpr uint64_t kDefaultMaxTransferBytes = 1024ull << 20;

struct ZoneEntry {
    std::filesystem::path file;  // resolved against the config file's folder
    std::string origin;          // may be empty
    ConfigPlace place;           // where the [[zone]] table starts, for diagnostics
    // Transfers out: allow_transfer, notify, ixfr_history (transfer_config.hpp). The history
    // itself is left empty here; reloads fill it in.
    zones::ZoneTransferPolicy transfer;
    std::vector<std::pair<std::string, ConfigPlace>> transfer_key_places;  // keys it names
    // A secondary zone: transferred from these primaries (tried in order), kept in `file`
    // (by default in the state directory: transfer_config.hpp).
    std::vector<ListenAddress> primaries;
    std::string tsig;  // the [[tsig]] key that signs transfers and NOTIFY; empty: none
    ConfigPlace tsig_place;
    // Limits (transfer_config.hpp): records in the zone, octets of one transfer in.
    uint64_t max_zone_records = kDefaultMaxZoneRecords;
    uint64_t max_transfer_bytes = kDefaultMaxTransferBytes;
    ConfigPlace max_zone_records_place;  // where it was set; unset: the [[zone]] table's place

    bool is_secondary() const { return !primaries.empty(); }
};

// [geoip]: where client locations come from and whose ECS option counts.
struct GeoipSettings {
    std::optional<std::filesystem::path> database;
    ConfigPlace database_place;
    geoip::LocationPaths paths;
    bool ecs = true;                      // a valid ECS option decides (RFC 7871)
    std::vector<geoip::Prefix> ecs_from;  // empty: every resolver's ECS counts
    std::vector<geoip::Net> nets;         // [[geoip.nets]], one entry per network
    std::vector<ConfigPlace> net_places;  // where each net was written
};

// [[pool]] check = { ... }: how the main thread tells whether a pool's service is up. Every
// address of the pool is probed each interval; see server/control/pool_check.hpp.
struct PoolCheck {
    enum class Type : uint8_t { tcp, http };
    Type type = Type::tcp;
    uint16_t port = 0;
    unsigned interval_ms = 10000;
    unsigned timeout_ms = 2000;  // at most interval_ms
    unsigned rise = 2;           // passed rounds in a row before a pool is up
    unsigned fall = 3;           // failed rounds in a row before it is down
    unsigned hold_down_ms = 0;   // after a change, the least time before the opposite one
    std::string path = "/";      // http: the request's path
    std::string host;            // http: the Host header; empty = the address probed
    unsigned expect = 200;       // http: the status that passes
    ConfigPlace place;

    bool operator==(const PoolCheck&) const = default;
};

// [[pool]]: one datacenter's service addresses.
struct PoolEntry {
    geoip::Pool pool;
    std::vector<std::string> ipv4;  // 4-byte wire addresses
    std::vector<std::string> ipv6;  // 16-byte wire addresses
    std::optional<PoolCheck> check;
    ConfigPlace place;
};

// [[geo]]: a steering policy bound to one owner name.
struct GeoEntry {
    geoip::Policy policy;         // policy.name is the owner name as written
    std::optional<uint32_t> ttl;  // unset: the zone's address TTL at the name, else 60
    ConfigPlace place;
};

// [control]: how operators and the BGP speaker's health check reach this server. Without the
// table there is no HTTP endpoint, no control socket, no self-check, and SIGTERM stops at once.
struct ControlSettings {
    bool is_enabled = false;                                      // a [control] table is present
    std::optional<ListenAddress> http;                            // /health, /ready, /metrics
    std::filesystem::path socket = "/run/meridian/control.sock";  // empty: no `meridian ctl`
    std::optional<std::filesystem::path> state;  // where a manual drain is remembered
    unsigned drain_seconds = 5;  // on SIGTERM: /health 503 at once, answer this long, then exit
    unsigned check_interval_ms = 1000;  // between self-queries through the real UDP sockets
    unsigned rise = 2;                  // consecutive answered self-queries before /ready turns 200
    unsigned fall = 3;                  // consecutive unanswered ones before it turns 503 again
    // RFC 4786 §4.4.4: after readiness changes, the least time before it may change back, so
    // the route is not withdrawn and announced again every few seconds.
    unsigned hold_down_ms = 10000;
};

struct Config {
    std::filesystem::path path;                // the first (base) file
    std::vector<std::filesystem::path> files;  // every --config file, in the order merged
    // Hex digests of the merged document (config_hash), and of everything but [server] and
    // [control] (policy_hash): the zones, GeoIP settings, pools and policies every PoP of a
    // fleet should share. Two PoPs with different policy hashes serve different steering.
    std::string config_hash;
    std::string policy_hash;
    ServerSettings server;
    ControlSettings control;
    std::vector<ZoneEntry> zones;
    GeoipSettings geoip;
    std::vector<PoolEntry> pools;
    std::vector<GeoEntry> geo;
    std::vector<TsigKeyEntry> tsig_keys;  // [[tsig]]

    // The [[tsig]] keys, for verifying and signing transfers and NOTIFY.
    tsig::Keyring keyring() const {
        tsig::Keyring result;
        for (const auto& entry : tsig_keys) result.add(entry.key);
        return result;
    }

    std::vector<geoip::Pool> geoip_pools() const {
        std::vector<geoip::Pool> result;
        for (const auto& entry : pools) result.push_back(entry.pool);
        return result;
    }
};

// Parses "192.0.2.1:53" or "[2001:db8::1]:53" (numeric addresses only, port 1..65535); with
// a `default_port`, an address alone too. Returns nullopt on anything else; no name
// resolution, so a config never depends on DNS.
std::optional<ListenAddress> parse_listen_address(std::string_view text, uint16_t default_port = 0);

// Parses the files, merges them (later files override; see config_merge.hpp) and validates
// the result. Unknown keys and wrong types are errors naming the file, the key and its line.
// Returns nullopt when any error was found (all of them are in `diagnostics`).
std::optional<Config> load_config(const std::vector<std::filesystem::path>& paths,
                                  Diagnostics& diagnostics);
std::optional<Config> load_config(const std::filesystem::path& path, Diagnostics& diagnostics);

// The worker count actually used: `workers`, or one per CPU when it is 0.
unsigned effective_workers(const ServerSettings& settings);

}  // namespace meridian::server
