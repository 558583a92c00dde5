// `meridian ctl drain|undrain|status|reload|pools|pool NAME up|down|auto`: one command to a
// running server over its control socket ([control] socket), its reply printed.
#pragma once

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>

namespace meridian::server {

// Sends one command line to the server at `socket` and returns its whole reply, or nullopt
// with `error` set when the server cannot be reached or does not finish within `timeout`.
std::optional<std::string> ask_server(const std::filesystem::path& socket,
                                      const std::string& command, std::chrono::milliseconds timeout,
                                      std::string& error);

// argv holds what follows "ctl". Returns 0 when the server answered "ok", 1 when it answered
// an error or could not be reached, 2 on a usage error.
int ctl_command(int argc, char** argv);

}  // namespace meridian::server
