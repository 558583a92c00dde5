// Tests for compiling policies, nets and databases into the steering tree
// (geoip/compile.hpp, geoip/prefix_tree.hpp) and for the explain slow path.
#include <doctest/doctest.h>

#include <maxminddb.h>

#include <initializer_list>
#include <random>

#include "fixtures.hpp"
#include "geoip/compile.hpp"
#include "geoip/error.hpp"
#include "geoip/explain.hpp"
#include "support/maxmind_reference.hpp"

using namespace meridian::geoip;
using namespace meridian::geoip::testing;

namespace {

const std::vector<Pool> kPools = {
    {"eu", Coordinates{51.5074, -0.1278}},    // London
    {"us", Coordinates{39.0438, -77.4874}},   // Ashburn
    {"ap", Coordinates{35.6762, 139.6503}},   // Tokyo
    {"wa", Coordinates{47.6062, -122.3321}},  // Seattle
};

Policy map_policy() {
    Policy policy;
    policy.name = "www";
    policy.mode = Policy::Mode::map;
    policy.map = {
        {MapRule::Scope::subdivision, "US-WA", {"wa", "us"}},
        {MapRule::Scope::country, "GB", {"eu"}},
        {MapRule::Scope::country, "JP", {"ap"}},
        {MapRule::Scope::continent, "EU", {"eu", "us"}},
        {MapRule::Scope::continent, "NA", {"us", "eu"}},
        {MapRule::Scope::continent, "AS", {"ap", "eu"}},
    };
    policy.default_pools = {"us"};
    return policy;
}

Net make_net(const char* text, Location location, std::vector<std::string> pools = {}) {
    std::string error;
    auto network = parse_prefix(text, error);
    REQUIRE_MESSAGE(network, error);
    return Net{*network, std::move(location), std::move(pools)};
}

std::vector<std::string> pool_names(const PrefixTree& tree, DecisionId decision) {
    std::vector<std::string> names;
    for (PoolIndex index : tree.pools(decision)) names.push_back(kPools[index].name);
    return names;
}

std::string join(const std::vector<std::string>& names) {
    std::string joined;
    for (const std::string& name : names) joined += name + " ";
    return joined;
}

ScopedDecision lookup(const PrefixTree& tree, const char* text, int source = -1) {
    const Address parsed = address(text);
    return tree.lookup(parsed.family, parsed.bytes.data(),
                       source < 0 ? address_bits(parsed.family) : static_cast<unsigned>(source));
}

std::vector<std::string> steer(const PrefixTree& tree, const char* text) {
    return pool_names(tree, lookup(tree, text).decision);
}

// The scope network's first and last addresses must steer alike: otherwise a resolver
// caching the answer for the whole scope would serve part of it wrongly.
void check_scope_is_uniform(const PrefixTree& tree, const Address& parsed) {
    const unsigned bits = address_bits(parsed.family);
    const ScopedDecision found = tree.lookup(parsed.family, parsed.bytes.data(), bits);
    Address first = parsed, last = parsed;
    for (unsigned bit = found.scope; bit < bits; ++bit) {
        const uint8_t mask = static_cast<uint8_t>(0x80u >> (bit & 7));
        first.bytes[bit >> 3] &= static_cast<uint8_t>(~mask);
        last.bytes[bit >> 3] |= mask;
    }
    CHECK(tree.lookup(first.family, first.bytes.data(), bits).decision == found.decision);
    CHECK(tree.lookup(last.family, last.bytes.data(), bits).decision == found.decision);
}

std::shared_ptr<const Database> open_fixture(const char* name) {
    return Database::open(fixture_database(name));
}

std::shared_ptr<const Database> open_shared(const char* relative) {
    return Database::open(shared_database(relative));
}

// The scope a lookup gives is never longer than the database network libmaxminddb finds (a
// resolver would cache the answer for less than it holds), and steers alike at both ends.
void check_scopes_within_database_networks(const std::string& path,
                                           std::initializer_list<const char*> addresses) {
    const auto database = Database::open(path);
    const PrefixTree tree = compile_policy(map_policy(), kPools, NetTable(), database.get());
    MMDB_s mmdb;
    REQUIRE(MMDB_open(path.c_str(), MMDB_MODE_MMAP, &mmdb) == MMDB_SUCCESS);
    for (const char* text : addresses) {
        CAPTURE(text);
        const MMDB_lookup_result_s result = meridian::testing::reference_lookup(mmdb, text);
        const Address parsed = address(text);
        const unsigned ipv4_offset = parsed.family == Family::v4 ? 96 : 0;
        const ScopedDecision found = lookup(tree, text);
        CHECK(found.scope + ipv4_offset <= result.netmask);
        check_scope_is_uniform(tree, parsed);
    }
    MMDB_close(&mmdb);
}

// The compiled tree and the explain slow path decide alike for random addresses, weighted
// towards the networks the database covers (`seeds`).
void check_tree_agrees_with_explain(const Database& database, const NetTable& nets,
                                    std::initializer_list<const char*> seeds) {
    const Policy policy = map_policy();
    const PrefixTree tree = compile_policy(policy, kPools, nets, &database);
    const std::vector<const char*> starts(seeds);
    std::mt19937 random(7);
    for (int round = 0; round < 2000; ++round) {
        Address probe = address(starts[static_cast<size_t>(round) % starts.size()]);
        const unsigned bits = address_bits(probe.family);
        const unsigned keep = (probe.family == Family::v4 ? 16 : 24) + random() % 16;
        for (unsigned bit = keep; bit < bits; ++bit) {
            if (random() & 1) probe.bytes[bit >> 3] ^= static_cast<uint8_t>(0x80u >> (bit & 7));
        }
        const auto slow =
            explain_address(policy, kPools, nets, &database, probe.family, probe.bytes.data());
        const auto fast =
            pool_names(tree, tree.lookup(probe.family, probe.bytes.data(), bits).decision);
        CAPTURE(to_string(make_prefix(probe.family, probe.bytes.data(), bits)));
        CAPTURE(slow.rule);
        CHECK(join(fast) == join(slow.pools));
    }
}

}  // namespace

