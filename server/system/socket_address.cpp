// sockaddr_in / sockaddr_in6 to and from geoip::Address.
#include "server/system/socket_address.hpp"

#include <netinet/in.h>

#include <cstring>

namespace meridian::server {

SocketAddress to_socket_address(const geoip::Address& address) {
    SocketAddress result;
    if (address.family == geoip::Family::v4) {
        auto& in = reinterpret_cast<sockaddr_in&>(result.storage);
        in.sin_family = AF_INET;
        in.sin_port = htons(address.port);
        std::memcpy(&in.sin_addr, address.bytes.data(), 4);
        result.length = sizeof(sockaddr_in);
    } else {
        auto& in6 = reinterpret_cast<sockaddr_in6&>(result.storage);
        in6.sin6_family = AF_INET6;
        in6.sin6_port = htons(address.port);
        std::memcpy(&in6.sin6_addr, address.bytes.data(), 16);
        result.length = sizeof(sockaddr_in6);
    }
    return result;
}

std::optional<geoip::Address> from_socket_address(const sockaddr* address) {
    if (!address) return std::nullopt;
    geoip::Address result;
    if (address->sa_family == AF_INET) {
        sockaddr_in in;
        std::memcpy(&in, address, sizeof in);
        result.family = geoip::Family::v4;
        std::memcpy(result.bytes.data(), &in.sin_addr, 4);
        result.port = ntohs(in.sin_port);
        return result;
    }
    if (address->sa_family == AF_INET6) {
        sockaddr_in6 in6;
        std::memcpy(&in6, address, sizeof in6);
        result.family = geoip::Family::v6;
        std::memcpy(result.bytes.data(), &in6.sin6_addr, 16);
        result.port = ntohs(in6.sin6_port);
        return result;
    }
    return std::nullopt;
}

}  // namespace meridian::server
