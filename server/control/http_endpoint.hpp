// The HTTP endpoint of [control] http: GET /health, /ready, /metrics for the BGP speaker's
// health check and for Prometheus. Runs on the main thread's libuv loop, never on a worker.
//
// HTTP is libmicrohttpd's (Debian's libmicrohttpd12, GNU, maintained): request parsing,
// keep-alive, timeouts and size limits are the parts worth not writing again. It runs without
// threads of its own, in its "external epoll" mode: its epoll descriptor is watched by a
// uv_poll_t, and a uv_timer_t wakes it when it asks for a timeout.
#pragma once

#include <uv.h>
#include <functional>
#include <string>
#include <string_view>

#include "server/config/config.hpp"

struct MHD_Daemon;
struct MHD_Connection;

namespace meridian::server {

class HttpEndpoint {
  public:
    struct Reply {
        unsigned status = 200;
        std::string content_type = "text/plain; charset=utf-8";
        std::string body;
    };
    // Called on the loop's thread for each GET (or HEAD); `path` excludes any query string.
    using Route = std::function<Reply(std::string_view path)>;

    HttpEndpoint(uv_loop_t* loop, Route route);
    ~HttpEndpoint();
    HttpEndpoint(const HttpEndpoint&) = delete;
    HttpEndpoint& operator=(const HttpEndpoint&) = delete;

    // Binds `address` and starts serving; false and `error` ("bind 127.0.0.1:8053: ...").
    bool open(const ListenAddress& address, std::string& error);
    // Stops serving and closes every connection; the handles finish closing in the loop.
    void close();

  private:
    static void on_readable(uv_poll_t* poll, int status, int events);
    static void on_timeout(uv_timer_t* timer);
    void run_daemon();
    int answer(MHD_Connection* connection, const char* url, const char* method, void** state);

    uv_loop_t* loop_;
    Route route_;
    MHD_Daemon* daemon_ = nullptr;
    uv_poll_t poll_;
    uv_timer_t timer_;
    bool is_open_ = false;
};

}  // namespace meridian::server
