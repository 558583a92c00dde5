// TCP and HTTP probes on libuv: see pool_check.hpp.
#include "server/control/pool_check.hpp"
#include "server/system/socket_address.hpp"

#include <netinet/in.h>
#include <cstring>

namespace meridian::server {

namespace {

// A pool address (4 or 16 wire bytes) with the check's port.
geoip::Address pool_address(const std::string& bytes, uint16_t port) {
    geoip::Address address;
    address.family = bytes.size() == 4 ? geoip::Family::v4 : geoip::Family::v6;
    std::memcpy(address.bytes.data(), bytes.data(), bytes.size() == 4 ? 4 : 16);
    address.port = port;
    return address;
}

// The HTTP Host header's form of an address: IPv6 in brackets (RFC 3986 §3.2.2).
std::string host_text(const geoip::Address& address) {
    const std::string text = geoip::address_text(address);
    return address.family == geoip::Family::v4 ? text : "[" + text + "]";
}

}  // namespace

// One connection attempt to one address; frees itself once both handles are closed.
struct PoolCheckRunner::Probe {
    PoolCheckRunner* runner = nullptr;
    std::string target;  // "192.0.2.1:443", for problems
    std::string request;
    uv_tcp_t tcp;
    uv_timer_t timeout;
    uv_connect_t connect;
    uv_write_t write;
    char reply[512];
    size_t reply_length = 0;
    bool is_finished = false;
    int open_handles = 2;

    void finish(bool passed, std::string problem) {
        if (is_finished) return;
        is_finished = true;
        runner->finish_probe(*this, passed, std::move(problem));
        uv_close(reinterpret_cast<uv_handle_t*>(&tcp), on_closed);
        uv_close(reinterpret_cast<uv_handle_t*>(&timeout), on_closed);
    }

    static void on_closed(uv_handle_t* handle) {
        auto* probe = static_cast<Probe*>(handle->data);
        if (--probe->open_handles > 0) return;
        PoolCheckRunner* runner = probe->runner;
        delete probe;
        runner->release_probe();
    }

    static void on_timeout(uv_timer_t* timer) {
        auto* probe = static_cast<Probe*>(timer->data);
        probe->finish(false, probe->target + ": no " +
                                 (probe->request.empty() ? "connection" : "HTTP status") +
                                 " within the timeout");
    }

    static void on_connect(uv_connect_t* request, int status) {
        auto* probe = static_cast<Probe*>(request->data);
        if (probe->is_finished) return;
        if (status < 0) {
            probe->finish(false, probe->target + ": " + uv_strerror(status));
            return;
        }
        if (probe->request.empty()) {
            probe->finish(true, {});
            return;
        }
        uv_buf_t buffer =
            uv_buf_init(probe->request.data(), static_cast<unsigned>(probe->request.size()));
        auto* stream = reinterpret_cast<uv_stream_t*>(&probe->tcp);
        int rc = uv_write(&probe->write, stream, &buffer, 1, [](uv_write_t*, int) {});
        if (rc == 0) rc = uv_read_start(stream, on_alloc, on_read);
        if (rc < 0) probe->finish(false, probe->target + ": " + uv_strerror(rc));
    }

    static void on_alloc(uv_handle_t* handle, size_t, uv_buf_t* buffer) {
        auto* probe = static_cast<Probe*>(handle->data);
        *buffer = uv_buf_init(probe->reply + probe->reply_length,
                              static_cast<unsigned>(sizeof probe->reply - probe->reply_length));
    }

    static void on_read(uv_stream_t* stream, ssize_t length, const uv_buf_t*) {
        auto* probe = static_cast<Probe*>(stream->data);
        if (probe->is_finished) return;
        if (length > 0) probe->reply_length += static_cast<size_t>(length);
        const std::string_view reply(probe->reply, probe->reply_length);
        const size_t end = reply.find("\r\n");
        const bool is_full = probe->reply_length == sizeof probe->reply;
        if (end == std::string_view::npos && length >= 0 && !is_full) return;  // wait for more
        probe->judge(reply.substr(0, end));
    }

