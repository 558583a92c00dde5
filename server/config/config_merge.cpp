// Merging config files: see config_merge.hpp for the rules.
#include "server/config/config_merge.hpp"

#include <openssl/evp.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <sstream>
#include <stdexcept>
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

namespace {

// toml++ 3.3's printer writes a key holding a quote, a tab or another control character bare
// (`D'E = ...`), which no TOML reader accepts; so keys and strings are written here, as basic
// strings where they need quotes, and toml++ writes only the numbers and dates.
std::string toml_basic_string(std::string_view text) {
    std::string quoted = "\"";
    for (const char c : text) {
        const auto byte = static_cast<unsigned char>(c);
        if (c == '"' || c == '\\') {
            quoted += '\\';
            quoted += c;
        } else if (c == '\n') {
            quoted += "\\n";
        } else if (c == '\t') {
            quoted += "\\t";
        } else if (c == '\r') {
            quoted += "\\r";
        } else if (byte < 0x20 || byte == 0x7f) {
            char escape[7];
            std::snprintf(escape, sizeof escape, "\\u%04x", byte);
            quoted += escape;
        } else {
            quoted += c;  // UTF-8 passes through
        }
    }
    quoted += '"';
    return quoted;
}

// A key as TOML: bare when it may be (A-Z a-z 0-9 _ -), else a basic string.
std::string toml_key(std::string_view key) {
    const bool is_bare = !key.empty() && std::all_of(key.begin(), key.end(), [](char c) {
        return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
               c == '_' || c == '-';
    });
    return is_bare ? std::string(key) : toml_basic_string(key);
}

bool is_section(const toml::node& node) {
    return node.is_table() && !node.as_table()->is_inline();
}

bool is_array_of_sections(const toml::node& node) {
    return is_nonempty_array_of_tables(&node);
}

void write_value(std::ostream& out, const toml::node& node);

void write_inline_table(std::ostream& out, const toml::table& table) {
    if (table.empty()) {
        out << "{}";
        return;
    }
    out << "{ ";
    bool is_first = true;
    for (const auto& [key, value] : table) {
        if (!is_first) out << ", ";
        is_first = false;
        out << toml_key(key.str()) << " = ";
        write_value(out, value);
    }
    out << " }";
}

void write_value(std::ostream& out, const toml::node& node) {
    if (const auto* text = node.as_string()) {
        out << toml_basic_string(text->get());
    } else if (const auto* table = node.as_table()) {
        write_inline_table(out, *table);
    } else if (const auto* array = node.as_array()) {
        out << '[';
        for (size_t i = 0; i < array->size(); ++i) {
            out << (i ? ", " : " ");
            write_value(out, *array->get(i));
        }
        out << (array->empty() ? "]" : " ]");
    } else {
        // Numbers, booleans, dates and times: toml++ writes these correctly.
        node.visit([&](const auto& scalar) { out << scalar; });
    }
}

// Plain keys first, then each sub-table and array of tables under its own header.
void write_table(std::ostream& out, const toml::table& table, const std::string& path) {
    for (const auto& [key, value] : table) {
        if (is_section(value) || is_array_of_sections(value)) continue;
        out << toml_key(key.str()) << " = ";
        write_value(out, value);
        out << '\n';
    }
    for (const auto& [key, value] : table) {
        const std::string header =
            path.empty() ? toml_key(key.str()) : path + "." + toml_key(key.str());
        if (is_section(value)) {
            out << "\n[" << header << "]\n";
            write_table(out, *value.as_table(), header);
        } else if (is_array_of_sections(value)) {
            for (const auto& entry : *value.as_array()) {
                out << "\n[[" << header << "]]\n";
                write_table(out, *entry.as_table(), header);
            }
        }
    }
}

}  // namespace

std::string to_toml_text(const toml::table& table) {
    std::ostringstream text;
    write_table(text, table, "");
    std::string printed = text.str();
    if (printed.starts_with('\n')) printed.erase(0, 1);
    return printed;
}

namespace {

// Not for security, but the digests are public (/metrics, `ctl status`): SHA-256 over text
// with every secret removed, so they tell configs apart without revealing a key.
std::string sha256_hex(std::string_view text) {
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int size = 0;
    if (EVP_Digest(text.data(), text.size(), digest, &size, EVP_sha256(), nullptr) != 1)
        throw std::runtime_error("SHA-256 failed");
    char hex[17];
    for (int i = 0; i < 8; ++i) std::snprintf(hex + 2 * i, 3, "%02x", digest[i]);
    return hex;  // 64 bits: enough to tell a fleet's configs apart
}

// The document without secrets: the `secret` of each [[tsig]] key.
toml::table without_secrets(const toml::table& table) {
    toml::table redacted = table;
    if (auto* keys = redacted["tsig"].as_array())
        for (auto& key : *keys)
            if (auto* fields = key.as_table()) fields->erase("secret");
    return redacted;
}

}  // namespace

std::string hashed_config_text(const toml::table& table) {
    return to_toml_text(without_secrets(table));
}

ConfigHashes hash_config(const toml::table& table) {
    ConfigHashes hashes;
    toml::table shared = without_secrets(table);
    hashes.config = sha256_hex(to_toml_text(shared));
    shared.erase("server");
    shared.erase("control");
    hashes.policy = sha256_hex(to_toml_text(shared));
    return hashes;
}

}  // namespace meridian::server
