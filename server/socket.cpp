// Socket creation for the listeners. Done by hand rather than through libuv because libuv
// 1.44's UV_UDP_REUSEADDR only sets SO_REUSEADDR, which does not spread load across workers.
#include "server/socket.hpp"

#include <fcntl.h>
#include <netinet/in.h>

#include <sys/socket.h>
#include <unistd.h>
#include <cerrno>
#include <cstring>

#include "server/system/socket_address.hpp"

namespace meridian::server {

Socket& Socket::operator=(Socket&& other) noexcept {
    if (this != &other) {
        reset();
        fd_ = std::exchange(other.fd_, -1);
    }
    return *this;
}

void Socket::reset() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
}

namespace {

bool set_option(int fd, int level, int name, std::string& error, const char* what) {
    int on = 1;
    if (setsockopt(fd, level, name, &on, sizeof on) == 0) return true;
    error = std::string("setsockopt ") + what + ": " + std::strerror(errno);
    return false;
}

bool is_wildcard(const geoip::Address& address) {
    for (const uint8_t byte : address.bytes)
        if (byte != 0) return false;
    return true;
}

// Everything both transports share: the family's options, SO_REUSEPORT and bind.
// Each configured address is bound explicitly, never a wildcard standing in for it: the
// kernel then routes each query to the socket of the address it was sent to, and answers
// leave from that address. IP_FREEBIND / IPV6_FREEBIND let the bind succeed before the
// address exists on the host, so Meridian can start before the anycast address is put on
// an interface, and its sockets survive the address being withdrawn and added again.
Socket open_bound_socket(const geoip::Address& address, int type, std::string& error) {
    const SocketAddress bound = to_socket_address(address);
    const int family = bound.storage.ss_family;
    Socket socket(::socket(family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (!socket.is_open()) {
        error = "socket " + geoip::to_string(address) + ": " + std::strerror(errno);
        return {};
    }
    const int fd = socket.fd();
    if (!set_option(fd, SOL_SOCKET, SO_REUSEADDR, error, "SO_REUSEADDR") ||
        !set_option(fd, SOL_SOCKET, SO_REUSEPORT, error, "SO_REUSEPORT"))
        return {};
    // A v6 listener must not also claim the v4 port: "0.0.0.0:53" and "[::]:53" are
    // configured as two separate listen entries.
    if (family == AF_INET6 && !set_option(fd, IPPROTO_IPV6, IPV6_V6ONLY, error, "IPV6_V6ONLY"))
        return {};
    const bool is_free = family == AF_INET6
                             ? set_option(fd, IPPROTO_IPV6, IPV6_FREEBIND, error, "IPV6_FREEBIND")
                             : set_option(fd, IPPROTO_IP, IP_FREEBIND, error, "IP_FREEBIND");
    if (!is_free) return {};
    // A socket bound to one address answers from it; only a wildcard bind needs the
    // destination of each query (IP_PKTINFO) to answer from the address that was asked.
    // Specific binds skip it: no control message to fill in and parse per datagram.
    if (type == SOCK_DGRAM && is_wildcard(address)) {
        const bool ok =
            family == AF_INET6
                ? set_option(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, error, "IPV6_RECVPKTINFO")
                : set_option(fd, IPPROTO_IP, IP_PKTINFO, error, "IP_PKTINFO");
        if (!ok) return {};
    }
    if (::bind(fd, bound.get(), bound.length) != 0) {
        error = "bind " + geoip::to_string(address) + ": " + std::strerror(errno);
        return {};
    }
    return socket;
}

}  // namespace

Socket open_udp_socket(const geoip::Address& address, std::string& error) {
    return open_bound_socket(address, SOCK_DGRAM, error);
}

Socket open_tcp_listener(const geoip::Address& address, int backlog, std::string& error) {
    Socket socket = open_bound_socket(address, SOCK_STREAM, error);
    if (!socket.is_open()) return {};
    if (::listen(socket.fd(), backlog) != 0) {
        error = "listen " + geoip::to_string(address) + ": " + std::strerror(errno);
        return {};
    }
    return socket;
}

}  // namespace meridian::server
