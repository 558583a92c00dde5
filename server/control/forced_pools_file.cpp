// Reading and writing the forced pool states file.
#include "server/control/forced_pools_file.hpp"

#include <fstream>
#include <sstream>
#include <system_error>

#include "server/system/atomic_file.hpp"

namespace meridian::server {

std::filesystem::path ForcedPoolsFile::path() const {
    return folder_ ? *folder_ / "forced-pools" : std::filesystem::path();
}

std::map<std::string, geoip::ForcedState> ForcedPoolsFile::read(std::string& problem) const {
    std::map<std::string, geoip::ForcedState> forced;
    if (!folder_) return forced;
    std::ifstream file(path());
    std::string line;
    for (int number = 1; std::getline(file, line); ++number) {
        if (line.empty() || line.front() == '#') continue;
        std::istringstream words(line);
        std::string name, state, extra;
        words >> name >> state;
        if (!(words >> extra) && (state == "up" || state == "down"))
            forced[name] = state == "up" ? geoip::ForcedState::up : geoip::ForcedState::down;
        else
            problem = path().string() + ":" + std::to_string(number) +
                      ": expected \"POOL up\" or \"POOL down\"";
    }
    return forced;
}

bool ForcedPoolsFile::write(const std::map<std::string, geoip::ForcedState>& forced,
                            std::string& error) const {
    if (!folder_) return true;
    std::error_code code;
    if (forced.empty()) {
        std::filesystem::remove(path(), code);
        if (code) error = "remove " + path().string() + ": " + code.message();
        return !code;
    }
    std::string text =
        "# pools forced by `meridian ctl pool NAME up|down`; `... auto` removes one\n";
    for (const auto& [name, state] : forced)
        text += name + (state == geoip::ForcedState::up ? " up\n" : " down\n");
    return write_file_atomically(path(), text, error);
}

}  // namespace meridian::server
