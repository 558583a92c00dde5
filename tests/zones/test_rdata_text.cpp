// The direct record parser against ldns: the same zone text loaded both ways gives the same
// wire data for every type the direct parser handles, and bad records fail with file:line.
#include <doctest/doctest.h>

#include <random>
#include <sstream>

#include "support/temp_folder.hpp"
#include "wire/name.hpp"
#include "zones/rdata_text.hpp"
#include "zones/zone_loader.hpp"

using namespace meridian;
using meridian::testing::TempFolder;

namespace {

std::string all_messages(const Diagnostics& diagnostics) {
    std::string text;
    for (const auto& d : diagnostics) text += d.to_string() + "\n";
    return text;
}

std::string hex(std::string_view bytes) {
    static const char* digits = "0123456789abcdef";
    std::string out;
    for (unsigned char c : bytes) {
        out += digits[c >> 4];
        out += digits[c & 15];
    }
    return out;
}

// Every node, RRset (type, TTL) and record of `a` is in `b` in the same order, and the
// other way round (same counts).
void check_same_zone(const zones::Zone& a, const zones::Zone& b) {
    CHECK(a.origin() == b.origin());
    CHECK(a.node_count() == b.node_count());
    CHECK(a.record_count() == b.record_count());
    for (const auto& [name, node] : a.nodes()) {
        const std::string text =
            wire::to_text({reinterpret_cast<const uint8_t*>(name.data()), name.size()});
        INFO("node " << text);
        const zones::Node* other = b.find_node(name);
        REQUIRE(other);
        REQUIRE(node.rrsets.size() == other->rrsets.size());
        for (size_t i = 0; i < node.rrsets.size(); ++i) {
            const zones::RRset& x = node.rrsets[i];
            const zones::RRset& y = other->rrsets[i];
            INFO("type " << x.type);
            CHECK(x.type == y.type);
            CHECK(x.ttl == y.ttl);
            REQUIRE(x.rdatas.size() == y.rdatas.size());
            auto yi = y.rdatas.begin();
            for (std::string_view rdata : x.rdatas) CHECK(hex(rdata) == hex(*yi++));
        }
    }
}

// A zone with every type the direct parser handles, in the forms master files use.
std::string handwritten_zone() {
    return R"zone($ORIGIN Example.COM.
$TTL 1h
@ IN SOA ns1.example.com. hostmaster ( 2026112401 ; serial
        2h 15M 2w1d 1H30m )
@ 300 IN NS ns1
@ NS NS2.Example.COM.
@ 600 IN MX 10 mail
@ MX 20 mail.example.net.
@ TXT "v=spf1 mx -all"
@ SPF "v=spf1 -all"
@ CAA 0 issue "ca.example.net"
@ CAA 128 iodef "mailto:security@example.com"
@ caa 0 issuewild ";"
ns1 A 192.0.2.1
ns2 A 192.0.2.2
NS2 a 192.0.2.2
mail A 192.0.2.25
mail AAAA 2001:db8::25
v6 AAAA ::
v6 AAAA ::ffff:192.0.2.9
v6 AAAA 2001:DB8:0:0:1:0:0:1
	AAAA fe80::1
www CNAME @
alias CNAME www.example.net.
_sip._udp SRV 10 60 5060 sip
_sip._tcp SRV 0 0 0 .
1.2.0.192.in-addr PTR host.example.net.
old DNAME new.example.net.
txt TXT "one" "two words" unquoted
txt TXT ""
txt TXT "semi\;colon" "esc\"aped" "\065\066C" back\\slash
txt TXT "x\255y"
esc\.aped A 192.0.2.30
\065bc A 192.0.2.31
star.* A 192.0.2.32
*.wild A 192.0.2.33
deleg NS ns.deleg
ns.deleg A 192.0.2.34
deleg DS 12345 8 2 49FD46E6C4B45C55D4AC69CBD3CD34AC1AFE51DE2D4A7E6E23E8D8E2C2CBB2B6
deleg DS 54321 13 2 ( 49fd46e6c4b45c55d4ac69cb
        d3cd34ac1afe51de2d4a7e6e23e8d8e2c2cbb2b6 )
sub 7200 A 192.0.2.35
sub IN A 192.0.2.36
$ORIGIN sub.example.com.
x A 192.0.2.37
y MX 0 @
)zone";
}

