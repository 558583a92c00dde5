// Merging config files: see config_merge.hpp for the rules.
#include "server/config/config_merge.hpp"

#include <cstdint>
#include <cstdio>
#include <sstream>
#include <string_view>
#include <utility>

namespace meridian::server {

namespace {

bool is_nonempty_array_of_tables(const toml::node* node) {
    const auto* array = node ? node->as_array() : nullptr;
    return array && !array->empty() && array->is_array_of_tables();
}

// Replaces (or adds) `key` in `table` with `value`, moved. The key object comes from the
// overlay too, so an error about the key names the file that set it last.
void replace_key(toml::table& table, const toml::key& key, toml::node& value) {
    table.erase(key.str());
    value.visit([&](auto& concrete) { table.insert(key, std::move(concrete)); });
}

}  // namespace

void merge_config_table(toml::table& base, toml::table&& overlay) {
    for (auto&& [key, value] : overlay) {
        toml::node* existing = base.get(key.str());
        if (existing && existing->is_table() && value.is_table()) {
            merge_config_table(*existing->as_table(), std::move(*value.as_table()));
        } else if (is_nonempty_array_of_tables(existing) && is_nonempty_array_of_tables(&value)) {
            auto& entries = *existing->as_array();
            for (auto& entry : *value.as_array()) entries.push_back(std::move(*entry.as_table()));
        } else {
            replace_key(base, key, value);
        }
    }
}

std::optional<toml::table> read_config_files(const std::vector<std::filesystem::path>& paths,
                                             Diagnostics& diagnostics) {
    std::optional<toml::table> merged;
    bool is_broken = false;
    for (const auto& path : paths) {
        try {
            toml::table next = toml::parse_file(path.string());
            if (!merged)
                merged = std::move(next);
            else
                merge_config_table(*merged, std::move(next));
        } catch (const toml::parse_error& e) {
            diagnostics.push_back({path.string(), static_cast<int>(e.source().begin.line),
                                   std::string(e.description()), true});
            is_broken = true;
        }
    }
    if (is_broken) return std::nullopt;
    return merged;
}

std::string to_toml_text(const toml::table& table) {
    std::ostringstream text;
    text << table << '\n';
    return text.str();
}

namespace {

// Not for security: telling configs apart on a dashboard needs a stable, short digest.
std::string fnv1a_hex(std::string_view text) {
    uint64_t hash = 0xcbf29ce484222325ULL;
    for (const char c : text) {
        hash ^= static_cast<uint8_t>(c);
        hash *= 0x100000001b3ULL;
    }
    char hex[17];
    std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(hash));
    return hex;
}

}  // namespace

ConfigHashes hash_config(const toml::table& table) {
    ConfigHashes hashes;
    hashes.config = fnv1a_hex(to_toml_text(table));
    toml::table shared = table;  // a copy: the caller's document keeps its sources
    shared.erase("server");
    shared.erase("control");
    hashes.policy = fnv1a_hex(to_toml_text(shared));
    return hashes;
}

}  // namespace meridian::server
