// `meridian ctl` called in-process against a real control socket served on its own thread:
// the command line it sends, the reply it prints and the exit code that follows from it, the
// socket found through --config, and clear errors (and exit 1) when no server answers.
#include <doctest/doctest.h>

#include <sys/un.h>

#include <chrono>
#include <string>
#include <vector>

#include "server/cli/ctl_command.hpp"
#include "support/cli_command.hpp"
#include "support/config_loading.hpp"
#include "support/temp_folder.hpp"

using meridian::server::ask_server;
using meridian::server::ctl_command;
using meridian::testing::CommandRun;
using meridian::testing::ServedControlSocket;
using meridian::testing::TempFolder;
using namespace std::chrono_literals;

namespace {

CommandRun ctl(std::vector<std::string> arguments) {
    return meridian::testing::run_command(ctl_command, std::move(arguments));
}

std::string answer_ok(std::string_view command) {
    return "ok " + std::string(command) + "\n";
}

}  // namespace

TEST_CASE("ctl_without_a_server_at_the_socket_says_so_and_exits_1") {
    TempFolder folder;
    const auto path = folder.path() / "control.sock";
    const CommandRun run = ctl({"--socket", path.string(), "status"});
    CHECK(run.exit_code == 1);
    CHECK(run.out.empty());
    CHECK(run.err == "meridian: cannot reach the server at " + path.string() +
                         ": No such file or directory\n");
}

TEST_CASE("ctl_prints_the_servers_reply_and_exits_0_when_it_says_ok") {
    TempFolder folder;
    const auto path = folder.path() / "control.sock";
    ServedControlSocket server(
        path, [](std::string_view) { return std::string("ok draining: /health reports 503\n"); });
    const CommandRun run = ctl({"--socket", path.string(), "drain"});
    CHECK(run.exit_code == 0);
    CHECK(run.out == "ok draining: /health reports 503\n");
    CHECK(run.err.empty());
    CHECK(server.commands() == std::vector<std::string>{"drain"});
}

TEST_CASE("ctl_exits_1_when_the_server_answers_an_error") {
    TempFolder folder;
    const auto path = folder.path() / "control.sock";
    ServedControlSocket server(
        path, [](std::string_view) { return std::string("error: unknown pool 'ams'\n"); });
    const CommandRun run = ctl({"--socket", path.string(), "pool", "ams", "down"});
    CHECK(run.exit_code == 1);
    CHECK(run.out == "error: unknown pool 'ams'\n");
}

TEST_CASE("ctl_sends_pool_name_and_state_as_one_command_line") {
    TempFolder folder;
    const auto path = folder.path() / "control.sock";
    ServedControlSocket server(path, answer_ok);
    for (const char* state : {"down", "up", "auto"})
        CHECK(ctl({"--socket", path.string(), "pool", "fra", state}).exit_code == 0);
    CHECK(ctl({"pools", "--socket", path.string()}).exit_code == 0);
    CHECK(server.commands() ==
          std::vector<std::string>{"pool fra down", "pool fra up", "pool fra auto", "pools"});
}

TEST_CASE("ctl_finds_the_socket_in_the_control_table_of_the_config") {
    TempFolder folder;
    const auto config =
        folder.write("meridian.toml", std::string(meridian::testing::kListenOnly) +
                                          "[control]\nsocket = \"run/control.sock\"\n");
    ServedControlSocket server(folder.path() / "run/control.sock", answer_ok);
    const CommandRun run = ctl({"--config", config.string(), "reload"});
    CHECK(run.exit_code == 0);
    CHECK(run.out == "ok reload\n");
}

TEST_CASE("ctl_with_a_config_without_a_control_socket_says_so_and_exits_1") {
    TempFolder folder;
    const auto config = folder.write("meridian.toml", meridian::testing::kListenOnly);
    const CommandRun run = ctl({"-c", config.string(), "status"});
    CHECK(run.exit_code == 1);
    CHECK(run.err == "meridian: the config has no control socket ([control] socket)\n");
}

TEST_CASE("ctl_with_a_config_that_has_errors_prints_them_and_exits_1") {
    TempFolder folder;
    const auto config = folder.write("meridian.toml", "[server]\nlisten = [\"nowhere\"]\n");
    const CommandRun run = ctl({"--config", config.string(), "status"});
    CHECK(run.exit_code == 1);
    CHECK(run.err.find(config.string() + ":2:") != std::string::npos);
}

TEST_CASE("ctl_gives_up_when_the_server_does_not_reply_within_the_timeout") {
    TempFolder folder;
    const auto path = folder.path() / "control.sock";
    ServedControlSocket server(path, answer_ok, /*is_silent=*/true);
    const auto started = std::chrono::steady_clock::now();
    const CommandRun run = ctl({"--socket", path.string(), "--timeout", "1", "reload"});
    CHECK(std::chrono::steady_clock::now() - started < 5s);
    CHECK(run.exit_code == 1);
    CHECK(run.err == "meridian: no complete reply from " + path.string() + " within 1000 ms\n");
}

TEST_CASE("ctl_usage_errors_print_the_usage_and_exit_2") {
    TempFolder folder;
    const std::string path = (folder.path() / "control.sock").string();
    const std::vector<std::vector<std::string>> wrong = {
        {},                                                  // no command
        {"--socket", path, "explode"},                       // no such command
        {"--socket", path, "drain", "undrain"},              // two commands
        {"--socket", path, "pool", "fra"},                   // no state
        {"--socket", path, "pool", "fra", "sideways"},       // no such state
        {"--socket", path, "pool", "fra", "up", "now"},      // a word too many
        {"--socket", path, "--timeout", "0", "status"},      // no time to wait
        {"--socket", path, "--config", "m.toml", "status"},  // two ways to the socket
        {"--socket"},                                        // a flag without its value
    };
    for (const auto& arguments : wrong) {
        const CommandRun run = ctl(arguments);
        std::string line;
        for (const auto& argument : arguments) line += argument + " ";
        CHECK_MESSAGE(run.exit_code == 2, line);
        CHECK_MESSAGE(run.err.starts_with("usage: meridian ctl"), line);
    }
}

TEST_CASE("ask_server_refuses_a_path_too_long_for_a_unix_socket") {
    const std::string path = "/tmp/" + std::string(sizeof(sockaddr_un::sun_path), 'a');
    std::string error;
    CHECK_FALSE(ask_server(path, "status", 100ms, error));
    CHECK(error == path + ": path too long for a unix socket");
}