// Many records of random values (fixed seed), each type in the forms above.
std::string generated_zone(size_t count) {
    std::mt19937 rng(20261124);
    auto pick = [&](size_t n) { return static_cast<size_t>(rng() % n); };
    std::ostringstream z;
    z << "$ORIGIN gen.example.\n$TTL 300\n@ SOA ns hostmaster 1 7200 900 1209600 60\n"
         "@ NS ns\nns A 192.0.2.1\n";
    const char* labels[] = {"a", "B", "host-1", "x_y", "Mixed", "\\046dot", "w\\.x", "*"};
    auto name = [&]() {
        std::string n = labels[pick(8)];
        if (n == "*") n = "star";
        for (size_t depth = pick(3); depth > 0; --depth) n += std::string(".") + labels[pick(7)];
        if (pick(4) == 0) n += ".gen.example.";
        return n;
    };
    auto text = [&]() {
        std::string t;
        for (size_t i = pick(40); i > 0; --i) {
            const size_t k = pick(20);
            if (k == 0)
                t += "\\\"";
            else if (k == 1)
                t += "\\" + std::to_string(100 + pick(156));
            else if (k == 2)
                t += ' ';
            else
                t += static_cast<char>('a' + pick(26));
        }
        return "\"" + t + "\"";
    };
    for (size_t i = 0; i < count; ++i) {
        const std::string owner = "n" + std::to_string(i) + (pick(2) ? "" : ".sub");
        std::string ttl = pick(3) == 0 ? " " + std::to_string(pick(100000)) : "";
        const std::string klass = pick(2) ? " IN" : "";
        z << owner << ttl << klass << ' ';
        switch (pick(11)) {
            case 0:
                z << "A " << pick(256) << '.' << pick(256) << '.' << pick(256) << '.' << pick(256);
                break;
            case 1:
                z << "AAAA 2001:db8:" << std::hex << pick(65536) << "::" << pick(65536) << std::dec;
                break;
            case 2:
                z << "NS " << name();
                break;
            case 3:
                z << "CNAME " << name();
                break;
            case 4:
                z << "MX " << pick(65536) << ' ' << name();
                break;
            case 5:
                z << "TXT " << text();
                for (size_t k = pick(3); k > 0; --k) z << ' ' << text();
                break;
            case 6:
                z << "PTR " << name();
                break;
            case 7:
                z << "SRV " << pick(65536) << ' ' << pick(65536) << ' ' << pick(65536) << ' '
                  << name();
                break;
            case 8:
                z << "CAA " << pick(256) << (pick(2) ? " issue " : " tbs1 ") << text();
                break;
            case 9: {
                z << "DS " << pick(65536) << ' ' << pick(256) << ' ' << pick(256) << ' ';
                for (size_t k = 2 * (1 + pick(32)); k > 0; --k) {
                    z << "0123456789abcdefABCDEF"[pick(22)];
                    if (pick(10) == 0) z << ' ';
                }
                break;
            }
            case 10:
                z << "DNAME " << name();
                break;
        }
        z << '\n';
    }
    return z.str();
}

void check_both_ways(const std::string& text, std::string_view origin) {
    TempFolder dir;
    const auto file = dir.write("z.zone", text);
    auto direct = zones::load_zone_file(file, origin);
    auto reference = zones::load_zone_file(file, origin, zones::RecordParsing::ldns_only);
    INFO("direct: " << all_messages(direct.diagnostics));
    INFO("ldns: " << all_messages(reference.diagnostics));
    REQUIRE(reference.zone);
    REQUIRE(direct.zone);
    check_same_zone(*direct.zone, *reference.zone);
}

// Loads `record` after a valid head at line 5; the direct parser must refuse it with the
// file and line.
std::string direct_error(const std::string& record) {
    TempFolder dir;
    const auto file = dir.write("z.zone",
                                "$TTL 300\n@ SOA ns h 1 7200 900 1209600 60\n@ NS ns\n"
                                "ns A 192.0.2.1\n" +
                                    record + "\n");
    auto result = zones::load_zone_file(file, "example.com.");
    CHECK_FALSE(result.zone);
    REQUIRE_FALSE(result.diagnostics.empty());
    CHECK(result.diagnostics[0].file == file.string());
    CHECK(result.diagnostics[0].line == 5);
    return all_messages(result.diagnostics);
}

}  // namespace

TEST_CASE("direct_parser_and_ldns_agree_on_every_common_type") {
    check_both_ways(handwritten_zone(), "example.com.");
}

TEST_CASE("direct_parser_and_ldns_agree_on_a_generated_zone") {
    check_both_ways(generated_zone(3000), "");
}

TEST_CASE("direct_parser_leaves_generic_and_rare_syntax_to_ldns") {
    // RFC 3597 data for a handled type, a mnemonic algorithm in DS, a rare type.
    check_both_ways(
        "$ORIGIN example.com.\n$TTL 60\n@ SOA ns h 1 2 3 4 5\n@ NS ns\n"
        "ns A \\# 4 c0000201\n"
        "d DS 1 RSASHA256 2 49FD46E6C4B45C55D4AC69CBD3CD34AC1AFE51DE2D4A7E6E23E8D8E2\n"
        "h HINFO \"PC\" \"Linux\"\n"
        "n NAPTR 100 10 \"S\" \"SIP+D2U\" \"\" _sip._udp\n",
        "example.com.");
}

