// Reloading: a changed zone is published through the SnapshotSlot with its new serial, a
// broken zone keeps its previous version and a broken config changes nothing (each error
// reported with its file and line), restart-only settings are reported as such, and the
// reload queue runs one reload at a time, requests made meanwhile sharing the next one.
#include <doctest/doctest.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "server/config/config.hpp"
#include "server/reload/reload.hpp"
#include "server/reload/reload_queue.hpp"
#include "server/snapshot_slot.hpp"
#include "support/captured_stderr.hpp"
#include "support/counting_allocator.hpp"
#include "support/diagnostics.hpp"
#include "support/small_zone.hpp"
#include "support/temp_folder.hpp"
#include "support/uv_test_loop.hpp"
#include "wire/name.hpp"

namespace server = meridian::server;
using meridian::testing::CapturedStderr;
using meridian::testing::TempFolder;
using meridian::testing::TestLoop;

namespace {

constexpr const char* kListen = "[server]\nlisten = [\"127.0.0.1:5300\"]\n";

// kSmallExampleZone at `origin`, with the serial and www address changed.
std::string zone_text(const std::string& origin, int serial,
                      const std::string& www = "192.0.2.10") {
    std::string text = meridian::testing::kSmallExampleZone;
    text.replace(text.find("example.com."), 12, origin);
    text.replace(text.find(" 1 7200"), 2, " " + std::to_string(serial));
    text.replace(text.find("192.0.2.10"), 10, www);
    return text;
}

std::string zone_table(const std::string& origin) {
    return "\n[[zone]]\norigin = \"" + origin + "\"\nfile = \"" + origin + "zone\"\n";
}

// A server as it runs after start: the config and zones on disk, the loader that read them,
// the slot serving its first snapshot and the config the sockets were opened with.
struct RunningServer {
    TempFolder folder;
    server::SnapshotLoader loader{{folder.path() / "meridian.toml"}};
    std::optional<server::Config> running;
    std::unique_ptr<server::SnapshotSlot> slot;

    explicit RunningServer(const std::string& config) {
        folder.write("meridian.toml", config);
        folder.write("example.com.zone", zone_text("example.com.", 1));
        folder.write("example.net.zone", zone_text("example.net.", 1));
        auto loaded = loader.load();
        REQUIRE_MESSAGE(loaded.snapshot, meridian::testing::diagnostics_text(loaded.diagnostics));
        running = std::move(loaded.config);
        slot = std::make_unique<server::SnapshotSlot>(std::move(loaded.snapshot), 1);
    }

    // Rewrites a file with a modification time that differs for sure: a reload finds changes
    // by time and size, and a rewrite within the clock's tick could look unchanged.
    void rewrite(const std::string& name, const std::string& text) {
        const auto file = folder.path() / name;
        const auto before = std::filesystem::last_write_time(file);
        folder.write(name, text);
        std::filesystem::last_write_time(file, before + std::chrono::seconds(1));
    }

    server::ReloadOutcome reload() { return server::reload(loader, *slot, *running); }

    // The serial of `origin` in what a worker reads now; 0 when it is not served.
    uint32_t served_serial(const char* origin) {
        const auto reader = slot->reader(0);
        const server::HeldSnapshot held(reader);
        const std::string wire = meridian::wire::wire_from_text(origin);
        for (const auto& zone : held.get().catalog.zones())
            if (zone->origin() == wire) return zone->serial();
        return 0;
    }
};

std::string two_zones() {
    return kListen + zone_table("example.com.") + zone_table("example.net.");
}

}  // namespace

TEST_CASE("reload_publishes_a_changed_zone_with_its_new_serial") {
    CapturedStderr log;
    RunningServer server(two_zones());
    const auto* before = &server.slot->current();
    server.rewrite("example.com.zone", zone_text("example.com.", 2, "192.0.2.20"));
    const auto outcome = server.reload();
    REQUIRE_MESSAGE(outcome.is_published, log.text());
    CHECK(&server.slot->current() != before);
    CHECK(server.served_serial("example.com.") == 2);
    CHECK(server.served_serial("example.net.") == 1);
    // Only the changed file is parsed again.
    CHECK(outcome.summary.find("example.com. serial 1 -> 2") != std::string::npos);
    CHECK(outcome.summary.find("1 zone files parsed, 1 unchanged") != std::string::npos);
    REQUIRE(outcome.served);
    REQUIRE(outcome.served->zones.size() == 2);
    CHECK(outcome.served->zones[0].origin == "example.com.");
    CHECK(outcome.served->zones[0].serial == 2);
    REQUIRE(outcome.config);
    CHECK(log.contains(outcome.summary));
}

