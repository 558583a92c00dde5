// GeoDNS in the answer path: the ECS subnet or the resolver's address picks the pool, the
// zone's own records answer when nothing does, and the ECS scope says for which network the
// answer holds (RFC 7871 §7.2.1).
#include <doctest/doctest.h>

#include <arpa/inet.h>

#include "geoip/compile.hpp"
#include "support/answer_fixture.hpp"
#include "support/steered_name.hpp"
#include "wire/name.hpp"

using namespace meridian;
using namespace meridian::testing;

namespace {

const char* kZone = R"($TTL 300
@     SOA ns h 1 7200 900 1209600 60
@     NS  ns
ns    A   192.0.2.1
www   A   192.0.2.53
www   AAAA 2001:db8::53
alias CNAME www
mx    MX  10 www
)";

struct Geo : AnswerFixture {
    explicit Geo(geoip::Policy::Mode mode = geoip::Policy::Mode::map)
        : AnswerFixture(ZoneTexts{{"example.com.", kZone}}) {
        REQUIRE(errors == "");
        snapshot().steering.add(wire::wire_from_text("www.example.com."), steered(mode));
    }

    // Asks as if from `resolver` (an IPv4 or IPv6 address), optionally with ECS.
    Packet ask_from(const char* resolver, const std::string& name, ldns_rr_type type,
                    const QueryOptions& options = {}) {
        const auto client = geoip::parse_address(resolver);
        REQUIRE(client);
        std::vector<uint8_t> response(65535);
        const zones::QueryOrigin origin{zones::Transport::udp, &*client};
        const auto query = make_query(name, type, options);
        response.resize(zones::respond(snapshot(), query, response, origin));
        return parse(response);
    }

    Packet ask_ecs(const char* subnet, uint8_t source, ldns_rr_type type = LDNS_RR_TYPE_A,
                   const std::string& name = "www.example.com.") {
        return ask_from("127.0.0.1", name, type,
                        {.edns = true, .client_subnet = client_subnet_option(subnet, source)});
    }
};

std::vector<std::string> a_answer(const char* address) {
    return {std::string("www.example.com. 30 IN A ") + address};
}

}  // namespace

TEST_CASE("ecs_subnet_picks_the_pool_of_its_net") {
    Geo f;
    auto p = f.ask_ecs("198.51.100.0", 24);
    CHECK(answer(p) == a_answer("192.0.2.10"));
    CHECK(ecs_scope(p) == 24);
    auto sg = f.ask_ecs("203.0.113.0", 24);
    CHECK(answer(sg) == a_answer("192.0.2.20"));
    CHECK(ecs_scope(sg) == 24);
}

TEST_CASE("ecs_scope_may_exceed_a_short_source_prefix") {
    Geo f;
    // The resolver sent only /16; the data decides at /24 (RFC 7871 §7.2.1).
    auto p = f.ask_ecs("198.51.0.0", 16);
    CHECK(ecs_scope(p) >= 17);
    CHECK(answer(p) == std::vector<std::string>{"www.example.com. 300 IN A 192.0.2.53"});
}

TEST_CASE("unknown_location_falls_back_to_zone_records") {
    Geo f;
    auto p = f.ask_ecs("192.0.2.0", 24);
    CHECK(answer(p) == std::vector<std::string>{"www.example.com. 300 IN A 192.0.2.53"});
    // The fallback depends on the client too: a scope no longer than the source, never 0...
    CHECK(ecs_scope(p) > 0);
    CHECK(ecs_scope(p) <= 24);
}

TEST_CASE("pool_without_addresses_of_the_type_falls_back") {
    Geo f;
    // sin has no IPv6 address: the zone's own AAAA answers Singapore.
    auto p = f.ask_ecs("203.0.113.0", 24, LDNS_RR_TYPE_AAAA);
    CHECK(answer(p) == std::vector<std::string>{"www.example.com. 300 IN AAAA 2001:db8::53"});
}

TEST_CASE("preference_list_skips_pools_without_the_type") {
    Geo f;
    // North America prefers iad (no AAAA), then fra.
    auto v4 = f.ask_ecs("2001:db8:aa::", 48);
    CHECK(answer(v4) == a_answer("192.0.2.30"));
    CHECK(ecs_scope(v4) == 48);
    auto v6 = f.ask_ecs("2001:db8:aa::", 48, LDNS_RR_TYPE_AAAA);
    CHECK(answer(v6) == std::vector<std::string>{"www.example.com. 30 IN AAAA 2001:db8::10"});
}

