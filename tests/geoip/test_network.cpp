// Tests for parsing and printing IP networks (geoip/network.hpp).
#include <doctest/doctest.h>

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
