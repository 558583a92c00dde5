// Reading [[tsig]]. A key is all or nothing: one with a bad field is reported and not kept.
#include "server/config/tsig_config.hpp"

#include "wire/name.hpp"

namespace meridian::server {

void read_tsig_tables(TomlReader& reader, const toml::key& key, const toml::node& node,
                      std::vector<TsigKeyEntry>& keys) {
    const auto* array = node.as_array();
    if (!array || !array->is_array_of_tables()) {
        reader.error(place_of(key.source()), "'tsig' must be an array of tables: [[tsig]]");
        return;
    }
    for (const auto& element : *array) {
        const auto& table = *element.as_table();
        TsigKeyEntry entry;
        entry.place = place_of(table.source());
        bool has_name = false, has_algorithm = false, has_secret = false, is_valid = true;
        for (auto&& [field, value] : table) {
            const std::string_view name = field.str();
            if (name == "name") {
                has_name = true;
                auto text = reader.read_string(field, value);
                wire::Name parsed;
                if (text && !text->empty() && wire::from_text(*text, parsed)) {
                    entry.key.name = tsig::canonical_key_name(*text);
                } else {
                    if (text)
                        reader.error(place_of(value.source()), "bad TSIG key name '" + *text + "'");
                    is_valid = false;
                }
            } else if (name == "algorithm") {
                has_algorithm = true;
                auto text = reader.read_string(field, value);
                auto algorithm = text ? tsig::algorithm_wire_name(*text) : std::nullopt;
                if (algorithm) {
                    entry.key.algorithm = *algorithm;
                } else {
                    if (text)
                        reader.error(place_of(value.source()),
                                     "unknown TSIG algorithm '" + *text +
                                         "' (hmac-sha256, hmac-sha512, hmac-sha1 or hmac-md5)");
                    is_valid = false;
                }
            } else if (name == "secret") {
                has_secret = true;
                auto text = reader.read_string(field, value);
                if (text && tsig::is_valid_secret(*text)) {
                    entry.key.secret = *text;
                } else {
                    if (text)
                        reader.error(place_of(value.source()),
                                     "TSIG secret must be non-empty base64");
                    is_valid = false;
                }
            } else {
                reader.unknown_key(field, "[[tsig]]");
            }
        }
        if (!has_name) reader.error(entry.place, "missing 'name' in [[tsig]]");
        if (!has_algorithm) reader.error(entry.place, "missing 'algorithm' in [[tsig]]");
        if (!has_secret) reader.error(entry.place, "missing 'secret' in [[tsig]]");
        if (!has_name || !has_algorithm || !has_secret || !is_valid) continue;
        for (const auto& other : keys)
            if (other.key.name == entry.key.name)
                reader.error(entry.place, "duplicate TSIG key '" + entry.key.name + "' (first at " +
                                              other.place.to_string() + ")");
        keys.push_back(std::move(entry));
    }
}

}  // namespace meridian::server
