// The HTTP endpoint's limits on a real loop with small caps and a short deadline: a health
// check gets through however many slow clients hold connections, the slowest connection gives
// way at a cap (a client's own first), a request must be whole by its deadline however it
// drips while a kept-alive client gets a new one after each reply, running out of
// descriptors neither wedges nor spins, the cap follows RLIMIT_NOFILE, and an address off
// loopback is warned about.
#include <doctest/doctest.h>

#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "geoip/network.hpp"
#include "server/control/http_endpoint.hpp"
#include "support/captured_stderr.hpp"
#include "support/loopback_socket.hpp"
#include "support/uv_test_loop.hpp"

using namespace meridian::server;
using meridian::testing::CapturedStderr;
using meridian::testing::LoopbackSocket;
using meridian::testing::TestLoop;
using namespace std::chrono_literals;

namespace {

constexpr const char* kHealthRequest =
    "GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";

ListenAddress listen_address(const char* text, uint16_t port) {
    auto address = meridian::geoip::parse_address(text);
    REQUIRE(address);
    address->port = port;
    return {meridian::geoip::to_string(*address), *address};
}

// The process's descriptor limit, lowered for one scope and put back at its end.
class DescriptorLimit {
  public:
    DescriptorLimit() { REQUIRE(getrlimit(RLIMIT_NOFILE, &saved_) == 0); }
    ~DescriptorLimit() { setrlimit(RLIMIT_NOFILE, &saved_); }
    DescriptorLimit(const DescriptorLimit&) = delete;
    DescriptorLimit& operator=(const DescriptorLimit&) = delete;

    void set(rlim_t soft) {
        rlimit lowered = saved_;
        lowered.rlim_cur = soft;
        REQUIRE(setrlimit(RLIMIT_NOFILE, &lowered) == 0);
    }
    // Leaves no descriptor free: the lowest free number becomes the limit.
    void use_up() {
        const int lowest_free = ::dup(STDIN_FILENO);
        REQUIRE(lowest_free >= 0);
        ::close(lowest_free);
        set(static_cast<rlim_t>(lowest_free));
    }
    void restore() { REQUIRE(setrlimit(RLIMIT_NOFILE, &saved_) == 0); }

  private:
    rlimit saved_{};
};

// An endpoint with `limits` on a free loopback port, answering /health.
struct LimitedEndpoint {
    TestLoop loop;
    HttpEndpoint endpoint;
    TestLoop::Closer closer{loop, [this] { endpoint.close(); }};
    uint16_t port = 0;

    explicit LimitedEndpoint(HttpLimits limits)
        : endpoint(
              loop.get(),
              [](std::string_view path) {
                  return path == "/health" ? HttpEndpoint::Reply{200, "text/plain", "serving\n"}
                                           : HttpEndpoint::Reply{404, "text/plain", "no\n"};
              },
              limits) {
        const LoopbackSocket reserved(SOCK_STREAM, "127.0.0.1", 0, true);
        port = reserved.port();
        std::string error;
        REQUIRE_MESSAGE(endpoint.open(listen_address("127.0.0.1", port), error), error);
    }

    // A client connected from `source` (any 127.0.0.0/8 address), its connect completed by
    // the kernel's listen queue whether or not the endpoint has accepted it yet.
    std::unique_ptr<LoopbackSocket> connect_from(const char* source) {
        auto client = std::make_unique<LoopbackSocket>(SOCK_STREAM, source);
        connect_client(*client);
        return client;
    }
    void connect_client(const LoopbackSocket& client) {
        const SocketAddress address = to_socket_address(listen_address("127.0.0.1", port).address);
        REQUIRE(::connect(client.fd(), address.get(), address.length) == 0);
    }

    // Runs the loop until the endpoint holds `count` connections.
    void hold(size_t count) {
        CHECK_MESSAGE(loop.run_until([&] { return endpoint.connection_count() == count; }, 2s),
                      "held ", endpoint.connection_count(), " of ", count);
    }

    // Sends `request` on `client` and runs the loop until the reply is complete (the endpoint
    // closed, or the headers and body of a kept-alive reply are in); the reply's text.
    std::string ask(const LoopbackSocket& client, const std::string& request,
                    std::chrono::milliseconds timeout = 1s) {
        REQUIRE(send(client.fd(), request.data(), request.size(), MSG_NOSIGNAL) ==
                static_cast<ssize_t>(request.size()));
        std::string reply;
        loop.run_until(
            [&] {
                char buffer[4096];
                for (;;) {
                    const ssize_t length = recv(client.fd(), buffer, sizeof buffer, MSG_DONTWAIT);
                    if (length == 0) return true;
                    if (length < 0) return reply.ends_with("serving\n");
                    reply.append(buffer, static_cast<size_t>(length));
                }
            },
            timeout);
        return reply;
    }

