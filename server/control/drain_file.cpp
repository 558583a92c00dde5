// Reading and writing the drain state file.
#include "server/control/drain_file.hpp"

#include <ctime>
#include <system_error>

#include "server/system/atomic_file.hpp"

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
    // Only its presence counts; the text is for the operator who finds it.
    const std::time_t now = std::time(nullptr);
    char when[64];
    std::strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&now));
    const std::string text = std::string("drained by `meridian ctl drain` at ") + when +
                             "; `meridian ctl undrain` serves again\n";
    return write_file_atomically(path(), text, error);
}

}  // namespace meridian::server
