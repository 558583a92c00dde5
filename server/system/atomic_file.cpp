// Atomic replacement of a file: temporary file, fsync, rename, fsync of the folder.
#include "server/system/atomic_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace meridian::server {

namespace {

bool sync_folder(const std::filesystem::path& folder) {
    const int fd = ::open(folder.empty() ? "." : folder.c_str(), O_RDONLY | O_DIRECTORY);
    if (fd < 0) return false;
    const bool ok = ::fsync(fd) == 0;
    ::close(fd);
    return ok;
}

}  // namespace

bool write_file_atomically(const std::filesystem::path& path, std::string_view content,
                           std::string& error) {
    const std::filesystem::path folder = path.parent_path();
    std::error_code ec;
    if (!folder.empty()) std::filesystem::create_directories(folder, ec);
    if (ec) {
        error = "cannot create " + folder.string() + ": " + ec.message();
        return false;
    }
    // mkstemp: a name nobody else uses, in the same folder so rename() stays on one file
    // system and is atomic.
    std::string temp = path.string() + ".XXXXXX";
    const int fd = ::mkstemp(temp.data());
    if (fd < 0) {
        error =
            "cannot create a temporary file beside " + path.string() + ": " + std::strerror(errno);
        return false;
    }
    const auto give_up = [&](const std::string& what) {
        error = what + " " + temp + ": " + std::strerror(errno);
        ::close(fd);
        ::unlink(temp.c_str());
        return false;
    };
    size_t written = 0;
    while (written < content.size()) {
        const ssize_t n = ::write(fd, content.data() + written, content.size() - written);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return give_up("cannot write");
        written += static_cast<size_t>(n);
    }
    if (::fchmod(fd, 0644) != 0) return give_up("cannot set the mode of");
    if (::fsync(fd) != 0) return give_up("cannot fsync");
    if (::close(fd) != 0) {
        error = "cannot close " + temp + ": " + std::strerror(errno);
        ::unlink(temp.c_str());
        return false;
    }
    if (::rename(temp.c_str(), path.c_str()) != 0) {
        error = "cannot rename " + temp + " to " + path.string() + ": " + std::strerror(errno);
        ::unlink(temp.c_str());
        return false;
    }
    if (!sync_folder(folder)) {
        error = "cannot fsync the folder of " + path.string() + ": " + std::strerror(errno);
        return false;
    }
    return true;
}

}  // namespace meridian::server