TEST_CASE("map_policy_steers_by_most_specific_rule") {
    const auto database = open_fixture("Meridian-City-Test.mmdb");
    const PrefixTree tree = compile_policy(map_policy(), kPools, NetTable(), database.get());
    using Names = std::vector<std::string>;
    CHECK(steer(tree, "100.64.16.7") == Names{"eu"});              // country GB
    CHECK(steer(tree, "100.64.19.7") == Names{"eu"});              // country GB
    CHECK(steer(tree, "2001:db8:30::1") == Names{"ap"});           // country JP
    CHECK(steer(tree, "100.64.18.7") == Names{"eu", "us"});        // continent EU (SE)
    CHECK(steer(tree, "100.64.17.7") == Names{"eu", "us"});        // continent EU alone
    CHECK(steer(tree, "100.64.8.9") == Names{"wa", "us"});         // subdivision US-WA
    CHECK(steer(tree, "100.64.0.9") == Names{"us", "eu"});         // continent NA (US-CA)
    CHECK(steer(tree, "100.64.32.7") == Names{"us"});              // AU: the default
    CHECK(steer(tree, "2001:0:6440:808::") == Names{"wa", "us"});  // Teredo alias
}

TEST_CASE("maxmind_test_addresses_steer_by_most_specific_rule" * doctest::test_suite("shared")) {
    const auto database = open_shared("maxmind-test/GeoIP2-City-Test.mmdb");
    const PrefixTree tree = compile_policy(map_policy(), kPools, NetTable(), database.get());
    using Names = std::vector<std::string>;
    CHECK(steer(tree, "2.125.160.216") == Names{"eu"});        // country GB
    CHECK(steer(tree, "81.2.69.142") == Names{"eu"});          // country GB
    CHECK(steer(tree, "2001:218::") == Names{"ap"});           // country JP
    CHECK(steer(tree, "89.160.20.112") == Names{"eu", "us"});  // continent EU (SE)
    CHECK(steer(tree, "216.160.83.56") == Names{"wa", "us"});  // subdivision US-WA
}

TEST_CASE("merged_scope_is_never_more_specific_than_the_database_network") {
    check_scopes_within_database_networks(
        fixture_database("Meridian-City-Test.mmdb"),
        {"100.64.16.142", "100.64.16.7", "100.64.8.9", "100.64.0.9", "100.64.17.7", "100.64.40.7",
         "100.127.0.1", "2001:db8:30::1", "2001:db8:10::1",
         "2001:0:6440:808::", "::ffff:100.64.16.142"});
}