TEST_CASE("direct_parser_errors_name_file_and_line") {
    CHECK(direct_error("x A 192.0.2.256").find("bad IPv4 address '192.0.2.256'") !=
          std::string::npos);
    CHECK(direct_error("x AAAA 2001:db8::g").find("bad IPv6 address") != std::string::npos);
    CHECK(direct_error("x MX ten mail").find("bad MX preference 'ten'") != std::string::npos);
    // ldns would keep the low 16 bits of 70000; a preference that does not fit is an error.
    CHECK(direct_error("x MX 70000 mail").find("bad MX preference") != std::string::npos);
    CHECK(direct_error("x SRV 1 2 port host").find("bad SRV number 'port'") != std::string::npos);
    CHECK(direct_error("x NS " + std::string(64, 'a')).find("bad domain name") !=
          std::string::npos);
    CHECK(direct_error("x CNAME a..b").find("bad domain name 'a..b'") != std::string::npos);
    CHECK(direct_error("x TXT \"" + std::string(256, 'a') + "\"")
              .find("character string longer than 255 octets") != std::string::npos);
    CHECK(direct_error("x TXT \"\\25\"").find("bad escape") != std::string::npos);
    CHECK(direct_error("x DS 1 8 2 abc").find("odd number of hex digits") != std::string::npos);
    CHECK(direct_error("x DS 1 8 2 zz").find("bad hex digit") != std::string::npos);
    CHECK(direct_error("@ SOA ns h serial 1 2 3 4").find("bad SOA serial") != std::string::npos);
    CHECK(direct_error("@ SOA ns h 1 2 3 4 5x").find("bad SOA time '5x'") != std::string::npos);
    CHECK(direct_error("x CAA 256 issue \"ca\"").find("bad CAA flags") != std::string::npos);
    CHECK(direct_error("x 2147483648 A 192.0.2.1").find("TTL out of range") != std::string::npos);
    // Left to ldns, which refuses them too.
    CHECK(!direct_error("x A 192.0.2.1 192.0.2.2").empty());
    CHECK(!direct_error("x MX 10").empty());
    CHECK(!direct_error("x BOGUS 1").empty());
    CHECK(direct_error("x CH TXT \"x\"").find("only class IN is served") != std::string::npos);
}

TEST_CASE("class_may_come_before_the_ttl") {
    // RFC 1035 §5.1 allows "<class> <TTL>" as well as "<TTL> <class>"; ldns 1.8 reads only
    // the second, the direct parser both.
    TempFolder dir;
    const auto file = dir.write("z.zone",
                                "$TTL 300\n@ SOA ns h 1 7200 900 1209600 60\n"
                                "@ NS ns\nns IN 600 A 192.0.2.1\n");
    auto result = zones::load_zone_file(file, "example.com.");
    INFO(all_messages(result.diagnostics));
    REQUIRE(result.zone);
    const auto* ns = result.zone->find_node(wire::wire_from_text("ns.example.com."));
    REQUIRE(ns);
    REQUIRE(ns->find(1));
    CHECK(ns->find(1)->ttl == 600);
}

TEST_CASE("tokenize_keeps_quoted_words_whole") {
    zones::Token tokens[8];
    bool overflow = false;
    const size_t n = zones::tokenize("a  \"b c\" d\\ e \"\"", tokens, overflow);
    REQUIRE(n == 4);
    CHECK_FALSE(overflow);
    CHECK(tokens[0].text == "a");
    CHECK(tokens[1].text == "b c");
    CHECK(tokens[1].is_quoted);
    CHECK(tokens[2].text == "d\\ e");
    CHECK(tokens[3].text.empty());
    CHECK(tokens[3].is_quoted);
    zones::Token two[2];
    CHECK(zones::tokenize("a b c", two, overflow) == 2);
    CHECK(overflow);
}

TEST_CASE("direct_parser_handles_the_common_types_itself") {
    // The differential tests above only mean something if these take the direct path.
    const std::pair<const char*, const char*> records[] = {
        {"A", "192.0.2.1"},
        {"AAAA", "2001:db8::1"},
        {"NS", "ns"},
        {"CNAME", "www.example.net."},
        {"PTR", "host"},
        {"DNAME", "example.net."},
        {"MX", "10 mail"},
        {"SRV", "1 2 3 host"},
        {"SOA", "ns h 1 2h 15m 2w 1h"},
        {"TXT", "\"one\" two \"\""},
        {"SPF", "\"v=spf1 -all\""},
        {"CAA", "0 issue \"ca.example\""},
        {"DS", "1 8 2 49fd46e6 c4b45c55"},
    };
    const std::string origin = wire::wire_from_text("example.com.");
    for (const auto& [type_text, rdata_text] : records) {
        INFO(type_text << " " << rdata_text);
        const uint16_t type = zones::direct_type(type_text);
        REQUIRE(type != 0);
        zones::Token tokens[16];
        bool overflow = false;
        const size_t n = zones::tokenize(rdata_text, tokens, overflow);
        std::string out, error;
        CHECK(zones::parse_rdata(type, {tokens, n}, origin, out, error) ==
              zones::RdataOutcome::parsed);
        CHECK_FALSE(out.empty());
    }
    CHECK(zones::direct_type("HINFO") == 0);
    CHECK(zones::direct_type("aaaa") == 28);
}
