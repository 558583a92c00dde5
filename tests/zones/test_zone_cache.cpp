// Reloading re-parses only changed zone files, and a broken edit keeps the previous zone.
#include <doctest/doctest.h>

#include <thread>

#include "support/temp_folder.hpp"
#include "zones/zone_cache.hpp"

using meridian::testing::TempFolder;
using meridian::zones::ZoneCache;
using Outcome = meridian::zones::ZoneCache::Outcome;

namespace {

std::string zone_text(int serial, const std::string& extra = "") {
    return "$ORIGIN example.com.\n$TTL 60\n@ SOA ns h " + std::to_string(serial) +
           " 1 1 1 1\n@ NS ns\n$INCLUDE hosts.inc\n" + extra;
}

}  // namespace

TEST_CASE("zone_cache_reuses_reparses_and_keeps") {
    TempFolder folder;
    const auto file = folder.write("example.com.zone", zone_text(1));
    const auto hosts = folder.write("hosts.inc", "ns A 192.0.2.1\n");
    ZoneCache cache;
    Outcome outcome;
    auto first = cache.load(file, "example.com.", outcome);
    REQUIRE(first.zone);
    CHECK(outcome == Outcome::parsed);

    auto again = cache.load(file, "example.com.", outcome);
    CHECK(outcome == Outcome::reused);
    CHECK(again.zone == first.zone);

    // A change in an included file counts as a change of the zone.
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    folder.write("hosts.inc", "ns A 192.0.2.1\nwww A 192.0.2.2\n");
    auto changed = cache.load(file, "example.com.", outcome);
    CHECK(outcome == Outcome::parsed);
    REQUIRE(changed.zone);
    CHECK(changed.zone != first.zone);
    CHECK(changed.zone->record_count() == first.zone->record_count() + 1);

    // A broken edit: the errors come back with the previous zone, and it is tried again.
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    folder.write("example.com.zone", zone_text(2, "bad A 300.0.0.1\n"));
    auto broken = cache.load(file, "example.com.", outcome);
    CHECK(outcome == Outcome::kept_previous);
    CHECK(broken.zone == changed.zone);
    REQUIRE_FALSE(broken.diagnostics.empty());
    CHECK(broken.diagnostics.front().file == file.string());
    CHECK(broken.diagnostics.front().line == 6);
    cache.load(file, "example.com.", outcome);
    CHECK(outcome == Outcome::kept_previous);

    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    folder.write("example.com.zone", zone_text(3));
    auto fixed = cache.load(file, "example.com.", outcome);
    CHECK(outcome == Outcome::parsed);
    REQUIRE(fixed.zone);
    CHECK(fixed.zone->serial() == 3);

    // A zone no longer asked for is dropped: the next load parses it afresh.
    cache.drop_unused();
    cache.drop_unused();
    cache.load(file, "example.com.", outcome);
    CHECK(outcome == Outcome::parsed);
}

TEST_CASE("zone_cache_without_a_previous_version_fails") {
    TempFolder folder;
    const auto file = folder.write("example.com.zone", "$ORIGIN example.com.\n@ SOA broken\n");
    ZoneCache cache;
    Outcome outcome;
    auto result = cache.load(file, "example.com.", outcome);
    CHECK(outcome == Outcome::failed);
    CHECK_FALSE(result.zone);
    CHECK_FALSE(result.diagnostics.empty());
}
