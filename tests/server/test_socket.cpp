// The listening sockets: SO_REUSEPORT (so workers share a port), IPV6_V6ONLY, FREEBIND (so an
// anycast address can be bound before it is on the host), packet info.
#include <doctest/doctest.h>

#include <netinet/in.h>
#include <sys/socket.h>

#include "geoip/network.hpp"
#include "server/socket.hpp"
#include "server/system/socket_address.hpp"

namespace geoip = meridian::geoip;

using namespace meridian::server;

namespace {

int option(int fd, int level, int name) {
    int value = 0;
    socklen_t length = sizeof value;
    REQUIRE(getsockopt(fd, level, name, &value, &length) == 0);
    return value;
}

// The port the kernel chose for `fd`, on 127.0.0.1 or ::1.
geoip::Address bound_address(int fd) {
    sockaddr_storage address{};
    socklen_t length = sizeof address;
    REQUIRE(getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) == 0);
    auto bound = from_socket_address(reinterpret_cast<const sockaddr*>(&address));
    REQUIRE(bound);
    return *bound;
}

// Port 0 lets the kernel choose (the config refuses it).
geoip::Address any_port(const char* text) {
    auto address = geoip::parse_address(text);
    REQUIRE(address);
    return *address;
}

geoip::Address any_port(int family) {
    return any_port(family == AF_INET6 ? "::1" : "127.0.0.1");
}

}  // namespace

TEST_CASE("udp_socket_pair_shares_a_port_with_so_reuseport") {
    std::string error;
    Socket first = open_udp_socket(any_port(AF_INET), error);
    REQUIRE_MESSAGE(first.is_open(), error);
    CHECK(option(first.fd(), SOL_SOCKET, SO_REUSEPORT) == 1);
    // Bound to one address, the socket answers from it: no per-datagram packet info.
    CHECK(option(first.fd(), IPPROTO_IP, IP_PKTINFO) == 0);
    // A second bind to the same address succeeds only because both sockets have SO_REUSEPORT.
    Socket second = open_udp_socket(bound_address(first.fd()), error);
    REQUIRE_MESSAGE(second.is_open(), error);
    CHECK(option(second.fd(), SOL_SOCKET, SO_REUSEPORT) == 1);
}

TEST_CASE("tcp_listener_pair_shares_a_port_with_so_reuseport") {
    std::string error;
    Socket first = open_tcp_listener(any_port(AF_INET), 16, error);
    REQUIRE_MESSAGE(first.is_open(), error);
    CHECK(option(first.fd(), SOL_SOCKET, SO_REUSEPORT) == 1);
    CHECK(option(first.fd(), SOL_SOCKET, SO_ACCEPTCONN) == 1);
    Socket second = open_tcp_listener(bound_address(first.fd()), 16, error);
    REQUIRE_MESSAGE(second.is_open(), error);
    CHECK(option(second.fd(), SOL_SOCKET, SO_REUSEPORT) == 1);
}

TEST_CASE("ipv6_sockets_are_v6_only") {
    std::string error;
    Socket udp = open_udp_socket(any_port(AF_INET6), error);
    if (!udp.is_open()) {
        MESSAGE("no IPv6 loopback here: " << error);
        return;
    }
    CHECK(option(udp.fd(), IPPROTO_IPV6, IPV6_V6ONLY) == 1);
    CHECK(option(udp.fd(), IPPROTO_IPV6, IPV6_RECVPKTINFO) == 0);
    Socket tcp = open_tcp_listener(any_port(AF_INET6), 16, error);
    REQUIRE_MESSAGE(tcp.is_open(), error);
    CHECK(option(tcp.fd(), IPPROTO_IPV6, IPV6_V6ONLY) == 1);
}

TEST_CASE("only_wildcard_udp_binds_ask_for_each_query_destination") {
    // A wildcard socket must learn where each query went to answer from that address.
    std::string error;
    const geoip::Address any4 = any_port("0.0.0.0");
    Socket udp4 = open_udp_socket(any4, error);
    REQUIRE_MESSAGE(udp4.is_open(), error);
    CHECK(option(udp4.fd(), IPPROTO_IP, IP_PKTINFO) == 1);
    const geoip::Address any6 = any_port("::");
    Socket udp6 = open_udp_socket(any6, error);
    if (udp6.is_open()) CHECK(option(udp6.fd(), IPPROTO_IPV6, IPV6_RECVPKTINFO) == 1);
}

TEST_CASE("address_not_on_any_interface_binds_with_freebind") {
    // 198.51.100.53 (TEST-NET-2) stands for an anycast address not yet on the host: with
    // IP_FREEBIND the bind succeeds, so the server starts before the address is added.
    std::string error;
    const auto address = *geoip::parse_address_and_port("198.51.100.53:5300");
    Socket udp = open_udp_socket(address, error);
    REQUIRE_MESSAGE(udp.is_open(), error);
    CHECK(option(udp.fd(), IPPROTO_IP, IP_FREEBIND) == 1);
    Socket tcp = open_tcp_listener(address, 16, error);
    REQUIRE_MESSAGE(tcp.is_open(), error);
    CHECK(option(tcp.fd(), IPPROTO_IP, IP_FREEBIND) == 1);
}

TEST_CASE("ipv6_address_not_on_any_interface_binds_with_freebind") {
    std::string error;
    const auto address = *geoip::parse_address_and_port("[2001:db8::53]:5300");
    Socket udp = open_udp_socket(address, error);
    if (!udp.is_open() && error.find("socket ") == 0) {
        MESSAGE("no IPv6 here: " << error);
        return;
    }
    REQUIRE_MESSAGE(udp.is_open(), error);
    CHECK(option(udp.fd(), IPPROTO_IPV6, IPV6_FREEBIND) == 1);
    Socket tcp = open_tcp_listener(address, 16, error);
    REQUIRE_MESSAGE(tcp.is_open(), error);
}

TEST_CASE("bind_failure_reports_the_address") {
    // A socket without SO_REUSEPORT holds the port, so our bind to it fails.
    const int holder = ::socket(AF_INET, SOCK_DGRAM, 0);
    REQUIRE(holder >= 0);
    Socket held(holder);
    const SocketAddress any = to_socket_address(any_port(AF_INET));
    REQUIRE(::bind(holder, any.get(), any.length) == 0);
    const geoip::Address taken = bound_address(holder);
    std::string error;
    Socket socket = open_udp_socket(taken, error);
    CHECK_FALSE(socket.is_open());
    CHECK(error.find("bind " + geoip::to_string(taken) + ": ") == 0);
}
