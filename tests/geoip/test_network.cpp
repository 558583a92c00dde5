// Tests for parsing, printing and matching IP addresses and networks (geoip/network.hpp).
#include <doctest/doctest.h>

#include <arpa/inet.h>

#include <cstring>
#include <string_view>

#include "geoip/network.hpp"

using namespace meridian::geoip;

TEST_CASE("ipv4_and_ipv6_networks_parse_with_their_length") {
    std::string error;
    auto v4 = parse_prefix("198.18.0.0/16", error);
    REQUIRE(v4);
    CHECK(v4->family == Family::v4);
    CHECK(v4->length == 16);
    CHECK(v4->address[0] == 198);
    CHECK(v4->address[1] == 18);
    CHECK(to_string(*v4) == "198.18.0.0/16");

    auto v6 = parse_prefix("2001:db8::/32", error);
    REQUIRE(v6);
    CHECK(v6->family == Family::v6);
    CHECK(v6->length == 32);
    CHECK(to_string(*v6) == "2001:db8::/32");

    CHECK(parse_prefix("0.0.0.0/0", error)->length == 0);
    CHECK(parse_prefix("::/0", error)->length == 0);
}

TEST_CASE("a_bare_address_is_a_host_network") {
    std::string error;
    CHECK(parse_prefix("192.0.2.1", error)->length == 32);
    CHECK(parse_prefix("2001:db8::1", error)->length == 128);
}

TEST_CASE("bad_networks_are_refused_with_the_cause") {
    const std::pair<const char*, const char*> cases[] = {
        {"", "not an IPv4 or IPv6 address"},
        {"example.com/8", "not an IPv4 or IPv6 address"},
        {"256.0.0.0/8", "not an IPv4 or IPv6 address"},
        {"10.0.0.0/33", "exceeds 32 bits"},
        {"2001:db8::/129", "exceeds 128 bits"},
        {"10.0.0.0/", "not a number"},
        {"10.0.0.0/+8", "not a number"},
        {"10.0.0.0/8x", "not a number"},
        {"10.0.0.0/ 8", "not a number"},
        {"10.1.0.0/8", "host bits set"},
        {"2001:db8::1/64", "host bits set"},
    };
    for (auto [text, cause] : cases) {
        std::string error;
        CAPTURE(text);
        CHECK_FALSE(parse_prefix(text, error));
        CHECK(error.find(cause) != std::string::npos);
        CHECK(error.find(std::string("\"") + text + "\"") != std::string::npos);
    }
}

TEST_CASE("make_prefix_clears_host_bits") {
    const uint8_t bytes[4] = {192, 0, 2, 255};
    const Prefix prefix = make_prefix(Family::v4, bytes, 25);
    CHECK(to_string(prefix) == "192.0.2.128/25");
}

// The address parser and printer stand in for inet_pton and inet_ntop (no socket headers
// below the front end), so they are held to them, text for text.
TEST_CASE("address_parsing_and_printing_agree_with_inet_pton_and_inet_ntop") {
    const char* texts[] = {
        "0.0.0.0",
        "127.0.0.1",
        "255.255.255.255",
        "192.0.2.1",
        "01.2.3.4",
        "1.2.3",
        "1.2.3.4.5",
        "256.1.1.1",
        "1..2.3",
        "1.2.3.4 ",
        "",
        "::",
        "::1",
        "1::",
        "2001:db8::1",
        "2001:DB8::A",
        "2001:db8:0:0:1:0:0:1",
        "2001:0db8:0000:0000:0000:0000:0000:0001",
        "::ffff:10.1.2.3",
        "::10.1.2.3",
        "1:2:3:4:5:6:7:8",
        "1:2:3:4:5:6:7::",
        "::2:3:4:5:6:7:8",
        "1:2:3:4:5:6:7:8:9",
        ":::",
        "1:::2",
        "1::2::3",
        ":1::2",
        "1::2:",
        "12345::",
        "g::",
        "1:2:3:4:5:6:1.2.3.4",
        "1:2:3:4:5:6:7:1.2.3.4",
        "::1.2.3",
        "fe80::1%eth0",
        "0:0:1:0:0:0:0:0",
        "1:0:0:2:0:0:0:3",
        "::ffff:0:0",
        "64:ff9b::192.0.2.33",
        "2001:db8::",
        "[::1]",
    };
    for (const char* text : texts) {
        CAPTURE(text);
        uint8_t expected[16] = {};
        const bool is_v6 = std::string_view(text).find(':') != std::string_view::npos;
        const bool libc = inet_pton(is_v6 ? AF_INET6 : AF_INET, text, expected) == 1;
        Family family;
        uint8_t bytes[16] = {};
        const bool ours = parse_address_bytes(text, family, bytes);
        REQUIRE(ours == libc);
        if (!ours) continue;
        CHECK(family == (is_v6 ? Family::v6 : Family::v4));
        CHECK(std::memcmp(bytes, expected, is_v6 ? 16 : 4) == 0);
        char printed[INET6_ADDRSTRLEN] = {};
        inet_ntop(is_v6 ? AF_INET6 : AF_INET, expected, printed, sizeof printed);
        CHECK(address_text(family, bytes) == printed);
    }
}

