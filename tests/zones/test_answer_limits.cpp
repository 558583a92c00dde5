// The answer path's limits: how far a CNAME chain is followed, CNAME and DNAME loops, and
// how much additional data an answer carries (RFC 2181 §9: additional data gives way first).
#include <doctest/doctest.h>

#include <set>
#include <string>

#include "support/answer_fixture.hpp"

using namespace meridian::testing;
using meridian::zones::Transport;

namespace {

const char* kHead =
    "$TTL 300\n@ SOA ns1 hostmaster 1 7200 900 1209600 60\n@ NS ns1\n"
    "ns1 A 192.0.2.1\n";

std::string two_digits(int i) {
    return (i < 10 ? "0" : "") + std::to_string(i);
}

// c01 -> c02 -> ... -> c25 -> end (A), all inside limits.test.
std::string chain_zone() {
    std::string zone = kHead;
    for (int i = 1; i <= 25; ++i)
        zone += "c" + two_digits(i) + " CNAME " + (i < 25 ? "c" + two_digits(i + 1) : "end") + "\n";
    zone += "end A 192.0.2.99\n";
    return zone;
}

bool flag_tc(const Packet& p) {
    return ldns_pkt_tc(p.get());
}

bool has_duplicates(const std::vector<std::string>& lines) {
    return std::set<std::string>(lines.begin(), lines.end()).size() != lines.size();
}

}  // namespace

TEST_CASE("a_cname_chain_is_followed_for_twelve_links_then_left_to_the_resolver") {
    AnswerFixture f(ZoneTexts{{"limits.test.", chain_zone()}});
    REQUIRE(f.errors == "");
    auto p = f.ask("c01.limits.test.", LDNS_RR_TYPE_A);
    REQUIRE(p);
    CHECK(rcode(p) == LDNS_RCODE_NOERROR);
    CHECK_FALSE(flag_tc(p));
    // Twelve links, in order, each from the target of the one before; the resolver asks for
    // c13 itself (RFC 1034 §5.3.3).
    std::vector<std::string> expected;
    for (int i = 1; i <= 12; ++i)
        expected.push_back("c" + two_digits(i) + ".limits.test. 300 IN CNAME c" +
                           two_digits(i + 1) + ".limits.test.");
    CHECK(answer(p) == expected);
    CHECK(authority(p).empty());
    // Asking from the end of that answer goes on where it stopped, down to the address.
    auto rest = f.ask("c13.limits.test.", LDNS_RR_TYPE_A, {}, Transport::tcp);
    REQUIRE(rest);
    CHECK(answer(rest).size() == 12);
    CHECK(answer(rest).back() == "c24.limits.test. 300 IN CNAME c25.limits.test.");
    auto last = f.ask("c25.limits.test.", LDNS_RR_TYPE_A);
    CHECK(answer(last) == std::vector<std::string>{"c25.limits.test. 300 IN CNAME end.limits.test.",
                                                   "end.limits.test. 300 IN A 192.0.2.99"});
}

TEST_CASE("a_cname_loop_gives_each_link_once") {
    std::string zone = kHead;
    zone += "loop-a CNAME loop-b\nloop-b CNAME loop-c\nloop-c CNAME loop-a\nself CNAME self\n";
    AnswerFixture f(ZoneTexts{{"limits.test.", zone}});
    REQUIRE(f.errors == "");
    auto p = f.ask("loop-a.limits.test.", LDNS_RR_TYPE_A);
    REQUIRE(p);
    CHECK(rcode(p) == LDNS_RCODE_NOERROR);
    CHECK(answer(p) ==
          std::vector<std::string>{"loop-a.limits.test. 300 IN CNAME loop-b.limits.test.",
                                   "loop-b.limits.test. 300 IN CNAME loop-c.limits.test.",
                                   "loop-c.limits.test. 300 IN CNAME loop-a.limits.test."});
    auto self = f.ask("self.limits.test.", LDNS_RR_TYPE_A);
    CHECK(answer(self) ==
          std::vector<std::string>{"self.limits.test. 300 IN CNAME self.limits.test."});
}

