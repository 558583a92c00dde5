// The HTTP endpoint of [control] http: GET /health, /ready, /metrics for the BGP speaker's
// health check and for Prometheus. Runs on the main thread's libuv loop, never on a worker.
//
// HTTP is libmicrohttpd's (Debian's libmicrohttpd12, GNU, maintained): request parsing,
// keep-alive and size limits are the parts worth not writing again. It runs without threads
// of its own, in its "external epoll" mode: its epoll descriptor is watched by a uv_poll_t, and
// a uv_timer_t wakes it when it asks for a timeout. The connections are ours, not its: we
// accept them, hold each to a deadline for a whole request, cap them per client and in all,
// and at a cap close the slowest instead of refusing the newcomer, so a flood of slow clients
// cannot keep a health check out (http_endpoint.cpp says why libmicrohttpd's own cannot).
#pragma once

#include <uv.h>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "server/config/config.hpp"
#include "server/socket.hpp"

struct MHD_Daemon;
struct MHD_Connection;
struct sockaddr_storage;

namespace meridian::server {

// What the endpoint lets its clients hold (the defaults are the server's; tests shorten them).
struct HttpLimits {
    // Connections at once; open() lowers it to a quarter of RLIMIT_NOFILE, so that a flood
    // cannot take the descriptors DNS over TCP, transfers and reloads need.
    unsigned connections = 1024;
    // Connections one client (an IPv4 address, an IPv6 /64) holds at once.
    unsigned per_client = 32;
    // Time for a whole request and its reply, counted from the accept or from the previous
    // reply on a kept-alive connection: a slow client is closed then, however it drips.
    std::chrono::milliseconds exchange{5000};
};

class HttpEndpoint {
  public:
    struct Reply {
        unsigned status = 200;
        std::string content_type = "text/plain; charset=utf-8";
        std::string body;
    };
    // Called on the loop's thread for each GET (or HEAD); `path` excludes any query string.
    using Route = std::function<Reply(std::string_view path)>;

    HttpEndpoint(uv_loop_t* loop, Route route, HttpLimits limits = {});
    ~HttpEndpoint();
    HttpEndpoint(const HttpEndpoint&) = delete;
    HttpEndpoint& operator=(const HttpEndpoint&) = delete;

    // Binds `address` and starts serving; false and `error` ("bind 127.0.0.1:8053: ...").
    // Logs a warning when `address` is not a loopback one.
    bool open(const ListenAddress& address, std::string& error);
    // Stops serving and closes every connection; the handles finish closing in the loop.
    void close();

    // Connections held now, not counting those being closed.
    size_t connection_count() const;
    // The cap open() settled on (HttpLimits::connections, or less for RLIMIT_NOFILE).
    unsigned connection_cap() const { return cap_; }

  private:
    // Whom a per-client cap counts: an IPv4 address, or an IPv6 /64 (one host's usual share).
    struct Client {
        bool is_v6 = false;
        uint64_t prefix = 0;
        bool operator==(const Client&) const = default;
    };
    struct Held {
        int fd = -1;
        Client client;
        uint64_t deadline = 0;      // uv_now() milliseconds
        bool has_answered = false;  // a request was answered: closing it idle is routine
        bool is_closing = false;    // shut down, libmicrohttpd has not noticed yet
    };
    // Connections closed by the endpoint since the last log line about them.
    struct Shed {
        uint64_t deadline = 0;
        uint64_t per_client = 0;
        uint64_t cap = 0;
        uint64_t descriptors = 0;
        uint64_t accept_failures = 0;
        bool any() const { return deadline + per_client + cap + descriptors + accept_failures; }
    };

    static void on_readable(uv_poll_t* poll, int status, int events);
    static void on_timeout(uv_timer_t* timer);
    static void on_acceptable(uv_poll_t* poll, int status, int events);
    static void on_deadline(uv_timer_t* timer);
    static void on_resume(uv_timer_t* timer);
    void run_daemon();
    int answer(MHD_Connection* connection, const char* url, const char* method, void** state);

    void accept_clients();
    void admit(int fd, const sockaddr_storage& peer, unsigned length);
    void make_room_for_descriptors();
    void close_overdue();
    void arm_deadline();
    void log_shed();
    void log_daemon_line(std::string_view text);
    size_t slowest(const Client* client) const;
    Client busiest_client() const;
    void evict(size_t index);
    Held* find(int fd);
    void forget(int fd);
    void request_completed(MHD_Connection* connection);

    uv_loop_t* loop_;
    Route route_;
    HttpLimits limits_;
    unsigned cap_ = 0;
    MHD_Daemon* daemon_ = nullptr;
    Socket listener_;
    uv_poll_t listen_poll_;
    uv_timer_t resume_timer_;    // accepting again after running out of descriptors
    uv_timer_t shed_log_timer_;  // the summary of closed connections at the end of its period
    uv_poll_t poll_;             // libmicrohttpd's epoll descriptor
    uv_timer_t timer_;           // libmicrohttpd's own timeouts
    uv_timer_t deadline_timer_;
    std::vector<Held> held_;  // in accept order; at most cap_ live, so scans stay short
    Shed shed_;
    uint64_t shed_logged_at_ = 0;
    bool has_logged_shed_ = false;
    uint64_t daemon_period_start_ = 0;
    unsigned daemon_lines_ = 0;
    uint64_t daemon_lines_suppressed_ = 0;
    bool is_open_ = false;
};

// The warning open() logs for an endpoint bound to `address` when it is not a loopback one
// (127.0.0.0/8, ::1, or an IPv4-mapped 127.0.0.0/8); empty on loopback.
std::string off_loopback_warning(const ListenAddress& address);

}  // namespace meridian::server
