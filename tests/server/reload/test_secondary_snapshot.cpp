// Secondary zones in the config ([[zone]] primaries, tsig, file), and how snapshots serve
// them: from the kept copy, as SERVFAIL before the first transfer and after SOA EXPIRE.
#include <doctest/doctest.h>

#include <chrono>
#include <string>

#include "geoip/network.hpp"
#include "server/config/config.hpp"
#include "server/reload/snapshot_builder.hpp"
#include "server/secondary/secondary_store.hpp"
#include "support/config_loading.hpp"
#include "support/small_zone.hpp"
#include "wire/name.hpp"
#include "zones/zone_loader.hpp"

using meridian::Diagnostics;
using meridian::geoip::Family;
using meridian::server::load_config;
using namespace meridian::testing;
namespace server = meridian::server;

namespace {

// example.com. as a secondary zone kept in cache/example.com.zone.
constexpr const char* kSecondaryZone = R"(
[[zone]]
origin = "example.com."
primaries = ["192.0.2.1:53"]
file = "cache/example.com.zone"
)";

// A kept copy of example.com. at serial 7 with EXPIRE 100 s.
constexpr const char* kKeptCopy = R"($ORIGIN example.com.
@   SOA ns1 hostmaster 7 10 5 100 300
    NS  ns1
ns1 A   192.0.2.1
)";

// kSecondaryZone's config loaded, with `copy` (when not null) as its kept copy, and a build
// context that keeps copies in `store`.
struct SecondaryFixture {
    TempFolder folder;
    Diagnostics diagnostics;
    std::optional<server::Config> config;
    server::SecondaryStore store;
    server::BuildContext context;

    explicit SecondaryFixture(const char* copy) {
        if (copy) folder.write("cache/example.com.zone", copy);
        config = load_config_text(folder, std::string(kListenOnly) + kSecondaryZone, diagnostics);
        context.secondaries = &store;
    }
};

std::string lower_wire(const char* text) {
    return meridian::wire::wire_from_text(text);
}

}  // namespace

TEST_CASE("secondary_zone_reads_primaries_key_and_file") {
    TempFolder folder;
    const auto path = folder.write("meridian.toml", std::string(kListenOnly) + R"(
[[zone]]
origin = "example.com."
primaries = ["192.0.2.1:5353", "[2001:db8::1]:53", "192.0.2.2"]
tsig = "transfer-key"
file = "cache/example.com.zone"

[[tsig]]
name = "transfer-key"
algorithm = "hmac-sha256"
secret = "c2VjcmV0"
)");
    Diagnostics diagnostics;
    const auto config = load_config(path, diagnostics);
    REQUIRE_MESSAGE(config, diagnostics_text(diagnostics));
    REQUIRE(config->zones.size() == 1);
    const auto& zone = config->zones[0];
    CHECK(zone.is_secondary());
    CHECK(zone.file == folder.path() / "cache/example.com.zone");
    CHECK(zone.tsig == "transfer-key");
    REQUIRE(zone.primaries.size() == 3);
    CHECK(zone.primaries[0].address.family == Family::v4);
    CHECK(zone.primaries[0].address.port == 5353);
    CHECK(zone.primaries[1].address.family == Family::v6);
    // An address alone is port 53.
    CHECK(zone.primaries[2].address.port == 53);
}

TEST_CASE("secondary_zone_errors_name_their_line") {
    TempFolder folder;
    const auto path = folder.write("meridian.toml", std::string(kListenOnly) + R"(
[[zone]]
primaries = ["192.0.2.1:53"]
file = "cache/a.zone"

[[zone]]
origin = "b.example."
primaries = ["not-an-address"]
file = "cache/b.zone"

[[zone]]
origin = "c.example."
primaries = ["192.0.2.1:53"]
tsig = "no-such-key"
file = "cache/c.zone"

[[zone]]
origin = "d.example."
primaries = ["192.0.2.1:53"]

[[zone]]
origin = "e.example."
file = "e.zone"
tsig = "no-such-key"

[[zone]]
origin = "f.example."
primaries = []
file = "f.zone"
)");
    Diagnostics diagnostics;
    CHECK_FALSE(load_config(path, diagnostics));
    check_errors_at(diagnostics, {{4, "missing 'origin'"},
                                  {10, "bad primary address 'not-an-address'"},
                                  {16, "unknown TSIG key 'no-such-key'"},
                                  // d.example. (line 19) has no file: it defaults to the
                                  // state directory (tests/server/config/test_transfer_config).
                                  {26, "has none"},
                                  {30, "'primaries' must not be empty"}});
}

