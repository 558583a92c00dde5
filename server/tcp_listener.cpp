// Accepting DNS-over-TCP connections on a socket created by open_tcp_listener.
#include "server/tcp_listener.hpp"

#include <sys/resource.h>
#include <sys/socket.h>

namespace meridian::server {

uint64_t raise_open_file_limit() {
    rlimit limit{};
    if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return 0;
    if (limit.rlim_cur != limit.rlim_max) {
        rlimit raised = limit;
        raised.rlim_cur = limit.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &raised) == 0) limit = raised;
    }
    return limit.rlim_cur == RLIM_INFINITY ? UINT64_MAX : static_cast<uint64_t>(limit.rlim_cur);
}

TcpListener::TcpListener(uv_loop_t* loop, TcpConnectionPool& connections)
    : loop_(loop), connections_(connections) {}

int TcpListener::open(Socket socket) {
    uv_tcp_init(loop_, &server_);  // AF_UNSPEC: creates no socket, cannot fail
    server_.data = this;
    is_open_ = true;
    const int rc = uv_tcp_open(&server_, socket.fd());
    if (rc != 0) return rc;
    socket.release();  // the handle owns it now and closes it with uv_close
    return uv_listen(reinterpret_cast<uv_stream_t*>(&server_), SOMAXCONN, on_connection);
}

void TcpListener::close() {
    auto* handle = reinterpret_cast<uv_handle_t*>(&server_);
    if (is_open_ && !uv_is_closing(handle)) uv_close(handle, nullptr);
}

void TcpListener::on_connection(uv_stream_t* server, int status) {
    // Errors here are per-connection (ECONNABORTED, EMFILE, which libuv already works
    // around); the listener keeps accepting.
    if (status < 0) return;
    static_cast<TcpListener*>(server->data)->connections_.accept(server);
}

}  // namespace meridian::server