    // GET /health on a new connection from `source`; the reply's status line.
    std::string health_from(const char* source, std::chrono::milliseconds timeout = 1s) {
        const auto client = connect_from(source);
        const std::string reply = ask(*client, kHealthRequest, timeout);
        return reply.substr(0, reply.find("\r\n"));
    }
};

// True once the endpoint has closed `client`'s connection (end of stream, or reset).
bool is_closed_by_server(const LoopbackSocket& client) {
    char buffer[256];
    for (int reads = 0; reads < 16; ++reads) {
        const ssize_t length = recv(client.fd(), buffer, sizeof buffer, MSG_DONTWAIT);
        if (length == 0) return true;
        if (length < 0) return errno != EAGAIN && errno != EWOULDBLOCK;
    }
    return false;
}

double cpu_seconds() {
    rusage usage{};
    getrusage(RUSAGE_SELF, &usage);
    return static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
           static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
}

}  // namespace

TEST_CASE("http_endpoint_answers_health_while_slow_clients_fill_its_cap") {
    LimitedEndpoint open(HttpLimits{8, 8, 5000ms});
    std::vector<std::unique_ptr<LoopbackSocket>> silent;
    for (int index = 0; index < 8; ++index) silent.push_back(open.connect_from("127.0.0.2"));
    open.hold(8);

    const auto started = std::chrono::steady_clock::now();
    CHECK(open.health_from("127.0.0.1") == "HTTP/1.1 200 OK");
    CHECK(std::chrono::steady_clock::now() - started < 1s);
    CHECK(open.endpoint.connection_count() <= 8);
    CHECK(is_closed_by_server(*silent.front()));  // the slowest gave way
    CHECK_FALSE(is_closed_by_server(*silent.back()));
}

TEST_CASE("http_endpoint_closes_the_slowest_connection_of_a_client_at_its_cap") {
    LimitedEndpoint open(HttpLimits{64, 3, 5000ms});
    const auto other = open.connect_from("127.0.0.3");
    std::vector<std::unique_ptr<LoopbackSocket>> greedy;
    for (int index = 0; index < 3; ++index) greedy.push_back(open.connect_from("127.0.0.2"));
    open.hold(4);

    greedy.push_back(open.connect_from("127.0.0.2"));
    CHECK(open.loop.run_until([&] { return is_closed_by_server(*greedy[0]); }, 1s));
    open.hold(4);
    for (size_t index = 1; index < greedy.size(); ++index)
        CHECK_FALSE(is_closed_by_server(*greedy[index]));
    CHECK_FALSE(is_closed_by_server(*other));
}

TEST_CASE("http_endpoint_closes_the_busiest_clients_slowest_connection_at_its_cap") {
    LimitedEndpoint open(HttpLimits{6, 6, 5000ms});
    const auto lone = open.connect_from("127.0.0.4");
    std::vector<std::unique_ptr<LoopbackSocket>> busy;
    for (int index = 0; index < 5; ++index) busy.push_back(open.connect_from("127.0.0.5"));
    open.hold(6);

    // The lone client's connection is the oldest, but the busy client gives way.
    CHECK(open.health_from("127.0.0.6") == "HTTP/1.1 200 OK");
    CHECK_FALSE(is_closed_by_server(*lone));
    CHECK(is_closed_by_server(*busy.front()));
}

TEST_CASE("http_endpoint_closes_a_connection_without_a_whole_request_by_its_deadline") {
    LimitedEndpoint open(HttpLimits{64, 32, 300ms});
    const auto dripping = open.connect_from("127.0.0.2");
    const auto silent = open.connect_from("127.0.0.2");
    open.hold(2);
    const std::string partial = "GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: aaaaaaaaaa";
    const auto started = std::chrono::steady_clock::now();
    size_t sent = 0;
    // A byte every 20 ms: an idle timeout would never fire; the deadline must.
    const bool are_closed = open.loop.run_until(
        [&] {
            const auto elapsed = std::chrono::steady_clock::now() - started;
            while (sent < partial.size() && elapsed >= sent * 20ms)
                if (send(dripping->fd(), &partial[sent++], 1, MSG_NOSIGNAL) != 1) break;
            return is_closed_by_server(*dripping) && is_closed_by_server(*silent);
        },
        2s);
    const auto elapsed = std::chrono::steady_clock::now() - started;
    CHECK(are_closed);
    CHECK(elapsed >= 250ms);
    CHECK(elapsed < 1s);
    CHECK(open.endpoint.connection_count() == 0);
}

