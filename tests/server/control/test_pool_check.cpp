// Pool checks on a real loop against loopback services: a TCP round passes on a connection
// and fails on a refusal; an HTTP round sends the check's path and Host and passes only on
// the expected status; a round passes when at least half its addresses do; a closed runner
// reports nothing more. (Rise and fall over rounds are Hysteresis's: test_pool_health.cpp.)
#include <doctest/doctest.h>

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "server/control/pool_check.hpp"
#include "support/loopback_socket.hpp"
#include "support/uv_test_loop.hpp"

using namespace meridian::server;
using meridian::testing::LoopbackSocket;
using meridian::testing::TestLoop;
using namespace std::chrono_literals;

namespace {

const std::string kLoopback4("\x7F\x00\x00\x01", 4);
const std::string kLoopback6 = std::string(15, '\0') + '\x01';

ServedPool pool_of(std::vector<std::string> addresses, PoolCheck::Type type, uint16_t port) {
    PoolCheck check;
    check.type = type;
    check.port = port;
    check.interval_ms = 100;
    check.timeout_ms = 100;
    return {"fra", std::move(addresses), check, nullptr};
}

// The rounds' verdicts, in order, from a runner started on a loop of its own and closed at
// scope exit.
struct Verdicts {
    TestLoop loop;
    std::vector<std::pair<bool, std::string>> rounds;
    PoolCheckRunner* runner = nullptr;
    TestLoop::Closer closer{loop, [this] { close(); }};

    explicit Verdicts(const ServedPool& pool) {
        runner = PoolCheckRunner::start(loop.get(), pool,
                                        [this](bool passed, const std::string& problem) {
                                            rounds.emplace_back(passed, problem);
                                        });
    }

    // The runner deletes itself once its handles are closed.
    void close() {
        if (runner) runner->close();
        runner = nullptr;
    }

    // The first round's verdict.
    std::pair<bool, std::string> first() {
        REQUIRE_MESSAGE(loop.run_until([this] { return !rounds.empty(); }, 3s), "no verdict");
        return rounds.front();
    }
};

// An HTTP service on its own thread: answers every connection with `reply` once the request's
// headers are in, and keeps the requests.
class CannedHttpServer {
  public:
    explicit CannedHttpServer(std::string reply)
        : listener_(SOCK_STREAM, "127.0.0.1"), reply_(std::move(reply)) {
        listener_.listen();
        stop_ = eventfd(0, EFD_CLOEXEC);
        REQUIRE(stop_ >= 0);
        thread_ = std::thread([this] { serve(); });
    }
    ~CannedHttpServer() {
        const uint64_t one = 1;
        (void)!write(stop_, &one, sizeof one);
        thread_.join();
        close(stop_);
    }

    uint16_t port() const { return listener_.port(); }
    std::string first_request() {
        const std::lock_guard lock(mutex_);
        return requests_.empty() ? std::string() : requests_.front();
    }

