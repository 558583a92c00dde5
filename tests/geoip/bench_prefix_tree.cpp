// Micro-benchmark of compiling the real country database (../shared) and of tree lookups,
// against libmaxminddb's own lookup. Not run by default: test_geoip -tc='*benchmark*' --no-skip
#include <doctest/doctest.h>

#include <maxminddb.h>
#include <netinet/in.h>

#include <chrono>
#include <cstring>
#include <random>

#include "fixtures.hpp"
#include "geoip/compile.hpp"

using namespace meridian::geoip;
using namespace meridian::geoip::testing;

namespace {

double seconds_since(std::chrono::steady_clock::time_point start) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

TEST_CASE("benchmark_compile_and_lookup_on_the_real_database" * doctest::skip() *
          doctest::test_suite("shared")) {
    const std::string path = shared_database("real/geo-whois-asn-country.mmdb");
    auto start = std::chrono::steady_clock::now();
    const auto database = Database::open(path);
    const double open_seconds = seconds_since(start);

    const std::vector<Pool> pools = {
        {"eu", std::nullopt}, {"us", std::nullopt}, {"ap", std::nullopt}};
    Policy policy;
    policy.map = {{MapRule::Scope::continent, "EU", {"eu", "us", "ap"}},
                  {MapRule::Scope::continent, "NA", {"us", "eu", "ap"}},
                  {MapRule::Scope::continent, "AS", {"ap", "us", "eu"}}};
    policy.default_pools = {"us", "eu", "ap"};
    start = std::chrono::steady_clock::now();
    const PrefixTree tree = compile_policy(policy, pools, NetTable(), database.get());
    const double compile_seconds = seconds_since(start);

    constexpr size_t kQueries = 1 << 22;
    std::mt19937_64 random(42);
    std::vector<std::array<uint8_t, 16>> v4(kQueries), v6(kQueries);
    for (size_t i = 0; i < kQueries; ++i) {
        const uint64_t a = random(), b = random();
        std::memcpy(v4[i].data(), &a, 8);
        std::memcpy(v6[i].data(), &a, 8);
        std::memcpy(v6[i].data() + 8, &b, 8);
        v6[i][0] = static_cast<uint8_t>(0x20 | (v6[i][0] & 0x0f));  // 2000::/4, mostly allocated
    }
    auto bench = [&](Family family, const std::vector<std::array<uint8_t, 16>>& addresses,
                     unsigned source) {
        uint64_t sink = 0;
        const auto begin = std::chrono::steady_clock::now();
        for (const auto& address : addresses) {
            const ScopedDecision found = tree.lookup(family, address.data(), source);
            sink += found.decision + found.scope;
        }
        const double rate = static_cast<double>(addresses.size()) / seconds_since(begin);
        CHECK(sink > 0);
        return rate;
    };
    const double v4_rate = bench(Family::v4, v4, 32);
    const double v4_ecs_rate = bench(Family::v4, v4, 24);
    const double v6_rate = bench(Family::v6, v6, 128);
    const double v6_ecs_rate = bench(Family::v6, v6, 56);

    // The same IPv4 addresses through libmaxminddb, for comparison (no data decoding).
    MMDB_s mmdb;
    REQUIRE(MMDB_open(path.c_str(), MMDB_MODE_MMAP, &mmdb) == MMDB_SUCCESS);
    uint64_t sink = 0;
    const auto begin = std::chrono::steady_clock::now();
    for (const auto& address : v4) {
        sockaddr_in sin{};
        sin.sin_family = AF_INET;
        std::memcpy(&sin.sin_addr, address.data(), 4);
        int error = 0;
        const auto result = MMDB_lookup_sockaddr(&mmdb, reinterpret_cast<sockaddr*>(&sin), &error);
        sink += result.netmask;
    }
    const double mmdb_rate = static_cast<double>(kQueries) / seconds_since(begin);
    MMDB_close(&mmdb);
    CHECK(sink > 0);

    MESSAGE("database: " << database->node_count() << " mmdb nodes, " << database->location_count()
                         << " distinct records, open+validate " << open_seconds * 1e3 << " ms");
    MESSAGE("3-continent map: compile " << compile_seconds * 1e3 << " ms, " << tree.node_count()
                                        << " nodes, " << tree.memory_bytes() << " bytes, "
                                        << tree.decision_count() << " decisions");
    MESSAGE("lookups/s: v4/32 " << v4_rate / 1e6 << " M, v4/24 " << v4_ecs_rate / 1e6
                                << " M, v6/128 " << v6_rate / 1e6 << " M, v6/56 "
                                << v6_ecs_rate / 1e6 << " M; libmaxminddb v4 " << mmdb_rate / 1e6
                                << " M");
}
