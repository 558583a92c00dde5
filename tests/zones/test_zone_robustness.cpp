// Zone loading on hostile or unusual input (issue 13): the root zone, $INCLUDE of a folder,
// $INCLUDE cycles and fan-out, and RRsets too large for a 16-bit count.
#include <doctest/doctest.h>

#include "support/answer_fixture.hpp"
#include "wire/name.hpp"
#include "zones/zone_loader.hpp"

using namespace meridian;
using namespace meridian::testing;

namespace {

std::string messages(const Diagnostics& diagnostics) {
    std::string text;
    for (const auto& d : diagnostics) text += d.to_string() + "\n";
    return text;
}

const char* kHead = "$TTL 300\n@ SOA ns h 1 7200 900 1209600 60\n@ NS ns\nns A 192.0.2.1\n";

}  // namespace

// RFC 8806: a resolver may serve the root zone locally.
TEST_CASE("root_zone_loads_and_answers") {
    AnswerFixture fixture(ZoneTexts{{".",
                                     "@ 60 SOA . . 1 2 3 4 5\n@ 60 NS a.root-servers.net.\n"
                                     "a.root-servers.net. 60 A 198.41.0.4\n"}});
    INFO(fixture.errors);
    const auto response = fixture.ask("a.root-servers.net.", LDNS_RR_TYPE_A);
    REQUIRE(response);
    CHECK(rcode(response) == LDNS_RCODE_NOERROR);
    REQUIRE(answer(response).size() == 1);
    CHECK(answer(response)[0].find("198.41.0.4") != std::string::npos);
}

TEST_CASE("include_of_a_folder_is_an_error_at_its_line") {
    TempFolder dir;
    dir.write("parts/x.inc", "a A 192.0.2.2\n");
    const auto file = dir.write("z.zone", std::string(kHead) + "$INCLUDE parts\n");
    auto result = zones::load_zone_file(file, "example.com.");
    CHECK_FALSE(result.zone);
    const std::string text = messages(result.diagnostics);
    CHECK_MESSAGE(text.find(file.string() + ":5: ") != std::string::npos, text);
    CHECK_MESSAGE(text.find("is a folder, not a file") != std::string::npos, text);
}

TEST_CASE("include_cycle_is_an_error_naming_the_cycle") {
    TempFolder dir;
    const auto inc = dir.write("self.inc",
                               "$INCLUDE self.inc\n$INCLUDE self.inc\n"
                               "$INCLUDE self.inc\n$INCLUDE self.inc\n");
    const auto file = dir.write("z.zone", std::string(kHead) + "$INCLUDE self.inc\n");
    auto result = zones::load_zone_file(file, "example.com.");
    CHECK_FALSE(result.zone);
    const std::string text = messages(result.diagnostics);
    CHECK_MESSAGE(text.find(inc.string() + ":1: $INCLUDE cycle") != std::string::npos, text);
    // Each of the four is refused at once: no file is read twice.
    CHECK(result.files.size() == 2);
}

TEST_CASE("include_fan_out_is_bounded") {
    TempFolder dir;
    // Each level includes the next four times: 4^8 files without a bound, and no cycle.
    for (int level = 0; level < 8; ++level) {
        std::string text;
        for (int i = 0; i < 4; ++i) text += "$INCLUDE l" + std::to_string(level + 1) + ".inc\n";
        dir.write("l" + std::to_string(level) + ".inc", text);
    }
    dir.write("l8.inc", "");
    const auto file = dir.write("z.zone", std::string(kHead) + "$INCLUDE l0.inc\n");
    auto result = zones::load_zone_file(file, "example.com.");
    CHECK_FALSE(result.zone);
    const std::string text = messages(result.diagnostics);
    CHECK_MESSAGE(text.find("more than") != std::string::npos, text);
    CHECK(result.files.size() <= 1100);
}

TEST_CASE("rrset_of_65536_records_is_refused_at_its_line") {
    TempFolder dir;
    std::string text = kHead;
    for (int i = 0; i < 65536; ++i)
        text += "big A 10.0." + std::to_string(i / 256) + "." + std::to_string(i % 256) + "\n";
    const auto file = dir.write("z.zone", text);
    auto result = zones::load_zone_file(file, "example.com.");
    CHECK_FALSE(result.zone);
    const std::string all = messages(result.diagnostics);
    // Line 4 + 65536: the record that does not fit.
    CHECK_MESSAGE(all.find(file.string() + ":65540: ") != std::string::npos, all);
}

TEST_CASE("rrset_of_65535_records_keeps_them_all") {
    TempFolder dir;
    std::string text = kHead;
    for (int i = 0; i < 65535; ++i)
        text += "big A 10.0." + std::to_string(i / 256) + "." + std::to_string(i % 256) + "\n";
    auto result = zones::load_zone_file(dir.write("z.zone", text), "example.com.");
    INFO(messages(result.diagnostics));
    REQUIRE(result.zone);
    const auto* big = result.zone->find_node(wire::wire_from_text("big.example.com."));
    REQUIRE(big);
    CHECK(big->find(1)->rdatas.size() == 65535);
}