TEST_CASE("http_endpoint_gives_a_kept_alive_connection_a_new_deadline_after_each_reply") {
    LimitedEndpoint open(HttpLimits{64, 32, 400ms});
    const auto client = open.connect_from("127.0.0.2");
    const std::string request = "GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
    // Three requests 250 ms apart: the last comes after the first deadline (400 ms).
    for (int round = 0; round < 3; ++round) {
        if (round > 0) open.loop.run_until([] { return false; }, 250ms);
        const std::string reply = open.ask(*client, request);
        CHECK_MESSAGE(reply.starts_with("HTTP/1.1 200 OK"), "round ", round, ": ", reply);
        CHECK_MESSAGE(reply.ends_with("serving\n"), "round ", round, ": ", reply);
    }
    // Then idle: closed one deadline after the last reply.
    CHECK(open.loop.run_until([&] { return is_closed_by_server(*client); }, 1s));
}

TEST_CASE("http_endpoint_answers_health_when_accept_runs_out_of_descriptors") {
    LimitedEndpoint open(HttpLimits{64, 64, 5000ms});
    std::vector<std::unique_ptr<LoopbackSocket>> silent;
    for (int index = 0; index < 20; ++index) silent.push_back(open.connect_from("127.0.0.2"));
    open.hold(20);
    const LoopbackSocket probe(SOCK_STREAM, "127.0.0.1");
    std::string reply;
    std::chrono::steady_clock::duration elapsed{};
    {
        DescriptorLimit limit;
        limit.use_up();
        open.connect_client(probe);  // the socket exists: connecting needs no descriptor
        const auto started = std::chrono::steady_clock::now();
        reply = open.ask(probe, kHealthRequest);
        elapsed = std::chrono::steady_clock::now() - started;
    }  // the limit back before any check: a failing one may need a descriptor to report
    CHECK_MESSAGE(reply.starts_with("HTTP/1.1 200 OK"), reply);
    CHECK(elapsed < 1s);
    CHECK(is_closed_by_server(*silent.front()));  // the slowest made room
}

TEST_CASE("http_endpoint_waits_without_spinning_when_no_descriptor_is_free") {
    LimitedEndpoint open(HttpLimits{64, 64, 5000ms});
    const LoopbackSocket probe(SOCK_STREAM, "127.0.0.1");
    DescriptorLimit limit;
    limit.use_up();
    open.connect_client(probe);
    REQUIRE(send(probe.fd(), kHealthRequest, std::char_traits<char>::length(kHealthRequest),
                 MSG_NOSIGNAL) > 0);
    // Nothing of the endpoint's to close: accept(2) keeps failing with EMFILE while the
    // connection waits in the listen queue. The loop must sleep, not spin on it.
    const double cpu_before = cpu_seconds();
    open.loop.run_until([] { return false; }, 500ms);
    const double cpu = cpu_seconds() - cpu_before;
    const size_t held = open.endpoint.connection_count();
    limit.restore();  // before any check: a failing one may need a descriptor to report
    CHECK_MESSAGE(cpu < 0.25, "CPU over 500 ms with no descriptor free: ", cpu, " s");
    CHECK(held == 0);

    std::string reply;
    CHECK(open.loop.run_until(
        [&] {
            char buffer[4096];
            const ssize_t length = recv(probe.fd(), buffer, sizeof buffer, MSG_DONTWAIT);
            if (length > 0) reply.append(buffer, static_cast<size_t>(length));
            return length == 0;
        },
        1s));
    CHECK_MESSAGE(reply.starts_with("HTTP/1.1 200 OK"), reply);
}

TEST_CASE("http_endpoint_caps_connections_at_a_quarter_of_the_descriptor_limit") {
    TestLoop loop;
    HttpEndpoint endpoint(loop.get(), [](std::string_view) { return HttpEndpoint::Reply{}; });
    const TestLoop::Closer closer(loop, [&] { endpoint.close(); });
    const LoopbackSocket reserved(SOCK_STREAM, "127.0.0.1", 0, true);
    const CapturedStderr log;
    std::string error;
    {
        DescriptorLimit limit;
        limit.set(400);
        REQUIRE_MESSAGE(endpoint.open(listen_address("127.0.0.1", reserved.port()), error), error);
    }
    CHECK(endpoint.connection_cap() == 100);
    CHECK(
        log.contains("http: at most 100 connections, a quarter of the descriptor limit "
                     "(RLIMIT_NOFILE 400); raise LimitNOFILE for 1024"));
    CHECK_FALSE(log.contains("warning"));  // loopback: nothing to warn about
}

TEST_CASE("http_endpoint_warns_only_off_loopback") {
    for (const char* address : {"127.0.0.1", "127.8.9.10", "::1", "::ffff:127.0.0.1"})
        CHECK_MESSAGE(off_loopback_warning(listen_address(address, 8053)).empty(), address);
    for (const char* address : {"0.0.0.0", "192.0.2.1", "::", "2001:db8::1", "::ffff:192.0.2.1"}) {
        const ListenAddress listen = listen_address(address, 8053);
        const std::string warning = off_loopback_warning(listen);
        CHECK_MESSAGE(warning.starts_with("warning: [control] http " + listen.text +
                                          " is not a loopback address"),
                      warning);
        CHECK(warning.find("without authentication") != std::string::npos);
    }
}
