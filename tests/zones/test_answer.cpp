// The answer logic on bytes: every case of RFC 1034 §4.3.2 lookup, wildcards (RFC 4592),
// DNAME (RFC 6672), negative answers (RFC 2308), referrals (RFC 9471) and ANY (RFC 8482).
#include <doctest/doctest.h>

#include "support/answer_fixture.hpp"

using namespace meridian::testing;

namespace {

const char* kExampleZone = R"($TTL 3600
@       IN SOA ns1 hostmaster 2024010101 7200 900 1209600 300
        IN NS  ns1
        IN NS  ns2.example.net.
        IN MX  10 mail
ns1     IN A   192.0.2.1
mail    IN A   192.0.2.25
        IN AAAA 2001:db8::25
www     IN A   192.0.2.80
        IN AAAA 2001:db8::80
alias   IN CNAME www
chain1  IN CNAME chain2
chain2  IN CNAME www
loop1   IN CNAME loop2
loop2   IN CNAME loop1
outside IN CNAME www.example.org.
*.wild  IN A   192.0.2.99
*.wild  IN TXT "wild"
*       IN A   192.0.2.77
a.b     IN A   192.0.2.2
sub     IN NS  ns.sub
sub     IN DS  12345 8 2 49FD46E6C4B45C55D4AC69CBD3CD34AC1AFE51DE2D4A7E6E23E8D8E2C2CBB2B6
ns.sub  IN A   192.0.2.53
ns.sub  IN AAAA 2001:db8::53
dn      IN DNAME target.example.com.
x.target IN A  192.0.2.7
_sip._udp IN SRV 10 5 5060 www
)";

struct Example : AnswerFixture {
    Example() : AnswerFixture(ZoneTexts{{"example.com.", kExampleZone}}) { REQUIRE(errors == ""); }
};

bool flag_aa(const Packet& p) {
    return ldns_pkt_aa(p.get());
}
bool flag_tc(const Packet& p) {
    return ldns_pkt_tc(p.get());
}

// Checks that `p` is NODATA: NOERROR, no answer, and one authority record (the SOA).
void check_nodata(const Packet& p) {
    CHECK(rcode(p) == LDNS_RCODE_NOERROR);
    CHECK(answer(p).empty());
    CHECK(authority(p).size() == 1);
}

}  // namespace

TEST_CASE("exact_match_is_authoritative") {
    Example f;
    auto p = f.ask("www.example.com.", LDNS_RR_TYPE_A);
    REQUIRE(p);
    CHECK(rcode(p) == LDNS_RCODE_NOERROR);
    CHECK(flag_aa(p));
    CHECK(answer(p) == std::vector<std::string>{"www.example.com. 3600 IN A 192.0.2.80"});
    CHECK(authority(p).empty());
}

TEST_CASE("question_echoed_with_original_case") {
    Example f;
    auto bytes = f.respond_bytes(make_query("WwW.ExAmPlE.CoM.", LDNS_RR_TYPE_A));
    const std::string response(bytes.begin(), bytes.end());
    CHECK(response.find("\003WwW\007ExAmPlE\003CoM") != std::string::npos);
    auto p = AnswerFixture::parse(bytes);
    CHECK(ldns_rr_list_rr_count(ldns_pkt_answer(p.get())) == 1);
}

TEST_CASE("cname_chain_followed_inside_zone") {
    Example f;
    auto p = f.ask("chain1.example.com.", LDNS_RR_TYPE_A);
    CHECK(answer(p) ==
          std::vector<std::string>{"chain1.example.com. 3600 IN CNAME chain2.example.com.",
                                   "chain2.example.com. 3600 IN CNAME www.example.com.",
                                   "www.example.com. 3600 IN A 192.0.2.80"});
    CHECK(flag_aa(p));
}

TEST_CASE("cname_loop_terminates") {
    Example f;
    auto p = f.ask("loop1.example.com.", LDNS_RR_TYPE_A);
    REQUIRE(p);
    CHECK(rcode(p) == LDNS_RCODE_NOERROR);
    CHECK(answer(p).size() == 2);
}

TEST_CASE("cname_out_of_zone_is_not_followed") {
    Example f;
    auto p = f.ask("outside.example.com.", LDNS_RR_TYPE_A);
    CHECK(answer(p) ==
          std::vector<std::string>{"outside.example.com. 3600 IN CNAME www.example.org."});
    CHECK(authority(p).empty());
}

TEST_CASE("cname_query_returns_the_cname_itself") {
    Example f;
    auto p = f.ask("alias.example.com.", LDNS_RR_TYPE_CNAME);
    CHECK(answer(p) ==
          std::vector<std::string>{"alias.example.com. 3600 IN CNAME www.example.com."});
}