TEST_CASE("a_dname_loop_gives_each_dname_once") {
    // A DNAME may lead back under itself: the chain stops at the first DNAME met again, so
    // no RRset appears twice in the answer (RFC 2181 §5), as with Knot for the loop.
    std::string zone = kHead;
    zone += "d1 DNAME d2.limits.test.\nd2 DNAME d1.limits.test.\n";
    zone += "grow DNAME x.grow.limits.test.\n";
    AnswerFixture f(ZoneTexts{{"limits.test.", zone}});
    REQUIRE(f.errors == "");
    auto loop = f.ask("a.d1.limits.test.", LDNS_RR_TYPE_A);
    REQUIRE(loop);
    CHECK(rcode(loop) == LDNS_RCODE_NOERROR);
    CHECK(answer(loop) ==
          std::vector<std::string>{"d1.limits.test. 300 IN DNAME d2.limits.test.",
                                   "a.d1.limits.test. 300 IN CNAME a.d2.limits.test.",
                                   "d2.limits.test. 300 IN DNAME d1.limits.test.",
                                   "a.d2.limits.test. 300 IN CNAME a.d1.limits.test."});
    // A DNAME whose target lies below itself makes every synthesized name longer.
    auto grow = f.ask("a.grow.limits.test.", LDNS_RR_TYPE_A, {}, Transport::tcp);
    REQUIRE(grow);
    CHECK(rcode(grow) == LDNS_RCODE_NOERROR);
    CHECK(answer(grow) ==
          std::vector<std::string>{"grow.limits.test. 300 IN DNAME x.grow.limits.test.",
                                   "a.grow.limits.test. 300 IN CNAME a.x.grow.limits.test."});
    CHECK_FALSE(has_duplicates(answer(grow)));
}

TEST_CASE("additional_data_gives_way_to_a_whole_answer") {
    // Ten MX records fit in 512 octets; their hosts' A and AAAA records do not. RFC 2181 §9:
    // the answer goes whole and without TC; additional records only while they fit.
    std::string zone = kHead;
    for (int i = 1; i <= 10; ++i) {
        const std::string host = "host" + two_digits(i);
        zone += "mx MX 10 " + host + "\n" + host + " A 192.0.2." + std::to_string(100 + i) + "\n" +
                host + " AAAA 2001:db8::" + std::to_string(100 + i) + "\n";
    }
    AnswerFixture f(ZoneTexts{{"limits.test.", zone}});
    REQUIRE(f.errors == "");
    auto udp = f.ask("mx.limits.test.", LDNS_RR_TYPE_MX);
    REQUIRE(udp);
    CHECK(rcode(udp) == LDNS_RCODE_NOERROR);
    CHECK_FALSE(flag_tc(udp));
    CHECK(answer(udp).size() == 10);
    CHECK(additional(udp).size() > 0);
    CHECK(additional(udp).size() < 20);
    CHECK(f.respond_bytes(make_query("mx.limits.test.", LDNS_RR_TYPE_MX)).size() <= 512);
    // With EDNS the OPT record still goes out, after the additional data that fits.
    auto edns = f.ask("mx.limits.test.", LDNS_RR_TYPE_MX, {.edns = true, .udp_size = 512});
    REQUIRE(edns);
    CHECK_FALSE(flag_tc(edns));
    CHECK(answer(edns).size() == 10);
    CHECK(ldns_pkt_edns(edns.get()));
    // Where there is room, every host's addresses.
    auto tcp = f.ask("mx.limits.test.", LDNS_RR_TYPE_MX, {}, Transport::tcp);
    CHECK(additional(tcp).size() == 20);
}

TEST_CASE("additional_addresses_are_bounded_and_never_repeated") {
    // 40 hosts, each named by two MX records: addresses go out for at most 32 distinct hosts,
    // each once, however many records name them.
    std::string zone = kHead;
    for (int i = 1; i <= 40; ++i) {
        const std::string host = "host" + two_digits(i);
        zone += "mx MX 10 " + host + "\nmx MX 20 " + host + "\n" + host + " A 192.0.2." +
                std::to_string(100 + i) + "\n" + host +
                " AAAA 2001:db8::" + std::to_string(100 + i) + "\n";
    }
    AnswerFixture f(ZoneTexts{{"limits.test.", zone}});
    REQUIRE(f.errors == "");
    auto tcp = f.ask("mx.limits.test.", LDNS_RR_TYPE_MX, {}, Transport::tcp);
    REQUIRE(tcp);
    CHECK_FALSE(flag_tc(tcp));
    CHECK(answer(tcp).size() == 80);
    const auto extra = additional(tcp);
    CHECK_FALSE(has_duplicates(extra));
    CHECK(extra.size() == 64);  // A and AAAA of 32 hosts
}
