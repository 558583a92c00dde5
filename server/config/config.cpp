// Reading meridian.toml into a Config (every problem reported with file:line, all of them,
// not only the first) and building the first Snapshot from it.
#include "server/config/config.hpp"

#include <toml++/toml.h>
#include <algorithm>
#include <charconv>
#include <cstring>
#include <thread>

#include "server/config/config_merge.hpp"
#include "server/config/control_config.hpp"
#include "server/config/geo_config.hpp"
#include "server/config/toml_reader.hpp"
#include "server/config/transfer_config.hpp"
#include "server/config/tsig_config.hpp"
#include "wire/name.hpp"

namespace meridian::server {

namespace {

// Walks one parsed document and collects every problem instead of stopping at the first.
class ConfigReader {
  public:
    explicit ConfigReader(TomlReader& reader) : reader_(reader) {}

    void read(const toml::table& root, Config& config) {
        bool has_server = false;
        for (auto&& [key, node] : root) {
            const std::string_view name = key.str();
            if (name == "server") {
                has_server = true;
                if (const auto* table = node.as_table())
                    read_server(*table, config.server);
                else
                    reader_.error(place_of(key.source()), "'server' must be a table: [server]");
            } else if (name == "zone") {
                read_zones(key, node, config.zones);
            } else if (name == "geoip") {
                read_geoip_table(reader_, key, node, config.geoip);
            } else if (name == "pool") {
                read_pool_tables(reader_, key, node, config.pools);
            } else if (name == "geo") {
                read_geo_tables(reader_, key, node, config.geo);
            } else if (name == "control") {
                read_control_table(reader_, key, node, config.control);
            } else if (name == "tsig") {
                read_tsig_tables(reader_, key, node, config.tsig_keys);
            } else {
                // Refusing unknown tables keeps a misspelt config from silently serving.
                reader_.error(place_of(key.source()),
                              std::string("unknown table '").append(name) + "'");
            }
        }
        if (!has_server) reader_.error({}, "missing [server] table");
        // After the loop: [[tsig]] may come after [[zone]], in this file or a later one.
        const tsig::Keyring keyring = config.keyring();
        for (const auto& zone : config.zones)
            if (!zone.tsig.empty() && !keyring.find(zone.tsig))
                reader_.error(zone.tsig_place,
                              "unknown TSIG key '" + zone.tsig + "' (no [[tsig]] with that name)");
        if (config.zones.empty()) reader_.warn({}, "no [[zone]] configured");
        check_transfer_keys(reader_, config);
        place_secondary_copies(config);
    }

  private:
    void read_listen(const toml::key& key, const toml::node& node, ServerSettings& server) {
        const auto* array = node.as_array();
        if (!array) {
            reader_.error(place_of(node.source()),
                          "'listen' must be an array of \"address:port\" strings");
            return;
        }
        for (const auto& element : *array) {
            auto text = reader_.read_string(key, element);
            if (!text) continue;
            auto address = parse_listen_address(*text);
            if (!address) {
                reader_.error(place_of(element.source()),
                              "bad listen address '" + *text +
                                  "' (expected \"192.0.2.1:53\" or \"[2001:db8::1]:53\")");
                continue;
            }
            // With SO_REUSEPORT a second bind to the same address would succeed and split
            // the traffic between two listeners we believe distinct; refuse it here.
            for (const auto& other : server.listen)
                if (other.address == address->address)
                    reader_.error(place_of(element.source()),
                                  "duplicate listen address '" + *text + "'");
            server.listen.push_back(std::move(*address));
        }
        if (array->empty()) reader_.error(place_of(node.source()), "'listen' must not be empty");
    }

    void read_server(const toml::table& table, ServerSettings& server) {
        bool has_listen = false;
        for (auto&& [key, node] : table) {
            const std::string_view name = key.str();
            if (name == "listen") {
                has_listen = true;
                read_listen(key, node, server);
            } else if (name == "workers") {
                if (auto v = reader_.read_integer(key, node, 0, 1024)) server.workers = *v;
            } else if (name == "identity") {
                if (auto v = reader_.read_string(key, node)) server.identity = *v;
            } else if (name == "version") {
                if (auto v = reader_.read_string(key, node)) server.version = *v;
            } else if (name == "udp_payload") {
                // RFC 6891 §6.2.5: below 512 is treated as 512; 4096 is the usual ceiling and
                // 1232 (DNS Flag Day 2020) avoids IP fragmentation.
                if (auto v = reader_.read_integer(key, node, 512, 4096)) server.udp_payload = *v;
            } else if (name == "tcp_idle_timeout") {
                // RFC 7766 §6.2.3: a server may close idle connections; seconds in the file.
                if (auto v = reader_.read_integer(key, node, 1, 3600))
                    server.tcp_idle_timeout_ms = *v * 1000;
            } else if (name == "tcp_max_connections") {
                if (auto v = reader_.read_integer(key, node, 1, 1000000))
                    server.tcp_max_connections = *v;
            } else if (name == "tcp_query_timeout") {
                // Seconds a query may take to arrive once its first octet has (Knot's
                // tcp-io-timeout): slowloris clients cannot hold a connection by trickling.
                if (auto v = reader_.read_integer(key, node, 1, 3600))
                    server.tcp_query_timeout_ms = *v * 1000;
            } else if (name == "tcp_max_connections_per_client") {
                // Per worker, per IPv4 address or IPv6 /64; 0 turns the cap off.
                if (auto v = reader_.read_integer(key, node, 0, 1000000))
                    server.tcp_max_connections_per_client = *v;
            } else if (name == "pool") {
                server.pool_place = place_of(node.source());
                if (auto v = reader_.read_string(key, node)) server.pool = *v;
            } else if (name == "state_directory") {
                if (auto v = reader_.read_path(key, node)) server.state_directory = *v;
            } else {
                reader_.unknown_key(key, "[server]");
            }
        }
        if (!has_listen) reader_.error(place_of(table.source()), "missing 'listen' in [server]");
    }

