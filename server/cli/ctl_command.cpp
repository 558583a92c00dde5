// The `meridian ctl` client: connect, send one line, print what comes back until the server
// closes the connection. Blocking and bounded in time; it runs beside a server, not in it.
#include "server/cli/ctl_command.hpp"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "server/config/config.hpp"
#include "server/socket.hpp"

namespace meridian::server {

namespace {

constexpr const char* kUsage =
    "usage: meridian ctl [--socket PATH | --config FILE...] [--timeout SECONDS] COMMAND\n"
    "  drain     /health reports 503 (the BGP speaker withdraws the route); queries are\n"
    "            still answered; remembered across restarts when [control] state is set\n"
    "  undrain   /health reports 200 again once the server is ready\n"
    "  status    health, identity, config and policy hashes, zone serials, reloads\n"
    "  reload    re-read the config and changed zones, as SIGHUP does, and say how it went\n"
    "  pools     each pool's state: up or down, what its check says, what is forced\n"
    "  pool NAME down|up|auto\n"
    "            force a pool down (steered answers skip it) or up (whatever its check\n"
    "            says), or let its check decide again; remembered like a drain\n"
    "The socket is [control] socket from --config, else /run/meridian/control.sock.\n";

constexpr const char* kDefaultSocket = "/run/meridian/control.sock";

struct Arguments {
    std::filesystem::path socket = kDefaultSocket;
    std::vector<std::filesystem::path> configs;
    bool has_socket = false;
    int timeout_seconds = 60;  // a reload of many large zones takes a while
    std::string command;
};

std::optional<Arguments> parse_arguments(int argc, char** argv) {
    Arguments arguments;
    for (int i = 0; i < argc; ++i) {
        const std::string argument = argv[i];
        const bool has_value = i + 1 < argc;
        if (argument == "--socket" && has_value) {
            arguments.socket = argv[++i];
            arguments.has_socket = true;
        } else if ((argument == "--config" || argument == "-c") && has_value) {
            arguments.configs.emplace_back(argv[++i]);
        } else if (argument == "--timeout" && has_value) {
            arguments.timeout_seconds = std::atoi(argv[++i]);
            if (arguments.timeout_seconds <= 0) return std::nullopt;
        } else if (!argument.starts_with("-") && arguments.command.empty()) {
            arguments.command = argument;
        } else if (arguments.command.starts_with("pool ") || arguments.command == "pool") {
            // pool NAME up|down|auto: the two words after "pool".
            if (std::count(arguments.command.begin(), arguments.command.end(), ' ') >= 2)
                return std::nullopt;
            arguments.command += " " + argument;
        } else {
            return std::nullopt;
        }
    }
    const auto& command = arguments.command;
    const bool is_pool =
        command.starts_with("pool ") && std::count(command.begin(), command.end(), ' ') == 2 &&
        (command.ends_with(" up") || command.ends_with(" down") || command.ends_with(" auto"));
    const bool is_known = command == "drain" || command == "undrain" || command == "status" ||
                          command == "reload" || command == "pools" || is_pool;
    if (!is_known || (arguments.has_socket && !arguments.configs.empty())) return std::nullopt;
    return arguments;
}

// The socket a config names; prints why when it names none.
std::optional<std::filesystem::path> socket_from_config(const Arguments& arguments) {
    Diagnostics diagnostics;
    const auto config = load_config(arguments.configs, diagnostics);
    for (const auto& d : diagnostics)
        if (d.is_error) std::fprintf(stderr, "%s\n", d.to_string().c_str());
    if (!config) return std::nullopt;
    if (!config->control.is_enabled || config->control.socket.empty()) {
        std::fprintf(stderr, "meridian: the config has no control socket ([control] socket)\n");
        return std::nullopt;
    }
    return config->control.socket;
}

}  // namespace

std::optional<std::string> ask_server(const std::filesystem::path& path, const std::string& command,
                                      std::chrono::milliseconds timeout, std::string& error) {
    Socket socket(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    if (path.string().size() >= sizeof address.sun_path) {
        error = path.string() + ": path too long for a unix socket";
        return std::nullopt;
    }
    std::strncpy(address.sun_path, path.c_str(), sizeof address.sun_path - 1);
    if (!socket.is_open() ||
        ::connect(socket.fd(), reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0) {
        error = "cannot reach the server at " + path.string() + ": " + std::strerror(errno);
        return std::nullopt;
    }
    const std::string line = command + "\n";
    if (::send(socket.fd(), line.data(), line.size(), MSG_NOSIGNAL) !=
        static_cast<ssize_t>(line.size())) {
        error = "sending to " + path.string() + ": " + std::strerror(errno);
        return std::nullopt;
    }
    std::string reply;
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            deadline - std::chrono::steady_clock::now());
        pollfd readable{socket.fd(), POLLIN, 0};
        if (left.count() <= 0 || ::poll(&readable, 1, static_cast<int>(left.count())) == 0) {
            error = "no complete reply from " + path.string() + " within " +
                    std::to_string(timeout.count()) + " ms";
            return std::nullopt;
        }
        char buffer[4096];
        const ssize_t received = ::recv(socket.fd(), buffer, sizeof buffer, 0);
        if (received < 0 && errno == EINTR) continue;
        if (received <= 0) break;
        reply.append(buffer, static_cast<size_t>(received));
    }
    return reply;
}

int ctl_command(int argc, char** argv) {
    const auto arguments = parse_arguments(argc, argv);
    if (!arguments) {
        std::fputs(kUsage, stderr);
        return 2;
    }
    std::filesystem::path path = arguments->socket;
    if (!arguments->configs.empty()) {
        const auto configured = socket_from_config(*arguments);
        if (!configured) return 1;
        path = *configured;
    }
    std::string error;
    const auto reply = ask_server(path, arguments->command,
                                  std::chrono::seconds(arguments->timeout_seconds), error);
    if (!reply) {
        std::fprintf(stderr, "meridian: %s\n", error.c_str());
        return 1;
    }
    std::fputs(reply->c_str(), stdout);
    return reply->starts_with("ok") ? 0 : 1;
}

}  // namespace meridian::server
