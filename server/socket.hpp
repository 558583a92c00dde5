// Creating the listening sockets by hand (SO_REUSEPORT, IPV6_V6ONLY, FREEBIND, packet info)
// before libuv is handed their descriptors, and owning those descriptors until then.
#pragma once

#include <string>
#include <utility>

#include "geoip/network.hpp"

namespace meridian::server {

// A move-only owner of one file descriptor.
class Socket {
  public:
    Socket() = default;
    explicit Socket(int fd) : fd_(fd) {}
    Socket(Socket&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
    Socket& operator=(Socket&& other) noexcept;
    Socket(const Socket&) = delete;
    Socket& operator=(const Socket&) = delete;
    ~Socket() { reset(); }

    int fd() const { return fd_; }
    bool is_open() const { return fd_ >= 0; }
    // Gives up ownership, e.g. to a uv_tcp_t, which closes it itself.
    int release() { return std::exchange(fd_, -1); }
    void reset();

  private:
    int fd_ = -1;
};

// A non-blocking UDP socket bound to `address`, with SO_REUSEPORT so every worker binds its
// own socket and the kernel spreads queries between them, and with IP_PKTINFO /
// IPV6_RECVPKTINFO so each answer can leave from the address its query reached, and with
// IP_FREEBIND / IPV6_FREEBIND so an address not (yet) on any interface can be bound.
// On failure returns a closed Socket and sets `error` ("bind 127.0.0.1:53: Permission denied").
Socket open_udp_socket(const geoip::Address& address, std::string& error);

// A non-blocking TCP socket bound to `address` with SO_REUSEPORT, already listening.
Socket open_tcp_listener(const geoip::Address& address, int backlog, std::string& error);

}  // namespace meridian::server
