// The query path allocates nothing: a counting global operator new, armed around respond()
// for every kind of answer, must see zero allocations.
#include <doctest/doctest.h>

#include "support/answer_fixture.hpp"
#include "support/counting_allocator.hpp"
#include "support/signed_zone.hpp"
#include "support/steered_name.hpp"
#include "wire/name.hpp"
#include "zones/edns_query_bytes.hpp"

using namespace meridian::testing;

namespace {

// Answers `queries` 100 times over with the counting allocator armed (with `summary` when not
// null), and checks that every query was answered and nothing was allocated.
void check_answers_allocate_nothing(AnswerFixture& f,
                                    const std::vector<std::vector<uint8_t>>& queries,
                                    const meridian::geoip::Address* resolver = nullptr,
                                    meridian::zones::AnswerSummary* summary = nullptr) {
    std::vector<uint8_t> response(65535);
    const meridian::zones::QueryOrigin origin{meridian::zones::Transport::udp, resolver};
    size_t answered = 0;
    allocations = 0;
    counting = true;
    for (int round = 0; round < 100; ++round)
        for (const auto& query : queries)
            answered +=
                (summary ? meridian::zones::respond(f.snapshot(), query, response, origin, *summary)
                         : meridian::zones::respond(f.snapshot(), query, response, origin)) > 0;
    counting = false;
    CHECK(answered == 100 * queries.size());
    CHECK(allocations.load() == 0);
}

}  // namespace

