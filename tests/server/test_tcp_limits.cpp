// The limits that keep TCP open to everyone (RFC 7766 §6.2.3, §10): eviction order when a
// worker is full, the per-client cap and its table, the per-frame deadline, and the buffer
// pool's bound and high-water mark (memory above it goes back to the system).
#include <doctest/doctest.h>

#include <netinet/tcp.h>
#include <poll.h>

#include <chrono>
#include <cstring>
#include <fstream>
#include <map>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "geoip/network.hpp"
#include "server/tcp_buffer_pool.hpp"
#include "server/tcp_connection.hpp"
#include "support/running_worker.hpp"

using namespace meridian::server;
using namespace meridian::testing;

namespace {

void pause_ms(int milliseconds) {
    std::this_thread::sleep_for(std::chrono::milliseconds(milliseconds));
}

// A TCP connection to the worker from `source` (any 127.0.0.0/8 address is local).
int connect_from(const char* source, uint16_t port) {
    const int fd = socket(AF_INET, SOCK_STREAM, 0);
    REQUIRE(fd >= 0);
    const sockaddr_in local = loopback(source, 0);
    REQUIRE(bind(fd, reinterpret_cast<const sockaddr*>(&local), sizeof local) == 0);
    const sockaddr_in address = loopback("127.0.0.1", port);
    REQUIRE(connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address) == 0);
    const int on = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
    set_receive_timeout(fd);
    return fd;
}

void send_bytes(int fd, const std::vector<uint8_t>& bytes, size_t from, size_t to) {
    REQUIRE(send(fd, bytes.data() + from, to - from, MSG_NOSIGNAL) ==
            static_cast<ssize_t>(to - from));
}

