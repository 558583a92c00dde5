// A socket bound to a loopback address on a port the kernel picks (or a given one), closed on
// scope exit: the fake peers (secondaries, pool services, HTTP clients) of the main loop's
// network code.
#pragma once

#include <doctest/doctest.h>

#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>
#include <string>

#include "geoip/network.hpp"
#include "server/system/socket_address.hpp"

namespace meridian::testing {

class LoopbackSocket {
  public:
    // `type`: SOCK_STREAM or SOCK_DGRAM; `address`: "127.0.0.1" or "::1". With
    // `reuse_address`, a later socket with SO_REUSEADDR may bind the same port while this one
    // does not listen: a way to hold a port for code that binds it itself.
    LoopbackSocket(int type, const char* address, uint16_t port = 0, bool reuse_address = false) {
        auto parsed = geoip::parse_address(address);
        REQUIRE(parsed);
        parsed->port = port;
        const server::SocketAddress bound = server::to_socket_address(*parsed);
        fd_ = ::socket(bound.storage.ss_family, type | SOCK_CLOEXEC, 0);
        REQUIRE(fd_ >= 0);
        const int on = 1;
        if (reuse_address) setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
        REQUIRE_MESSAGE(::bind(fd_, bound.get(), bound.length) == 0, "bind ", address, ":", port);
    }
    ~LoopbackSocket() { ::close(fd_); }
    LoopbackSocket(const LoopbackSocket&) = delete;
    LoopbackSocket& operator=(const LoopbackSocket&) = delete;

    int fd() const { return fd_; }
    void listen() const { REQUIRE(::listen(fd_, 16) == 0); }

    // The bound address, with the port.
    geoip::Address address() const {
        sockaddr_storage storage{};
        socklen_t length = sizeof storage;
        REQUIRE(getsockname(fd_, reinterpret_cast<sockaddr*>(&storage), &length) == 0);
        const auto address = server::from_socket_address(reinterpret_cast<sockaddr*>(&storage));
        REQUIRE(address);
        return *address;
    }
    uint16_t port() const { return address().port; }

  private:
    int fd_ = -1;
};

}  // namespace meridian::testing
