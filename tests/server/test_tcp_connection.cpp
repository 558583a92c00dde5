// DNS over TCP on a real Worker, for what an idle or stubborn client costs: idle connections
// hold no buffers, a client that stops reading holds a bounded queue and stalls nobody else,
// frames split anywhere are reassembled, buffers go back to the worker's spares, and answers
// allocate nothing once the spares exist.
#include <doctest/doctest.h>

#include <fcntl.h>
#include <netinet/tcp.h>
#include <poll.h>

#include <cerrno>
#include <chrono>
#include <functional>
#include <thread>
#include <vector>

#include "server/tcp_buffer_pool.hpp"
#include "support/allocation_count.hpp"
#include "support/running_worker.hpp"

using namespace meridian::server;
using namespace meridian::testing;

namespace {

// Polls the worker's counters until `holds` is true, for at most two seconds.
bool wait_for_counters(RunningWorker& running,
                       const std::function<bool(const TrafficTotals&)>& holds) {
    for (int i = 0; i < 400; ++i) {
        if (holds(running.counters.sum())) return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return holds(running.counters.sum());
}

// Whether every TCP buffer of `running` has gone back to the pool, waiting a while.
bool all_buffers_returned(RunningWorker& running) {
    return wait_for_counters(
        running, [](const TrafficTotals& totals) { return totals.tcp_buffers_in_use == 0; });
}

// `count` framed queries for www.example.com/A with IDs first, first + 1, ...
std::vector<uint8_t> pipelined_queries(uint16_t first, size_t count) {
    std::vector<uint8_t> stream;
    for (size_t i = 0; i < count; ++i) {
        const auto frame = framed(make_query(static_cast<uint16_t>(first + i)));
        stream.insert(stream.end(), frame.begin(), frame.end());
    }
    return stream;
}

void send_all(int fd, const std::vector<uint8_t>& stream) {
    REQUIRE(send(fd, stream.data(), stream.size(), 0) == static_cast<ssize_t>(stream.size()));
}

// Reads `count` framed answers into a fixed buffer, without allocating; returns how many
// arrived with the IDs expected, in order.
size_t read_answers_in_order(int fd, uint16_t first, size_t count) {
    static uint8_t message[65535];
    for (size_t i = 0; i < count; ++i) {
        uint8_t prefix[2];
        if (recv(fd, prefix, 2, MSG_WAITALL) != 2) return i;
        const size_t length = static_cast<size_t>(prefix[0]) << 8 | prefix[1];
        if (length < 12 || recv(fd, message, length, MSG_WAITALL) != static_cast<ssize_t>(length))
            return i;
        if ((message[0] << 8 | message[1]) != static_cast<uint16_t>(first + i)) return i;
    }
    return count;
}

}  // namespace

TEST_CASE("tcp_buffer_pool_reuses_spares_and_keeps_at_most_its_limit") {
    TcpBufferPool pool(4096, 2);
    auto a = pool.take();
    auto b = pool.take();
    auto c = pool.take();
    REQUIRE((a && b && c));
    CHECK(pool.in_use() == 3);
    CHECK(pool.allocations() == 3);
    uint8_t* const first = a.get();
    pool.give_back(std::move(a));
    pool.give_back(std::move(b));
    pool.give_back(std::move(c));  // beyond the limit: freed
    CHECK(pool.in_use() == 0);
    CHECK(pool.spare_count() == 2);
    auto d = pool.take();
    auto e = pool.take();
    CHECK(pool.allocations() == 3);  // both came from the spares
    CHECK((d.get() == first || e.get() == first));
    pool.give_back(std::move(d));
    pool.give_back(std::move(e));
    pool.give_back({});  // an empty buffer is not counted
    CHECK(pool.in_use() == 0);
}

TEST_CASE("idle_connections_hold_no_buffers_while_a_busy_one_is_answered") {
    WorkerSettings settings;
    settings.tcp_max_connections_per_client = 0;  // all 301 come from 127.0.0.1
    RunningWorker running(settings);
    constexpr size_t kIdle = 300;
    std::vector<int> idle;
    for (size_t i = 0; i < kIdle; ++i) {
        idle.push_back(running.connect_tcp());
        // Half of them have asked one question before going quiet.
        if (i % 2 == 0) {
            send_all(idle.back(), framed(make_query(static_cast<uint16_t>(i))));
            REQUIRE(read_answers_in_order(idle.back(), static_cast<uint16_t>(i), 1) == 1);
        }
    }
    const int busy = running.connect_tcp();
    for (int round = 0; round < 5; ++round) {
        send_all(busy, pipelined_queries(1000, 200));
        REQUIRE(read_answers_in_order(busy, 1000, 200) == 200);
    }
    const bool settled = wait_for_counters(running, [](const TrafficTotals& totals) {
        return totals.tcp_open == kIdle + 1 && totals.tcp_buffers_in_use == 0;
    });
    const TrafficTotals totals = running.counters.sum();
    CHECK(settled);
    CHECK(totals.tcp_open == kIdle + 1);
    CHECK(totals.tcp_buffers_in_use == 0);
    // One connection worked at a time: a handful of buffers served all 301.
    CHECK(totals.tcp_buffer_allocations <= 4);
    for (int fd : idle) close(fd);
    close(busy);
}

TEST_CASE("a_client_that_stops_reading_holds_a_bounded_queue_and_stalls_nobody") {
    RunningWorker running;
    // Small socket buffers, so the queries and answers back up in the server rather than in
    // the kernel.
    const int stubborn = socket(AF_INET, SOCK_STREAM, 0);
    const int window = 4096;
    setsockopt(stubborn, SOL_SOCKET, SO_RCVBUF, &window, sizeof window);
    setsockopt(stubborn, SOL_SOCKET, SO_SNDBUF, &window, sizeof window);
    const sockaddr_in address = loopback("127.0.0.1", running.tcp_port);
    REQUIRE(connect(stubborn, reinterpret_cast<const sockaddr*>(&address), sizeof address) == 0);
    constexpr size_t kQueries = 150000;
    const std::vector<uint8_t> stream = pipelined_queries(0, kQueries);
    size_t sent = 0;
    // Send without reading until the server stops taking queries (bounded: kQueries).
    for (int stalls = 0; sent < stream.size() && stalls < 20;) {
        const ssize_t n = send(stubborn, stream.data() + sent, stream.size() - sent, MSG_DONTWAIT);
        if (n > 0) {
            sent += static_cast<size_t>(n);
            stalls = 0;
        } else {
            REQUIRE((errno == EAGAIN || errno == EWOULDBLOCK));
            ++stalls;
            std::this_thread::sleep_for(std::chrono::milliseconds(5));
        }
    }
    CHECK(sent < stream.size());  // the server stopped reading: backpressure

    // Another client is answered at once, and the stubborn one holds at most its two buffers.
    const int other = running.connect_tcp();
    send_all(other, framed(make_query(7)));
    CHECK(read_answers_in_order(other, 7, 1) == 1);
    close(other);
    CHECK(wait_for_counters(running, [](const TrafficTotals& totals) {
        return totals.tcp_open == 1;  // the other one is gone, with its buffers
    }));
    const TrafficTotals stalled = running.counters.sum();
    CHECK(stalled.tcp_buffers_in_use >= 1);
    CHECK(stalled.tcp_buffers_in_use <= 2);

    // Once it reads, every query it sent is answered, in order, and the buffers come back.
    const size_t whole = sent / framed(make_query(0)).size();
    size_t answered = 0;
    uint8_t buffer[65536];
    std::vector<uint8_t> received;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (answered < kQueries && std::chrono::steady_clock::now() < deadline) {
        pollfd wait{stubborn, POLLIN, 0};
        if (sent < stream.size()) wait.events |= POLLOUT;
        if (poll(&wait, 1, 1000) <= 0) break;
        if (wait.revents & POLLOUT) {
            const ssize_t n =
                send(stubborn, stream.data() + sent, stream.size() - sent, MSG_DONTWAIT);
            if (n > 0) sent += static_cast<size_t>(n);
        }
        if (wait.revents & POLLIN) {
            const ssize_t n = recv(stubborn, buffer, sizeof buffer, MSG_DONTWAIT);
            if (n <= 0) break;
            received.insert(received.end(), buffer, buffer + n);
            size_t offset = 0;
            while (received.size() - offset >= 2) {
                const size_t length =
                    static_cast<size_t>(received[offset]) << 8 | received[offset + 1];
                if (received.size() - offset < 2 + length) break;
                const uint16_t id =
                    static_cast<uint16_t>(received[offset + 2] << 8 | received[offset + 3]);
                if (id != static_cast<uint16_t>(answered)) break;
                ++answered;
                offset += 2 + length;
            }
            received.erase(received.begin(), received.begin() + static_cast<long>(offset));
        }
    }
    CHECK(whole < kQueries);
    CHECK(answered == kQueries);
    CHECK(all_buffers_returned(running));
    close(stubborn);
}

TEST_CASE("a_burst_of_answers_larger_than_the_output_room_is_all_answered") {
    RunningWorker running;
    const int fd = running.connect_tcp();
    // About 100 KiB of queries in one write, then silence: their answers fill the output room
    // several times over, and the queries left waiting must be answered without any further
    // read from this client.
    send_all(fd, pipelined_queries(0, 3000));
    CHECK(read_answers_in_order(fd, 0, 3000) == 3000);
    CHECK(all_buffers_returned(running));
    close(fd);
}

TEST_CASE("pipelined_queries_split_across_segments_are_all_answered") {
    RunningWorker running;
    const int fd = running.connect_tcp();
    const int on = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
    const std::vector<uint8_t> stream = pipelined_queries(500, 30);
    // Seven-octet pieces cut length prefixes and messages at every possible offset.
    for (size_t offset = 0; offset < stream.size(); offset += 7) {
        const size_t piece = std::min<size_t>(7, stream.size() - offset);
        REQUIRE(send(fd, stream.data() + offset, piece, 0) == static_cast<ssize_t>(piece));
        std::this_thread::sleep_for(std::chrono::microseconds(300));
    }
    CHECK(read_answers_in_order(fd, 500, 30) == 30);
    CHECK(all_buffers_returned(running));
    close(fd);
}

TEST_CASE("tcp_answers_allocate_nothing_after_warm_up") {
    RunningWorker running;
    const int fd = running.connect_tcp();
    const std::vector<uint8_t> stream = pipelined_queries(100, 50);
    send_all(fd, stream);
    REQUIRE(read_answers_in_order(fd, 100, 50) == 50);
    REQUIRE(all_buffers_returned(running));
    // Counted in every thread of the binary: the worker's and this one's, which only sends,
    // receives into a static buffer and reads counters until the worker has finished.
    allocations = 0;
    counting = true;
    size_t answered = 0;
    for (int round = 0; round < 20; ++round) {
        if (send(fd, stream.data(), stream.size(), 0) != static_cast<ssize_t>(stream.size())) break;
        answered += read_answers_in_order(fd, 100, 50);
    }
    bool returned = false;
    for (int i = 0; i < 400 && !returned; ++i) {
        returned = running.counters.sum().tcp_buffers_in_use == 0;
        if (!returned) usleep(5000);
    }
    counting = false;
    CHECK(answered == 20 * 50);
    CHECK(returned);
    CHECK(allocations == 0);
    close(fd);
}