    void read_zones(const toml::key& key, const toml::node& node, std::vector<ZoneEntry>& zones) {
        const auto* array = node.as_array();
        if (!array || !array->is_array_of_tables()) {
            reader_.error(place_of(key.source()), "'zone' must be an array of tables: [[zone]]");
            return;
        }
        for (const auto& element : *array) {
            const auto& table = *element.as_table();
            ZoneEntry entry;
            entry.place = place_of(table.source());
            bool has_file = false;
            for (auto&& [zone_key, zone_node] : table) {
                const std::string_view name = zone_key.str();
                if (name == "file") {
                    has_file = true;
                    if (auto v = reader_.read_path(zone_key, zone_node)) entry.file = *v;
                } else if (name == "origin") {
                    if (auto v = reader_.read_string(zone_key, zone_node)) {
                        wire::Name parsed;
                        if (wire::from_text(*v, parsed))
                            entry.origin = *v;
                        else
                            reader_.error(place_of(zone_node.source()),
                                          "bad zone origin '" + *v + "'");
                    }
                } else if (read_zone_transfer_key(reader_, zone_key, zone_node, entry)) {
                    // allow_transfer, notify, ixfr_history
                } else if (name == "primaries") {
                    read_primaries(zone_key, zone_node, entry);
                } else if (name == "tsig") {
                    entry.tsig_place = place_of(zone_node.source());
                    if (auto v = reader_.read_string(zone_key, zone_node)) entry.tsig = *v;
                } else {
                    reader_.unknown_key(zone_key, "[[zone]]");
                }
            }
            // A secondary zone without one keeps its copy in the state directory.
            if (!has_file && !entry.is_secondary())
                reader_.error(entry.place, "missing 'file' in [[zone]]");
            if (entry.is_secondary() && entry.origin.empty())
                reader_.error(entry.place,
                              "missing 'origin' in [[zone]]: a secondary zone names the zone it "
                              "transfers from its primaries");
            if (!entry.tsig.empty() && !entry.is_secondary())
                reader_.error(entry.tsig_place,
                              "'tsig' in [[zone]] signs transfers from 'primaries', and this "
                              "zone has none");
            zones.push_back(std::move(entry));
        }
    }

    // "192.0.2.1:53", "[2001:db8::1]:53", or an address alone for port 53.
    void read_primaries(const toml::key& key, const toml::node& node, ZoneEntry& entry) {
        const auto* array = node.as_array();
        if (!array) {
            reader_.error(place_of(node.source()),
                          "'primaries' must be an array of \"address:port\" strings");
            return;
        }
        if (array->empty())
            reader_.error(place_of(node.source()),
                          "'primaries' must not be empty (leave it out for a primary zone)");
        for (const auto& element : *array) {
            auto text = reader_.read_string(key, element);
            if (!text) continue;
            auto address = parse_listen_address(*text, 53);
            if (!address) {
                reader_.error(place_of(element.source()),
                              "bad primary address '" + *text +
                                  "' (expected \"192.0.2.1:53\", \"[2001:db8::1]:53\" or an "
                                  "address alone for port 53)");
                continue;
            }
            entry.primaries.push_back(std::move(*address));
        }
    }

    TomlReader& reader_;
};

}  // namespace

std::optional<ListenAddress> parse_listen_address(std::string_view text, uint16_t default_port) {
    auto address = geoip::parse_address_and_port(text, default_port);
    if (!address) return std::nullopt;
    return ListenAddress{std::string(text), *address};
}

std::optional<Config> load_config(const std::vector<std::filesystem::path>& paths,
                                  Diagnostics& diagnostics) {
    const size_t first_new = diagnostics.size();
    std::optional<toml::table> root = read_config_files(paths, diagnostics);
    if (!root) return std::nullopt;
    Config config;
    config.path = paths.front();
    config.files = paths;
    const ConfigHashes hashes = hash_config(*root);
    config.config_hash = hashes.config;
    config.policy_hash = hashes.policy;
    TomlReader reader(paths.front(), diagnostics);
    ConfigReader(reader).read(*root, config);
    // toml++ visits keys in sorted order; report them in file order, as an editor shows them,
    // and the files in the order they were given.
    const auto file_rank = [&](const Diagnostic& d) {
        for (size_t i = 0; i < paths.size(); ++i)
            if (paths[i].string() == d.file) return i;
        return size_t{0};
    };
    std::stable_sort(diagnostics.begin() + first_new, diagnostics.end(),
                     [&](const Diagnostic& a, const Diagnostic& b) {
                         const size_t rank_a = file_rank(a), rank_b = file_rank(b);
                         return rank_a != rank_b ? rank_a < rank_b : a.line < b.line;
                     });
    for (size_t i = first_new; i < diagnostics.size(); ++i)
        if (diagnostics[i].is_error) return std::nullopt;
    return config;
}

std::optional<Config> load_config(const std::filesystem::path& path, Diagnostics& diagnostics) {
    return load_config(std::vector<std::filesystem::path>{path}, diagnostics);
}

unsigned effective_workers(const ServerSettings& settings) {
    if (settings.workers > 0) return settings.workers;
    const unsigned cpus = std::thread::hardware_concurrency();
    return cpus > 0 ? cpus : 1;
}

}  // namespace meridian::server
