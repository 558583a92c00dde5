// Names in wire form: decompression bounds, case folding, subdomain tests, text round trips.
#include <doctest/doctest.h>

#include <vector>

#include "wire/name.hpp"

using namespace meridian::wire;

namespace {
std::span<const uint8_t> span_of(const std::vector<uint8_t>& v) {
    return {v.data(), v.size()};
}
std::span<const uint8_t> span_of(const std::string& s) {
    return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}
}  // namespace

TEST_CASE("text_round_trip") {
    Name name;
    REQUIRE(from_text("www.Example.COM.", name));
    CHECK(name.length == 17);
    CHECK(to_text(name.view()) == "www.Example.COM.");
    REQUIRE(from_text("no-dot.example", name));
    CHECK(to_text(name.view()) == "no-dot.example.");
    REQUIRE(from_text(".", name));
    CHECK(name.length == 1);
    REQUIRE(from_text("a\\.b.c\\065.", name));
    CHECK(name.bytes[0] == 3);
    CHECK(to_text(name.view()) == "a\\.b.cA.");
}

TEST_CASE("text_rejects_bad_names") {
    Name name;
    CHECK_FALSE(from_text("", name));
    CHECK_FALSE(from_text("a..b.", name));
    CHECK_FALSE(from_text(std::string(64, 'x') + ".com.", name));
    std::string long_name;
    for (int i = 0; i < 50; ++i) long_name += "abcde.";
    CHECK_FALSE(from_text(long_name, name));  // 300 octets
    CHECK_FALSE(from_text("bad\\999.", name));
}

TEST_CASE("read_name_follows_backward_pointers") {
    // "example.com." at offset 0, then "www" + pointer to 0 at offset 13.
    std::vector<uint8_t> m = {7,   'e', 'x', 'a', 'm', 'p', 'l', 'e',  3, 'c',
                              'o', 'm', 0,   3,   'w', 'w', 'w', 0xC0, 0};
    size_t pos = 13;
    Name name;
    REQUIRE(read_name(span_of(m), pos, name));
    CHECK(pos == 19);
    CHECK(to_text(name.view()) == "www.example.com.");
}

TEST_CASE("read_name_refuses_loops_forward_pointers_and_overruns") {
    Name name;
    std::vector<uint8_t> self = {0xC0, 0};
    size_t pos = 0;
    CHECK_FALSE(read_name(span_of(self), pos, name));
    std::vector<uint8_t> forward = {0xC0, 2, 0};
    pos = 0;
    CHECK_FALSE(read_name(span_of(forward), pos, name));
    std::vector<uint8_t> overrun = {5, 'a', 'b'};
    pos = 0;
    CHECK_FALSE(read_name(span_of(overrun), pos, name));
    std::vector<uint8_t> reserved = {0x40, 0};
    pos = 0;
    CHECK_FALSE(read_name(span_of(reserved), pos, name));
    // 128 one-octet labels plus the root: 257 octets, over the limit.
    std::vector<uint8_t> too_long;
    for (int i = 0; i < 128; ++i) too_long.insert(too_long.end(), {1, 'a'});
    too_long.push_back(0);
    pos = 0;
    CHECK_FALSE(read_name(span_of(too_long), pos, name));
}

TEST_CASE("subdomain_checks_label_boundaries") {
    const std::string zone = wire_from_text("example.com.");
    CHECK(is_subdomain(span_of(wire_from_text("www.example.com.")), span_of(zone)));
    CHECK(is_subdomain(span_of(zone), span_of(zone)));
    CHECK_FALSE(is_subdomain(span_of(wire_from_text("wwwexample.com.")), span_of(zone)));
    CHECK_FALSE(is_subdomain(span_of(wire_from_text("com.")), span_of(zone)));
    CHECK(is_subdomain(span_of(zone), span_of(wire_from_text("."))));
}

TEST_CASE("labels_and_suffixes") {
    const std::string name = wire_from_text("a.b.example.com.");
    CHECK(count_labels(span_of(name)) == 4);
    CHECK(name.substr(suffix_offset(span_of(name), 2)) == wire_from_text("example.com."));
    CHECK(name.substr(suffix_offset(span_of(name), 4)) == name);
    CHECK(name.substr(suffix_offset(span_of(name), 0)) == std::string(1, '\0'));
}

TEST_CASE("lowercasing_folds_only_ascii_letters") {
    Name name;
    REQUIRE(from_text("WwW.\\200X.", name));
    to_lower(name);
    CHECK(name.bytes[1] == 'w');
    CHECK(name.bytes[2] == 'w');
    CHECK(name.bytes[5] == 200);
    CHECK(name.bytes[6] == 'x');
    CHECK(equal_ignoring_case(span_of(wire_from_text("A.B.")), span_of(wire_from_text("a.b."))));
}