TEST_CASE("answer_path_allocates_nothing") {
    AnswerFixture f(ZoneTexts{{"example.com.", R"($TTL 60
@ SOA ns h 1 1 1 1 1
@ NS ns
@ MX 10 mail
ns A 192.0.2.1
mail A 192.0.2.2
www A 192.0.2.3
alias CNAME www
*.wild A 192.0.2.4
sub NS ns.sub
ns.sub A 192.0.2.5
dn DNAME example.com.
)"}});
    REQUIRE(f.errors == "");
    const std::vector<std::vector<uint8_t>> queries = {
        make_query("www.example.com.", LDNS_RR_TYPE_A),
        make_query("WWW.EXAMPLE.COM.", LDNS_RR_TYPE_A, {.edns = true, .nsid = true}),
        make_query("alias.example.com.", LDNS_RR_TYPE_A),
        make_query("x.wild.example.com.", LDNS_RR_TYPE_A),
        make_query("nope.example.com.", LDNS_RR_TYPE_A),
        make_query("www.example.com.", LDNS_RR_TYPE_MX),
        make_query("example.com.", LDNS_RR_TYPE_MX),
        make_query("host.sub.example.com.", LDNS_RR_TYPE_A),
        make_query("www.dn.example.com.", LDNS_RR_TYPE_A),
        make_query("example.com.", LDNS_RR_TYPE_ANY),
        make_query("www.example.org.", LDNS_RR_TYPE_A),
        make_query("id.server.", LDNS_RR_TYPE_TXT, {.rclass = LDNS_RR_CLASS_CH}),
        make_query("www.example.com.", LDNS_RR_TYPE_A, {.edns = true, .edns_version = 1}),
        {0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0},  // malformed
        // The EDNS error responses (RFC 6891 §7: each with an OPT) and ignored options/flags.
        edns_query_with_opcode(15),
        edns_query_with_questions(0),
        edns_query_with_questions(2),
        edns_query("www.example.com.", LDNS_RR_TYPE_A, 0x4000, edns_option(100, {1, 2})),
    };
    check_answers_allocate_nothing(f, queries);
}

TEST_CASE("steered_answers_allocate_nothing") {
    AnswerFixture f(ZoneTexts{{"example.com.", R"($TTL 60
@ SOA ns h 1 1 1 1 1
@ NS ns
ns A 192.0.2.1
www A 192.0.2.53
www AAAA 2001:db8::53
alias CNAME www
)"}});
    REQUIRE(f.errors == "");
    f.snapshot().steering.add(meridian::wire::wire_from_text("www.example.com."),
                              steered(meridian::geoip::Policy::Mode::map));
    const auto ecs = [](const char* address, uint8_t source) {
        return QueryOptions{.edns = true, .client_subnet = client_subnet_option(address, source)};
    };
    const std::vector<std::vector<uint8_t>> queries = {
        make_query("www.example.com.", LDNS_RR_TYPE_A, ecs("198.51.100.0", 24)),
        make_query("www.example.com.", LDNS_RR_TYPE_AAAA, ecs("203.0.113.0", 24)),
        make_query("alias.example.com.", LDNS_RR_TYPE_A, ecs("2001:db8:aa::", 56)),
        make_query("www.example.com.", LDNS_RR_TYPE_A, ecs("100.64.0.0", 10)),
        make_query("www.example.com.", LDNS_RR_TYPE_A, ecs("0.0.0.0", 0)),
        make_query("www.example.com.", LDNS_RR_TYPE_A),
    };
    const auto resolver = meridian::geoip::parse_address("203.0.113.9");
    check_answers_allocate_nothing(f, queries, &*resolver);
    // The steering really happened: the first query got fra's address.
    const auto reply = AnswerFixture::parse(f.respond_bytes(queries[0]));
    CHECK(answer(reply) == std::vector<std::string>{"www.example.com. 30 IN A 192.0.2.10"});
}

TEST_CASE("skipping_down_pools_allocates_nothing") {
    AnswerFixture f(ZoneTexts{{"example.com.", R"($TTL 60
@ SOA ns h 1 1 1 1 1
@ NS ns
ns A 192.0.2.1
www A 192.0.2.53
)"}});
    REQUIRE(f.errors == "");
    auto name = steered(meridian::geoip::Policy::Mode::map);
    auto& states = f.snapshot().steering.pool_states;
    for (uint16_t slot = 0; slot < 3; ++slot) {
        states.push_back(std::make_shared<meridian::geoip::PoolState>(slot));
        name.pools[slot].state = states[slot].get();
    }
    f.snapshot().steering.add(meridian::wire::wire_from_text("www.example.com."), std::move(name));
    states[2]->set_checked(meridian::geoip::CheckedState::down);  // iad: North America gets fra
    states[1]->set_forced(meridian::geoip::ForcedState::down);    // sin: Singapore falls back
    const std::vector<std::vector<uint8_t>> queries = {
        make_query("www.example.com.", LDNS_RR_TYPE_A,
                   {.edns = true, .client_subnet = client_subnet_option("2001:db8:aa::", 48)}),
        make_query("www.example.com.", LDNS_RR_TYPE_A,
                   {.edns = true, .client_subnet = client_subnet_option("203.0.113.0", 24)}),
    };
    meridian::zones::AnswerSummary summary;
    check_answers_allocate_nothing(f, queries, nullptr, &summary);
    CHECK(summary.steering == meridian::zones::SteeringSource::fallback);  // the last: Singapore
    const auto north_america = AnswerFixture::parse(f.respond_bytes(queries[0]));
    CHECK(answer(north_america) == std::vector<std::string>{"www.example.com. 30 IN A 192.0.2.10"});
}

TEST_CASE("the_counter_sees_allocations") {
    allocations = 0;
    counting = true;
    auto* p = new std::vector<int>(10);
    counting = false;
    delete p;
    CHECK(allocations.load() >= 1);
}

TEST_CASE("signed_answers_allocate_nothing") {
    // Every proof kind over NSEC, NSEC3 and NSEC3 Opt-Out: NSEC3 hashes names per query.
    const char* zone = R"($TTL 60
@ SOA ns h 1 1 1 1 1
@ NS ns
@ MX 10 mail
ns A 192.0.2.1
mail A 192.0.2.2
www A 192.0.2.3
alias CNAME www
*.wild A 192.0.2.4
x.y.ent A 192.0.2.6
sub NS ns.sub
sub DS 12345 13 2 49FD46E6C4B45C55D4AC69CBD3CD34AC1AFE51DE2D4A7E6E23E8D8E2C2CBB2B6
ns.sub A 192.0.2.5
insecure NS ns.insecure
ns.insecure A 192.0.2.7
dn DNAME example.com.
)";
    for (Denial denial : {Denial::nsec, Denial::nsec3, Denial::nsec3_opt_out}) {
        AnswerFixture f(ZoneTexts{{"example.com.", sign_zone_text("example.com.", zone, denial)}});
        REQUIRE(f.errors == "");
        const QueryOptions with_do{.edns = true, .udp_size = 1232, .dnssec_ok = true};
        QueryOptions small = with_do;
        small.udp_size = 512;
        const std::vector<std::vector<uint8_t>> queries = {
            make_query("www.example.com.", LDNS_RR_TYPE_A, with_do),
            make_query("alias.example.com.", LDNS_RR_TYPE_A, with_do),
            make_query("x.wild.example.com.", LDNS_RR_TYPE_A, with_do),
            make_query("x.wild.example.com.", LDNS_RR_TYPE_AAAA, with_do),
            make_query("nope.example.com.", LDNS_RR_TYPE_A, with_do),
            make_query("a.b.nope.example.com.", LDNS_RR_TYPE_A, small),
            make_query("www.example.com.", LDNS_RR_TYPE_TXT, with_do),
            make_query("y.ent.example.com.", LDNS_RR_TYPE_A, with_do),
            make_query("example.com.", LDNS_RR_TYPE_MX, with_do),
            make_query("example.com.", LDNS_RR_TYPE_DNSKEY, with_do),
            make_query("www.example.com.", LDNS_RR_TYPE_RRSIG, with_do),
            make_query("host.sub.example.com.", LDNS_RR_TYPE_A, with_do),
            make_query("host.insecure.example.com.", LDNS_RR_TYPE_A, with_do),
            make_query("insecure.example.com.", LDNS_RR_TYPE_DS, with_do),
            make_query("sub.example.com.", LDNS_RR_TYPE_DS, with_do),
            make_query("www.dn.example.com.", LDNS_RR_TYPE_A, with_do),
        };
        check_answers_allocate_nothing(f, queries);
    }
}
