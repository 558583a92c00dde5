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

// A 12-octet header, then `rest` at offset 12.
std::vector<uint8_t> message_with(std::initializer_list<uint8_t> rest) {
    std::vector<uint8_t> m(12, 0);
    m.insert(m.end(), rest);
    return m;
}

TEST_CASE("read_name_follows_backward_pointers") {
    // "example.com." at offset 12, then "www" + pointer to 12 at offset 25.
    const auto m = message_with(
        {7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 3, 'c', 'o', 'm', 0, 3, 'w', 'w', 'w', 0xC0, 12});
    size_t pos = 25;
    Name name;
    REQUIRE(read_name(span_of(m), pos, name));
    CHECK(pos == 31);
    CHECK(to_text(name.view()) == "www.example.com.");
    pos = 25;
    REQUIRE(skip_name(span_of(m), pos));
    CHECK(pos == 31);
}

TEST_CASE("names_may_not_point_into_the_header") {
    // RFC 1035 §4.1.4: a pointer leads to an earlier name; the header holds none, though an
    // ID of 0x0000 reads as the root name.
    const auto m = message_with({0xC0, 0});
    size_t pos = 12;
    Name name;
    CHECK_FALSE(read_name(span_of(m), pos, name));
    pos = 12;
    CHECK_FALSE(skip_name(span_of(m), pos));
    const auto via_label = message_with({1, 'a', 0xC0, 4});
    pos = 12;
    CHECK_FALSE(read_name(span_of(via_label), pos, name));
}

TEST_CASE("skip_name_checks_where_a_pointer_leads") {
    // Records after the question are skipped rather than read, under the same rules: a
    // pointer leads backwards to a well-formed name, and the whole name is at most 255 octets.
    struct Case {
        const char* what;
        std::vector<uint8_t> message;
        size_t at;
    };
    const std::vector<Case> bad = {
        {"to itself", message_with({0xC0, 12}), 12},
        {"forward", message_with({0xC0, 14, 3, 'w', 'w', 'w', 0}), 12},
        {"beyond the end", message_with({0xC0, 0xFF}), 12},
        {"cut after its first octet", message_with({3, 'w', 'w', 'w', 0xC0}), 12},
        {"to a reserved label type", message_with({0x40, 0, 0xC0, 12}), 14},
        {"to a name running past the end", message_with({5, 'a', 0xC0, 12}), 14},
        {"to a pointer loop", message_with({0xC0, 12, 0xC0, 12}), 14},
    };
    Name name;
    for (const auto& c : bad) {
        const std::string what = c.what;
        CAPTURE(what);
        size_t pos = c.at;
        CHECK_FALSE(skip_name(span_of(c.message), pos));
        pos = c.at;
        CHECK_FALSE(read_name(span_of(c.message), pos, name));
    }
    // "www.example.com." at 12 ("com." at 24), then 241 octets of labels in place and a
    // pointer: to "com." 246 octets in all, to "www.example.com." 258, over the limit although
    // the part in place is short.
    std::vector<uint8_t> m =
        message_with({3, 'w', 'w', 'w', 7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 3, 'c', 'o', 'm', 0});
    const size_t long_at = m.size();
    for (int i = 0; i < 3; ++i) {
        m.push_back(63);
        m.insert(m.end(), 63, 'a');
    }
    m.push_back(48);
    m.insert(m.end(), 48, 'a');
    m.insert(m.end(), {0xC0, 24});
    size_t pos = long_at;
    REQUIRE(skip_name(span_of(m), pos));
    CHECK(pos == m.size());
    m.back() = 12;
    pos = long_at;
    CHECK_FALSE(skip_name(span_of(m), pos));
    pos = long_at;
    CHECK_FALSE(read_name(span_of(m), pos, name));
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

TEST_CASE("canonical_order_is_rfc4034_section_6_1") {
    // The example list of RFC 4034 §6.1, in order, lowercased as the zone keeps names.
    const std::vector<std::string> ordered = {
        "example.",         "a.example.",      "yljkjljk.a.example.",
        "z.a.example.",     "zabc.a.example.", "z.example.",
        "\\001.z.example.", "*.z.example.",    "\\200.z.example."};
    std::vector<std::string> names;
    for (const auto& text : ordered) {
        names.push_back(wire_from_text(text));
        REQUIRE(!names.back().empty());
    }
    for (size_t i = 0; i < names.size(); ++i)
        for (size_t j = 0; j < names.size(); ++j) {
            CAPTURE(i);
            CAPTURE(j);
            const int order = canonical_compare(span_of(names[i]), span_of(names[j]));
            CHECK((order < 0) == (i < j));
            CHECK((order == 0) == (i == j));
        }
}