TEST_CASE("nxdomain_has_soa_with_negative_ttl") {
    Example f;
    auto p = f.ask("nope.wild.example.com.", LDNS_RR_TYPE_A);  // matches *.wild
    CHECK(rcode(p) == LDNS_RCODE_NOERROR);
    auto q = f.ask("a.nope.b.example.com.", LDNS_RR_TYPE_A);  // b is an ENT: blocks *
    CHECK(rcode(q) == LDNS_RCODE_NXDOMAIN);
    CHECK(flag_aa(q));
    REQUIRE(authority(q).size() == 1);
    // RFC 2308 §5: min(SOA TTL 3600, MINIMUM 300).
    CHECK(authority(q)[0].rfind("example.com. 300 IN SOA", 0) == 0);
}

TEST_CASE("nodata_has_soa_in_authority") {
    Example f;
    auto p = f.ask("www.example.com.", LDNS_RR_TYPE_MX);
    CHECK(rcode(p) == LDNS_RCODE_NOERROR);
    CHECK(answer(p).empty());
    REQUIRE(authority(p).size() == 1);
    CHECK(authority(p)[0].rfind("example.com. 300 IN SOA", 0) == 0);
}

TEST_CASE("wildcard_synthesizes_owner_from_qname") {
    Example f;
    auto p = f.ask("anything.wild.example.com.", LDNS_RR_TYPE_A);
    CHECK(answer(p) == std::vector<std::string>{"anything.wild.example.com. 3600 IN A 192.0.2.99"});
    CHECK(flag_aa(p));
    auto deeper = f.ask("a.b.c.wild.example.com.", LDNS_RR_TYPE_TXT);
    CHECK(answer(deeper) ==
          std::vector<std::string>{"a.b.c.wild.example.com. 3600 IN TXT \"wild\""});
}

TEST_CASE("wildcard_nodata_for_missing_type") {
    Example f;
    auto p = f.ask("x.wild.example.com.", LDNS_RR_TYPE_AAAA);
    check_nodata(p);
}

TEST_CASE("empty_non_terminal_gives_nodata") {
    Example f;
    auto p = f.ask("b.example.com.", LDNS_RR_TYPE_A);
    check_nodata(p);
}

TEST_CASE("empty_non_terminal_blocks_wildcard_below_it") {
    Example f;
    // RFC 4592 §2.2.2: b.example.com exists (empty), so *.example.com does not match x.b.
    auto p = f.ask("x.b.example.com.", LDNS_RR_TYPE_A);
    CHECK(rcode(p) == LDNS_RCODE_NXDOMAIN);
    // While a name with no existing ancestor below the apex is covered by *.example.com.
    auto q = f.ask("zzz.example.com.", LDNS_RR_TYPE_A);
    CHECK(answer(q) == std::vector<std::string>{"zzz.example.com. 3600 IN A 192.0.2.77"});
}

TEST_CASE("referral_has_ns_and_glue_without_aa") {
    Example f;
    auto p = f.ask("host.sub.example.com.", LDNS_RR_TYPE_A);
    CHECK(rcode(p) == LDNS_RCODE_NOERROR);
    CHECK_FALSE(flag_aa(p));
    CHECK(answer(p).empty());
    CHECK(authority(p) ==
          std::vector<std::string>{"sub.example.com. 3600 IN NS ns.sub.example.com."});
    CHECK(additional(p) ==
          std::vector<std::string>{"ns.sub.example.com. 3600 IN A 192.0.2.53",
                                   "ns.sub.example.com. 3600 IN AAAA 2001:db8::53"});
}

TEST_CASE("referral_at_the_cut_itself") {
    Example f;
    auto p = f.ask("sub.example.com.", LDNS_RR_TYPE_A);
    CHECK_FALSE(flag_aa(p));
    CHECK(authority(p).size() == 1);
}

TEST_CASE("ds_at_delegation_answered_by_parent") {
    Example f;
    auto p = f.ask("sub.example.com.", LDNS_RR_TYPE_DS);
    CHECK(flag_aa(p));
    REQUIRE(answer(p).size() == 1);
    CHECK(answer(p)[0].rfind("sub.example.com. 3600 IN DS 12345 8 2", 0) == 0);
}

TEST_CASE("dname_synthesizes_cname") {
    Example f;
    auto p = f.ask("x.dn.example.com.", LDNS_RR_TYPE_A);
    CHECK(answer(p) ==
          std::vector<std::string>{"dn.example.com. 3600 IN DNAME target.example.com.",
                                   "x.dn.example.com. 3600 IN CNAME x.target.example.com.",
                                   "x.target.example.com. 3600 IN A 192.0.2.7"});
    CHECK(flag_aa(p));
    // Asked for the CNAME, the synthesized CNAME is the whole answer.
    auto cname = f.ask("nothing.dn.example.com.", LDNS_RR_TYPE_CNAME);
    CHECK(rcode(cname) == LDNS_RCODE_NOERROR);
    CHECK(answer(cname).size() == 2);
    CHECK(authority(cname).empty());
    // The DNAME owner itself is not redirected (RFC 6672 §2.3).
    auto q = f.ask("dn.example.com.", LDNS_RR_TYPE_A);
    CHECK(answer(q).empty());
}

