// For the tests of `meridian` commands called in-process: running one with its arguments and
// what it prints captured, and a running server's control socket (the real ControlSocket on a
// loop of its own thread) for the commands that ask one.
#pragma once

#include <doctest/doctest.h>
#include <uv.h>

#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "server/control/control_socket.hpp"
#include "support/captured_stderr.hpp"

namespace meridian::testing {

struct CommandRun {
    int exit_code = -1;
    std::string out;  // stdout
    std::string err;  // stderr
};

// Calls `command` (like explain_command) with `arguments` as its argv.
inline CommandRun run_command(int (*command)(int, char**), std::vector<std::string> arguments) {
    std::vector<char*> argv;
    for (auto& argument : arguments) argv.push_back(argument.data());
    argv.push_back(nullptr);
    CommandRun run;
    CapturedStdout out;
    CapturedStderr err;
    run.exit_code = command(static_cast<int>(arguments.size()), argv.data());
    run.out = out.text();
    run.err = err.text();
    return run;
}

// A control socket at `path` answering each command line with what `answer` returns, on a
// thread of its own (the commands under test block while they wait for it). With
// `is_silent`, it never replies. Stopped, and its socket file removed, at scope exit.
class ServedControlSocket {
  public:
    using Answer = std::function<std::string(std::string_view command)>;

    ServedControlSocket(const std::filesystem::path& path, Answer answer, bool is_silent = false)
        : answer_(std::move(answer)), is_silent_(is_silent) {
        REQUIRE(uv_loop_init(&loop_) == 0);
        socket_ = std::make_unique<server::ControlSocket>(
            &loop_, [this](std::string_view command, server::ControlSocket::Reply reply) {
                std::string text;
                {
                    const std::lock_guard lock(mutex_);
                    commands_.emplace_back(command);
                    text = answer_(command);
                }
                if (is_silent_)
                    unsent_.push_back(std::move(reply));  // dropped when the socket closes
                else
                    reply(std::move(text));
            });
        std::string error;
        REQUIRE_MESSAGE(socket_->open(path, error), error);
        uv_async_init(&loop_, &stop_, [](uv_async_t* stop) {
            auto* self = static_cast<ServedControlSocket*>(stop->data);
            self->socket_->close();
            uv_close(reinterpret_cast<uv_handle_t*>(stop), nullptr);
        });
        stop_.data = this;
        thread_ = std::thread([this] { uv_run(&loop_, UV_RUN_DEFAULT); });
    }
    ~ServedControlSocket() {
        uv_async_send(&stop_);
        thread_.join();
        unsent_.clear();
        socket_.reset();
        uv_loop_close(&loop_);
    }
    ServedControlSocket(const ServedControlSocket&) = delete;
    ServedControlSocket& operator=(const ServedControlSocket&) = delete;

    // The command lines received so far.
    std::vector<std::string> commands() const {
        const std::lock_guard lock(mutex_);
        return commands_;
    }

  private:
    Answer answer_;
    bool is_silent_;
    uv_loop_t loop_;
    uv_async_t stop_;
    std::unique_ptr<server::ControlSocket> socket_;
    std::vector<server::ControlSocket::Reply> unsent_;  // only touched on the loop's thread
    mutable std::mutex mutex_;
    std::vector<std::string> commands_;
    std::thread thread_;
};

}  // namespace meridian::testing
