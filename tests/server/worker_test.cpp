// One real Worker on loopback sockets: UDP answers from the address asked, RFC 7766 TCP
// framing (pipelining, reassembly, refusal of impossible lengths), and its traffic counters.
#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "server/config.hpp"
#include "server/snapshot_builder.hpp"
#include "server/socket.hpp"
#include "server/worker.hpp"
#include "support/small_zone.hpp"
#include "support/temp_folder.hpp"

using namespace meridian::server;

namespace {

constexpr const char* kZone = meridian::testing::kSmallExampleZone;

// A query for www.example.com/A with the given ID.
std::vector<uint8_t> make_query(uint16_t id) {
    std::vector<uint8_t> query = {
        static_cast<uint8_t>(id >> 8), static_cast<uint8_t>(id), 0, 0, 0, 1, 0, 0, 0, 0, 0, 0};
    for (std::string label : {"www", "example", "com"}) {
        query.push_back(static_cast<uint8_t>(label.size()));
        query.insert(query.end(), label.begin(), label.end());
    }
    query.insert(query.end(), {0, 0, 1, 0, 1});
    return query;
}

std::vector<uint8_t> framed(const std::vector<uint8_t>& message) {
    std::vector<uint8_t> frame = {static_cast<uint8_t>(message.size() >> 8),
                                  static_cast<uint8_t>(message.size())};
    frame.insert(frame.end(), message.begin(), message.end());
    return frame;
}

uint16_t port_of(int fd) {
    sockaddr_in address{};
    socklen_t length = sizeof address;
    REQUIRE(getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) == 0);
    return ntohs(address.sin_port);
}

sockaddr_in loopback(const char* text, uint16_t port) {
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(port);
    inet_pton(AF_INET, text, &address.sin_addr);
    return address;
}

void set_receive_timeout(int fd) {
    timeval timeout{2, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
}

// A worker serving example.com on a wildcard UDP socket and a loopback TCP listener, both on
// ports the kernel chose.
struct RunningWorker {
    meridian::testing::TempFolder folder;
    std::optional<Config> config;
    std::unique_ptr<SnapshotSlot> slot;
    TrafficCounters counters{1};
    std::unique_ptr<Worker> worker;
    uint16_t udp_port = 0;
    uint16_t tcp_port = 0;

    RunningWorker() {
        folder.write("example.com.zone", kZone);
        const auto path = folder.write(
            "m.toml",
            "[server]\nlisten = [\"127.0.0.1:1\"]\n[[zone]]\nfile = \"example.com.zone\"\n");
        meridian::Diagnostics diagnostics;
        config = load_config(path, diagnostics);
        REQUIRE(config);
        auto snapshot = build_snapshot(*config, diagnostics);
        REQUIRE(snapshot);
        slot = std::make_unique<SnapshotSlot>(std::move(snapshot), 1);

        ListenAddress any = *parse_listen_address("0.0.0.0:1");
        reinterpret_cast<sockaddr_in&>(any.address).sin_port = 0;
        ListenAddress local = *parse_listen_address("127.0.0.1:1");
        reinterpret_cast<sockaddr_in&>(local.address).sin_port = 0;
        std::string error;
        std::vector<Socket> udp, tcp;
        udp.push_back(open_udp_socket(any, error));
        tcp.push_back(open_tcp_listener(local, 16, error));
        REQUIRE_MESSAGE(error.empty(), error);
        udp_port = port_of(udp[0].fd());
        tcp_port = port_of(tcp[0].fd());
        worker = std::make_unique<Worker>(0, config->server, *slot, counters.worker(0));
        REQUIRE(worker->open(std::move(udp), std::move(tcp), error));
        worker->start();
    }
    ~RunningWorker() {
        worker->request_stop();
        worker->join();
    }

    int connect_tcp() const {
        const int fd = socket(AF_INET, SOCK_STREAM, 0);
        const sockaddr_in address = loopback("127.0.0.1", tcp_port);
        REQUIRE(connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address) == 0);
        set_receive_timeout(fd);
        return fd;
    }
};

// Reads one framed message; empty when the server closed the connection (or timed out).
std::vector<uint8_t> read_frame(int fd) {
    uint8_t prefix[2];
    if (recv(fd, prefix, 2, MSG_WAITALL) != 2) return {};
    std::vector<uint8_t> message(static_cast<size_t>(prefix[0]) << 8 | prefix[1]);
    if (recv(fd, message.data(), message.size(), MSG_WAITALL) !=
        static_cast<ssize_t>(message.size()))
        return {};
    return message;
}

uint16_t id_of(const std::vector<uint8_t>& message) {
    return static_cast<uint16_t>(message[0] << 8 | message[1]);
}

}  // namespace