// Whether one query on `fd` gets its answer.
bool is_answered(int fd, uint16_t id) {
    const auto query = framed(make_query(id));
    if (send(fd, query.data(), query.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(query.size()))
        return false;
    const auto answer = read_frame(fd);
    return !answer.empty() && id_of(answer) == id;
}

// Whether the worker closed `fd` (EOF or reset) within `milliseconds`.
bool is_closed_within(int fd, int milliseconds) {
    pollfd wait{fd, POLLIN, 0};
    if (poll(&wait, 1, milliseconds) <= 0) return false;
    uint8_t byte;
    const ssize_t n = recv(fd, &byte, 1, MSG_DONTWAIT);
    return n == 0 || (n < 0 && (errno == ECONNRESET || errno == EPIPE));
}

bool wait_for(RunningWorker& running, const std::function<bool(const TrafficTotals&)>& holds) {
    for (int i = 0; i < 400; ++i) {
        if (holds(running.counters.sum())) return true;
        pause_ms(5);
    }
    return holds(running.counters.sum());
}

// This process's resident memory, from /proc/self/status.
size_t resident_kib() {
    std::ifstream status("/proc/self/status");
    std::string line;
    while (std::getline(status, line))
        if (line.rfind("VmRSS:", 0) == 0) return std::stoul(line.substr(6));
    return 0;
}

TcpClientCounts::Key key_of(const char* text) {
    const auto address = meridian::geoip::parse_address(text);
    REQUIRE(address);
    return TcpClientCounts::key_of(*address);
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// The buffer pool: bounded lending, and memory above the high-water mark given back

TEST_CASE("tcp_buffer_pool_returns_memory_above_its_high_water_mark_to_the_system") {
    // The size a connection borrows; 600 of them touched end to end is about 58 MiB.
    constexpr size_t kSize = TcpConnection::kBufferSize;
    constexpr size_t kCount = 600;
    TcpBufferPool pool(kSize, 4);
    const size_t before = resident_kib();
    std::vector<TcpBufferPool::Buffer> lent;
    for (size_t i = 0; i < kCount; ++i) {
        lent.push_back(pool.take());
        REQUIRE(lent.back());
        std::memset(lent.back().get(), static_cast<int>(i), kSize);
    }
    const size_t peak = resident_kib();
    // The newest go back first and stay as the spares: memory lent before them must still
    // be returned, not pinned beneath them.
    while (!lent.empty()) {
        pool.give_back(std::move(lent.back()));
        lent.pop_back();
    }
    const size_t after = resident_kib();
    MESSAGE("RSS before " << before << " KiB, with 600 buffers lent " << peak
                          << " KiB, after they came back " << after << " KiB");
    CHECK(peak - before >= kCount * kSize / 1024 / 2);  // the buffers really were resident
    CHECK(pool.spare_count() == 4);
    // The four spares and a little slack, not the 58 MiB lent. AddressSanitizer's quarantine
    // and shadow memory keep more of the test's own small allocations resident.
#if defined(__SANITIZE_ADDRESS__)
    constexpr size_t kSlackKib = 16384;
#else
    constexpr size_t kSlackKib = 4096;
#endif
    CHECK(after <= before + 4 * kSize / 1024 + kSlackKib);
}

TEST_CASE("tcp_buffer_pool_accounts_the_memory_it_holds") {
    TcpBufferPool pool(8192, 2, 5);
    std::vector<TcpBufferPool::Buffer> lent;
    for (int i = 0; i < 5; ++i) lent.push_back(pool.take());
    CHECK(pool.in_use() == 5);
    CHECK(pool.held_bytes() == 5 * 8192);
    while (!lent.empty()) {
        pool.give_back(std::move(lent.back()));
        lent.pop_back();
    }
    // Two kept as spares (the high-water mark), three freed.
    CHECK(pool.in_use() == 0);
    CHECK(pool.spare_count() == 2);
    CHECK(pool.held_bytes() == 2 * 8192);
    CHECK(pool.freed() == 3);
}

TEST_CASE("tcp_buffer_pool_lends_at_most_its_limit_and_keeps_a_reserve_when_asked") {
    TcpBufferPool pool(4096, 8, 4);
    auto a = pool.take();
    auto b = pool.take();
    // Keeping one back for others: a third is lent, a fourth is not.
    auto c = pool.take(1);
    auto refused_for_reserve = pool.take(1);
    CHECK((a && b && c));
    CHECK(!refused_for_reserve);
    auto d = pool.take();  // the reserve itself
    auto beyond = pool.take();
    CHECK(d);
    CHECK(!beyond);
    CHECK(pool.in_use() == 4);
    CHECK(pool.shortages() == 2);
    pool.give_back(std::move(a));
    CHECK(pool.take());  // room again once one came back
}

// ---------------------------------------------------------------------------------------------
// The per-client table

TEST_CASE("tcp_client_counts_caps_each_address_and_groups_an_ipv6_64") {
    TcpClientCounts counts(16);
    const auto one = key_of("192.0.2.1");
    const auto two = key_of("192.0.2.2");
    CHECK(counts.add(one, 2));
    CHECK(counts.add(one, 2));
    CHECK(!counts.add(one, 2));  // at its cap
    CHECK(counts.add(two, 2));   // another address is not
    CHECK(counts.count(one) == 2);
    counts.remove(one);
    CHECK(counts.add(one, 2));
    // An IPv6 host usually holds its whole /64: its addresses share one count.
    CHECK(counts.add(key_of("2001:db8:1:2::1"), 2));
    CHECK(counts.add(key_of("2001:db8:1:2:ffff::9"), 2));
    CHECK(!counts.add(key_of("2001:db8:1:2:1:2:3:4"), 2));
    CHECK(counts.add(key_of("2001:db8:1:3::1"), 2));
    // An IPv4-mapped address is the IPv4 client, not the ::ffff:0:0/64 of every one of them.
    CHECK(key_of("::ffff:192.0.2.1") == one);
    CHECK(key_of("::ffff:192.0.2.7") != one);
}

TEST_CASE("tcp_client_counts_stays_exact_through_many_arrivals_and_departures") {
    // Up to 64 connections of 20 clients come and go at random; the table must agree with a
    // plain map after every step, never lose a client nor refuse one under its cap.
    TcpClientCounts counts(64);
    std::map<TcpClientCounts::Key, unsigned> expected;
    std::vector<TcpClientCounts::Key> open;
    std::mt19937 random(13);
    const unsigned cap = 6;
    for (int step = 0; step < 20000; ++step) {
        const bool arrives = open.empty() || (open.size() < 64 && random() % 2 == 0);
        if (arrives) {
            const std::string text = "198.51.100." + std::to_string(random() % 20);
            const auto key = key_of(text.c_str());
            const bool added = counts.add(key, cap);
            CHECK(added == (expected[key] < cap));
            if (added) {
                ++expected[key];
                open.push_back(key);
            }
        } else {
            const size_t index = random() % open.size();
            counts.remove(open[index]);
            if (--expected[open[index]] == 0) expected.erase(open[index]);
            open[index] = open.back();
            open.pop_back();
        }
        if (step % 97 == 0)
            for (const auto& [key, count] : expected) REQUIRE(counts.count(key) == count);
    }
    CHECK(counts.size() == expected.size());
}

// ---------------------------------------------------------------------------------------------
// Eviction when the worker is full (RFC 7766 §6.2.3: a server may close idle connections, and
// should under resource pressure)

TEST_CASE("a_full_worker_closes_its_longest_idle_connection_for_a_new_one") {
    WorkerSettings settings;
    settings.tcp_max_connections = 3;
    RunningWorker running(settings);
    const int first = running.connect_tcp();
    REQUIRE(is_answered(first, 1));
    pause_ms(50);
    const int second = running.connect_tcp();
    REQUIRE(is_answered(second, 2));
    pause_ms(50);
    const int third = running.connect_tcp();
    REQUIRE(is_answered(third, 3));
    // Full: the fourth is served, and the one idle the longest makes room.
    const int fourth = running.connect_tcp();
    CHECK(is_answered(fourth, 4));
    CHECK(is_closed_within(first, 2000));
    CHECK(is_answered(second, 5));
    CHECK(is_answered(third, 6));
    CHECK(running.counters.sum().tcp_evicted == 1);
    CHECK(running.counters.sum().tcp_refused == 0);
    for (int fd : {first, second, third, fourth}) close(fd);
}

TEST_CASE("without_idle_connections_the_oldest_partial_frame_is_evicted_first") {
    WorkerSettings settings;
    settings.tcp_max_connections = 3;
    RunningWorker running(settings);
    const auto query = framed(make_query(9));
    // Three clients each start a frame, oldest first, and never finish it.
    std::vector<int> slow;
    for (int i = 0; i < 3; ++i) {
        slow.push_back(running.connect_tcp());
        send_bytes(slow.back(), query, 0, 5);
        pause_ms(80);
    }
    const int fresh = running.connect_tcp();
    CHECK(is_answered(fresh, 10));
    CHECK(is_closed_within(slow[0], 2000));
    // An idle connection goes before any slow one, however old their frames: `fresh`, idle
    // since its answer (for longer than the grace a new connection gets), makes room for
    // the next client.
    pause_ms(400);
    const int another = running.connect_tcp();
    CHECK(is_answered(another, 11));
    CHECK(is_closed_within(fresh, 2000));
    // The two younger slow ones were kept: their frames still complete and are answered.
    for (int i = 1; i < 3; ++i) {
        send_bytes(slow[i], query, 5, query.size());
        const auto answer = read_frame(slow[i]);
        CHECK((!answer.empty() && id_of(answer) == 9));
    }
    CHECK(running.counters.sum().tcp_evicted == 2);
    for (int fd : slow) close(fd);
    close(fresh);
    close(another);
}

TEST_CASE("a_burst_of_new_connections_does_not_evict_itself_before_it_is_read") {
    WorkerSettings settings;
    settings.tcp_max_connections = 3;
    RunningWorker running(settings);
    const auto query = framed(make_query(9));
    std::vector<int> slow;
    for (int i = 0; i < 3; ++i) {
        slow.push_back(running.connect_tcp());
        send_bytes(slow.back(), query, 0, 5);
    }
    pause_ms(100);
    // Three connect at once and only then ask: none may be taken for "idle" and closed for
    // the next, which would leave the slow clients in place and the new ones unanswered.
    std::vector<int> burst;
    for (int i = 0; i < 3; ++i) burst.push_back(running.connect_tcp());
    pause_ms(50);
    for (int i = 0; i < 3; ++i) CHECK(is_answered(burst[i], static_cast<uint16_t>(20 + i)));
    for (int fd : slow) CHECK(is_closed_within(fd, 2000));
    CHECK(running.counters.sum().tcp_evicted == 3);
    for (int fd : slow) close(fd);
    for (int fd : burst) close(fd);
}

// ---------------------------------------------------------------------------------------------
// The per-frame deadline and the per-client cap on a real worker

TEST_CASE("a_frame_trickled_slower_than_the_query_timeout_is_closed") {
    WorkerSettings settings;
    settings.tcp_idle_timeout_ms = 10000;
    settings.tcp_query_timeout_ms = 400;
    RunningWorker running(settings);
    const int fd = running.connect_tcp();
    const auto query = framed(make_query(21));
    const auto started = std::chrono::steady_clock::now();
    bool closed = false;
    // One octet every 100 ms restarts the idle timer each time, never the frame's deadline.
    for (size_t i = 0; i + 1 < query.size() && !closed; ++i) {
        if (send(fd, query.data() + i, 1, MSG_NOSIGNAL) != 1) break;
        closed = is_closed_within(fd, 100);
    }
    const auto elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(
                             std::chrono::steady_clock::now() - started)
                             .count();
    MESSAGE("closed after " << elapsed << " ms with tcp_query_timeout_ms = 400");
    CHECK(closed);
    CHECK(elapsed >= 350);
    CHECK(elapsed < 1500);
    CHECK(wait_for(running, [](const TrafficTotals& t) { return t.tcp_query_timeouts == 1; }));
    close(fd);
}

TEST_CASE("queries_each_complete_in_time_keep_the_connection_past_the_query_timeout") {
    WorkerSettings settings;
    settings.tcp_idle_timeout_ms = 10000;
    settings.tcp_query_timeout_ms = 300;
    RunningWorker running(settings);
    const int fd = running.connect_tcp();
    // 1.2 s of queries, each sent in two halves 100 ms apart, the next one right behind: the
    // deadline runs per frame, not per connection.
    for (uint16_t id = 0; id < 6; ++id) {
        const auto query = framed(make_query(id));
        send_bytes(fd, query, 0, 7);
        pause_ms(100);
        send_bytes(fd, query, 7, query.size());
        const auto answer = read_frame(fd);
        REQUIRE(!answer.empty());
        CHECK(id_of(answer) == id);
        pause_ms(100);
    }
    CHECK(running.counters.sum().tcp_query_timeouts == 0);
    close(fd);
}

TEST_CASE("a_client_address_beyond_its_cap_is_refused_and_others_are_not") {
    WorkerSettings settings;
    settings.tcp_max_connections = 100;
    settings.tcp_max_connections_per_client = 2;
    RunningWorker running(settings);
    const int a = connect_from("127.0.0.5", running.tcp_port);
    const int b = connect_from("127.0.0.5", running.tcp_port);
    CHECK(is_answered(a, 1));
    CHECK(is_answered(b, 2));
    const int c = connect_from("127.0.0.5", running.tcp_port);
    CHECK(is_closed_within(c, 2000));
    const int other = connect_from("127.0.0.6", running.tcp_port);
    CHECK(is_answered(other, 3));
    CHECK(running.counters.sum().tcp_client_refused == 1);
    CHECK(running.counters.sum().tcp_evicted == 0);
    // A closed connection gives the address its slot back.
    close(a);
    CHECK(wait_for(running, [](const TrafficTotals& t) { return t.tcp_open == 2; }));
    const int d = connect_from("127.0.0.5", running.tcp_port);
    CHECK(is_answered(d, 4));
    for (int fd : {b, c, other, d}) close(fd);
}

TEST_CASE("a_large_partial_frame_borrows_a_buffer_and_a_small_one_does_not") {
    RunningWorker running;
    const int small = running.connect_tcp();
    const auto query = framed(make_query(31));
    send_bytes(small, query, 0, 10);
    // A slow client holding a few octets costs no buffer of the pool...
    pause_ms(100);
    CHECK(running.counters.sum().tcp_buffers_in_use == 0);
    send_bytes(small, query, 10, query.size());
    const auto answer = read_frame(small);
    CHECK((!answer.empty() && id_of(answer) == 31));
    // ...while most of a 20,000-octet frame does, until the connection closes.
    const int large = running.connect_tcp();
    std::vector<uint8_t> big(2 + 20000, 0);
    big[0] = 20000 >> 8;
    big[1] = 20000 & 0xff;
    send_bytes(large, big, 0, big.size() - 1);
    CHECK(wait_for(running, [](const TrafficTotals& t) { return t.tcp_buffers_in_use == 1; }));
    close(large);
    CHECK(wait_for(running, [](const TrafficTotals& t) { return t.tcp_buffers_in_use == 0; }));
    close(small);
}
