// Loading master files: directives, every common type, RFC 3597 unknown types, and errors
// that name the file and line.
#include <doctest/doctest.h>

#include "support/answer_fixture.hpp"
#include "wire/name.hpp"
#include "zones/zone_loader.hpp"

using namespace meridian;
using namespace meridian::testing;

namespace {

std::string all_messages(const Diagnostics& diagnostics) {
    std::string text;
    for (const auto& d : diagnostics) text += d.to_string() + "\n";
    return text;
}

const char* kHead = "$TTL 300\n@ SOA ns h 1 7200 900 1209600 60\n@ NS ns\nns A 192.0.2.1\n";

}  // namespace

TEST_CASE("loads_every_common_type") {
    TempFolder dir;
    const auto file = dir.write("z.zone", std::string(kHead) + R"(
a       A      192.0.2.2
aaaa    AAAA   2001:db8::2
cn      CNAME  a
mx      MX     10 a
txt     TXT    "one" "two words"
srv     SRV    1 2 3 a
caa     CAA    0 issue "ca.example"
ptr     PTR    a.example.com.
naptr   NAPTR  100 10 "S" "SIP+D2U" "" _sip._udp
dn      DNAME  elsewhere.example.
ds      NS     ns.ds
ds      DS     12345 8 2 49FD46E6C4B45C55D4AC69CBD3CD34AC1AFE51DE2D4A7E6E23E8D8E2C2CBB2B6
ns.ds   A      192.0.2.3
unknown TYPE65280 \# 4 0a000001
)");
    auto result = zones::load_zone_file(file, "example.com.");
    INFO(all_messages(result.diagnostics));
    REQUIRE(result.zone);
    CHECK(result.zone->record_count() == 17);
    CHECK(result.zone->serial() == 1);
    const auto* unknown = result.zone->find_node(wire::wire_from_text("unknown.example.com."));
    REQUIRE(unknown);
    REQUIRE(unknown->find(65280));
    CHECK(unknown->find(65280)->rdatas[0] == std::string("\x0a\x00\x00\x01", 4));
}

TEST_CASE("include_and_origin_directives") {
    TempFolder dir;
    dir.write("parts/hosts.inc", "$ORIGIN hosts.example.com.\nweb A 192.0.2.80\n");
    const auto file =
        dir.write("z.zone", std::string(kHead) + "$INCLUDE parts/hosts.inc\nafter A 192.0.2.81\n");
    auto result = zones::load_zone_file(file, "example.com.");
    INFO(all_messages(result.diagnostics));
    REQUIRE(result.zone);
    CHECK(result.zone->find_node(wire::wire_from_text("web.hosts.example.com.")));
    // RFC 1035 §5.1: the include's $ORIGIN does not leak back into the including file.
    CHECK(result.zone->find_node(wire::wire_from_text("after.example.com.")));
}

TEST_CASE("origin_comes_from_soa_when_not_given") {
    TempFolder dir;
    const auto file =
        dir.write("z.zone", "$TTL 60\nexample.net. SOA ns.example.net. h 1 1 1 1 1\n");
    auto result = zones::load_zone_file(file, "");
    REQUIRE(result.zone);
    CHECK(result.zone->origin() == wire::wire_from_text("example.net."));
}

TEST_CASE("syntax_error_names_file_and_line") {
    TempFolder dir;
    const auto file =
        dir.write("bad.zone", std::string(kHead) + "ok A 192.0.2.9\nbroken A 300.1.2.3\n");
    auto result = zones::load_zone_file(file, "example.com.");
    CHECK_FALSE(result.zone);
    REQUIRE(result.diagnostics.size() >= 1);
    CHECK(result.diagnostics[0].file == file.string());
    CHECK(result.diagnostics[0].line == 6);
}

TEST_CASE("error_in_included_file_names_that_file") {
    TempFolder dir;
    const auto inc = dir.write("inc.zone", "\n\nbad AAAA not-an-address\n");
    const auto file = dir.write("z.zone", std::string(kHead) + "$INCLUDE inc.zone\n");
    auto result = zones::load_zone_file(file, "example.com.");
    CHECK_FALSE(result.zone);
    REQUIRE(result.diagnostics.size() == 1);
    CHECK(result.diagnostics[0].file == inc.string());
    CHECK(result.diagnostics[0].line == 3);
}

TEST_CASE("structural_errors") {
    TempFolder dir;
    SUBCASE("cname_and_other_data") {
        const auto file = dir.write("z.zone", std::string(kHead) + "x CNAME ns\nx A 192.0.2.5\n");
        auto result = zones::load_zone_file(file, "example.com.");
        CHECK_FALSE(result.zone);
        CHECK(all_messages(result.diagnostics)
                  .find(":5: 'x.example.com.' has a CNAME and other data") != std::string::npos);
    }
    SUBCASE("out_of_zone") {
        const auto file =
            dir.write("z.zone", std::string(kHead) + "www.example.org. A 192.0.2.5\n");
        auto result = zones::load_zone_file(file, "example.com.");
        CHECK_FALSE(result.zone);
        CHECK(all_messages(result.diagnostics).find(":5: 'www.example.org.' is outside the zone") !=
              std::string::npos);
    }
    SUBCASE("missing_soa") {
        const auto file = dir.write("z.zone", "$TTL 60\n@ NS ns\n");
        auto result = zones::load_zone_file(file, "example.com.");
        CHECK_FALSE(result.zone);
        CHECK(all_messages(result.diagnostics).find("no SOA record") != std::string::npos);
    }
    SUBCASE("unbalanced_parenthesis") {
        const auto file = dir.write("z.zone", std::string(kHead) + "x TXT ( \"a\"\n");
        auto result = zones::load_zone_file(file, "example.com.");
        CHECK_FALSE(result.zone);
        CHECK(all_messages(result.diagnostics).find(":5: '(' is never closed") !=
              std::string::npos);
    }
    SUBCASE("ttl_out_of_range") {
        const auto file = dir.write("z.zone", std::string(kHead) + "x 4294967295 A 192.0.2.5\n");
        auto result = zones::load_zone_file(file, "example.com.");
        CHECK_FALSE(result.zone);
        CHECK(all_messages(result.diagnostics).find(":5: TTL out of range") != std::string::npos);
    }
    SUBCASE("missing_file") {
        auto result = zones::load_zone_file(dir.path() / "nope.zone", "example.com.");
        CHECK_FALSE(result.zone);
        CHECK(all_messages(result.diagnostics).find("cannot open") != std::string::npos);
    }
}

TEST_CASE("multi_line_records_and_comments") {
    TempFolder dir;
    const auto file = dir.write("z.zone", R"zone($TTL 60
@ IN SOA ns hostmaster ( 7 ; serial
        7200 ; refresh
        900 1209600 60 )
  NS ns ; the apex
ns A 192.0.2.1
t TXT "semi;colon" "paren(s)"
)zone");
    auto result = zones::load_zone_file(file, "example.com.");
    INFO(all_messages(result.diagnostics));
    REQUIRE(result.zone);
    CHECK(result.zone->serial() == 7);
    CHECK(result.zone->apex().find(2));
    const auto* t = result.zone->find_node(wire::wire_from_text("t.example.com."));
    REQUIRE(t);
    CHECK(t->find(16)->rdatas[0] == std::string("\x0asemi;colon\x08paren(s)"));
}
