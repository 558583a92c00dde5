// Reading typed values out of a parsed TOML document while collecting every problem with
// its line, so `meridian check` shows an operator the whole list in one run.
#pragma once

#include <toml++/toml.h>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "geoip/location.hpp"
#include "geoip/network.hpp"
#include "zones/diagnostic.hpp"

namespace meridian::server {

// Where a config value was written. With several --config files merged into one document,
// the file matters as much as the line; every node remembers the file it was parsed from.
struct ConfigPlace {
    std::shared_ptr<const std::string> file;  // null: the config as a whole
    int line = 0;                             // 0: the whole file

    bool operator==(const ConfigPlace&) const = default;
    // "file:line", or "file" for the whole file; `fallback` names a place without a file.
    std::string to_string(const std::string& fallback = "") const;
};

inline ConfigPlace place_of(const toml::source_region& region) {
    return {region.path, static_cast<int>(region.begin.line)};
}

class TomlReader {
  public:
    // `path` is the first config file: problems of the whole config (a missing [server]
    // table) are reported against it.
    TomlReader(const std::filesystem::path& path, Diagnostics& diagnostics)
        : file_(path.string()), diagnostics_(diagnostics) {}

    void error(const ConfigPlace& place, std::string message);
    void warn(const ConfigPlace& place, std::string message);
    void unknown_key(const toml::key& key, std::string_view table);

    // Each reports a wrong type or range as an error naming the key, and returns nullopt.
    std::optional<std::string> read_string(const toml::key& key, const toml::node& node);
    std::optional<int64_t> read_integer(const toml::key& key, const toml::node& node, int64_t min,
                                        int64_t max);
    std::optional<bool> read_bool(const toml::key& key, const toml::node& node);
    // Seconds as an integer or a fraction ("0.2", for intervals shorter than a second in
    // tests and labs), within [min, max]; returned in milliseconds.
    std::optional<unsigned> read_milliseconds(const toml::key& key, const toml::node& node,
                                              double min, double max);
    // An array of strings; an element of the wrong type is reported and skipped.
    std::optional<std::vector<std::string>> read_strings(const toml::key& key,
                                                         const toml::node& node);
    // [latitude, longitude] in degrees.
    std::optional<geoip::Coordinates> read_coordinates(const toml::key& key,
                                                       const toml::node& node);
    // An array of "192.0.2.0/24"-style networks.
    std::vector<geoip::Prefix> read_networks(const toml::key& key, const toml::node& node);
    // A path as written, resolved against the folder of the config file that sets it.
    std::optional<std::filesystem::path> read_path(const toml::key& key, const toml::node& node);

    const std::string& file() const { return file_; }
    // Errors reported so far (by this reader or anyone sharing its diagnostics).
    size_t error_count() const {
        size_t count = 0;
        for (const auto& d : diagnostics_) count += d.is_error;
        return count;
    }

  private:
    std::string file_;
    Diagnostics& diagnostics_;
};

}  // namespace meridian::server