  private:
    void serve() {
        for (;;) {
            pollfd fds[2] = {{listener_.fd(), POLLIN, 0}, {stop_, POLLIN, 0}};
            if (poll(fds, 2, -1) < 0 || fds[1].revents) return;
            const int client = accept4(listener_.fd(), nullptr, nullptr, SOCK_CLOEXEC);
            if (client < 0) continue;
            const timeval timeout{2, 0};  // a client that never finishes its request
            setsockopt(client, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
            std::string request;
            char buffer[512];
            while (request.find("\r\n\r\n") == std::string::npos) {
                const ssize_t length = recv(client, buffer, sizeof buffer, 0);
                if (length <= 0) break;
                request.append(buffer, static_cast<size_t>(length));
            }
            {
                const std::lock_guard lock(mutex_);
                requests_.push_back(request);
            }
            (void)!send(client, reply_.data(), reply_.size(), MSG_NOSIGNAL);
            close(client);
        }
    }

    LoopbackSocket listener_;
    std::string reply_;
    int stop_ = -1;
    std::mutex mutex_;
    std::vector<std::string> requests_;
    std::thread thread_;
};

constexpr const char* kOk = "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nok\n";

}  // namespace

TEST_CASE("tcp_check_passes_when_the_service_accepts") {
    const LoopbackSocket service(SOCK_STREAM, "127.0.0.1");
    service.listen();
    Verdicts verdicts(pool_of({kLoopback4}, PoolCheck::Type::tcp, service.port()));
    const auto [passed, problem] = verdicts.first();
    CHECK(passed);
    CHECK(problem.empty());
    // Rounds go on every interval.
    CHECK(verdicts.loop.run_until([&] { return verdicts.rounds.size() >= 3; }, 3s));
}

TEST_CASE("tcp_check_fails_when_the_connection_is_refused_and_names_the_address") {
    const LoopbackSocket closed(SOCK_STREAM, "127.0.0.1");  // bound, not listening: refused
    Verdicts verdicts(pool_of({kLoopback4}, PoolCheck::Type::tcp, closed.port()));
    const auto [passed, problem] = verdicts.first();
    CHECK_FALSE(passed);
    CHECK(problem == "127.0.0.1:" + std::to_string(closed.port()) + ": connection refused");
}

TEST_CASE("http_check_sends_the_path_and_host_and_passes_on_the_expected_status") {
    CannedHttpServer service(kOk);
    ServedPool pool = pool_of({kLoopback4}, PoolCheck::Type::http, service.port());
    pool.check->path = "/healthz?deep=1";
    pool.check->host = "www.example.com";
    Verdicts verdicts(pool);
    const auto [passed, problem] = verdicts.first();
    CHECK_MESSAGE(passed, problem);
    const std::string request = service.first_request();
    CHECK(request.starts_with("GET /healthz?deep=1 HTTP/1.1\r\n"));
    CHECK(request.find("\r\nHost: www.example.com\r\n") != std::string::npos);
    CHECK(request.find("\r\nConnection: close\r\n") != std::string::npos);
}

TEST_CASE("http_check_host_defaults_to_the_address_probed") {
    CannedHttpServer service(kOk);
    Verdicts verdicts(pool_of({kLoopback4}, PoolCheck::Type::http, service.port()));
    CHECK(verdicts.first().first);
    CHECK(service.first_request().find("\r\nHost: 127.0.0.1\r\n") != std::string::npos);
}

TEST_CASE("http_check_fails_on_another_status_and_names_it") {
    CannedHttpServer service("HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n");
    Verdicts verdicts(pool_of({kLoopback4}, PoolCheck::Type::http, service.port()));
    const auto [passed, problem] = verdicts.first();
    CHECK_FALSE(passed);
    CHECK(problem ==
          "127.0.0.1:" + std::to_string(service.port()) + ": HTTP status 503, expected 200");
}

TEST_CASE("http_check_fails_on_a_reply_that_is_not_http") {
    CannedHttpServer service("SSH-2.0-OpenSSH_9.2\r\n");
    Verdicts verdicts(pool_of({kLoopback4}, PoolCheck::Type::http, service.port()));
    const auto [passed, problem] = verdicts.first();
    CHECK_FALSE(passed);
    CHECK(problem.ends_with(": no HTTP status line in the reply"));
}

TEST_CASE("http_check_fails_when_no_status_arrives_within_the_timeout") {
    const LoopbackSocket silent(SOCK_STREAM, "127.0.0.1");
    silent.listen();  // the kernel completes the connection; nobody ever answers
    Verdicts verdicts(pool_of({kLoopback4}, PoolCheck::Type::http, silent.port()));
    const auto started = std::chrono::steady_clock::now();
    const auto [passed, problem] = verdicts.first();
    CHECK_FALSE(passed);
    CHECK(problem.ends_with(": no HTTP status within the timeout"));
    CHECK(std::chrono::steady_clock::now() - started >= 90ms);  // timeout_ms = 100
}

TEST_CASE("round_passes_when_at_least_half_of_the_addresses_pass") {
    const LoopbackSocket service(SOCK_STREAM, "127.0.0.1");
    service.listen();
    const LoopbackSocket refused(SOCK_STREAM, "::1", service.port());  // same port, no listen

    Verdicts half(pool_of({kLoopback6, kLoopback4}, PoolCheck::Type::tcp, service.port()));
    CHECK(half.first().first);

    Verdicts third(
        pool_of({kLoopback6, kLoopback4, kLoopback6}, PoolCheck::Type::tcp, service.port()));
    const auto [passed, problem] = third.first();
    CHECK_FALSE(passed);
    CHECK(problem == "1 of 3 addresses passed; [::1]:" + std::to_string(service.port()) +
                         ": connection refused");
}

TEST_CASE("closed_runner_reports_no_verdict_for_the_round_in_flight") {
    const LoopbackSocket silent(SOCK_STREAM, "127.0.0.1");
    silent.listen();
    std::vector<std::pair<bool, std::string>> rounds;
    {
        Verdicts verdicts(pool_of({kLoopback4}, PoolCheck::Type::http, silent.port()));
        // The probe has connected (waiting in the listener's queue), its timeout still running.
        REQUIRE(verdicts.loop.run_until(
            [&] {
                pollfd waiting{silent.fd(), POLLIN, 0};
                return poll(&waiting, 1, 0) == 1;
            },
            2s));
        verdicts.close();
        // Past the probe's timeout: it finishes, its verdict goes nowhere, and the runner is
        // freed once its handles close.
        CHECK(verdicts.loop.run_until_idle());
        rounds = verdicts.rounds;
    }
    CHECK(rounds.empty());
}