    // RFC 9112 §4: status-line = HTTP-version SP status-code SP [ reason-phrase ].
    void judge(std::string_view line) {
        const unsigned expected = runner->pool_.check->expect;
        if (line.size() < 12 || !line.starts_with("HTTP/1.") || line[8] != ' ') {
            finish(false, target + ": no HTTP status line in the reply");
            return;
        }
        unsigned status = 0;
        for (size_t i = 9; i < 12; ++i) {
            if (line[i] < '0' || line[i] > '9') {
                finish(false, target + ": no HTTP status line in the reply");
                return;
            }
            status = status * 10 + static_cast<unsigned>(line[i] - '0');
        }
        if (status == expected)
            finish(true, {});
        else
            finish(false, target + ": HTTP status " + std::to_string(status) + ", expected " +
                              std::to_string(expected));
    }
};

PoolCheckRunner::PoolCheckRunner(uv_loop_t* loop, const ServedPool& pool, Verdict verdict)
    : loop_(loop), pool_(pool), verdict_(std::move(verdict)) {}

PoolCheckRunner* PoolCheckRunner::start(uv_loop_t* loop, const ServedPool& pool, Verdict verdict) {
    auto* runner = new PoolCheckRunner(loop, pool, std::move(verdict));
    uv_timer_init(loop, &runner->timer_);
    runner->timer_.data = runner;
    uv_timer_start(&runner->timer_, on_tick, 0, pool.check->interval_ms);
    return runner;
}

void PoolCheckRunner::close() {
    if (is_closed_) return;
    is_closed_ = true;
    uv_close(reinterpret_cast<uv_handle_t*>(&timer_), [](uv_handle_t* handle) {
        auto* runner = static_cast<PoolCheckRunner*>(handle->data);
        runner->is_timer_closed_ = true;
        runner->delete_when_idle();
    });
    // Probes in flight finish on their own (connect or timeout), at most one timeout from
    // now; their verdicts go nowhere.
}

void PoolCheckRunner::on_tick(uv_timer_t* timer) {
    auto* runner = static_cast<PoolCheckRunner*>(timer->data);
    // A round still waiting (a timeout as long as the interval) is left to finish.
    if (runner->round_pending_ == 0) runner->start_round();
}

void PoolCheckRunner::start_round() {
    const PoolCheck& check = *pool_.check;
    round_pending_ = static_cast<unsigned>(pool_.addresses.size());
    round_passed_ = 0;
    round_problem_.clear();
    for (const std::string& bytes : pool_.addresses) {
        auto* probe = new Probe;
        ++live_probes_;
        probe->runner = this;
        const geoip::Address target = pool_address(bytes, check.port);
        probe->target = geoip::to_string(target);
        if (check.type == PoolCheck::Type::http) {
            const std::string host = check.host.empty() ? host_text(target) : check.host;
            probe->request = "GET " + check.path + " HTTP/1.1\r\nHost: " + host +
                             "\r\nUser-Agent: meridian-pool-check\r\nConnection: close\r\n\r\n";
        }
        uv_tcp_init(loop_, &probe->tcp);
        uv_timer_init(loop_, &probe->timeout);
        probe->tcp.data = probe->timeout.data = probe->connect.data = probe->write.data = probe;
        uv_timer_start(&probe->timeout, Probe::on_timeout, check.timeout_ms, 0);
        const SocketAddress address = to_socket_address(target);
        const int rc =
            uv_tcp_connect(&probe->connect, &probe->tcp, address.get(), Probe::on_connect);
        if (rc < 0) probe->finish(false, probe->target + ": " + uv_strerror(rc));
    }
}

void PoolCheckRunner::finish_probe(Probe& probe, bool passed, std::string problem) {
    (void)probe;
    if (round_pending_ == 0) return;
    if (passed)
        ++round_passed_;
    else if (round_problem_.empty())
        round_problem_ = std::move(problem);
    if (--round_pending_ > 0 || is_closed_) return;
    const size_t addresses = pool_.addresses.size();
    const bool round_passed = round_passed_ * 2 >= addresses && round_passed_ > 0;
    std::string summary = round_problem_;
    if (!round_passed && addresses > 1)
        summary = std::to_string(round_passed_) + " of " + std::to_string(addresses) +
                  " addresses passed; " + round_problem_;
    verdict_(round_passed, summary);
}

void PoolCheckRunner::release_probe() {
    --live_probes_;
    delete_when_idle();
}

void PoolCheckRunner::delete_when_idle() {
    if (is_closed_ && is_timer_closed_ && live_probes_ == 0) delete this;
}

}  // namespace meridian::server
