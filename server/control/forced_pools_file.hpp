// Pool states an operator forced with `meridian ctl pool NAME up|down`, remembered across
// restarts (RFC 4786 §4.7, as the drain is): the file `forced-pools` in the [control] state
// folder, one "NAME up|down" line per forced pool.
#pragma once

#include <filesystem>
#include <map>
#include <optional>
#include <string>

#include "geoip/pool_state.hpp"

namespace meridian::server {

class ForcedPoolsFile {
  public:
    // Without a folder nothing is remembered.
    explicit ForcedPoolsFile(std::optional<std::filesystem::path> folder)
        : folder_(std::move(folder)) {}

    bool is_persistent() const { return folder_.has_value(); }
    std::filesystem::path path() const;
    // The forced pools; a line that is not "NAME up|down" is reported in `problem` and skipped.
    std::map<std::string, geoip::ForcedState> read(std::string& problem) const;
    // Replaces the file (atomically) with `forced`, or removes it when empty.
    bool write(const std::map<std::string, geoip::ForcedState>& forced, std::string& error) const;

  private:
    std::optional<std::filesystem::path> folder_;
};

}  // namespace meridian::server
