// A real Worker on loopback sockets the kernel picked, and the client helpers the worker and
// TCP connection tests share: queries, two-octet framing, reading one framed answer.
#pragma once

#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <csignal>
#include <memory>
#include <string>
#include <vector>

#include "geoip/network.hpp"
#include "server/socket.hpp"
#include "server/worker.hpp"
#include "support/small_zone.hpp"
#include "support/temp_folder.hpp"
#include "zones/snapshot.hpp"
#include "zones/zone_loader.hpp"

namespace meridian::testing {

using namespace meridian::server;

constexpr const char* kWorkerZone = kSmallExampleZone;

// A query for www.example.com/A with the given ID.
inline std::vector<uint8_t> make_query(uint16_t id) {
    std::vector<uint8_t> query = {
        static_cast<uint8_t>(id >> 8), static_cast<uint8_t>(id), 0, 0, 0, 1, 0, 0, 0, 0, 0, 0};
    for (std::string label : {"www", "example", "com"}) {
        query.push_back(static_cast<uint8_t>(label.size()));
        query.insert(query.end(), label.begin(), label.end());
    }
    query.insert(query.end(), {0, 0, 1, 0, 1});
    return query;
}

inline std::vector<uint8_t> framed(const std::vector<uint8_t>& message) {
    std::vector<uint8_t> frame = {static_cast<uint8_t>(message.size() >> 8),
                                  static_cast<uint8_t>(message.size())};
    frame.insert(frame.end(), message.begin(), message.end());
    return frame;
}

inline uint16_t port_of(int fd) {
    sockaddr_in address{};
    socklen_t length = sizeof address;
    REQUIRE(getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) == 0);
    return ntohs(address.sin_port);
}

inline sockaddr_in loopback(const char* text, uint16_t port) {
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(port);
    inet_pton(AF_INET, text, &address.sin_addr);
    return address;
}

inline void set_receive_timeout(int fd) {
    timeval timeout{2, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
}

// A worker serving example.com on a wildcard UDP socket and a loopback TCP listener, both on
// ports the kernel chose; `settings` are the worker's (the [server] defaults unless given).
struct RunningWorker {
    meridian::testing::TempFolder folder;
    std::unique_ptr<SnapshotSlot> slot;
    TrafficCounters counters{1};
    std::unique_ptr<Worker> worker;
    uint16_t udp_port = 0;
    uint16_t tcp_port = 0;

    explicit RunningWorker(const WorkerSettings& settings = {}) {
        // As serve() does for the real binary: a write to a connection the client closed
        // must fail with EPIPE, not kill the process.
        std::signal(SIGPIPE, SIG_IGN);
        const auto file = folder.write("example.com.zone", kWorkerZone);
        auto loaded = meridian::zones::load_zone_file(file, "");
        REQUIRE(loaded.zone);
        auto snapshot = std::make_unique<meridian::zones::Snapshot>();
        snapshot->catalog.add(std::move(loaded.zone));
        snapshot->settings.identity = "test-pop";
        snapshot->settings.udp_payload = settings.udp_payload;
        slot = std::make_unique<SnapshotSlot>(std::move(snapshot), 1);

        // Port 0: the kernel picks one.
        const auto any = meridian::geoip::parse_address("0.0.0.0");
        const auto local = meridian::geoip::parse_address("127.0.0.1");
        REQUIRE((any && local));
        std::string error;
        std::vector<Socket> udp, tcp;
        udp.push_back(open_udp_socket(*any, error));
        tcp.push_back(open_tcp_listener(*local, 16, error));
        REQUIRE_MESSAGE(error.empty(), error);
        udp_port = port_of(udp[0].fd());
        tcp_port = port_of(tcp[0].fd());
        worker = std::make_unique<Worker>(0, settings, *slot, counters.worker(0), nullptr);
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
inline std::vector<uint8_t> read_frame(int fd) {
    uint8_t prefix[2];
    if (recv(fd, prefix, 2, MSG_WAITALL) != 2) return {};
    std::vector<uint8_t> message(static_cast<size_t>(prefix[0]) << 8 | prefix[1]);
    if (recv(fd, message.data(), message.size(), MSG_WAITALL) !=
        static_cast<ssize_t>(message.size()))
        return {};
    return message;
}

inline uint16_t id_of(const std::vector<uint8_t>& message) {
    return static_cast<uint16_t>(message[0] << 8 | message[1]);
}

}  // namespace meridian::testing
