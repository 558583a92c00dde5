// Between the socket API's addresses and geoip::Address, the address type of every layer
// above the sockets: converted where a socket is opened, sent to or received from.
#pragma once

#include <sys/socket.h>

#include <optional>

#include "geoip/network.hpp"

namespace meridian::server {

struct SocketAddress {
    sockaddr_storage storage{};
    socklen_t length = 0;

    const sockaddr* get() const { return reinterpret_cast<const sockaddr*>(&storage); }
};

SocketAddress to_socket_address(const geoip::Address& address);

// An AF_INET or AF_INET6 address as it is (an IPv4-mapped IPv6 address stays IPv6: see
// geoip::unmapped); nullopt for any other family.
std::optional<geoip::Address> from_socket_address(const sockaddr* address);

}  // namespace meridian::server
