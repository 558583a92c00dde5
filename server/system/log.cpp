// Operator-facing log lines on stderr.
#include "server/system/log.hpp"

#include <unistd.h>
#include <string>

namespace meridian::server {

void log_event(std::string_view message) {
    std::string line = "meridian: ";
    line.append(message);
    line.push_back('\n');
    // Best effort: a log line that cannot be written is not a reason to stop serving.
    [[maybe_unused]] ssize_t written = ::write(STDERR_FILENO, line.data(), line.size());
}

}  // namespace meridian::server