TEST_CASE("address_and_port_forms") {
    const auto v4 = parse_address_and_port("192.0.2.1:53");
    REQUIRE(v4);
    CHECK(v4->port == 53);
    CHECK(to_string(*v4) == "192.0.2.1:53");
    const auto v6 = parse_address_and_port("[2001:db8::1]:5300");
    REQUIRE(v6);
    CHECK(v6->family == Family::v6);
    CHECK(to_string(*v6) == "[2001:db8::1]:5300");
    CHECK_FALSE(parse_address_and_port("192.0.2.1"));
    CHECK(parse_address_and_port("192.0.2.1", 53)->port == 53);
    CHECK(parse_address_and_port("2001:db8::1", 53)->port == 53);
    CHECK(parse_address_and_port("[2001:db8::1]", 53)->port == 53);
    CHECK_FALSE(parse_address_and_port("192.0.2.1:0"));
    CHECK_FALSE(parse_address_and_port("192.0.2.1:65536"));
    CHECK_FALSE(parse_address_and_port("192.0.2.1:+53"));
    CHECK_FALSE(parse_address_and_port("[192.0.2.1]:53"));
    CHECK_FALSE(parse_address_and_port("[2001:db8::1]:"));
    CHECK_FALSE(parse_address_and_port("example.com:53"));
}

TEST_CASE("mapped_addresses_match_ipv4_networks") {
    std::string error;
    const auto network = parse_prefix("10.0.0.0/8", error);
    REQUIRE(network);
    CHECK(contains(*network, *parse_address("10.1.2.3")));
    CHECK(contains(*network, *parse_address("::ffff:10.1.2.3")));
    CHECK_FALSE(contains(*network, *parse_address("11.1.2.3")));
    CHECK_FALSE(contains(*network, *parse_address("::10.1.2.3")));  // compatible, not mapped
    const auto odd = parse_prefix("2001:db8:8000::/33", error);
    REQUIRE(odd);
    CHECK(contains(*odd, *parse_address("2001:db8:ffff::1")));
    CHECK_FALSE(contains(*odd, *parse_address("2001:db8:7fff::1")));
    CHECK(unmapped(*parse_address("::ffff:192.0.2.1")) == *parse_address("192.0.2.1"));
}

TEST_CASE("client_network_is_an_ipv4_address_or_an_ipv6_64") {
    const auto v6 = client_network(*parse_address_and_port("[2001:db8:1:2:3:4:5:6]:53"));
    CHECK(v6 == *parse_address("2001:db8:1:2::"));
    CHECK(client_network(*parse_address("2001:db8:1:2:ffff::1")) == v6);
    CHECK_FALSE(client_network(*parse_address("2001:db8:1:3::1")) == v6);
    const auto v4 = client_network(*parse_address_and_port("192.0.2.1:53"));
    CHECK(v4 == *parse_address("192.0.2.1"));
    CHECK(client_network(*parse_address("::ffff:192.0.2.1")) == v4);  // as a dual-stack socket
    CHECK_FALSE(client_network(*parse_address("192.0.2.2")) == v4);
}