TEST_CASE("merged_scope_is_never_more_specific_than_a_maxmind_network" *
          doctest::test_suite("shared")) {
    check_scopes_within_database_networks(
        shared_database("maxmind-test/GeoIP2-City-Test.mmdb"),
        {"2.125.160.216", "81.2.69.142", "2001:218::", "89.160.20.112", "216.160.83.56",
         "67.43.156.1", "2a02:cf40::1", "202.196.224.5"});
}

TEST_CASE("nearest_policy_orders_pools_by_distance_from_the_network") {
    const auto database = open_fixture("Meridian-City-Test.mmdb");
    Policy nearest;
    nearest.name = "api";
    nearest.mode = Policy::Mode::nearest;
    const PrefixTree tree = compile_policy(nearest, kPools, NetTable(), database.get());
    using Names = std::vector<std::string>;
    // Seattle, then Ashburn; London and Tokyo are both ~7,700 km further.
    const Names seattle = steer(tree, "100.64.8.9");
    REQUIRE(seattle.size() == 4);
    CHECK(Names(seattle.begin(), seattle.begin() + 2) == Names{"wa", "us"});
    CHECK(steer(tree, "100.64.16.7") == Names{"eu", "us", "wa", "ap"});  // London
    CHECK(steer(tree, "2001:db8:30::1").front() == "ap");                // Tokyo
    CHECK(steer(tree, "100.64.17.7").empty());  // a continent, no coordinates: fallback
    CHECK(steer(tree, "10.0.0.1").empty());     // not in the database: fallback
}

TEST_CASE("nearest_without_network_coordinates_is_fallback") {
    const auto database = open_fixture("Meridian-Country-Test.mmdb");
    Policy nearest;
    nearest.mode = Policy::Mode::nearest;
    const PrefixTree tree = compile_policy(nearest, kPools, NetTable(), database.get());
    CHECK(lookup(tree, "100.65.1.1").decision == kFallback);
    CHECK(tree.decision_count() == 1);
}

TEST_CASE("nearest_with_a_real_country_database_is_fallback" * doctest::test_suite("shared")) {
    const auto database = open_shared("real/geo-whois-asn-country.mmdb");
    Policy nearest;
    nearest.mode = Policy::Mode::nearest;
    const PrefixTree tree = compile_policy(nearest, kPools, NetTable(), database.get());
    CHECK(lookup(tree, "8.8.8.8").decision == kFallback);
    CHECK(tree.decision_count() == 1);
}

TEST_CASE("flat_schema_database_steers_by_country_code") {
    const auto database = open_fixture("Meridian-Flat-Country-Test.mmdb");
    const PrefixTree tree = compile_policy(map_policy(), kPools, NetTable(), database.get());
    CHECK(steer(tree, "100.64.8.8") == std::vector<std::string>{"us", "eu"});  // US -> NA
    CHECK(steer(tree, "2001:db8:1::53") == std::vector<std::string>{"us", "eu"});
    CHECK(steer(tree, "100.66.0.1") == std::vector<std::string>{"eu"});  // GB
    check_scope_is_uniform(tree, address("100.64.8.8"));
    CHECK(lookup(tree, "100.64.8.8").scope == 16);  // the database's /16: DE beside it is EU
}

TEST_CASE("a_real_flat_schema_database_steers_by_country_code" * doctest::test_suite("shared")) {
    const auto database = open_shared("real/geo-whois-asn-country.mmdb");
    const PrefixTree tree = compile_policy(map_policy(), kPools, NetTable(), database.get());
    CHECK(steer(tree, "8.8.8.8") == std::vector<std::string>{"us", "eu"});  // US -> NA
    CHECK(steer(tree, "2001:4860:4860::8888") == std::vector<std::string>{"us", "eu"});
    check_scope_is_uniform(tree, address("8.8.8.8"));
}

TEST_CASE("unlocated_addresses_are_fallback_and_unmatched_ones_get_the_default") {
    const auto database = open_fixture("Meridian-City-Test.mmdb");
    Policy policy;
    policy.map = {{MapRule::Scope::country, "GB", {"eu"}}};
    policy.default_pools = {"us"};
    const PrefixTree tree = compile_policy(policy, kPools, NetTable(), database.get());
    CHECK(lookup(tree, "10.0.0.1").decision == kFallback);     // no database record
    CHECK(lookup(tree, "100.64.40.7").decision == kFallback);  // a record without a location
    CHECK(steer(tree, "2001:db8:30::1") == std::vector<std::string>{"us"});  // JP: default
}

