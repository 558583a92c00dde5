// Reading allow_transfer, notify, ixfr_history and the zone limits; README.md "Transfers out"
// and "Secondary zones" explain them.
#include "server/config/transfer_config.hpp"

#include "server/transfer/tsig.hpp"
#include "wire/name.hpp"

namespace meridian::server {

namespace {

// An array of inline tables ([{...}, {...}]) or of [[zone.NAME]] tables; calls `read` on
// each table and reports anything else.
template <typename Read>
void for_each_table(TomlReader& reader, const toml::key& key, const toml::node& node, Read&& read) {
    const auto* array = node.as_array();
    if (!array) {
        reader.error(place_of(node.source()), std::string("'").append(key.str()) +
                                                  "' must be an array of tables: [{ ... }]");
        return;
    }
    for (const auto& element : *array) {
        if (const auto* table = element.as_table())
            read(*table);
        else
            reader.error(place_of(element.source()),
                         std::string("each entry of '").append(key.str()) +
                             "' must be a table: { address = ... }");
    }
}

// Reads `key = "..."` of an entry; returns the canonical name, and remembers where it was
// written so check_transfer_keys can point at it.
std::string read_key_name(TomlReader& reader, const toml::key& field, const toml::node& value,
                          ZoneEntry& entry) {
    auto text = reader.read_string(field, value);
    if (!text) return {};
    if (text->empty()) {
        reader.error(place_of(value.source()), "'key' must name a [[tsig]] key");
        return {};
    }
    std::string name = tsig::canonical_key_name(*text);
    entry.transfer_key_places.push_back({name, place_of(value.source())});
    return name;
}

}  // namespace

bool read_zone_transfer_key(TomlReader& reader, const toml::key& key, const toml::node& node,
                            ZoneEntry& entry) {
    const std::string_view name = key.str();
    if (name == "allow_transfer") {
        for_each_table(reader, key, node, [&](const toml::table& table) {
            zones::TransferAclEntry acl;
            bool has_address = false;
            for (auto&& [field, value] : table) {
                if (field.str() == "address") {
                    auto text = reader.read_string(field, value);
                    if (!text) continue;
                    std::string error;
                    auto prefix = geoip::parse_prefix(*text, error);
                    if (!prefix) {
                        reader.error(place_of(value.source()), error);
                        continue;
                    }
                    acl.network = *prefix;
                    has_address = true;
                } else if (field.str() == "key") {
                    acl.key = read_key_name(reader, field, value, entry);
                } else {
                    reader.unknown_key(field, "allow_transfer entry");
                }
            }
            if (!has_address)
                reader.error(place_of(table.source()),
                             "allow_transfer entry needs an 'address' (\"192.0.2.0/24\")");
            else
                entry.transfer.allow.push_back(std::move(acl));
        });
        return true;
    }
    if (name == "notify") {
        for_each_table(reader, key, node, [&](const toml::table& table) {
            zones::NotifyTarget target;
            bool has_address = false;
            for (auto&& [field, value] : table) {
                if (field.str() == "address") {
                    auto text = reader.read_string(field, value);
                    if (!text) continue;
                    auto address = text->empty() ? std::nullopt : parse_listen_address(*text, 53);
                    if (!address) {
                        reader.error(place_of(value.source()),
                                     "bad notify address '" + *text +
                                         "' (expected \"192.0.2.7:53\" or \"[2001:db8::7]:53\")");
                        continue;
                    }
                    target.address = address->address;
                    target.text = *text;
                    has_address = true;
                } else if (field.str() == "key") {
                    target.key = read_key_name(reader, field, value, entry);
                } else {
                    reader.unknown_key(field, "notify entry");
                }
            }
            if (!has_address)
                reader.error(place_of(table.source()),
                             "notify entry needs an 'address' (\"192.0.2.7:53\")");
            else
                entry.transfer.notify.push_back(std::move(target));
        });
        return true;
    }
    if (name == "ixfr_history") {
        if (auto v = reader.read_integer(key, node, 0, 1000)) entry.transfer.history_depth = *v;
        return true;
    }
    if (name == "max_zone_records") {
        entry.max_zone_records_place = place_of(node.source());
        // An SOA and an NS make the smallest zone; 2^32 records would not fit in memory.
        if (auto v = reader.read_integer(key, node, 2, int64_t{1} << 32))
            entry.max_zone_records = uint64_t(*v);
        return true;
    }
    if (name == "max_transfer_bytes") {
        // One message of 512 octets at least; 2^40 is far beyond any memory.
        if (auto v = reader.read_integer(key, node, 512, int64_t{1} << 40))
            entry.max_transfer_bytes = uint64_t(*v);
        return true;
    }
    return false;
}

void check_transfer_keys(TomlReader& reader, const Config& config) {
    const tsig::Keyring keyring = config.keyring();
    for (const ZoneEntry& zone : config.zones)
        for (const auto& [name, place] : zone.transfer_key_places)
            if (!keyring.find(name))
                reader.error(place, "unknown TSIG key '" + name + "' (no [[tsig]] entry names it)");
}

std::string secondary_copy_name(std::string_view origin) {
    const std::string wire_name = wire::wire_from_text(origin);
    std::string name;
    for (size_t at = 0; at < wire_name.size() && wire_name[at] != 0;) {
        const size_t length = uint8_t(wire_name[at]);
        if (!name.empty()) name += '.';
        for (size_t i = at + 1; i <= at + length && i < wire_name.size(); ++i) {
            const unsigned char c = static_cast<unsigned char>(wire_name[i]);
            if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_') {
                name += char(c);
            } else if (c >= 'A' && c <= 'Z') {
                name += char(c - 'A' + 'a');
            } else {
                static constexpr char kHex[] = "0123456789abcdef";
                name += '%';
                name += kHex[c >> 4];
                name += kHex[c & 15];
            }
        }
        at += length + 1;
    }
    return (name.empty() ? "root" : name) + ".zone";
}

void place_secondary_copies(Config& config) {
    for (ZoneEntry& zone : config.zones)
        if (zone.is_secondary() && zone.file.empty() && !zone.origin.empty())
            zone.file =
                config.server.state_directory / "secondary" / secondary_copy_name(zone.origin);
}

}  // namespace meridian::server