TEST_CASE("resolver_address_decides_without_ecs") {
    Geo f;
    auto p = f.ask_from("198.51.100.9", "www.example.com.", LDNS_RR_TYPE_A);
    CHECK(answer(p) == a_answer("192.0.2.10"));
    CHECK(ecs_scope(p) == -1);  // no ECS echoed when the query had none
    auto mapped = f.ask_from("::ffff:198.51.100.9", "www.example.com.", LDNS_RR_TYPE_A);
    CHECK(answer(mapped) == a_answer("192.0.2.10"));
}

TEST_CASE("source_prefix_zero_means_resolver_address_and_scope_zero") {
    Geo f;
    auto p = f.ask_from("198.51.100.9", "www.example.com.", LDNS_RR_TYPE_A,
                        {.edns = true, .client_subnet = client_subnet_option("0.0.0.0", 0)});
    CHECK(answer(p) == a_answer("192.0.2.10"));
    CHECK(ecs_scope(p) == 0);
}

TEST_CASE("static_answers_carry_scope_zero") {
    Geo f;
    auto ns = f.ask_ecs("198.51.100.0", 24, LDNS_RR_TYPE_A, "ns.example.com.");
    CHECK(ecs_scope(ns) == 0);
    auto mx = f.ask_ecs("198.51.100.0", 24, LDNS_RR_TYPE_MX, "www.example.com.");
    CHECK(ecs_scope(mx) == 0);  // only A and AAAA are steered
    auto nx = f.ask_ecs("198.51.100.0", 24, LDNS_RR_TYPE_A, "nope.example.com.");
    CHECK(rcode(nx) == LDNS_RCODE_NXDOMAIN);
    CHECK(ecs_scope(nx) == 0);
}

TEST_CASE("cname_into_a_steered_name_is_steered") {
    Geo f;
    auto p = f.ask_ecs("198.51.100.0", 24, LDNS_RR_TYPE_A, "alias.example.com.");
    CHECK(answer(p) == std::vector<std::string>{"alias.example.com. 300 IN CNAME www.example.com.",
                                                "www.example.com. 30 IN A 192.0.2.10"});
    CHECK(ecs_scope(p) == 24);
}

TEST_CASE("ecs_disabled_or_not_allowed_uses_resolver_address") {
    Geo f;
    f.snapshot().steering.ecs_enabled = false;
    auto off =
        f.ask_from("203.0.113.1", "www.example.com.", LDNS_RR_TYPE_A,
                   {.edns = true, .client_subnet = client_subnet_option("198.51.100.0", 24)});
    CHECK(answer(off) == a_answer("192.0.2.20"));
    CHECK(ecs_scope(off) == 0);
    f.snapshot().steering.ecs_enabled = true;
    f.snapshot().steering.ecs_from = {prefix("10.0.0.0/8")};
    auto outside =
        f.ask_from("203.0.113.1", "www.example.com.", LDNS_RR_TYPE_A,
                   {.edns = true, .client_subnet = client_subnet_option("198.51.100.0", 24)});
    CHECK(answer(outside) == a_answer("192.0.2.20"));
    auto inside =
        f.ask_from("10.1.2.3", "www.example.com.", LDNS_RR_TYPE_A,
                   {.edns = true, .client_subnet = client_subnet_option("198.51.100.0", 24)});
    CHECK(answer(inside) == a_answer("192.0.2.10"));
}

TEST_CASE("local_mode_answers_this_pops_pool_with_scope_zero") {
    Geo f(geoip::Policy::Mode::local);
    auto p = f.ask_ecs("203.0.113.0", 24);
    CHECK(answer(p) == a_answer("192.0.2.10"));
    CHECK(ecs_scope(p) == 0);
}

TEST_CASE("first_and_last_address_of_the_scope_agree") {
    Geo f;
    for (const char* subnet : {"198.51.100.0", "203.0.113.0", "192.0.2.0", "100.64.0.0"}) {
        auto p = f.ask_ecs(subnet, 24);
        const int scope = ecs_scope(p);
        REQUIRE(scope >= 0);
        // The network of `scope` bits around the subnet: its first and last /32.
        in_addr first{};
        inet_pton(AF_INET, subnet, &first);
        const uint32_t base = ntohl(first.s_addr) & (scope == 0 ? 0 : ~0u << (32 - scope));
        const uint32_t last = base | (scope == 32 ? 0 : (scope == 0 ? ~0u : (~0u >> scope)));
        char low[INET_ADDRSTRLEN], high[INET_ADDRSTRLEN];
        in_addr a{htonl(base)}, b{htonl(last)};
        inet_ntop(AF_INET, &a, low, sizeof low);
        inet_ntop(AF_INET, &b, high, sizeof high);
        INFO(subnet << " scope " << scope << ": " << low << " .. " << high);
        CHECK(answer(f.ask_ecs(low, 32)) == answer(p));
        CHECK(answer(f.ask_ecs(high, 32)) == answer(p));
    }
}

