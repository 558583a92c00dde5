// libmicrohttpd driven by the main loop: see http_endpoint.hpp.
#include "server/control/http_endpoint.hpp"

#include <microhttpd.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstring>

#include "server/socket.hpp"
#include "server/system/log.hpp"
#include "server/system/socket_address.hpp"

namespace meridian::server {

namespace {

// A health check or a scrape is one small request; anything bigger is not for us.
constexpr size_t kConnectionMemory = 16 * 1024;  // request line and headers must fit
constexpr unsigned kMaxConnections = 64;
constexpr unsigned kIdleSeconds = 10;

void log_from_daemon(void*, const char* format, va_list arguments) {
    char text[512];
    std::vsnprintf(text, sizeof text, format, arguments);
    std::string line = std::string("http: ") + text;
    while (!line.empty() && line.back() == '\n') line.pop_back();
    log_event(line);
}

// The listening socket is ours, so a taken port is reported as clearly as a DNS listener's.
// SO_REUSEADDR only: two servers sharing a health port would each answer for the other.
Socket open_http_socket(const ListenAddress& address, std::string& error) {
    const SocketAddress bound = to_socket_address(address.address);
    const int family = bound.storage.ss_family;
    Socket socket(::socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (!socket.is_open()) {
        error = "socket " + address.text + ": " + std::strerror(errno);
        return {};
    }
    int on = 1;
    setsockopt(socket.fd(), SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
    if (family == AF_INET6) setsockopt(socket.fd(), IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof on);
    if (::bind(socket.fd(), bound.get(), bound.length) != 0) {
        error = "bind http " + address.text + ": " + std::strerror(errno);
        return {};
    }
    if (::listen(socket.fd(), 64) != 0) {
        error = "listen http " + address.text + ": " + std::strerror(errno);
        return {};
    }
    return socket;
}

MHD_Result queue_text(MHD_Connection* connection, unsigned status, const std::string& type,
                      const std::string& body) {
    MHD_Response* response = MHD_create_response_from_buffer(
        body.size(), const_cast<char*>(body.data()), MHD_RESPMEM_MUST_COPY);
    if (!response) return MHD_NO;
    MHD_add_response_header(response, MHD_HTTP_HEADER_CONTENT_TYPE, type.c_str());
    // A health verdict or a scrape must never come from a cache.
    MHD_add_response_header(response, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
        MHD_add_response_header(response, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
    const MHD_Result result = MHD_queue_response(connection, status, response);
    MHD_destroy_response(response);
    return result;
}

}  // namespace

HttpEndpoint::HttpEndpoint(uv_loop_t* loop, Route route) : loop_(loop), route_(std::move(route)) {}

HttpEndpoint::~HttpEndpoint() {
    if (daemon_) MHD_stop_daemon(daemon_);
}

bool HttpEndpoint::open(const ListenAddress& address, std::string& error) {
    Socket socket = open_http_socket(address, error);
    if (!socket.is_open()) return false;
    const MHD_AccessHandlerCallback handler = [](void* self, MHD_Connection* connection,
                                                 const char* url, const char* method, const char*,
                                                 const char*, size_t*, void** state) {
        return static_cast<MHD_Result>(
            static_cast<HttpEndpoint*>(self)->answer(connection, url, method, state));
    };
    // The logger first, so that problems with the options after it reach our log too.
    daemon_ = MHD_start_daemon(
        MHD_USE_EPOLL | MHD_USE_ERROR_LOG, 0, nullptr, nullptr, handler, this,
        MHD_OPTION_EXTERNAL_LOGGER, log_from_daemon, nullptr, MHD_OPTION_LISTEN_SOCKET, socket.fd(),
        MHD_OPTION_CONNECTION_LIMIT, kMaxConnections, MHD_OPTION_CONNECTION_TIMEOUT, kIdleSeconds,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, kConnectionMemory, MHD_OPTION_END);
    if (!daemon_) {
        error = "http " + address.text + ": libmicrohttpd did not start";
        return false;
    }
    socket.release();  // the daemon closes it
    const MHD_DaemonInfo* info = MHD_get_daemon_info(daemon_, MHD_DAEMON_INFO_EPOLL_FD);
    uv_timer_init(loop_, &timer_);
    timer_.data = this;
    uv_poll_init(loop_, &poll_, info->epoll_fd);
    poll_.data = this;
    is_open_ = true;
    uv_poll_start(&poll_, UV_READABLE, on_readable);
    run_daemon();  // sets the first timeout, if the daemon wants one
    return true;
}

void HttpEndpoint::close() {
    if (!is_open_) return;
    is_open_ = false;
    // libuv stops watching the epoll descriptor at once; only then may the daemon close it.
    uv_close(reinterpret_cast<uv_handle_t*>(&poll_), nullptr);
    uv_close(reinterpret_cast<uv_handle_t*>(&timer_), nullptr);
    MHD_stop_daemon(daemon_);
    daemon_ = nullptr;
}

void HttpEndpoint::on_readable(uv_poll_t* poll, int, int) {
    static_cast<HttpEndpoint*>(poll->data)->run_daemon();
}

void HttpEndpoint::on_timeout(uv_timer_t* timer) {
    static_cast<HttpEndpoint*>(timer->data)->run_daemon();
}

void HttpEndpoint::run_daemon() {
    if (!is_open_) return;
    MHD_run(daemon_);
    // The daemon says when it must run again without socket activity (timeouts, or work it
    // left pending, as 0 ms); without a timeout, only activity on its sockets wakes it.
    MHD_UNSIGNED_LONG_LONG milliseconds = 0;
    if (MHD_get_timeout(daemon_, &milliseconds) == MHD_YES)
        uv_timer_start(&timer_, on_timeout, milliseconds, 0);
    else
        uv_timer_stop(&timer_);
}

int HttpEndpoint::answer(MHD_Connection* connection, const char* url, const char* method,
                         void** state) {
    // libmicrohttpd calls once when the headers are in, then again for the body; a GET has
    // none, so the second call answers.
    static int headers_seen;
    if (*state == nullptr) {
        *state = &headers_seen;
        return MHD_YES;
    }
    const std::string_view verb(method);
    if (verb != MHD_HTTP_METHOD_GET && verb != MHD_HTTP_METHOD_HEAD)
        return queue_text(connection, MHD_HTTP_METHOD_NOT_ALLOWED, "text/plain; charset=utf-8",
                          "only GET and HEAD are served here\n");
    const Reply reply = route_(url);
    return queue_text(connection, reply.status, reply.content_type, reply.body);
}

}  // namespace meridian::server
