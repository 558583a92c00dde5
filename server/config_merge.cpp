// Merging config files: see config_merge.hpp for the rules.
#include "server/config_merge.hpp"

#include <sstream>
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

}  // namespace meridian::server