namespace {

// The Geo fixture with a health state for each pool (fra, sin, iad), as the server wires
// them: owned by the steering table, read by the answer path.
struct GeoWithHealth : Geo {
    explicit GeoWithHealth(geoip::Policy::Mode mode = geoip::Policy::Mode::map) : Geo(mode) {
        zones::SteeredName name = steered(mode);
        for (uint16_t slot = 0; slot < 3; ++slot) {
            snapshot().steering.pool_states.push_back(std::make_shared<geoip::PoolState>(slot));
            name.pools[slot].state = snapshot().steering.pool_states[slot].get();
        }
        snapshot().steering.add(wire::wire_from_text("www.example.com."), std::move(name));
    }
    geoip::PoolState& state(size_t pool) { return *snapshot().steering.pool_states[pool]; }
};

}  // namespace

TEST_CASE("a_down_pool_is_skipped_for_the_next_of_the_list_with_the_same_scope") {
    GeoWithHealth f;
    // North America prefers iad, then fra.
    auto before = f.ask_ecs("2001:db8:aa::", 48);
    REQUIRE(answer(before) == a_answer("192.0.2.30"));
    f.state(2).set_checked(geoip::CheckedState::down);
    auto after = f.ask_ecs("2001:db8:aa::", 48);
    CHECK(answer(after) == a_answer("192.0.2.10"));
    // Health is the same for every client of the leaf: the scope does not change.
    CHECK(ecs_scope(after) == ecs_scope(before));
    // Unknown answers as up; up again answers again.
    f.state(2).set_checked(geoip::CheckedState::unknown);
    CHECK(answer(f.ask_ecs("2001:db8:aa::", 48)) == a_answer("192.0.2.30"));
}

TEST_CASE("every_pool_down_falls_back_to_the_zone_records_with_the_same_scope") {
    GeoWithHealth f;
    auto before = f.ask_ecs("2001:db8:aa::", 48);
    f.state(2).set_checked(geoip::CheckedState::down);
    f.state(0).set_forced(geoip::ForcedState::down);
    auto after = f.ask_ecs("2001:db8:aa::", 48);
    CHECK(answer(after) == std::vector<std::string>{"www.example.com. 300 IN A 192.0.2.53"});
    CHECK(ecs_scope(after) == ecs_scope(before));
    // A pool forced up answers whatever its check says.
    f.state(2).set_forced(geoip::ForcedState::up);
    CHECK(answer(f.ask_ecs("2001:db8:aa::", 48)) == a_answer("192.0.2.30"));
}

TEST_CASE("a_down_pool_of_a_local_policy_falls_back_with_scope_zero") {
    GeoWithHealth f(geoip::Policy::Mode::local);
    f.state(0).set_checked(geoip::CheckedState::down);
    auto p = f.ask_ecs("203.0.113.0", 24);
    CHECK(answer(p) == std::vector<std::string>{"www.example.com. 300 IN A 192.0.2.53"});
    CHECK(ecs_scope(p) == 0);
}

TEST_CASE("steering_outcome_names_the_pool_and_what_decided") {
    // A tree without nets: one decision (iad, fra) for every IPv4 address, as a database
    // would give; the ECS subnet or the resolver's address decides.
    geoip::PrefixTreeBuilder builder;
    const std::vector<geoip::PoolIndex> pools = {2, 0};
    const auto leaf = geoip::PrefixTreeBuilder::leaf(builder.intern_decision(pools));
    zones::SteeredName name = steered(geoip::Policy::Mode::map);
    name.tree = builder.finish(leaf, geoip::PrefixTreeBuilder::leaf(geoip::kFallback));
    geoip::PoolState iad(7);
    name.pools[2].state = &iad;
    zones::ClientAddress client;
    client.is_known = true;
    client.source_prefix = 24;
    zones::SteeringOutcome by_resolver;
    REQUIRE(zones::steer(name, 1, client, by_resolver));
    CHECK(by_resolver.source == zones::SteeringSource::resolver);
    CHECK(by_resolver.pool_slot == 7);
    client.is_subnet = true;
    zones::SteeringOutcome by_ecs;
    REQUIRE(zones::steer(name, 1, client, by_ecs));
    CHECK(by_ecs.source == zones::SteeringSource::ecs);
    iad.set_checked(geoip::CheckedState::down);
    zones::SteeringOutcome next;
    REQUIRE(zones::steer(name, 1, client, next));
    CHECK(next.pool_slot == 0);  // fra, which has no state: its index
    client.family = geoip::Family::v6;
    zones::SteeringOutcome unlocated;
    CHECK_FALSE(zones::steer(name, 1, client, unlocated));
    CHECK(unlocated.source == zones::SteeringSource::fallback);
}
