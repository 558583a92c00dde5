// The HTTP endpoint on a real loop, asked over a plain loopback socket: each path gets the
// route's status, type and body, never cached; HEAD gets no body; other methods get 405; the
// route sees the path without its query; a taken port is reported with the address. (Which
// path says what is Control::route's; here the route is a table standing in for it.)
#include <doctest/doctest.h>

#include <sys/socket.h>

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

#include "geoip/network.hpp"
#include "server/control/http_endpoint.hpp"
#include "support/loopback_socket.hpp"
#include "support/uv_test_loop.hpp"

using namespace meridian::server;
using meridian::testing::LoopbackSocket;
using meridian::testing::TestLoop;
using namespace std::chrono_literals;

namespace {

constexpr const char* kMetricsType = "text/plain; version=0.0.4; charset=utf-8";

ListenAddress loopback_at(uint16_t port) {
    auto address = meridian::geoip::parse_address("127.0.0.1");
    REQUIRE(address);
    address->port = port;
    return {"127.0.0.1:" + std::to_string(port), *address};
}

// An endpoint on a free loopback port, answering from a table as Control::route does, and
// remembering the paths it was asked for.
struct OpenEndpoint {
    TestLoop loop;
    std::vector<std::string> paths;
    HttpEndpoint endpoint{loop.get(), [this](std::string_view path) { return route(path); }};
    TestLoop::Closer closer{loop, [this] { endpoint.close(); }};
    uint16_t port = 0;

    OpenEndpoint() {
        // Held with SO_REUSEADDR while the endpoint binds it too: no other process can take
        // the port between choosing it and opening the endpoint.
        const LoopbackSocket reserved(SOCK_STREAM, "127.0.0.1", 0, true);
        port = reserved.port();
        std::string error;
        REQUIRE_MESSAGE(endpoint.open(loopback_at(port), error), error);
    }

    HttpEndpoint::Reply route(std::string_view path) {
        paths.emplace_back(path);
        if (path == "/health") return {200, "text/plain", "serving\n"};
        if (path == "/ready") return {503, "text/plain", "starting\n"};
        if (path == "/metrics") return {200, kMetricsType, "meridian_up 1\n"};
        return {404, "text/plain", "not found\n"};
    }

    // Sends `request` and runs the loop until the endpoint has answered and closed.
    std::string exchange(const std::string& request) {
        const LoopbackSocket client(SOCK_STREAM, "127.0.0.1");
        const auto server = loopback_at(port);
        const SocketAddress address = to_socket_address(server.address);
        // The kernel completes the handshake from the listen queue: connect does not wait
        // for the loop.
        REQUIRE(connect(client.fd(), address.get(), address.length) == 0);
        REQUIRE(send(client.fd(), request.data(), request.size(), MSG_NOSIGNAL) ==
                static_cast<ssize_t>(request.size()));
        std::string reply;
        const bool is_closed = loop.run_until(
            [&] {
                char buffer[4096];
                for (;;) {
                    const ssize_t length = recv(client.fd(), buffer, sizeof buffer, MSG_DONTWAIT);
                    if (length == 0) return true;
                    if (length < 0) return false;
                    reply.append(buffer, static_cast<size_t>(length));
                }
            },
            3s);
        CHECK_MESSAGE(is_closed, "the endpoint did not finish its reply: ", reply);
        return reply;
    }

    std::string get(const std::string& path, const std::string& method = "GET") {
        return exchange(method + " " + path +
                        " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
    }
};

// The parts of an HTTP/1.1 reply a test looks at.
struct Reply {
    std::string status_line;
    std::string headers;  // each "\r\nName: value", lowercase names as sent
    std::string body;

    explicit Reply(const std::string& text) {
        const size_t line_end = text.find("\r\n");
        const size_t head_end = text.find("\r\n\r\n");
        REQUIRE_MESSAGE(head_end != std::string::npos, "no complete reply: ", text);
        status_line = text.substr(0, line_end);
        headers = text.substr(line_end, head_end - line_end + 2);
        body = text.substr(head_end + 4);
    }
    bool has_header(const std::string& line) const {
        return headers.find("\r\n" + line + "\r\n") != std::string::npos;
    }
};

}  // namespace

TEST_CASE("http_endpoint_answers_each_path_with_its_routes_status_type_and_body") {
    OpenEndpoint open;
    const Reply health(open.get("/health"));
    CHECK(health.status_line == "HTTP/1.1 200 OK");
    CHECK(health.has_header("Content-Type: text/plain"));
    CHECK(health.body == "serving\n");

    const Reply ready(open.get("/ready"));
    CHECK(ready.status_line == "HTTP/1.1 503 Service Unavailable");
    CHECK(ready.body == "starting\n");

    const Reply metrics(open.get("/metrics"));
    CHECK(metrics.status_line == "HTTP/1.1 200 OK");
    CHECK(metrics.has_header(std::string("Content-Type: ") + kMetricsType));
    CHECK(metrics.body == "meridian_up 1\n");

    const Reply unknown(open.get("/favicon.ico"));
    CHECK(unknown.status_line == "HTTP/1.1 404 Not Found");
    CHECK(unknown.body == "not found\n");

    CHECK(open.paths == std::vector<std::string>{"/health", "/ready", "/metrics", "/favicon.ico"});
}

TEST_CASE("http_endpoint_replies_are_never_cached") {
    OpenEndpoint open;
    CHECK(Reply(open.get("/health")).has_header("Cache-Control: no-store"));
    CHECK(Reply(open.get("/nowhere")).has_header("Cache-Control: no-store"));
}

TEST_CASE("http_endpoint_routes_the_path_without_its_query") {
    OpenEndpoint open;
    CHECK(Reply(open.get("/ready?verbose=1")).status_line == "HTTP/1.1 503 Service Unavailable");
    CHECK(open.paths == std::vector<std::string>{"/ready"});
}

TEST_CASE("http_endpoint_answers_head_without_a_body") {
    OpenEndpoint open;
    const Reply head(open.get("/health", "HEAD"));
    CHECK(head.status_line == "HTTP/1.1 200 OK");
    CHECK(head.body.empty());
}

TEST_CASE("http_endpoint_refuses_other_methods_with_405_and_allow") {
    OpenEndpoint open;
    const Reply post(
        open.exchange("POST /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: "
                      "close\r\nContent-Length: 0\r\n\r\n"));
    CHECK(post.status_line == "HTTP/1.1 405 Method Not Allowed");
    CHECK(post.has_header("Allow: GET, HEAD"));
    CHECK(open.paths.empty());  // the route is not asked
}

TEST_CASE("http_endpoint_reports_a_taken_port_with_its_address") {
    TestLoop loop;
    const LoopbackSocket taken(SOCK_STREAM, "127.0.0.1");
    taken.listen();
    HttpEndpoint endpoint(loop.get(), [](std::string_view) { return HttpEndpoint::Reply{}; });
    const TestLoop::Closer closer(loop, [&] { endpoint.close(); });
    std::string error;
    CHECK_FALSE(endpoint.open(loopback_at(taken.port()), error));
    CHECK(error ==
          "bind http 127.0.0.1:" + std::to_string(taken.port()) + ": Address already in use");
}