TEST_CASE("secondary_zone_without_a_copy_answers_servfail_and_check_passes") {
    SecondaryFixture fixture(nullptr);
    auto& [folder, diagnostics, config, store, context] = fixture;
    REQUIRE(config);
    const auto snapshot = server::build_snapshot(*config, diagnostics);
    REQUIRE_MESSAGE(snapshot, diagnostics_text(diagnostics));
    CHECK(snapshot->catalog.size() == 0);
    const std::string origin = lower_wire("example.com.");
    const std::string name = lower_wire("www.example.com.");
    bool is_unavailable = false;
    CHECK(snapshot->catalog.find_zone({reinterpret_cast<const uint8_t*>(name.data()), name.size()},
                                      false, &is_unavailable) == nullptr);
    CHECK(is_unavailable);
    CHECK(diagnostics_text(diagnostics).find("SERVFAIL until it is transferred") !=
          std::string::npos);
}

TEST_CASE("secondary_zone_is_served_from_its_copy_until_it_expires") {
    SecondaryFixture fixture(kKeptCopy);
    auto& [folder, diagnostics, config, store, context] = fixture;
    REQUIRE(config);
    auto snapshot = server::build_snapshot(*config, diagnostics, &context);
    REQUIRE_MESSAGE(snapshot, diagnostics_text(diagnostics));
    REQUIRE(snapshot->catalog.size() == 1);
    CHECK(snapshot->catalog.zones()[0]->serial() == 7);
    const std::string origin = lower_wire("example.com.");
    const auto kept = store.find(origin);
    REQUIRE(kept);
    // The copy's modification time is its last refresh.
    CHECK(server::WallClock::now() - kept->refreshed < std::chrono::seconds(60));

    // A refresh 101 s ago is past EXPIRE: the next snapshot serves SERVFAIL.
    store.confirm(origin, server::WallClock::now() - std::chrono::seconds(101));
    snapshot = server::build_snapshot(*config, diagnostics, &context);
    REQUIRE(snapshot);
    CHECK(snapshot->catalog.size() == 0);
    REQUIRE(snapshot->catalog.unavailable().size() == 1);
    CHECK(snapshot->catalog.unavailable()[0] == origin);
}

TEST_CASE("forgotten_secondary_zone_is_read_again_from_its_file") {
    SecondaryFixture fixture(kKeptCopy);
    auto& [folder, diagnostics, config, store, context] = fixture;
    REQUIRE(config);
    REQUIRE(server::build_snapshot(*config, diagnostics, &context));
    const std::string origin = lower_wire("example.com.");
    REQUIRE(store.find(origin));
    // A reload removed the zone: a later one that adds it back reads its file, not the
    // version kept while it was a secondary zone before.
    store.forget(origin);
    CHECK_FALSE(store.find(origin));
    context.zones_parsed = 0;
    auto snapshot = server::build_snapshot(*config, diagnostics, &context);
    REQUIRE(snapshot);
    CHECK(context.zones_parsed == 1);
    REQUIRE(store.find(origin));
    CHECK(store.find(origin)->zone->serial() == 7);
}

TEST_CASE("unreadable_copy_is_a_warning_not_an_error") {
    SecondaryFixture fixture("this is not a zone file\n");
    auto& [folder, diagnostics, config, store, context] = fixture;
    REQUIRE(config);
    const auto snapshot = server::build_snapshot(*config, diagnostics);
    CHECK_MESSAGE(snapshot, diagnostics_text(diagnostics));
    CHECK(diagnostics_text(diagnostics).find("does not load") != std::string::npos);
}
