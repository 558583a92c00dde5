// The local socket `meridian ctl` talks to: one command line in ("drain\n"), one text reply
// out, then the connection closes. Runs on the main thread's libuv loop.
//
// A unix socket rather than HTTP POST on the health port: who may drain a PoP is then decided
// by the socket file's owner and mode (0660: the server's user and group), not by which local
// process can reach a loopback port. Hand-written because the protocol is one line each way.
#pragma once

#include <uv.h>
#include <filesystem>
#include <functional>
#include <list>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "server/config/config.hpp"

namespace meridian::server {

class ControlSocket {
  public:
    // Sends the reply and closes the connection; may be called later (after a reload), and
    // does nothing if the server closed the socket meanwhile.
    using Reply = std::function<void(std::string text)>;
    using Command = std::function<void(std::string_view command, Reply reply)>;

    static constexpr size_t kMaxCommand = 256;

    ControlSocket(uv_loop_t* loop, Command command);
    ~ControlSocket();
    ControlSocket(const ControlSocket&) = delete;
    ControlSocket& operator=(const ControlSocket&) = delete;

    // Creates the socket file (and its folder). A stale socket from a server that died is
    // replaced; one another server still listens on (it is running: start-up stops there,
    // before any DNS socket is bound), or any file that is not a socket, is an error naming
    // the path (a mistyped path must not delete a config or zone file).
    bool open(const std::filesystem::path& path, std::string& error);
    // Stops listening, closes every connection and removes the socket file.
    void close();

  private:
    struct Session;
    static void on_connection(uv_stream_t* server, int status);
    void close_session(const std::shared_ptr<Session>& session);

    uv_loop_t* loop_;
    Command command_;
    uv_pipe_t server_;
    std::filesystem::path path_;
    bool is_open_ = false;
    std::list<std::shared_ptr<Session>> sessions_;
};

// The other half of start-up's "already running" check, for a server with another control
// socket or none: true when nothing holds `listen`'s addresses. Called before the workers
// bind them: their sockets set SO_REUSEPORT, with which a second server of the same user
// would join the first one's sockets without an error and take a share of its queries. Each
// address is bound once without SO_REUSEPORT (UDP and TCP), which fails while any socket
// holds it; a TCP connection left in TIME_WAIT does not count.
bool are_listen_addresses_free(const std::vector<ListenAddress>& listen, std::string& error);

}  // namespace meridian::server
