// Typed TOML reading with file:line diagnostics.
#include "server/config/toml_reader.hpp"

#include <cmath>
#include <cstdio>

namespace meridian::server {

// Messages start with std::string(literal).append(...), never `literal + std::string`: GCC 12
// at -O3 reports a false -Wrestrict in operator+(const char*, std::string&&) (GCC bug 105329),
// which broke Release builds under -Werror. The same holds in the other config readers.
std::string ConfigPlace::to_string(const std::string& fallback) const {
    std::string text = file ? *file : fallback;
    // Two appends, not `":" + std::to_string(line)`: GCC 12 at -O3 reports a false
    // -Wrestrict inside operator+(const char*, std::string&&) (GCC bug 105329).
    if (line > 0) {
        text += ':';
        text += std::to_string(line);
    }
    return text;
}

void TomlReader::error(const ConfigPlace& place, std::string message) {
    diagnostics_.push_back(
        {place.file ? *place.file : file_, place.line, std::move(message), true});
}

void TomlReader::warn(const ConfigPlace& place, std::string message) {
    diagnostics_.push_back(
        {place.file ? *place.file : file_, place.line, std::move(message), false});
}

void TomlReader::unknown_key(const toml::key& key, std::string_view table) {
    error(place_of(key.source()),
          std::string("unknown key '").append(key.str()) + std::string("' in ").append(table));
}

std::optional<std::string> TomlReader::read_string(const toml::key& key, const toml::node& node) {
    if (const auto* value = node.as_string()) return value->get();
    error(place_of(node.source()), std::string("'").append(key.str()) + "' must be a string");
    return std::nullopt;
}

std::optional<unsigned> TomlReader::read_milliseconds(const toml::key& key, const toml::node& node,
                                                      double min, double max) {
    std::optional<double> seconds;
    if (const auto* f = node.as_floating_point()) seconds = f->get();
    if (const auto* i = node.as_integer()) seconds = static_cast<double>(i->get());
    if (!seconds || !(*seconds >= min && *seconds <= max)) {
        char range[64];
        std::snprintf(range, sizeof range, "between %g and %g", min, max);
        error(place_of(node.source()),
              std::string("'").append(key.str()) + "' must be a number of seconds " + range);
        return std::nullopt;
    }
    return static_cast<unsigned>(std::lround(*seconds * 1000));
}

std::optional<int64_t> TomlReader::read_integer(const toml::key& key, const toml::node& node,
                                                int64_t min, int64_t max) {
    const auto* value = node.as_integer();
    if (!value) {
        error(place_of(node.source()), std::string("'").append(key.str()) + "' must be an integer");
        return std::nullopt;
    }
    if (value->get() < min || value->get() > max) {
        error(place_of(node.source()),
              std::string("'").append(key.str()) +
                  std::string("' must be between ").append(std::to_string(min)) +
                  std::string(" and ").append(std::to_string(max)));
        return std::nullopt;
    }
    return value->get();
}

std::optional<bool> TomlReader::read_bool(const toml::key& key, const toml::node& node) {
    if (const auto* value = node.as_boolean()) return value->get();
    error(place_of(node.source()), std::string("'").append(key.str()) + "' must be true or false");
    return std::nullopt;
}

std::optional<std::vector<std::string>> TomlReader::read_strings(const toml::key& key,
                                                                 const toml::node& node) {
    const auto* array = node.as_array();
    if (!array) {
        error(place_of(node.source()),
              std::string("'").append(key.str()) + "' must be an array of strings");
        return std::nullopt;
    }
    std::vector<std::string> result;
    for (const auto& element : *array)
        if (auto text = read_string(key, element)) result.push_back(std::move(*text));
    return result;
}

std::optional<geoip::Coordinates> TomlReader::read_coordinates(const toml::key& key,
                                                               const toml::node& node) {
    const auto* array = node.as_array();
    auto number = [](const toml::node& n) -> std::optional<double> {
        if (const auto* f = n.as_floating_point()) return f->get();
        if (const auto* i = n.as_integer()) return static_cast<double>(i->get());
        return std::nullopt;
    };
    if (array && array->size() == 2) {
        const auto latitude = number(*array->get(0));
        const auto longitude = number(*array->get(1));
        if (latitude && longitude && *latitude >= -90 && *latitude <= 90 && *longitude >= -180 &&
            *longitude <= 180)
            return geoip::Coordinates{*latitude, *longitude};
    }
    error(place_of(node.source()),
          std::string("'").append(key.str()) +
              "' must be [latitude, longitude] in degrees (-90..90, -180..180)");
    return std::nullopt;
}

std::vector<geoip::Prefix> TomlReader::read_networks(const toml::key& key, const toml::node& node) {
    std::vector<geoip::Prefix> networks;
    const auto* array = node.as_array();
    if (!array) {
        error(place_of(node.source()), std::string("'").append(key.str()) +
                                           "' must be an array of networks like \"192.0.2.0/24\"");
        return networks;
    }
    for (const auto& element : *array) {
        auto text = read_string(key, element);
        if (!text) continue;
        std::string cause;
        if (auto prefix = geoip::parse_prefix(*text, cause))
            networks.push_back(*prefix);
        else
            error(place_of(element.source()), cause);
    }
    return networks;
}

std::optional<std::filesystem::path> TomlReader::read_path(const toml::key& key,
                                                           const toml::node& node) {
    auto text = read_string(key, node);
    if (!text) return std::nullopt;
    if (text->empty()) {
        error(place_of(node.source()), std::string("'").append(key.str()) + "' must not be empty");
        return std::nullopt;
    }
    std::filesystem::path path(*text);
    if (path.is_absolute()) return path;
    // Relative to the file that wrote it: a per-PoP file in another folder names its own
    // paths, as the base file does.
    const auto& source = node.source().path;
    const std::filesystem::path file(source ? *source : file_);
    return file.parent_path() / path;
}

}  // namespace meridian::server