TEST_CASE("reload_without_changes_reuses_every_zone_and_reports_no_restart") {
    CapturedStderr log;
    RunningServer server(two_zones());
    const auto outcome = server.reload();
    REQUIRE(outcome.is_published);
    CHECK(outcome.summary.find("no zone serial changed; 0 zone files parsed, 2 unchanged") !=
          std::string::npos);
    CHECK_FALSE(log.contains("take effect on restart"));
}

TEST_CASE("broken_zone_on_reload_keeps_its_previous_version_and_names_the_line") {
    CapturedStderr log;
    RunningServer server(two_zones());
    // Line 6 of the zone file: www's address.
    server.rewrite("example.com.zone", zone_text("example.com.", 2, "192.0.2.999"));
    server.rewrite("example.net.zone", zone_text("example.net.", 2));
    const auto outcome = server.reload();
    // The other zone's change is still published.
    REQUIRE_MESSAGE(outcome.is_published, log.text());
    CHECK(server.served_serial("example.com.") == 1);
    CHECK(server.served_serial("example.net.") == 2);
    CHECK(outcome.summary.find("1 broken (previous version kept)") != std::string::npos);
    const std::string file = (server.folder.path() / "example.com.zone").string();
    CHECK_MESSAGE(log.contains(file + ":6: "), log.text());
    CHECK(log.contains(file + ": warning: not reloaded: still serving the previous version of "
                              "example.com. (serial 1)"));
}

TEST_CASE("broken_config_on_reload_changes_nothing") {
    CapturedStderr log;
    RunningServer server(two_zones());
    const auto* before = &server.slot->current();
    server.rewrite("example.com.zone", zone_text("example.com.", 2));
    // Line 3: a key [server] does not have.
    server.rewrite("meridian.toml",
                   std::string(kListen) + "no_such_setting = 1\n" + zone_table("example.com."));
    const auto outcome = server.reload();
    CHECK_FALSE(outcome.is_published);
    CHECK_FALSE(outcome.served);
    CHECK_FALSE(outcome.config);
    CHECK(&server.slot->current() == before);
    CHECK(server.served_serial("example.com.") == 1);
    CHECK(server.served_serial("example.net.") == 1);
    CHECK(outcome.summary.find("nothing changed") != std::string::npos);
    const std::string file = (server.folder.path() / "meridian.toml").string();
    CHECK_MESSAGE(log.contains(file + ":3: "), log.text());
}

// A hostile zone can make an allocation fail for real (an $INCLUDE of a folder once asked
// for 2^63 octets). Whichever allocation of a reload fails after the config is read, the
// server keeps serving one whole version: the reload either publishes the new one and says
// so, or reports failure (here or, for what escapes reload(), in ReloadQueue::run) and the
// old one stays. The config itself is not tried: toml++ ends the process when an allocation
// fails inside its parser, and the config is the operator's own file.
TEST_CASE("reload_survives_an_allocation_failure_at_any_point_after_the_config") {
    CapturedStderr log;
    size_t allocations_per_reload = 0;
    size_t config_allocations = 0;
    {
        RunningServer server(two_zones());
        server.rewrite("example.com.zone", zone_text("example.com.", 2));
        meridian::Diagnostics diagnostics;
        meridian::testing::allocations = 0;
        meridian::testing::counting = true;
        const auto config = server::load_config(server.loader.config_paths(), diagnostics);
        meridian::testing::counting = false;
        config_allocations = meridian::testing::allocations;
        REQUIRE(config);
        meridian::testing::allocations = 0;
        meridian::testing::counting = true;
        const auto outcome = server.reload();
        meridian::testing::counting = false;
        allocations_per_reload = meridian::testing::allocations;
        REQUIRE(outcome.is_published);
    }
    REQUIRE(allocations_per_reload > config_allocations + 100);
    // About 400 failure points spread over the rest of the reload, the first 64 each.
    const size_t step = std::max<size_t>(1, (allocations_per_reload - config_allocations) / 400);
    size_t published = 0, failed = 0, escaped = 0;
    for (size_t failing = config_allocations; failing < allocations_per_reload;
         failing += failing < config_allocations + 64 ? 1 : step) {
        RunningServer server(two_zones());
        server.rewrite("example.com.zone", zone_text("example.com.", 2));
        std::optional<server::ReloadOutcome> outcome;
        meridian::testing::failing_after = static_cast<long>(failing);
        try {
            outcome = server.reload();
        } catch (const std::bad_alloc&) {
        }
        meridian::testing::failing_after = -1;
        const uint32_t serial = server.served_serial("example.com.");
        INFO("failing allocation ", failing, " of ", allocations_per_reload);
        CHECK(server.served_serial("example.net.") == 1);
        if (!outcome) {
            ++escaped;
            CHECK(serial == 1);
        } else if (outcome->is_published) {
            ++published;
            CHECK(serial == 2);
            REQUIRE(outcome->served);
            CHECK(outcome->served->zones.at(0).serial == 2);
            CHECK(outcome->config);
        } else {
            ++failed;
            CHECK(serial == 1);
            CHECK(outcome->summary.find("nothing changed") != std::string::npos);
        }
    }
    MESSAGE(published, " published, ", failed, " failed, ", escaped, " escaped to the queue");
    CHECK(failed > 0);
}

