// The control socket `meridian ctl` talks to, on a real loop with a real unix-socket client:
// one command line in, the handler's reply out, then the connection closes; a long line is
// refused; a socket another server listens on is refused and a stale one replaced; the file
// is owner-and-group only and goes away on close.
#include <doctest/doctest.h>

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

#include "server/control/control_socket.hpp"
#include "support/temp_folder.hpp"
#include "support/uv_test_loop.hpp"

using meridian::server::ControlSocket;
using meridian::testing::TempFolder;
using meridian::testing::TestLoop;
using namespace std::chrono_literals;

namespace {

sockaddr_un unix_address(const std::filesystem::path& path) {
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    std::strncpy(address.sun_path, path.c_str(), sizeof address.sun_path - 1);
    return address;
}

// A `meridian ctl`-like client: connects at once (the kernel queues it until the loop
// accepts), sends, then reads without blocking while the test runs the server's loop.
class Client {
  public:
    // Unless `may_fail`, a connection that fails ends the test.
    explicit Client(const std::filesystem::path& path, bool may_fail = false)
        : fd_(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) {
        REQUIRE(fd_ >= 0);
        const sockaddr_un address = unix_address(path);
        is_connected_ =
            ::connect(fd_, reinterpret_cast<const sockaddr*>(&address), sizeof address) == 0;
        if (!may_fail) REQUIRE_MESSAGE(is_connected_, "cannot connect to ", path.string());
        ::fcntl(fd_, F_SETFL, ::fcntl(fd_, F_GETFL) | O_NONBLOCK);
    }
    ~Client() { ::close(fd_); }
    Client(const Client&) = delete;
    Client& operator=(const Client&) = delete;

    bool is_connected() const { return is_connected_; }
    void send(const std::string& text) const {
        REQUIRE(::send(fd_, text.data(), text.size(), MSG_NOSIGNAL) ==
                static_cast<ssize_t>(text.size()));
    }
    void end_sending() const { ::shutdown(fd_, SHUT_WR); }

    // Runs `loop` until the server closes the connection; what it sent, or nullopt when it
    // did not close within the time.
    std::optional<std::string> reply(TestLoop& loop) {
        bool is_closed = false;
        const bool closed = loop.run_until(
            [&] {
                char buffer[512];
                for (;;) {
                    const ssize_t n = ::recv(fd_, buffer, sizeof buffer, MSG_DONTWAIT);
                    if (n > 0) {
                        received_.append(buffer, static_cast<size_t>(n));
                        continue;
                    }
                    is_closed = n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK);
                    return is_closed;
                }
            },
            3s);
        if (!closed) return std::nullopt;
        return received_;
    }

  private:
    int fd_;
    bool is_connected_ = false;
    std::string received_;
};

// A control socket on its own loop whose handler answers "ok <command>" and keeps the
// commands it was given.
struct Served {
    TestLoop loop;
    TempFolder folder;
    std::filesystem::path path = folder.path() / "run" / "control.sock";
    std::vector<std::string> commands;
    ControlSocket socket{loop.get(), [this](std::string_view command, ControlSocket::Reply reply) {
                             commands.emplace_back(command);
                             reply("ok " + std::string(command) + "\n");
                         }};
    TestLoop::Closer closer{loop, [this] { socket.close(); }};

    void open() {
        std::string error;
        REQUIRE_MESSAGE(socket.open(path, error), error);
    }
    // Sends `text` as a new client and returns the whole reply.
    std::string ask(const std::string& text) {
        Client client(path);
        client.send(text);
        const auto reply = client.reply(loop);
        REQUIRE_MESSAGE(reply, "the server did not close the connection");
        return *reply;
    }
};

}  // namespace

TEST_CASE("command_line_gets_the_handlers_reply_and_the_connection_closes") {
    Served served;
    served.open();
    CHECK(served.ask("drain\n") == "ok drain\n");
    CHECK(served.ask("status\r\n") == "ok status\n");  // a CR before the newline is not kept
    CHECK(served.commands == std::vector<std::string>{"drain", "status"});
}

TEST_CASE("a_command_sent_in_pieces_is_read_up_to_its_newline") {
    Served served;
    served.open();
    Client client(served.path);
    client.send("po");
    CHECK_FALSE(served.loop.run_until([&] { return !served.commands.empty(); }, 200ms));
    client.send("ols\nignored after the newline");
    CHECK(client.reply(served.loop) == std::optional<std::string>("ok pools\n"));
    CHECK(served.commands == std::vector<std::string>{"pools"});
}

TEST_CASE("a_client_that_half_closes_after_its_command_ends_the_line") {
    Served served;
    served.open();
    Client client(served.path);
    client.send("undrain");
    client.end_sending();
    CHECK(client.reply(served.loop) == std::optional<std::string>("ok undrain\n"));
}

