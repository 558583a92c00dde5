// One real Worker on loopback sockets: UDP answers from the address asked, RFC 7766 TCP
// framing (pipelining, reassembly, refusal of impossible lengths), and its traffic counters.
#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "support/running_worker.hpp"

using namespace meridian::server;
using namespace meridian::testing;

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
