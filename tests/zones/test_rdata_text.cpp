// The direct record parser against ldns: the same zone text loaded both ways gives the same
// wire data for every type the direct parser handles, and bad records fail with file:line.
#include <doctest/doctest.h>

#include <cctype>
#include <map>
#include <random>
#include <sstream>
#include <vector>

#include "support/allocation_count.hpp"
#include "support/signed_zone.hpp"
#include "support/temp_folder.hpp"
#include "wire/name.hpp"
#include "zones/ldns.hpp"
#include "zones/rdata_text.hpp"
#include "zones/zone.hpp"
#include "zones/zone_loader.hpp"

using namespace meridian;
using meridian::testing::Denial;
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

// Every node, RRset (type, TTL) and record of `a`, RRSIGs included, is in `b` in the same
// order, and the other way round (same counts).
void check_same_zone(const zones::Zone& a, const zones::Zone& b) {
    CHECK(a.origin() == b.origin());
    CHECK(a.node_count() == b.node_count());
    CHECK(a.record_count() == b.record_count());
    for (const auto& [name, node] : a.nodes()) {
        const std::string text =
            wire::to_text({reinterpret_cast<const uint8_t*>(name.data()), name.size()});
        INFO("node " << text);
        const zones::Node* other = b.find_stored_node(name);  // NSEC3 owners too
        REQUIRE(other);
        std::vector<zones::RRset> ours, theirs;
        zones::for_each_stored_rrset(node, [&](const zones::RRset& r) { ours.push_back(r); });
        zones::for_each_stored_rrset(*other, [&](const zones::RRset& r) { theirs.push_back(r); });
        REQUIRE(ours.size() == theirs.size());
        for (size_t i = 0; i < ours.size(); ++i) {
            const zones::RRset& x = ours[i];
            const zones::RRset& y = theirs[i];
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

// The wire RDATA, in hex, ldns makes of "<TYPE> <RDATA>" at x.<origin>; "ldns refuses: ..."
// when it does not read it.
std::string ldns_rdata(const std::string& record, const std::string& origin) {
    const ldns::Rdf origin_rdf(ldns_dname_new_frm_str(origin.c_str()));
    const std::string text = "x." + origin + " 3600 IN " + record;
    ldns_rr* rr = nullptr;
    const ldns_status status =
        ldns_rr_new_frm_str(&rr, text.c_str(), 3600, origin_rdf.get(), nullptr);
    const ldns::Record owned(rr);
    if (status != LDNS_STATUS_OK)
        return std::string("ldns refuses: ") + ldns_get_errorstr_by_id(status);
    const ldns::Buffer buffer(ldns_buffer_new(4096));
    if (ldns_rr_rdata2buffer_wire(buffer.get(), rr) != LDNS_STATUS_OK)
        return "ldns cannot write it";
    return hex({reinterpret_cast<const char*>(ldns_buffer_begin(buffer.get())),
                ldns_buffer_position(buffer.get())});
}

struct DirectRdata {
    zones::RdataOutcome outcome = zones::RdataOutcome::not_handled;
    std::string rdata;  // hex
    std::string error;
};

// The direct parser's reading of "<TYPE> <RDATA>" with `origin`; not_handled also when
// direct_type() does not take the type.
DirectRdata direct_rdata(const std::string& record, const std::string& origin) {
    zones::Token tokens[512];
    bool overflow = false;
    const size_t n = zones::tokenize(record, tokens, overflow);
    DirectRdata result;
    if (n == 0 || overflow) return result;
    const uint16_t type = zones::direct_type(tokens[0].text);
    if (type == 0) return result;
    std::string rdata;
    result.outcome = zones::parse_rdata(type, {tokens + 1, n - 1}, wire::wire_from_text(origin),
                                        rdata, result.error);
    result.rdata = hex(rdata);
    return result;
}

// The direct parser reads `record` itself, into the octets ldns makes of it.
void check_same_rdata(const std::string& record, const std::string& origin = "example.com.") {
    INFO(record);
    const DirectRdata direct = direct_rdata(record, origin);
    INFO("direct parser's error: " << direct.error);
    CHECK(direct.outcome == zones::RdataOutcome::parsed);
    CHECK(direct.rdata == ldns_rdata(record, origin));
}

// A line as ldns prints it (owner, TTL, class, type, RDATA), from its type on, comment gone.
std::string type_and_rdata(const std::string& line) {
    size_t at = 0;
    for (int field = 0; field < 3; ++field) {
        at = line.find_first_not_of(" \t", at);
        at = line.find_first_of(" \t", at);
        if (at == std::string::npos) return {};
    }
    at = line.find_first_not_of(" \t", at);
    if (at == std::string::npos) return {};
    return line.substr(at, line.find(';', at) - at);
}

// A zone for signing with every kind of name a signed zone has (apex, delegations secure and
// not, wildcard, empty non-terminal, DNAME) and types in three bitmap windows (URI is 256,
// TYPE1234 in window 4).
const char* kZoneToSign = R"($TTL 3600
@          SOA   ns1 hostmaster 2024010101 7200 900 1209600 300
@          NS    ns1
@          MX    10 mail
@          CAA   0 issue "ca.example.net"
ns1        A     192.0.2.1
mail       A     192.0.2.25
www        A     192.0.2.80
www        AAAA  2001:db8::80
www        TXT   "semi;colon" "two words"
alias      CNAME www
*.wild     A     192.0.2.100
x.y.ent    A     192.0.2.110
_sip._udp  SRV   10 60 5060 www
secure     NS    ns.secure
secure     DS    12345 13 2 49FD46E6C4B45C55D4AC69CBD3CD34AC1AFE51DE2D4A7E6E23E8D8E2C2CBB2B6
ns.secure  A     192.0.2.53
insecure   NS    ns.insecure
ns.insecure A    192.0.2.54
dn         DNAME target
uri        URI   10 1 "https://example.com/"
odd        TYPE1234 \# 2 abcd
)";

}  // namespace

TEST_CASE("direct_parser_and_ldns_agree_on_every_common_type") {
    check_both_ways(handwritten_zone(), "example.com.");
}

TEST_CASE("direct_parser_and_ldns_agree_on_a_generated_zone") {
    check_both_ways(generated_zone(3000), "");
}

TEST_CASE("direct_parser_leaves_generic_and_rare_syntax_to_ldns") {
    // RFC 3597 data for a handled type, rare types; and a DS with a mnemonic algorithm.
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

TEST_CASE("malformed_dnssec_records_fail_with_the_reason") {
    const auto fails_with = [](const std::string& record, const std::string& reason) {
        INFO(record);
        const std::string message = direct_error(record);
        INFO(message);
        CHECK(message.find(reason) != std::string::npos);
    };
    fails_with("x DNSKEY 256 3 13 abc!", "bad base64 in the DNSKEY public key");
    fails_with("x DNSKEY 256 3 13 AAA", "bad base64");   // an unfinished quantum
    fails_with("x DNSKEY 256 3 13 AA=A", "bad base64");  // data after the padding
    fails_with("x DNSKEY 256 3 13 AB==", "bad base64");  // bits beyond the last octet
    fails_with("x DNSKEY 256 3 13 =AAA", "bad base64");
    fails_with("x DNSKEY 65536 3 13 AA==", "bad DNSKEY flags '65536'");
    fails_with("x DNSKEY 256 three 13 AA==", "bad DNSKEY protocol 'three'");
    fails_with("x DNSKEY 256 3 256 AA==", "bad algorithm '256'");
    fails_with("x CDNSKEY 256 3 13 A===", "bad base64 in the CDNSKEY public key");
    fails_with("x RRSIG A 13 2 3600 20261301000000 20261101000000 1 @ AA==",
               "bad RRSIG expiration '20261301000000'");
    fails_with("x RRSIG A 13 2 3600 20270230000000 20261101000000 1 @ AA==",
               "bad RRSIG expiration");  // 30 February
    fails_with("x RRSIG A 13 2 3600 20270101000000 19691231235959 1 @ AA==",
               "bad RRSIG inception '19691231235959'");  // before 1970
    fails_with("x RRSIG A 13 2 3600 20270101240000 20261101000000 1 @ AA==",
               "bad RRSIG expiration");
    fails_with("x RRSIG A 13 2 3600 4294967296 0 1 @ AA==", "bad RRSIG expiration");
    fails_with("x RRSIG A 13 2 3600 1h 0 1 @ AA==", "bad RRSIG expiration '1h'");
    fails_with("x RRSIG A 13 2 3600 -1 0 1 @ AA==", "bad RRSIG expiration '-1'");
    fails_with("x RRSIG A 13 256 3600 1 0 1 @ AA==", "bad RRSIG labels '256'");
    fails_with("x RRSIG A 13 2 1d 1 0 1 @ AA==", "bad RRSIG original TTL '1d'");
    fails_with("x RRSIG A 13 2 3600 1 0 65536 @ AA==", "bad RRSIG key tag '65536'");
    fails_with("x RRSIG A 13 2 3600 1 0 1 a..b AA==", "bad domain name 'a..b'");
    fails_with("x RRSIG A 13 2 3600 1 0 1 @ AA=A", "bad base64 in the RRSIG signature");
    fails_with("x NSEC a..b A", "bad domain name 'a..b'");
    fails_with("x NSEC3 1 0 0 abc 0123456789abcdefghijklmnopqrstuv A", "bad NSEC3 salt 'abc'");
    fails_with("x NSEC3 1 0 0 zz 0123456789abcdefghijklmnopqrstuv A", "bad NSEC3 salt 'zz'");
    fails_with("x NSEC3 1 0 0 - 0123456789abcdefghijklmnopqrstuw A",
               "bad base32hex in the NSEC3 next hashed owner");
    fails_with("x NSEC3 1 0 70000 - 0123456789abcdefghijklmnopqrstuv A",
               "bad NSEC3 iterations '70000'");
    fails_with("x NSEC3 256 0 0 - 0123456789abcdefghijklmnopqrstuv A",
               "bad NSEC3 hash algorithm '256'");
    fails_with("x NSEC3PARAM 1 flags 0 -", "bad NSEC3PARAM flags 'flags'");
    fails_with("x NSEC3PARAM 1 0 0 " + std::string(512, 'a'), "salt longer than 255 octets");
    fails_with("x CDS 1 8 2 abc", "odd number of hex digits");
}

TEST_CASE("direct_parser_refuses_rdata_longer_than_65535_octets") {
    // RFC 1035 §3.2.1: RDLENGTH is 16 bits. 300 strings of 255 octets, or one long key.
    std::string txt = "x TXT";
    for (int i = 0; i < 300; ++i) txt += " \"" + std::string(255, 'a') + "\"";
    CHECK(direct_error(txt).find("record data longer than 65535 octets") != std::string::npos);
    const std::string key = "x DNSKEY 256 3 13 " + std::string(88000, 'A');
    CHECK(direct_error(key).find("record data longer than 65535 octets") != std::string::npos);
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
        {"CDS", "0 0 0 00"},
        {"DNSKEY", "257 3 13 AQID BAUG"},
        {"CDNSKEY", "0 3 0 AA=="},
        {"RRSIG", "A 13 2 3600 20270206010607 1796688367 6802 @ AQIDBAUG"},
        {"NSEC", "b A RRSIG NSEC"},
        {"NSEC3", "1 0 0 - u6rsdp8ru3ol0tm1acpiar5bjgbaanka A RRSIG"},
        {"NSEC3PARAM", "1 0 0 -"},
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
    CHECK(zones::direct_type("nsec3param") == 51);
    // RFC 3597 §5: TYPEnnn names a handled type too.
    CHECK(zones::direct_type("TYPE46") == 46);
    CHECK(zones::direct_type("type1") == 1);
    CHECK(zones::direct_type("TYPE13") == 0);
    CHECK(zones::direct_type("TYPE") == 0);
    CHECK(zones::direct_type("TYPE65582") == 0);
}

TEST_CASE("direct_parser_and_ldns_agree_on_dnssec_types") {
    const std::string key =
        "HbJi1q2Iv5wSeo37zFB4kyrXtsan4EudsHNwb+M6400gqfiB6FxYFTYkcMwhwkRNvptrHTzZXw2Ha27HKRcTzg==";
    const std::string signature =
        "jHURGofwdCx1ZvbPrOh4vQ08dKaOtyBRVnixkFHl60GiqWZWBjUPd4O6BbAYtZCbm3u7LFicJmFmW4ehn+sh+A==";
    const std::string long_salt(510, 'f');  // 255 octets, the most RFC 5155 §3.2 allows
    const std::string records[] = {
        // RFC 4034 §2.2: the key in one word or split anywhere, even inside its padding.
        "DNSKEY 257 3 13 " + key,
        "DNSKEY 256 3 ECDSAP256SHA256 HbJi1q2Iv5wSeo37zF B4kyrXtsan4EudsHNwb+M6400gqfiB6FxYFTYkcMw"
        "hwkRNvptrHTzZXw2Ha27HKRcTzg= =",
        "dnskey 0 3 rsasha256 AQIDBAUGBwgJCgsMDQ4PEBESExQ=",
        "DNSKEY 65535 255 255 AQIDBAUGBwgJCgsMDQ4PEBESEw==",
        "DNSKEY 256 3 PRIVATEOID AQID BAUG",
        "TYPE48 256 3 13 " + key,
        // RFC 8078 §4: the delete forms, and the child's copies.
        "CDNSKEY 0 3 0 AA==",
        "CDNSKEY 257 3 ed25519 " + key,
        "CDS 0 0 0 00",
        "CDS 12345 ECDSAP256SHA256 2 49FD46E6 C4B45C55",
        "DS 1 RSASHA256 2 49fd46e6c4b45c55",
        // RFC 4034 §3.2: times as YYYYMMDDHHmmSS or seconds, signer names relative or not.
        "RRSIG SOA 13 2 3600 20270206010607 20261208000607 6802 bench.example. " + signature,
        "RRSIG a RSASHA256 3 86400 20300101000000 19700101000000 1 sub AQIDBAUG "
        "BwgJCgsMDQ4PEBESExQ=",
        "RRSIG TYPE65534 ECDSAP256SHA256 3 0 1796688367 1801875967 65535 @ " +
            signature.substr(0, 7) + " " + signature.substr(7, 50) + " " + signature.substr(57),
        "RRSIG NSEC3PARAM 13 2 0 20280229235959 20261231235959 0 example.com. " + signature,
        "RRSIG CAA 13 2 4294967295 0 4294967295 1 Example.COM. " + signature,
        // RFC 4034 §3.1.5: times are serial numbers, modulo 2^32.
        "RRSIG DLV 13 2 1 21060207062816 99991231235959 2 . AA==",
        "RRSIG type1234 15 4 60 19700101000000 19700101000001 3 a.b.c " + signature,
        "TYPE46 NS 13 2 3600 0000000001 4294967295 1 @ " + signature,
        // RFC 4034 §4.1.2: one window per high octet in use, each as short as its last type.
        "NSEC b.example.com. A RRSIG NSEC",
        "NSEC b A NS SOA MX TXT AAAA RRSIG NSEC DNSKEY CAA TYPE1234 TYPE65535 DLV URI",
        "NSEC @",
        "NSEC \\000.example.com. nsec rrsig a a",
        "NSEC b TYPE0 TYPE255 TYPE256 TYPE511 TYPE512 TYPE7 TYPE8",
        // RFC 5155 §3.3: salt "-" or hex, the next hash in base32hex, bitmaps empty or not.
        "NSEC3 1 0 0 - u6rsdp8ru3ol0tm1acpiar5bjgbaanka NS SOA MX TXT RRSIG DNSKEY NSEC3PARAM",
        "NSEC3 1 1 10 AABBCCDD U6RSDP8RU3OL0TM1ACPIAR5BJGBAANKA",
        "NSEC3 1 0 65535 aabbccdd 0123456789abcdefghijklmnopqrstuv A TYPE1234 CAA URI",
        "NSEC3 2 255 0 " + long_salt + " vvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvv",
        "NSEC3PARAM 1 0 0 -",
        "NSEC3PARAM 1 0 65535 FFee",
        "NSEC3PARAM 1 0 0 " + long_salt,
    };
    for (const std::string& record : records) check_same_rdata(record);
}

TEST_CASE("direct_parser_leaves_odd_dnssec_syntax_to_ldns") {
    const std::string records[] = {
        // Mnemonics it does not know (ldns reads an unknown type in a bitmap as type 0).
        "RRSIG BOGUS 13 2 3600 1 0 1 @ AA==",
        "NSEC b A BOGUS",
        "DNSKEY 256 3 NOPE AA==",
        "RRSIG A NOPE 2 3600 1 0 1 @ AA==",
        // ldns's own notation for empty base64.
        "DNSKEY 256 3 13 -",
        "DNSKEY 256 3 13 0",
        "RRSIG A 13 2 3600 1 0 1 @ 0",
        // Fields missing.
        "DNSKEY 256 3 13",
        "RRSIG A 13 2 3600 1 0 1 @",
        "NSEC3PARAM 1 0 0",
        // A next hashed owner of another length than SHA-1's, or padded.
        "NSEC3 1 0 0 - u6rsdp8r A",
        "NSEC3 1 0 0 - u6rsdp8ru3ol0tm1acpiar5bjgbaan= A",
        // RFC 3597 §5 generic data, a quoted word.
        "DNSKEY \\# 4 01000308",
        "DNSKEY 256 3 13 \"AQID\"",
    };
    for (const std::string& record : records) {
        INFO(record);
        CHECK(direct_rdata(record, "example.com.").outcome == zones::RdataOutcome::not_handled);
    }
}

TEST_CASE("bitmap_and_type_covered_read_every_mnemonic_ldns_knows") {
    size_t names = 0;
    for (uint32_t type = 0; type <= 0xFFFF; ++type) {
        const ldns_rr_descriptor* descriptor = ldns_rr_descript(static_cast<uint16_t>(type));
        if (!descriptor || descriptor->_type != type || !descriptor->_name) continue;
        ++names;
        std::string lower = descriptor->_name;
        for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        check_same_rdata(std::string("NSEC b ") + descriptor->_name + " " + lower);
        check_same_rdata(std::string("RRSIG ") + descriptor->_name + " 13 2 60 1 0 1 @ AA==");
    }
    CHECK(names > 70);
}

TEST_CASE("direct_parser_and_ldns_agree_on_every_record_of_signed_zones") {
    for (const Denial denial : {Denial::nsec, Denial::nsec3, Denial::nsec3_opt_out}) {
        INFO("denial " << static_cast<int>(denial));
        const std::string text =
            meridian::testing::sign_zone_text("example.com.", kZoneToSign, denial);
        // Record by record, every DNSSEC type the direct parser takes...
        std::map<std::string, size_t> compared;
        std::istringstream lines(text);
        for (std::string line; std::getline(lines, line);) {
            const std::string record = type_and_rdata(line);
            const std::string type = record.substr(0, record.find_first_of(" \t"));
            if (type == "RRSIG" || type == "NSEC" || type == "NSEC3" || type == "NSEC3PARAM" ||
                type == "DNSKEY" || type == "DS") {
                check_same_rdata(record);
                ++compared[type];
            }
        }
        CHECK(compared["RRSIG"] > 20);
        CHECK(compared["DNSKEY"] == 1);
        CHECK(compared[denial == Denial::nsec ? "NSEC" : "NSEC3"] > 10);
        // ...and the whole zone, loaded both ways.
        check_both_ways(text, "example.com.");
    }
}

TEST_CASE("dnssec_records_parse_without_allocating") {
    // The loader reuses its output string; a record may add nothing else to the heap.
    const std::string records[] = {
        "DNSKEY 257 3 ECDSAP256SHA256 HbJi1q2Iv5wSeo37zFB4 kyrXtsan4EudsHNwb+M6400gqfiB6FxYFTYkcMw"
        "hwkRNvptrHTzZXw2Ha27HKRcTzg==",
        "RRSIG NSEC3 13 3 3600 20270206010607 20261208000607 6802 bench.example. AQIDBAUG "
        "BwgJCgsMDQ4PEBESExQ=",
        "NSEC b A NS SOA MX TXT AAAA RRSIG NSEC DNSKEY CAA TYPE1234 TYPE65535 DLV URI",
        "NSEC3 1 1 10 AABBCCDD U6RSDP8RU3OL0TM1ACPIAR5BJGBAANKA A RRSIG",
        "NSEC3PARAM 1 0 0 aabb",
        "CDS 12345 13 2 49FD46E6 C4B45C55",
    };
    const std::string origin = wire::wire_from_text("example.com.");
    std::string out, error;
    out.reserve(4096);
    for (const std::string& record : records) {
        INFO(record);
        zones::Token tokens[64];
        bool overflow = false;
        const size_t n = zones::tokenize(record, tokens, overflow);
        out.clear();
        meridian::testing::allocations = 0;
        meridian::testing::counting = true;
        const uint16_t type = zones::direct_type(tokens[0].text);
        const auto outcome = zones::parse_rdata(type, {tokens + 1, n - 1}, origin, out, error);
        meridian::testing::counting = false;
        CHECK(outcome == zones::RdataOutcome::parsed);
        CHECK(meridian::testing::allocations == 0);
    }
}