TEST_CASE("nets_override_the_database_and_the_longest_net_wins") {
    const auto database = open_fixture("Meridian-City-Test.mmdb");
    const NetTable nets({
        make_net("100.64.16.0/24", Location{"US", "", "", std::nullopt}),
        make_net("100.64.16.128/25", {}, {"ap"}),
        make_net("2001:db8:30::/56", Location{"GB", "", "", std::nullopt}),
    });
    const PrefixTree tree = compile_policy(map_policy(), kPools, nets, database.get());
    using Names = std::vector<std::string>;
    CHECK(steer(tree, "100.64.16.142") == Names{"ap"});      // the /25's pools
    CHECK(steer(tree, "100.64.16.1") == Names{"us", "eu"});  // the /24's US location
    CHECK(lookup(tree, "100.64.16.1").scope == 25);
    CHECK(lookup(tree, "100.64.16.142").scope == 25);
    CHECK(steer(tree, "2001:db8:30::1") == Names{"eu"});     // the v6 net
    CHECK(steer(tree, "2001:db8:30:100::") == Names{"ap"});  // the database beside it
    CHECK(steer(tree, "100.64.19.7") == Names{"eu"});        // untouched
}

TEST_CASE("without_a_database_only_nets_decide") {
    const NetTable nets({
        make_net("10.0.0.0/8", {}, {"eu"}),
        make_net("2001:db8::/32", Location{"JP", "", "", std::nullopt}),
    });
    const PrefixTree tree = compile_policy(map_policy(), kPools, nets, nullptr);
    CHECK(steer(tree, "10.1.2.3") == std::vector<std::string>{"eu"});
    CHECK(lookup(tree, "10.1.2.3").scope == 8);
    CHECK(steer(tree, "2001:db8::1") == std::vector<std::string>{"ap"});
    CHECK(lookup(tree, "192.0.2.1").decision == kFallback);
    CHECK(lookup(tree, "192.0.2.1").scope == 1);  // 128.0.0.0/1 holds no net at all
    CHECK(lookup(tree, "2001:db9::1").decision == kFallback);
}

TEST_CASE("a_short_ecs_source_gets_the_zero_padded_answer_with_a_longer_scope") {
    const auto database = open_fixture("Meridian-City-Test.mmdb");
    const PrefixTree tree = compile_policy(map_policy(), kPools, NetTable(), database.get());
    // 100.64.8.9/8 asks about 100.0.0.0/8; the tree needs more bits there, so the answer is
    // that of 100.0.0.0 and the scope is longer than the source (RFC 7871 §7.2.1).
    const ScopedDecision short_source = lookup(tree, "100.64.8.9", 8);
    const ScopedDecision padded = lookup(tree, "100.0.0.0");
    CHECK(short_source.decision == padded.decision);
    CHECK(short_source.scope == padded.scope);
    CHECK(short_source.scope > 8);
    // With enough source bits the answer is the full address's.
    CHECK(lookup(tree, "100.64.8.9", 29).decision == lookup(tree, "100.64.8.9").decision);
    CHECK(lookup(tree, "100.64.8.9", 29).decision != padded.decision);
    // A source of 0 (RFC 7871 §7.1.2: "don't use my address") is the 0.0.0.0 answer.
    CHECK(lookup(tree, "100.64.8.9", 0).decision == lookup(tree, "0.0.0.0").decision);
}

TEST_CASE("ipv4_mapped_ipv6_addresses_steer_as_their_ipv4_address") {
    const auto database = open_fixture("Meridian-City-Test.mmdb");
    const PrefixTree tree = compile_policy(map_policy(), kPools, NetTable(), database.get());
    const ScopedDecision v4 = lookup(tree, "100.64.8.9");
    const ScopedDecision mapped = lookup(tree, "::ffff:100.64.8.9");
    CHECK(mapped.decision == v4.decision);
    CHECK(mapped.scope == v4.scope + 96);
}

TEST_CASE("local_policy_is_one_leaf_with_scope_zero") {
    Policy local;
    local.mode = Policy::Mode::local;
    local.local_pool = "ap";
    const PrefixTree tree =
        compile_policy(local, kPools, NetTable({make_net("10.0.0.0/8", {}, {"eu"})}), nullptr);
    CHECK(steer(tree, "10.1.2.3") == std::vector<std::string>{"ap"});
    CHECK(lookup(tree, "2001:db8::1").scope == 0);
    CHECK(tree.node_count() == 0);
}