TEST_CASE("a_command_longer_than_the_limit_is_refused_without_calling_the_handler") {
    Served served;
    served.open();
    const std::string reply = served.ask(std::string(ControlSocket::kMaxCommand + 10, 'x'));
    CHECK(reply == "error: command longer than 256 octets\n");
    CHECK(served.commands.empty());
}

TEST_CASE("a_client_that_closes_without_a_command_is_dropped_quietly") {
    Served served;
    served.open();
    {
        Client client(served.path);
        client.end_sending();
        CHECK(client.reply(served.loop) == std::optional<std::string>(""));
    }
    CHECK(served.commands.empty());
    CHECK(served.ask("status\n") == "ok status\n");  // still serving
}

TEST_CASE("a_reply_may_come_later_and_is_dropped_when_the_socket_closed_meanwhile") {
    TestLoop loop;
    TempFolder folder;
    const auto path = folder.path() / "control.sock";
    std::vector<ControlSocket::Reply> pending;
    ControlSocket socket(loop.get(), [&](std::string_view, ControlSocket::Reply reply) {
        pending.push_back(std::move(reply));
    });
    TestLoop::Closer closer(loop, [&] { socket.close(); });
    std::string error;
    REQUIRE_MESSAGE(socket.open(path, error), error);

    Client later(path);
    later.send("reload\n");
    REQUIRE(loop.run_until([&] { return pending.size() == 1; }, 3s));
    pending[0]("ok reloaded\n");  // as after a reload finished
    CHECK(later.reply(loop) == std::optional<std::string>("ok reloaded\n"));

    Client dropped(path);
    dropped.send("reload\n");
    REQUIRE(loop.run_until([&] { return pending.size() == 2; }, 3s));
    socket.close();
    REQUIRE(loop.run_until_idle());
    pending[1]("ok too late\n");  // the session is gone: nothing is written, nothing crashes
    CHECK(dropped.reply(loop) == std::optional<std::string>(""));
}

TEST_CASE("a_second_server_on_a_path_another_listens_on_is_refused") {
    Served first;
    first.open();
    ControlSocket second(first.loop.get(),
                         [](std::string_view, ControlSocket::Reply reply) { reply("second\n"); });
    std::string error;
    CHECK_FALSE(second.open(first.path, error));
    CHECK(error == "control socket " + first.path.string() + ": another server is listening on it");
    // The first keeps its socket file and its clients.
    CHECK(first.ask("status\n") == "ok status\n");
}

TEST_CASE("a_stale_socket_file_from_a_server_that_died_is_replaced") {
    Served served;
    std::filesystem::create_directories(served.path.parent_path());
    {
        // Bound but never listening, then closed: the file stays, as after a crash.
        const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        REQUIRE(fd >= 0);
        const sockaddr_un address = unix_address(served.path);
        REQUIRE(::bind(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address) == 0);
        ::close(fd);
    }
    REQUIRE(std::filesystem::exists(served.path));
    served.open();
    CHECK(served.ask("status\n") == "ok status\n");
}

TEST_CASE("the_socket_file_and_its_folder_are_created_owner_and_group_only") {
    Served served;
    REQUIRE_FALSE(std::filesystem::exists(served.path.parent_path()));
    served.open();
    struct stat status {};
    REQUIRE(::stat(served.path.c_str(), &status) == 0);
    CHECK(S_ISSOCK(status.st_mode));
    CHECK((status.st_mode & 0777) == 0660);
}

TEST_CASE("close_stops_listening_and_removes_the_socket_file") {
    Served served;
    served.open();
    served.socket.close();
    CHECK(served.loop.run_until_idle());
    CHECK_FALSE(std::filesystem::exists(served.path));
    Client client(served.path, /*may_fail=*/true);
    CHECK_FALSE(client.is_connected());
}

TEST_CASE("a_path_too_long_for_a_unix_socket_is_an_error") {
    TestLoop loop;
    ControlSocket socket(loop.get(), [](std::string_view, ControlSocket::Reply) {});
    const std::filesystem::path path = "/tmp/" + std::string(sizeof(sockaddr_un::sun_path), 'a');
    std::string error;
    CHECK_FALSE(socket.open(path, error));
    CHECK(error == "control socket " + path.string() + ": path too long for a unix socket");
}

TEST_CASE("a_file_that_is_not_a_socket_at_the_path_is_an_error_and_kept") {
    // Only a stale socket is ours to remove; a mistyped path must not delete a config file.
    Served served;
    served.folder.write(served.path.lexically_relative(served.folder.path()), "keep me\n");
    std::string error;
    CHECK_FALSE(served.socket.open(served.path, error));
    CHECK(error == "control socket " + served.path.string() +
                       ": exists and is not a socket; remove it or choose another path");
    served.socket.close();
    REQUIRE(std::filesystem::is_regular_file(served.path));
    std::ifstream file(served.path);
    std::string line;
    std::getline(file, line);
    CHECK(line == "keep me");
}