TEST_CASE("changed_listen_addresses_are_reported_as_needing_a_restart") {
    CapturedStderr log;
    RunningServer server(two_zones());
    server.rewrite("meridian.toml", "[server]\nlisten = [\"127.0.0.1:5301\"]\nworkers = 3\n" +
                                        zone_table("example.com.") + zone_table("example.net."));
    const auto outcome = server.reload();
    // Everything else is reloaded; the sockets stay as they were opened.
    REQUIRE_MESSAGE(outcome.is_published, log.text());
    CHECK(log.contains("reload: changes to [server] listen, workers take effect on restart"));
    REQUIRE(outcome.config);
    CHECK(outcome.config->server.listen[0].text == "127.0.0.1:5301");
}

TEST_CASE("removed_zone_is_reported_and_no_longer_served") {
    CapturedStderr log;
    RunningServer server(two_zones());
    server.rewrite("meridian.toml", std::string(kListen) + zone_table("example.com."));
    const auto outcome = server.reload();
    REQUIRE_MESSAGE(outcome.is_published, log.text());
    CHECK(server.served_serial("example.net.") == 0);
    CHECK(outcome.summary.find("example.net. removed") != std::string::npos);
}

TEST_CASE("reload_queue_runs_requests_made_during_a_reload_as_one_more") {
    CapturedStderr log;
    RunningServer server(two_zones());
    TestLoop loop;
    std::vector<std::string> heard;
    server::ReloadQueue queue(loop.get(), server.loader, *server.slot, *server.running,
                              [&](const server::ReloadOutcome&) { heard.push_back("each"); });
    const auto hear = [&](const char* name) {
        return [&heard, name](const server::ReloadOutcome& outcome) {
            CHECK(outcome.is_published);
            heard.push_back(name);
        };
    };
    queue.request(hear("a"));
    CHECK(queue.is_running());
    // Both arrive while the first runs: they share the one reload after it.
    queue.request(hear("b"));
    queue.request(hear("c"));
    REQUIRE(loop.run_until([&] { return heard.size() == 5 && !queue.is_running(); },
                           std::chrono::seconds(5)));
    CHECK(heard == std::vector<std::string>{"each", "a", "each", "b", "c"});
    // Nothing more was asked for: no third reload.
    CHECK(loop.run_until_idle());
    CHECK(heard.size() == 5);
}

TEST_CASE("reload_queue_request_after_a_reload_sees_later_changes") {
    CapturedStderr log;
    RunningServer server(two_zones());
    TestLoop loop;
    int reloads = 0;
    server::ReloadQueue queue(loop.get(), server.loader, *server.slot, *server.running,
                              [&](const server::ReloadOutcome&) { ++reloads; });
    queue.request();
    REQUIRE(loop.run_until([&] { return reloads == 1 && !queue.is_running(); },
                           std::chrono::seconds(5)));
    server.rewrite("example.com.zone", zone_text("example.com.", 3));
    std::optional<server::ReloadOutcome> heard;
    queue.request([&](const server::ReloadOutcome& outcome) { heard = outcome; });
    REQUIRE(loop.run_until([&] { return heard.has_value(); }, std::chrono::seconds(5)));
    CHECK(reloads == 2);
    CHECK(heard->is_published);
    CHECK(heard->summary.find("example.com. serial 1 -> 3") != std::string::npos);
    CHECK(server.served_serial("example.com.") == 3);
}

TEST_CASE("reload_onto_a_zone_including_a_folder_keeps_the_old_version") {
    CapturedStderr log;
    RunningServer server(two_zones());
    std::filesystem::create_directories(server.folder.path() / "parts");
    server.rewrite("example.com.zone", zone_text("example.com.", 2) + "$INCLUDE parts\n");
    const auto outcome = server.reload();
    CHECK(server.served_serial("example.com.") == 1);
    CHECK_MESSAGE(log.contains("is a folder, not a file"), log.text());
    CHECK(outcome.summary.find("previous version kept") != std::string::npos);
}