TEST_CASE("additional_addresses_for_mx_ns_srv_targets") {
    Example f;
    auto mx = f.ask("example.com.", LDNS_RR_TYPE_MX);
    CHECK(additional(mx) ==
          std::vector<std::string>{"mail.example.com. 3600 IN A 192.0.2.25",
                                   "mail.example.com. 3600 IN AAAA 2001:db8::25"});
    auto ns = f.ask("example.com.", LDNS_RR_TYPE_NS);
    CHECK(additional(ns) == std::vector<std::string>{"ns1.example.com. 3600 IN A 192.0.2.1"});
    auto srv = f.ask("_sip._udp.example.com.", LDNS_RR_TYPE_SRV);
    CHECK(additional(srv).size() == 2);
}

TEST_CASE("any_is_answered_minimally") {
    Example f;
    auto p = f.ask("example.com.", LDNS_RR_TYPE_ANY);
    CHECK(rcode(p) == LDNS_RCODE_NOERROR);
    CHECK(flag_aa(p));
    CHECK(answer(p).size() == 1);  // the apex has SOA, NS and MX; RFC 8482 §4.1 sends one
}

TEST_CASE("name_outside_every_zone_is_refused") {
    Example f;
    auto p = f.ask("www.example.org.", LDNS_RR_TYPE_A);
    CHECK(rcode(p) == LDNS_RCODE_REFUSED);
    CHECK_FALSE(flag_aa(p));
    CHECK(answer(p).empty());
}

TEST_CASE("longest_matching_zone_answers") {
    AnswerFixture f(ZoneTexts{{"example.com.", kExampleZone},
                              {"deep.example.com.",
                               "$TTL 60\n@ SOA ns1.example.com. h 1 1 1 1 1\n@ NS "
                               "ns1.example.com.\nwww A 198.51.100.1\n"}});
    REQUIRE(f.errors == "");
    auto p = f.ask("www.deep.example.com.", LDNS_RR_TYPE_A);
    CHECK(answer(p) == std::vector<std::string>{"www.deep.example.com. 60 IN A 198.51.100.1"});
    auto soa = f.ask("deep.example.com.", LDNS_RR_TYPE_SOA);
    CHECK(answer(soa).size() == 1);
    CHECK(answer(soa)[0].find(" 60 IN SOA") != std::string::npos);
}

TEST_CASE("truncation_at_rrset_boundary_sets_tc") {
    std::string zone = "$TTL 60\n@ SOA ns h 1 1 1 1 1\n@ NS ns\nns A 192.0.2.1\n";
    for (int i = 0; i < 60; ++i) zone += "big A 192.0.2." + std::to_string(i + 1) + "\n";
    AnswerFixture f(ZoneTexts{{"t.example.", zone}});
    REQUIRE(f.errors == "");
    auto udp = f.ask("big.t.example.", LDNS_RR_TYPE_A);  // 60 * 16 octets > 512
    CHECK(flag_tc(udp));
    CHECK(answer(udp).empty());  // the whole RRset or none of it (RFC 2181 §9)
    auto edns = f.ask("big.t.example.", LDNS_RR_TYPE_A, {.edns = true, .udp_size = 4096});
    CHECK_FALSE(flag_tc(edns));
    CHECK(answer(edns).size() == 60);
    auto tcp = f.ask("big.t.example.", LDNS_RR_TYPE_A, {}, meridian::zones::Transport::tcp);
    CHECK_FALSE(flag_tc(tcp));
    CHECK(answer(tcp).size() == 60);
}

TEST_CASE("referral_sets_tc_when_in_domain_glue_does_not_fit") {
    std::string zone = "$TTL 60\n@ SOA ns h 1 1 1 1 1\n@ NS ns\nns A 192.0.2.1\n";
    for (int i = 0; i < 13; ++i) {
        const std::string ns = "a-rather-long-name-server-label-" + std::to_string(i) + ".kid";
        zone += "kid NS " + ns + "\n" + ns + " AAAA 2001:db8::" + std::to_string(i + 1) + "\n";
    }
    AnswerFixture f(ZoneTexts{{"t.example.", zone}});
    REQUIRE(f.errors == "");
    auto udp = f.ask("www.kid.t.example.", LDNS_RR_TYPE_A);
    CHECK(flag_tc(udp));  // RFC 9471 §3
    auto tcp = f.ask("www.kid.t.example.", LDNS_RR_TYPE_A, {}, meridian::zones::Transport::tcp);
    CHECK_FALSE(flag_tc(tcp));
    CHECK(additional(tcp).size() == 13);
}
