// An operator's drain, remembered across restarts (RFC 4786 §4.7: a node keeps the state its
// operator put it in, whatever restarted it): the file `drained` in the [control] state
// folder exists while the PoP is drained by hand.
#pragma once

#include <filesystem>
#include <optional>
#include <string>

namespace meridian::server {

class DrainFile {
  public:
    // Without a folder nothing is remembered: a restart serves again.
    explicit DrainFile(std::optional<std::filesystem::path> folder);

    bool is_persistent() const { return folder_.has_value(); }
    std::filesystem::path path() const;
    // True when the file exists.
    bool is_drained() const;
    // Creates (atomically, with when and why) or removes the file; creates the folder.
    // Returns false and sets `error` when the file system refuses.
    bool remember(bool drained, std::string& error) const;

  private:
    std::optional<std::filesystem::path> folder_;
};

}  // namespace meridian::server