TEST_CASE("adjacent_networks_with_one_decision_merge_into_one_scope") {
    const auto database = open_fixture("Meridian-IPv4-Test.mmdb");
    // The database keeps two /25s (different cities), both in DE.
    const Address berlin = address("192.0.2.1");
    CHECK(database->find(berlin.family, berlin.bytes.data()).network.length == 25);
    const PrefixTree tree = compile_policy(map_policy(), kPools, NetTable(), database.get());
    CHECK(steer(tree, "192.0.2.1") == std::vector<std::string>{"eu", "us"});
    CHECK(lookup(tree, "192.0.2.1").scope == 24);
    CHECK(lookup(tree, "192.0.2.200").scope == 24);
    CHECK(lookup(tree, "198.51.100.7").scope == 24);  // FR: same decision, but not adjacent
    // An IPv4-only database has no IPv6 tree.
    CHECK(lookup(tree, "2001:db8::1").decision == kFallback);
}

TEST_CASE("the_compiled_tree_agrees_with_the_explain_slow_path") {
    const auto database = open_fixture("Meridian-City-Test.mmdb");
    const NetTable nets({make_net("100.64.16.160/27", {}, {"ap"})});
    const Policy policy = map_policy();

    const Address camden = address("100.64.16.142");
    const Explanation explained =
        explain_address(policy, kPools, nets, database.get(), camden.family, camden.bytes.data());
    CHECK(explained.source == Explanation::Source::database);
    CHECK(to_string(explained.network) == "100.64.16.142/31");
    CHECK(explained.location.country == "GB");
    CHECK(explained.rule == "country GB");
    CHECK(explained.pools == std::vector<std::string>{"eu"});

    const Address pinned = address("100.64.16.161");
    const Explanation by_net =
        explain_address(policy, kPools, nets, database.get(), pinned.family, pinned.bytes.data());
    CHECK(by_net.source == Explanation::Source::net);
    CHECK(by_net.rule == "net pools");

    check_tree_agrees_with_explain(
        *database, nets,
        {"100.64.16.0", "100.64.8.0", "100.64.0.0", "100.64.24.0",
         "2001:db8:30::", "2001:db8:10::", "::ffff:100.64.16.0", "2001:0:6440:800::"});
}

TEST_CASE("the_compiled_tree_agrees_with_the_explain_slow_path_on_maxmind_data" *
          doctest::test_suite("shared")) {
    const auto database = open_shared("maxmind-test/GeoIP2-City-Test.mmdb");
    check_tree_agrees_with_explain(
        *database, NetTable({make_net("81.2.69.160/27", {}, {"ap"})}),
        {"81.2.69.0", "216.160.83.0", "2.125.160.0", "89.160.20.0",
         "2001:218::", "2a02:d300::", "::ffff:81.2.69.0", "67.43.156.0"});
}

TEST_CASE("policy_errors_name_the_policy_and_the_cause") {
    Policy unknown = map_policy();
    unknown.map.push_back({MapRule::Scope::country, "FR", {"paris"}});
    CHECK_THROWS_WITH_AS(compile_policy(unknown, kPools, NetTable(), nullptr),
                         "policy \"www\" map \"FR\": unknown pool \"paris\"", GeoipError);

    std::vector<Pool> pools = kPools;
    pools.push_back({"nowhere", std::nullopt});
    Policy nearest;
    nearest.name = "api";
    nearest.mode = Policy::Mode::nearest;
    CHECK_THROWS_WITH_AS(compile_policy(nearest, pools, NetTable(), nullptr),
                         "policy \"api\": nearest needs coordinates for pool \"nowhere\"",
                         GeoipError);

    Policy bad_key;
    bad_key.name = "www";
    bad_key.map = {{MapRule::Scope::continent, "XX", {"eu"}}};
    CHECK_THROWS_AS(compile_policy(bad_key, kPools, NetTable(), nullptr), GeoipError);

    CHECK_THROWS_WITH_AS(
        NetTable({make_net("10.0.0.0/8", {}, {"eu"}), make_net("10.0.0.0/8", {}, {"us"})}),
        "net 10.0.0.0/8 is listed twice", GeoipError);
}
