// libmicrohttpd driven by the main loop, behind our own accept and connection limits: see
// http_endpoint.hpp.
//
// Why the connections are not libmicrohttpd's (0.9.75, Debian 12): given the listen socket,
// at its connection limit it takes the socket out of its epoll set and puts it back only at
// the start of a later MHD_run(), while MHD_get_timeout() knows nothing of it. When the
// connections it held all end in one run (a burst of silent clients reaching the idle timeout
// together), nothing wakes it again: the listen queue fills and /health never answers, even
// once the flood is gone. accept(2) failing with EMFILE does the same (its `at_limit`), or,
// holding no connection, spins on the readable socket and logs each failure. Its timeout is
// an idle one, which a byte a second restarts for ever, and its per-IP limit refuses the
// newcomer, which behind one address (loopback, a NAT) may be the health check itself. So we
// accept, count and close connections ourselves, and hand each to it with
// MHD_add_connection(); it still parses the requests and writes the replies.
#include "server/control/http_endpoint.hpp"

#include <microhttpd.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>
#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <map>
#include <utility>

#include "geoip/network.hpp"
#include "server/system/log.hpp"
#include "server/system/socket_address.hpp"

namespace meridian::server {

namespace {

// A health check or a scrape is one small request; anything bigger is not for us.
constexpr size_t kConnectionMemory = 16 * 1024;  // request line and headers must fit
// libmicrohttpd's idle timeout, a backstop only: the whole-request deadline comes first.
constexpr unsigned kIdleSeconds = 10;
// The kernel queues this many finished handshakes while the loop is busy (capped by
// net.core.somaxconn); a burst beyond it waits in SYN retries, not in a wedge.
constexpr int kListenBacklog = 1024;
// Connections accepted per wake-up, so that a flood leaves the loop time for its other work.
constexpr unsigned kAcceptBatch = 64;
// Connections closed when accept(2) runs out of descriptors, to make room for the next ones.
constexpr unsigned kShedForDescriptors = 8;
// With no connection of ours to close for a descriptor, accepting waits this long: the
// listening socket stays readable, and trying again at once would spin the main loop.
constexpr uint64_t kDescriptorPauseMs = 100;
// The cap never goes below this for RLIMIT_NOFILE.
constexpr unsigned kMinCap = 16;
// At most one log line about closed connections this often (a flood is one line, not many),
// and at most this many of libmicrohttpd's own lines, which it writes for every connection
// that ends with its request incomplete.
constexpr uint64_t kShedLogMs = 10'000;
constexpr unsigned kDaemonLinesPerPeriod = 5;

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
    if (::listen(socket.fd(), kListenBacklog) != 0) {
        error = "listen http " + address.text + ": " + std::strerror(errno);
        return {};
    }
    return socket;
}

// The cap for this process: every connection is a descriptor, and the process's other users
// of descriptors (DNS over TCP, transfers, zone files on reload) must keep three quarters.
unsigned cap_for_descriptors(unsigned wanted) {
    rlimit limit{};
    if (getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur == RLIM_INFINITY) return wanted;
    const rlim_t quarter = std::max<rlim_t>(limit.rlim_cur / 4, kMinCap);
    const unsigned cap = quarter < wanted ? static_cast<unsigned>(quarter) : wanted;
    if (cap < wanted)
        log_event("http: at most " + std::to_string(cap) + " connections, a quarter of " +
                  "the descriptor limit (RLIMIT_NOFILE " + std::to_string(limit.rlim_cur) +
                  "); raise LimitNOFILE for " + std::to_string(wanted));
    return cap;
}

bool is_loopback(const geoip::Address& address) {
    const geoip::Address plain = geoip::unmapped(address);
    if (plain.family == geoip::Family::v4) return plain.bytes[0] == 127;  // RFC 1122 §3.2.1.3
    static constexpr std::array<uint8_t, 16> kLoopback6{0, 0, 0, 0, 0, 0, 0, 0,
                                                        0, 0, 0, 0, 0, 0, 0, 1};
    return plain.bytes == kLoopback6;  // RFC 4291 §2.5.3
}

int connection_fd(MHD_Connection* connection) {
    const MHD_ConnectionInfo* info =
        MHD_get_connection_info(connection, MHD_CONNECTION_INFO_CONNECTION_FD);
    return info ? info->connect_fd : -1;
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

std::string off_loopback_warning(const ListenAddress& address) {
    if (is_loopback(address.address)) return {};
    return "warning: [control] http " + address.text +
           " is not a loopback address: /health, /ready and /metrics answer anyone who "
           "reaches it, without authentication; bind 127.0.0.1 or ::1, or filter the port";
}

HttpEndpoint::HttpEndpoint(uv_loop_t* loop, Route route, HttpLimits limits)
    : loop_(loop), route_(std::move(route)), limits_(limits) {
    limits_.connections = std::max(limits_.connections, 1u);
    limits_.per_client = std::max(limits_.per_client, 1u);
}

HttpEndpoint::~HttpEndpoint() {
    if (daemon_) MHD_stop_daemon(daemon_);
}

bool HttpEndpoint::open(const ListenAddress& address, std::string& error) {
    Socket socket = open_http_socket(address, error);
    if (!socket.is_open()) return false;
    cap_ = cap_for_descriptors(limits_.connections);
    const MHD_LogCallback log_from_daemon = [](void* self, const char* format, va_list arguments) {
        char text[512];
        std::vsnprintf(text, sizeof text, format, arguments);
        static_cast<HttpEndpoint*>(self)->log_daemon_line(text);
    };
    const MHD_AccessHandlerCallback handler = [](void* self, MHD_Connection* connection,
                                                 const char* url, const char* method, const char*,
                                                 const char*, size_t*, void** state) {
        return static_cast<MHD_Result>(
            static_cast<HttpEndpoint*>(self)->answer(connection, url, method, state));
    };
    // Called when a connection ends, however: its descriptor is still open here, and closed
    // by libmicrohttpd right after, so no new connection can have the same number yet.
    const MHD_NotifyConnectionCallback on_connection =
        [](void* self, MHD_Connection* connection, void**, MHD_ConnectionNotificationCode code) {
            if (code == MHD_CONNECTION_NOTIFY_CLOSED)
                static_cast<HttpEndpoint*>(self)->forget(connection_fd(connection));
        };
    const MHD_RequestCompletedCallback on_completed = [](void* self, MHD_Connection* connection,
                                                         void**, MHD_RequestTerminationCode code) {
        if (code == MHD_REQUEST_TERMINATED_COMPLETED_OK)
            static_cast<HttpEndpoint*>(self)->request_completed(connection);
    };
    // The logger first, so that problems with the options after it reach our log too. Its
    // limit is above ours: a connection we shut down counts there until its next run, and it
    // must never refuse one we admitted. Without a listen socket it needs no inter-thread
    // channel (MHD_USE_ITC): connections are added on the thread that runs it.
    const unsigned daemon_limit = cap_ + kAcceptBatch + kShedForDescriptors + 16;
    daemon_ = MHD_start_daemon(
        MHD_USE_EPOLL | MHD_USE_ERROR_LOG | MHD_USE_NO_LISTEN_SOCKET, 0, nullptr, nullptr, handler,
        this, MHD_OPTION_EXTERNAL_LOGGER, log_from_daemon, this, MHD_OPTION_CONNECTION_LIMIT,
        daemon_limit, MHD_OPTION_CONNECTION_TIMEOUT, kIdleSeconds,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, kConnectionMemory, MHD_OPTION_NOTIFY_CONNECTION,
        on_connection, this, MHD_OPTION_NOTIFY_COMPLETED, on_completed, this, MHD_OPTION_END);
    if (!daemon_) {
        error = "http " + address.text + ": libmicrohttpd did not start";
        return false;
    }
    listener_ = std::move(socket);
    const MHD_DaemonInfo* info = MHD_get_daemon_info(daemon_, MHD_DAEMON_INFO_EPOLL_FD);
    uv_timer_init(loop_, &timer_);
    timer_.data = this;
    uv_timer_init(loop_, &deadline_timer_);
    deadline_timer_.data = this;
    uv_timer_init(loop_, &resume_timer_);
    resume_timer_.data = this;
    uv_timer_init(loop_, &shed_log_timer_);
    shed_log_timer_.data = this;
    uv_poll_init(loop_, &poll_, info->epoll_fd);
    poll_.data = this;
    uv_poll_init(loop_, &listen_poll_, listener_.fd());
    listen_poll_.data = this;
    is_open_ = true;
    uv_poll_start(&poll_, UV_READABLE, on_readable);
    uv_poll_start(&listen_poll_, UV_READABLE, on_acceptable);
    run_daemon();  // sets the first timeout, if the daemon wants one
    if (const std::string warning = off_loopback_warning(address); !warning.empty())
        log_event(warning);
    return true;
}

void HttpEndpoint::close() {
    if (!is_open_) return;
    is_open_ = false;
    // libuv stops watching a descriptor at once; only then may it be closed.
    for (uv_handle_t* handle :
         {reinterpret_cast<uv_handle_t*>(&listen_poll_), reinterpret_cast<uv_handle_t*>(&poll_),
          reinterpret_cast<uv_handle_t*>(&timer_), reinterpret_cast<uv_handle_t*>(&deadline_timer_),
          reinterpret_cast<uv_handle_t*>(&resume_timer_),
          reinterpret_cast<uv_handle_t*>(&shed_log_timer_)})
        uv_close(handle, nullptr);
    listener_.reset();
    MHD_stop_daemon(daemon_);  // closes every connection, each reported to forget()
    daemon_ = nullptr;
    held_.clear();
}

size_t HttpEndpoint::connection_count() const {
    return static_cast<size_t>(std::count_if(held_.begin(), held_.end(),
                                             [](const Held& held) { return !held.is_closing; }));
}

void HttpEndpoint::on_readable(uv_poll_t* poll, int, int) {
    static_cast<HttpEndpoint*>(poll->data)->run_daemon();
}

void HttpEndpoint::on_timeout(uv_timer_t* timer) {
    static_cast<HttpEndpoint*>(timer->data)->run_daemon();
}

void HttpEndpoint::on_acceptable(uv_poll_t* poll, int, int) {
    static_cast<HttpEndpoint*>(poll->data)->accept_clients();
}

void HttpEndpoint::on_deadline(uv_timer_t* timer) {
    static_cast<HttpEndpoint*>(timer->data)->close_overdue();
}

void HttpEndpoint::on_resume(uv_timer_t* timer) {
    auto* self = static_cast<HttpEndpoint*>(timer->data);
    if (self->is_open_) uv_poll_start(&self->listen_poll_, UV_READABLE, on_acceptable);
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

void HttpEndpoint::accept_clients() {
    if (!is_open_) return;
    for (unsigned accepted = 0; accepted < kAcceptBatch; ++accepted) {
        sockaddr_storage peer{};
        socklen_t length = sizeof peer;
        const int fd = ::accept4(listener_.fd(), reinterpret_cast<sockaddr*>(&peer), &length,
                                 SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd >= 0) {
            admit(fd, peer, length);
            continue;
        }
        if (errno == EAGAIN || errno == EWOULDBLOCK) break;
        if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
            make_room_for_descriptors();
            break;
        }
        // ECONNABORTED, EINTR, and the errors of the new connection that Linux's accept(2)
        // passes on (ENETDOWN, EPROTO, EHOSTUNREACH...): that client is gone, the next may
        // not be.
    }
    run_daemon();  // closes what was shut down, reads what was admitted
    arm_deadline();
    log_shed();
}

void HttpEndpoint::admit(int fd, const sockaddr_storage& peer, unsigned length) {
    // The same clients DNS over TCP caps: an IPv4 address (a dual-stack socket's
    // ::ffff:a.b.c.d included) or an IPv6 /64.
    Client client;
    if (const auto address = from_socket_address(reinterpret_cast<const sockaddr*>(&peer))) {
        const geoip::Address network = geoip::client_network(*address);
        client.is_v6 = network.family == geoip::Family::v6;
        std::memcpy(&client.prefix, network.bytes.data(), sizeof client.prefix);
    }
    size_t live = 0;
    size_t same = 0;
    for (const Held& held : held_) {
        if (held.is_closing) continue;
        ++live;
        same += held.client == client;
    }
    // At a cap the slowest connection gives way, not the newcomer: a flood then cannot keep
    // out a health check that asks and is answered within milliseconds.
    if (same >= limits_.per_client) {
        evict(slowest(&client));
        ++shed_.per_client;
    } else if (live >= cap_) {
        const Client busiest = busiest_client();
        evict(slowest(&busiest));
        ++shed_.cap;
    }
    held_.push_back({fd, client, uv_now(loop_) + static_cast<uint64_t>(limits_.exchange.count()),
                     false, false});
    // On failure libmicrohttpd has closed the descriptor (its limit, or memory).
    if (MHD_add_connection(daemon_, fd, reinterpret_cast<const sockaddr*>(&peer), length) !=
        MHD_YES)
        forget(fd);
}

void HttpEndpoint::make_room_for_descriptors() {
    ++shed_.accept_failures;
    unsigned closed = 0;
    for (; closed < kShedForDescriptors; ++closed) {
        const size_t index = slowest(nullptr);
        if (index == held_.size()) break;
        evict(index);
    }
    shed_.descriptors += closed;
    // Nothing of ours to close: the descriptors are taken elsewhere in the process. The
    // connection waits in the listen queue; trying again at once would spin on it.
    if (closed == 0) {
        uv_poll_stop(&listen_poll_);
        uv_timer_start(&resume_timer_, on_resume, kDescriptorPauseMs, 0);
    }
}

void HttpEndpoint::close_overdue() {
    if (!is_open_) return;
    const uint64_t now = uv_now(loop_);
    for (size_t index = 0; index < held_.size(); ++index) {
        Held& held = held_[index];
        if (held.is_closing || held.deadline > now) continue;
        // Idle between kept-alive requests is routine; a request still incomplete is slow.
        if (!held.has_answered) ++shed_.deadline;
        evict(index);
    }
    run_daemon();
    arm_deadline();
    log_shed();
}

void HttpEndpoint::arm_deadline() {
    uint64_t earliest = UINT64_MAX;
    for (const Held& held : held_)
        if (!held.is_closing) earliest = std::min(earliest, held.deadline);
    if (earliest == UINT64_MAX) {
        uv_timer_stop(&deadline_timer_);
        return;
    }
    const uint64_t now = uv_now(loop_);
    uv_timer_start(&deadline_timer_, on_deadline, earliest > now ? earliest - now : 0, 0);
}

void HttpEndpoint::log_shed() {
    if (!shed_.any()) return;
    const uint64_t now = uv_now(loop_);
    if (has_logged_shed_ && now - shed_logged_at_ < kShedLogMs) {
        // The rest of a flood is told when the period ends, even if nothing else happens.
        if (!uv_is_active(reinterpret_cast<uv_handle_t*>(&shed_log_timer_)))
            uv_timer_start(
                &shed_log_timer_,
                [](uv_timer_t* timer) { static_cast<HttpEndpoint*>(timer->data)->log_shed(); },
                shed_logged_at_ + kShedLogMs - now, 0);
        return;
    }
    std::string counts;
    const auto add = [&counts](uint64_t count, const std::string& what) {
        if (count == 0) return;
        counts += (counts.empty() ? "" : ", ") + std::to_string(count) + " " + what;
    };
    add(shed_.deadline,
        "without a whole request in " + std::to_string(limits_.exchange.count()) + " ms");
    add(shed_.per_client, "over a client's cap of " + std::to_string(limits_.per_client));
    add(shed_.cap, "over the cap of " + std::to_string(cap_));
    add(shed_.descriptors, "for descriptors");
    add(shed_.accept_failures, "accepts that found no descriptor free");
    log_event("http: closed slow or surplus connections: " + counts + " (one such line every " +
              std::to_string(kShedLogMs / 1000) + " s at most)");
    shed_ = {};
    shed_logged_at_ = now;
    has_logged_shed_ = true;
}

void HttpEndpoint::log_daemon_line(std::string_view text) {
    const uint64_t now = uv_now(loop_);
    if (daemon_lines_ == 0 || now - daemon_period_start_ >= kShedLogMs) {
        if (daemon_lines_suppressed_ > 0)
            log_event("http: " + std::to_string(daemon_lines_suppressed_) +
                      " more libmicrohttpd messages not logged");
        daemon_period_start_ = now;
        daemon_lines_ = 0;
        daemon_lines_suppressed_ = 0;
    }
    if (daemon_lines_ == kDaemonLinesPerPeriod) {
        ++daemon_lines_suppressed_;
        return;
    }
    ++daemon_lines_;
    std::string line = "http: " + std::string(text);
    while (!line.empty() && line.back() == '\n') line.pop_back();
    log_event(line);
}

size_t HttpEndpoint::slowest(const Client* client) const {
    size_t found = held_.size();
    for (size_t index = 0; index < held_.size(); ++index) {
        const Held& held = held_[index];
        if (held.is_closing || (client && !(held.client == *client))) continue;
        if (found == held_.size() || held.deadline < held_[found].deadline) found = index;
    }
    return found;
}

HttpEndpoint::Client HttpEndpoint::busiest_client() const {
    std::map<std::pair<bool, uint64_t>, unsigned> counts;
    Client busiest;
    unsigned most = 0;
    for (const Held& held : held_) {
        if (held.is_closing) continue;
        const unsigned count = ++counts[{held.client.is_v6, held.client.prefix}];
        if (count > most) {
            most = count;
            busiest = held.client;
        }
    }
    return busiest;
}

void HttpEndpoint::evict(size_t index) {
    if (index >= held_.size()) return;
    // libmicrohttpd has no call to close a connection from outside its callbacks; shut down,
    // the socket reports a hang-up to its epoll set and its next run closes it as broken.
    ::shutdown(held_[index].fd, SHUT_RDWR);
    held_[index].is_closing = true;
}

HttpEndpoint::Held* HttpEndpoint::find(int fd) {
    for (Held& held : held_)
        if (held.fd == fd) return &held;
    return nullptr;
}

void HttpEndpoint::forget(int fd) {
    std::erase_if(held_, [fd](const Held& held) { return held.fd == fd; });
}

void HttpEndpoint::request_completed(MHD_Connection* connection) {
    // A kept-alive connection has as long for its next request as a new one for its first.
    if (Held* held = find(connection_fd(connection))) {
        held->deadline = uv_now(loop_) + static_cast<uint64_t>(limits_.exchange.count());
        held->has_answered = true;
    }
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
