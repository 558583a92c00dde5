// Reading and writing the drain state file.
#include "server/drain_file.hpp"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <fstream>
#include <system_error>

namespace meridian::server {

DrainFile::DrainFile(std::optional<std::filesystem::path> folder) : folder_(std::move(folder)) {}

std::filesystem::path DrainFile::path() const {
    return folder_ ? *folder_ / "drained" : std::filesystem::path();
}

bool DrainFile::is_drained() const {
    std::error_code ignored;
    return folder_ && std::filesystem::exists(path(), ignored);
}

bool DrainFile::remember(bool drained, std::string& error) const {
    if (!folder_) return true;
    std::error_code code;
    if (!drained) {
        std::filesystem::remove(path(), code);
        if (code) error = "remove " + path().string() + ": " + code.message();
        return !code;
    }
    std::filesystem::create_directories(*folder_, code);
    if (code) {
        error = "create " + folder_->string() + ": " + code.message();
        return false;
    }
    // Written beside and renamed into place, so a crash never leaves half a file; the
    // contents are for the operator who finds it, only its presence counts.
    const auto temporary = *folder_ / "drained.new";
    {
        std::ofstream file(temporary, std::ios::trunc);
        const std::time_t now = std::time(nullptr);
        char when[64];
        std::strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&now));
        file << "drained by `meridian ctl drain` at " << when
             << "; `meridian ctl undrain` serves again\n";
        if (!file.flush()) {
            error = "write " + temporary.string() + ": " + std::strerror(errno);
            return false;
        }
    }
    std::filesystem::rename(temporary, path(), code);
    if (code) error = "rename " + temporary.string() + ": " + code.message();
    return !code;
}

}  // namespace meridian::server
