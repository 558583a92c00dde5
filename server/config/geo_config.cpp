// Reading [geoip], [[geoip.nets]], [[pool]] and [[geo]]. Only the shape of each entry is
// checked here; whether pool names, owner names and coordinates fit together is checked
// when the snapshot is built, where the zones are known.
#include "server/config/geo_config.hpp"

#include <set>

namespace meridian::server {

namespace {

const toml::array* array_of_tables(TomlReader& reader, const toml::key& key, const toml::node& node,
                                   std::string_view form) {
    const auto* array = node.as_array();
    if (!array || !array->is_array_of_tables()) {
        reader.error(place_of(key.source()),
                     std::string("'").append(key.str()) +
                         std::string("' must be an array of tables: ").append(form));
        return nullptr;
    }
    return array;
}

// "subdivisions.0.iso_code" -> {"subdivisions", "0", "iso_code"}, as MMDB_aget_value takes it.
geoip::LookupPath split_path(const std::string& dotted) {
    geoip::LookupPath path;
    size_t start = 0;
    while (true) {
        const size_t dot = dotted.find('.', start);
        path.push_back(dotted.substr(start, dot - start));
        if (dot == std::string::npos) break;
        start = dot + 1;
    }
    return path;
}

void read_paths(TomlReader& reader, const toml::node& node, geoip::LocationPaths& paths) {
    const auto* table = node.as_table();
    if (!table) {
        reader.error(place_of(node.source()), "'paths' must be a table: [geoip.paths]");
        return;
    }
    for (auto&& [key, value] : *table) {
        const std::string_view name = key.str();
        std::vector<geoip::LookupPath>* field = name == "country"       ? &paths.country
                                                : name == "subdivision" ? &paths.subdivision
                                                : name == "continent"   ? &paths.continent
                                                : name == "latitude"    ? &paths.latitude
                                                : name == "longitude"   ? &paths.longitude
                                                                        : nullptr;
        if (!field) {
            reader.unknown_key(key, "[geoip.paths]");
            continue;
        }
        auto list = reader.read_strings(key, value);
        if (!list) continue;
        field->clear();
        for (const auto& dotted : *list) {
            const auto path = split_path(dotted);
            bool valid = true;
            for (const auto& part : path) valid = valid && !part.empty();
            if (valid)
                field->push_back(path);
            else
                reader.error(
                    place_of(value.source()),
                    "bad lookup path '" + dotted + "' (write it like \"country.iso_code\")");
        }
    }
}

void read_net(TomlReader& reader, const toml::table& table, GeoipSettings& geoip) {
    const ConfigPlace place = place_of(table.source());
    std::vector<geoip::Prefix> networks;
    geoip::Net net;
    bool has_networks = false;
    bool has_location = false;
    for (auto&& [key, value] : table) {
        const std::string_view name = key.str();
        if (name == "networks") {
            has_networks = true;
            networks = reader.read_networks(key, value);
        } else if (name == "pools") {
            if (auto list = reader.read_strings(key, value)) net.pools = std::move(*list);
            if (net.pools.empty())
                reader.error(place_of(value.source()), "'pools' must not be empty");
        } else if (name == "country" || name == "subdivision" || name == "continent") {
            has_location = true;
            // Codes are checked as written; complete_location() upper-cases them below.
            auto code = reader.read_string(key, value);
            if (!code) continue;
            if (name == "country") {
                if (code->size() != 2 || geoip::continent_of_country(*code).empty())
                    reader.error(place_of(value.source()),
                                 "'" + *code + "' is not an ISO 3166-1 alpha-2 country code");
                net.location.country = *code;
            } else if (name == "subdivision") {
                if (code->size() < 4 || (*code)[2] != '-')
                    reader.error(
                        place_of(value.source()),
                        "'" + *code + "' is not an ISO 3166-2 subdivision (like \"US-CA\")");
                net.location.subdivision = *code;
            } else {
                net.location.continent = *code;
            }
        } else if (name == "location") {
            has_location = true;
            net.location.coordinates = reader.read_coordinates(key, value);
        } else {
            reader.unknown_key(key, "[[geoip.nets]]");
        }
    }
    if (!has_networks) reader.error(place, "missing 'networks' in [[geoip.nets]]");
    if (has_location == !net.pools.empty()) {
        reader.error(place,
                     "a [[geoip.nets]] entry needs either 'pools' or a location "
                     "('country', 'subdivision', 'continent', 'location'), not both");
        return;
    }
    // A subdivision names its country ("US-CA" is in "US"); say so for the map's sake.
    if (!net.location.subdivision.empty() && net.location.country.empty())
        net.location.country = net.location.subdivision.substr(0, 2);
    geoip::complete_location(net.location);
    for (const auto& network : networks) {
        net.network = network;
        geoip.nets.push_back(net);
        geoip.net_places.push_back(place);
    }
}

// check = { type = "tcp" | "http", port = 443, interval = 10, timeout = 2, rise = 2,
// fall = 3, hold_down = 0, path = "/", host = "...", expect = 200 }, inline or [pool.check].
std::optional<PoolCheck> read_pool_check(TomlReader& reader, const toml::node& node) {
    const auto* table = node.as_table();
    if (!table) {
        reader.error(place_of(node.source()),
                     "'check' must be a table like { type = \"tcp\", port = 443 }");
        return std::nullopt;
    }
    PoolCheck check;
    check.place = place_of(node.source());
    bool has_type = false, has_port = false, has_http_key = false;
    const size_t errors_before = reader.error_count();
    for (auto&& [key, value] : *table) {
        const std::string_view name = key.str();
        if (name == "type") {
            auto type = reader.read_string(key, value);
            if (!type) continue;
            has_type = true;
            if (*type == "tcp")
                check.type = PoolCheck::Type::tcp;
            else if (*type == "http")
                check.type = PoolCheck::Type::http;
            else
                reader.error(place_of(value.source()),
                             "check type '" + *type + "' is not \"tcp\" or \"http\"");
        } else if (name == "port") {
            has_port = true;
            if (auto v = reader.read_integer(key, value, 1, 65535))
                check.port = static_cast<uint16_t>(*v);
        } else if (name == "interval") {
            if (auto v = reader.read_milliseconds(key, value, 0.05, 3600)) check.interval_ms = *v;
        } else if (name == "timeout") {
            if (auto v = reader.read_milliseconds(key, value, 0.01, 600)) check.timeout_ms = *v;
        } else if (name == "rise") {
            if (auto v = reader.read_integer(key, value, 1, 100)) check.rise = *v;
        } else if (name == "fall") {
            if (auto v = reader.read_integer(key, value, 1, 100)) check.fall = *v;
        } else if (name == "hold_down") {
            if (auto v = reader.read_milliseconds(key, value, 0, 3600)) check.hold_down_ms = *v;
        } else if (name == "path") {
            has_http_key = true;
            auto path = reader.read_string(key, value);
            if (!path) continue;
            // The path goes into the request line as written: no spaces or control bytes.
            bool is_valid = path->starts_with("/");
            for (const char c : *path) is_valid = is_valid && c > ' ' && c != 0x7F;
            if (is_valid)
                check.path = *path;
            else
                reader.error(place_of(value.source()),
                             "check path '" + *path + "' must start with / and hold no spaces");
        } else if (name == "host") {
            has_http_key = true;
            auto host = reader.read_string(key, value);
            if (!host) continue;
            bool is_valid = !host->empty();
            for (const char c : *host) is_valid = is_valid && c > ' ' && c != 0x7F;
            if (is_valid)
                check.host = *host;
            else
                reader.error(place_of(value.source()),
                             "check host '" + *host + "' is not a host name");
        } else if (name == "expect") {
            has_http_key = true;
            if (auto v = reader.read_integer(key, value, 100, 599)) check.expect = *v;
        } else {
            reader.unknown_key(key, "[[pool]] check");
        }
    }
    if (!has_type) reader.error(check.place, "missing 'type' in check (\"tcp\" or \"http\")");
    if (!has_port) reader.error(check.place, "missing 'port' in check");
    if (has_type && check.type == PoolCheck::Type::tcp && has_http_key)
        reader.error(check.place, "'path', 'host' and 'expect' only apply to type = \"http\"");
    if (check.timeout_ms > check.interval_ms)
        reader.error(check.place,
                     std::string("check timeout (").append(std::to_string(check.timeout_ms)) +
                         std::string(" ms) is longer than its interval (")
                             .append(std::to_string(check.interval_ms)) +
                         " ms)");
    if (reader.error_count() != errors_before) return std::nullopt;
    return check;
}

}  // namespace

void read_geoip_table(TomlReader& reader, const toml::key& key, const toml::node& node,
                      GeoipSettings& geoip) {
    const auto* table = node.as_table();
    if (!table) {
        reader.error(place_of(key.source()), "'geoip' must be a table: [geoip]");
        return;
    }
    for (auto&& [field, value] : *table) {
        const std::string_view name = field.str();
        if (name == "database") {
            geoip.database_place = place_of(value.source());
            geoip.database = reader.read_path(field, value);
        } else if (name == "ecs") {
            if (auto v = reader.read_bool(field, value)) geoip.ecs = *v;
        } else if (name == "ecs_from") {
            geoip.ecs_from = reader.read_networks(field, value);
        } else if (name == "paths") {
            read_paths(reader, value, geoip.paths);
        } else if (name == "nets") {
            const auto* nets = array_of_tables(reader, field, value, "[[geoip.nets]]");
            if (!nets) continue;
            for (const auto& element : *nets) read_net(reader, *element.as_table(), geoip);
        } else {
            reader.unknown_key(field, "[geoip]");
        }
    }
}

void read_pool_tables(TomlReader& reader, const toml::key& key, const toml::node& node,
                      std::vector<PoolEntry>& pools) {
    const auto* array = array_of_tables(reader, key, node, "[[pool]]");
    if (!array) return;
    for (const auto& element : *array) {
        const auto& table = *element.as_table();
        PoolEntry entry;
        entry.place = place_of(table.source());
        bool has_addresses = false;
        for (auto&& [field, value] : table) {
            const std::string_view name = field.str();
            if (name == "name") {
                auto v = reader.read_string(field, value);
                if (!v) continue;
                // One word: `meridian ctl pool NAME down` and the forced-pools file split on
                // spaces.
                bool is_word = true;
                for (const char c : *v) is_word = is_word && c > ' ' && c != 0x7F;
                if (is_word)
                    entry.pool.name = *v;
                else
                    reader.error(place_of(value.source()),
                                 "pool name '" + *v + "' must be one word without spaces");
            } else if (name == "addresses") {
                has_addresses = true;
                const auto* list = value.as_array();
                if (!list) {
                    reader.error(place_of(value.source()),
                                 "'addresses' must be an array of IP addresses");
                    continue;
                }
                for (const auto& item : *list) {
                    auto text = reader.read_string(field, item);
                    if (!text) continue;
                    geoip::Family family;
                    uint8_t bytes[16];
                    const char* octets = reinterpret_cast<const char*>(bytes);
                    if (!geoip::parse_address_bytes(*text, family, bytes))
                        reader.error(place_of(item.source()),
                                     "'" + *text + "' is not an IPv4 or IPv6 address");
                    else if (family == geoip::Family::v4)
                        entry.ipv4.emplace_back(octets, 4);
                    else
                        entry.ipv6.emplace_back(octets, 16);
                }
            } else if (name == "location") {
                entry.pool.coordinates = reader.read_coordinates(field, value);
            } else if (name == "check") {
                entry.check = read_pool_check(reader, value);
            } else {
                reader.unknown_key(field, "[[pool]]");
            }
        }
        if (entry.pool.name.empty()) reader.error(entry.place, "missing 'name' in [[pool]]");
        if (!has_addresses) reader.error(entry.place, "missing 'addresses' in [[pool]]");
        for (const auto& other : pools)
            if (!entry.pool.name.empty() && other.pool.name == entry.pool.name)
                reader.error(entry.place, "pool '" + entry.pool.name + "' is already defined at " +
                                              other.place.to_string());
        pools.push_back(std::move(entry));
    }
}

namespace {

void read_map(TomlReader& reader, const toml::node& node, geoip::Policy& policy) {
    const auto* table = node.as_table();
    if (!table) {
        reader.error(place_of(node.source()), "'map' must be a table: [geo.map]");
        return;
    }
    for (auto&& [key, value] : *table) {
        const std::string_view level = key.str();
        if (level == "default") {
            if (auto list = reader.read_strings(key, value))
                policy.default_pools = std::move(*list);
            continue;
        }
        geoip::MapRule::Scope scope;
        if (level == "subdivision")
            scope = geoip::MapRule::Scope::subdivision;
        else if (level == "country")
            scope = geoip::MapRule::Scope::country;
        else if (level == "continent")
            scope = geoip::MapRule::Scope::continent;
        else {
            reader.error(
                place_of(key.source()),
                std::string("unknown key '").append(level) +
                    "' in [geo.map] (expected subdivision, country, continent or default)");
            continue;
        }
        const auto* rules = value.as_table();
        if (!rules) {
            reader.error(
                place_of(value.source()),
                std::string("'").append(level) + "' must be a table like { \"DE\" = [\"fra\"] }");
            continue;
        }
        for (auto&& [code, pools] : *rules) {
            auto list = reader.read_strings(code, pools);
            if (!list) continue;
            if (list->empty())
                reader.error(place_of(pools.source()),
                             std::string("'").append(code.str()) + "' lists no pools");
            policy.map.push_back({scope, std::string(code.str()), std::move(*list)});
        }
    }
}

}  // namespace

void read_geo_tables(TomlReader& reader, const toml::key& key, const toml::node& node,
                     std::vector<GeoEntry>& geo) {
    const auto* array = array_of_tables(reader, key, node, "[[geo]]");
    if (!array) return;
    for (const auto& element : *array) {
        const auto& table = *element.as_table();
        GeoEntry entry;
        entry.place = place_of(table.source());
        bool has_mode = false;  // and a valid one
        bool has_map = false;
        bool has_pools = false;
        for (auto&& [field, value] : table) {
            const std::string_view name = field.str();
            if (name == "name") {
                if (auto v = reader.read_string(field, value)) entry.policy.name = *v;
            } else if (name == "mode") {
                auto mode = reader.read_string(field, value);
                if (!mode) continue;
                has_mode = *mode == "map" || *mode == "nearest" || *mode == "local";
                if (*mode == "map")
                    entry.policy.mode = geoip::Policy::Mode::map;
                else if (*mode == "nearest")
                    entry.policy.mode = geoip::Policy::Mode::nearest;
                else if (*mode == "local")
                    entry.policy.mode = geoip::Policy::Mode::local;
                else
                    reader.error(place_of(value.source()), "mode '" + *mode +
                                                               "' is not one of \"map\", "
                                                               "\"nearest\", \"local\"");
            } else if (name == "ttl") {
                // RFC 2181 §8: TTLs are 31-bit.
                if (auto v = reader.read_integer(field, value, 0, 2147483647)) entry.ttl = *v;
            } else if (name == "map") {
                has_map = true;
                read_map(reader, value, entry.policy);
            } else if (name == "pools") {
                has_pools = true;
                if (auto list = reader.read_strings(field, value))
                    entry.policy.nearest_pools = std::move(*list);
            } else {
                reader.unknown_key(field, "[[geo]]");
            }
        }
        if (entry.policy.name.empty()) reader.error(entry.place, "missing 'name' in [[geo]]");
        if (!table.contains("mode")) reader.error(entry.place, "missing 'mode' in [[geo]]");
        if (!has_mode) continue;
        const auto mode = entry.policy.mode;
        if (mode == geoip::Policy::Mode::map && !has_map)
            reader.error(entry.place, "a \"map\" policy needs a [geo.map] table");
        if (has_map && mode != geoip::Policy::Mode::map)
            reader.error(entry.place, "[geo.map] only applies to mode = \"map\"");
        if (has_pools && mode != geoip::Policy::Mode::nearest)
            reader.error(entry.place, "'pools' only applies to mode = \"nearest\"");
        geo.push_back(std::move(entry));
    }
}

}  // namespace meridian::server
