// Operator-facing log lines on stderr: one line per event, "meridian: ...".
#pragma once

#include <string_view>

namespace meridian::server {

// Writes "meridian: <message>\n" with a single write(2), so lines from several workers
// never interleave mid-line.
void log_event(std::string_view message);

}  // namespace meridian::server
