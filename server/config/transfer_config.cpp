// Reading allow_transfer, notify and ixfr_history; README.md "Transfers out" explains them.
#include "server/config/transfer_config.hpp"

#include "server/transfer/tsig.hpp"

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
    return false;
}

void check_transfer_keys(TomlReader& reader, const Config& config) {
    const tsig::Keyring keyring = config.keyring();
    for (const ZoneEntry& zone : config.zones)
        for (const auto& [name, place] : zone.transfer_key_places)
            if (!keyring.find(name))
                reader.error(place, "unknown TSIG key '" + name + "' (no [[tsig]] entry names it)");
}

}  // namespace meridian::server