TEST_CASE("udp_answer_leaves_from_the_address_the_query_reached") {
    RunningWorker running;
    const int fd = socket(AF_INET, SOCK_DGRAM, 0);
    set_receive_timeout(fd);
    // The worker's socket is bound to 0.0.0.0; without IP_PKTINFO on send the answer to a
    // query for 127.0.0.2 would leave from 127.0.0.1.
    const sockaddr_in server = loopback("127.0.0.2", running.udp_port);
    const auto query = make_query(4242);
    REQUIRE(sendto(fd, query.data(), query.size(), 0, reinterpret_cast<const sockaddr*>(&server),
                   sizeof server) == static_cast<ssize_t>(query.size()));
    uint8_t answer[1232];
    sockaddr_in source{};
    socklen_t length = sizeof source;
    const ssize_t received =
        recvfrom(fd, answer, sizeof answer, 0, reinterpret_cast<sockaddr*>(&source), &length);
    close(fd);
    REQUIRE(received >= 12);
    CHECK((answer[0] << 8 | answer[1]) == 4242);
    char text[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &source.sin_addr, text, sizeof text);
    CHECK(std::string(text) == "127.0.0.2");
}

TEST_CASE("tcp_pipelined_queries_are_all_answered_in_order") {
    RunningWorker running;
    const int fd = running.connect_tcp();
    std::vector<uint8_t> stream;
    for (uint16_t id = 1; id <= 20; ++id) {
        const auto frame = framed(make_query(id));
        stream.insert(stream.end(), frame.begin(), frame.end());
    }
    REQUIRE(send(fd, stream.data(), stream.size(), 0) == static_cast<ssize_t>(stream.size()));
    for (uint16_t id = 1; id <= 20; ++id) {
        const auto answer = read_frame(fd);
        REQUIRE(answer.size() >= 12);
        CHECK(id_of(answer) == id);
    }
    close(fd);
}

TEST_CASE("tcp_query_split_across_writes_is_reassembled") {
    RunningWorker running;
    const int fd = running.connect_tcp();
    const auto frame = framed(make_query(77));
    for (uint8_t octet : frame) {
        REQUIRE(send(fd, &octet, 1, 0) == 1);
        usleep(1000);
    }
    const auto answer = read_frame(fd);
    REQUIRE(answer.size() >= 12);
    CHECK(id_of(answer) == 77);
    close(fd);
}

TEST_CASE("tcp_message_shorter_than_a_header_closes_the_connection") {
    RunningWorker running;
    for (std::vector<uint8_t> stream :
         {std::vector<uint8_t>{0, 0}, std::vector<uint8_t>{0, 3, 'a', 'b', 'c'}}) {
        const int fd = running.connect_tcp();
        REQUIRE(send(fd, stream.data(), stream.size(), 0) == static_cast<ssize_t>(stream.size()));
        uint8_t octet;
        CHECK(recv(fd, &octet, 1, 0) == 0);  // orderly close, not a timeout (-1)
        close(fd);
    }
}

TEST_CASE("worker_counts_queries_answers_drops_and_connections") {
    RunningWorker running;
    const int udp = socket(AF_INET, SOCK_DGRAM, 0);
    set_receive_timeout(udp);
    const sockaddr_in server = loopback("127.0.0.1", running.udp_port);
    const auto send_udp = [&](const std::vector<uint8_t>& message) {
        REQUIRE(sendto(udp, message.data(), message.size(), 0,
                       reinterpret_cast<const sockaddr*>(&server),
                       sizeof server) == static_cast<ssize_t>(message.size()));
    };
    send_udp(make_query(1));
    uint8_t answer[1232];
    REQUIRE(recv(udp, answer, sizeof answer, 0) >= 12);
    auto response = make_query(2);
    response[2] |= 0x80;  // QR: a response is dropped without an answer
    send_udp(response);
    send_udp(make_query(3));  // answered after the drop, so the drop has been counted
    REQUIRE(recv(udp, answer, sizeof answer, 0) >= 12);
    close(udp);

    const int tcp = running.connect_tcp();
    const auto frame = framed(make_query(4));
    REQUIRE(send(tcp, frame.data(), frame.size(), 0) == static_cast<ssize_t>(frame.size()));
    REQUIRE(read_frame(tcp).size() >= 12);
    close(tcp);

    const size_t udp_index = static_cast<size_t>(meridian::zones::Transport::udp);
    const size_t tcp_index = static_cast<size_t>(meridian::zones::Transport::tcp);
    const size_t a = qtype_bucket(1);
    // The TCP counters are written before the answer is sent, the open-connection gauge
    // only once the worker has seen the close: wait for that, bounded.
    TrafficTotals totals;
    for (int i = 0; i < 200; ++i) {
        totals = running.counters.sum();
        if (totals.tcp_open == 0) break;
        usleep(5000);
    }
    CHECK(totals.queries[udp_index][a] == 2);
    CHECK(totals.responses[udp_index][0] == 2);  // NOERROR
    CHECK(totals.dropped[udp_index] == 1);
    CHECK(totals.queries[tcp_index][a] == 1);
    CHECK(totals.responses[tcp_index][0] == 1);
    CHECK(totals.tcp_accepted == 1);
    CHECK(totals.tcp_open == 0);
}
