// The secondary zones on a libuv loop: NOTIFY is answered only for our zones and only from
// their primaries, a NOTIFY or a reload that adds a zone brings its transfer and a publish,
// forged SOA replies do not cut a refresh short, a kept copy is confirmed at start, a copy
// that cannot be written is an error the status shows, a transfer beyond the zone's limits
// keeps the previous version, and a zone a reload removed is forgotten.
#include <doctest/doctest.h>

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "forged_soa_replies.hpp"
#include "server/config/config.hpp"
#include "server/secondary/secondary_store.hpp"
#include "server/secondary/secondary_zones.hpp"
#include "server/system/socket_address.hpp"
#include "support/captured_stderr.hpp"
#include "support/diagnostics.hpp"
#include "support/loopback_socket.hpp"
#include "support/scripted_primary.hpp"
#include "support/small_zone.hpp"
#include "support/temp_folder.hpp"
#include "support/uv_test_loop.hpp"
#include "wire/name.hpp"
#include "zones/zone_loader.hpp"

namespace server = meridian::server;
using meridian::testing::CapturedStderr;
using meridian::testing::LoopbackSocket;
using meridian::testing::ScriptedPrimary;
using meridian::testing::TempFolder;
using meridian::testing::TestLoop;
using server::WallClock;
using std::chrono::hours;
using std::chrono::seconds;

namespace {

const std::string kOrigin = meridian::wire::wire_from_text("example.com.");

// The [[zone]] table of example.com. as a secondary of `primary`, kept in cache/, with
// `more` keys.
std::string secondary_zone(const std::string& primary, const std::string& more = "") {
    return "[[zone]]\norigin = \"example.com.\"\nprimaries = [\"" + primary +
           "\"]\nfile = \"cache/example.com.zone\"\n" + more;
}

// The same, with transfers and NOTIFY signed with transfer_key().
std::string signed_secondary_zone(const std::string& primary) {
    const auto key = meridian::testing::transfer_key();
    return secondary_zone(primary, "tsig = \"transfer-key\"\n") +
           "\n[[tsig]]\nname = \"transfer-key\"\nalgorithm = \"hmac-sha256\"\nsecret = \"" +
           key.secret + "\"\n";
}

// SecondaryZones on a test loop, built from a config of `zone_tables`; each publish it asks
// for is counted. Closed, and its pool work waited for, on scope exit.
struct RunningSecondaries {
    TestLoop loop;
    TempFolder folder;
    server::SecondaryStore store;
    int publishes = 0;
    std::unique_ptr<server::SecondaryZones> zones;

    explicit RunningSecondaries(const std::string& zone_tables) {
        zones = std::make_unique<server::SecondaryZones>(loop.get(), config_of(zone_tables), store,
                                                         [this] { ++publishes; });
    }
    ~RunningSecondaries() {
        zones->close();
        CHECK(loop.run_until_idle());
    }

    server::Config config_of(const std::string& zone_tables) {
        const auto path = folder.write("meridian.toml",
                                       "[server]\nlisten = [\"127.0.0.1:5300\"]\n\n" + zone_tables);
        meridian::Diagnostics diagnostics;
        auto config = server::load_config(path, diagnostics);
        REQUIRE_MESSAGE(config, meridian::testing::diagnostics_text(diagnostics));
        return *config;
    }

    // Keeps kSmallExampleZone (serial 1) as the version last confirmed at `refreshed`, in the
    // store and in the zone's file, as a snapshot build at start would.
    void keep_copy(WallClock::time_point refreshed) {
        const auto file =
            folder.write("cache/example.com.zone", meridian::testing::kSmallExampleZone);
        auto loaded = meridian::zones::load_zone_file(file, "example.com.");
        REQUIRE(loaded.zone);
        store.keep(kOrigin, {loaded.zone, refreshed});
    }

    uint32_t kept_serial() const {
        const auto version = store.find(kOrigin);
        return version ? version->zone->serial() : 0;
    }
};

// A loopback UDP socket standing in for a worker's: NOTIFY is handed over with it as the
// socket to answer through and its own address as the client's, so the answer comes back here.
class NotifySender {
  public:
    // Hands a NOTIFY for `zone` (signed with `key` when given) to `secondaries` and returns
    // the answer (null when none came).
    meridian::ldns::Packet notify(RunningSecondaries& secondaries, const char* zone,
                                  const server::tsig::Key* key = nullptr) {
        const meridian::ldns::Packet request(ldns_pkt_query_new(
            ldns_dname_new_frm_str(zone), LDNS_RR_TYPE_SOA, LDNS_RR_CLASS_IN, 0));
        ldns_pkt_set_opcode(request.get(), LDNS_PACKET_NOTIFY);
        ldns_pkt_set_aa(request.get(), true);
        ldns_pkt_set_id(request.get(), 0x4d2);
        auto wire = meridian::ldns::to_wire(request.get());
        REQUIRE(wire);
        if (key) {
            auto signed_request = server::tsig::sign(*wire, *key);
            REQUIRE(signed_request);
            wire = std::move(signed_request->message);
        }
        server::QueuedMessage* slot = secondaries.zones->notify_queue()->claim();
        REQUIRE(slot);
        CHECK(slot->set_message(*wire));
        const server::SocketAddress client = server::to_socket_address(socket_.address());
        std::memcpy(&slot->client, &client.storage, client.length);
        slot->client_length = client.length;
        slot->fd = socket_.fd();
        secondaries.zones->notify_queue()->commit(slot);
        const bool is_answered = secondaries.loop.run_until(
            [this] {
                pollfd p{socket_.fd(), POLLIN, 0};
                return ::poll(&p, 1, 0) > 0;
            },
            seconds(5));
        if (!is_answered) return nullptr;
        std::vector<uint8_t> answer(65535);
        const ssize_t n = ::recv(socket_.fd(), answer.data(), answer.size(), 0);
        return n > 0 ? meridian::ldns::parse_packet(answer.data(), size_t(n)) : nullptr;
    }

  private:
    LoopbackSocket socket_{SOCK_DGRAM, "127.0.0.1"};
};

std::string question_name(const meridian::ldns::Packet& answer) {
    const ldns_rr_list* question = ldns_pkt_question(answer.get());
    REQUIRE(ldns_rr_list_rr_count(question) == 1);
    return meridian::ldns::take_text(ldns_rdf2str(ldns_rr_owner(ldns_rr_list_rr(question, 0))));
}

}  // namespace

TEST_CASE("notify_queue_accepts_only_while_a_secondary_zone_is_configured") {
    RunningSecondaries none("");
    CHECK(none.zones->is_empty());
    CHECK_FALSE(none.zones->notify_queue()->is_accepting());

    RunningSecondaries one(secondary_zone("192.0.2.1:53"));
    CHECK_FALSE(one.zones->is_empty());
    CHECK(one.zones->notify_queue()->is_accepting());
}

TEST_CASE("notify_from_an_address_that_is_not_a_primary_is_refused") {
    CapturedStderr log;
    // Our NOTIFY comes from 127.0.0.1, and only 192.0.2.1 is the zone's primary.
    RunningSecondaries secondaries(secondary_zone("192.0.2.1:53"));
    NotifySender sender;
    const meridian::ldns::Packet answer = sender.notify(secondaries, "example.com.");
    REQUIRE(answer);
    CHECK(ldns_pkt_get_rcode(answer.get()) == LDNS_RCODE_REFUSED);
    CHECK(ldns_pkt_get_opcode(answer.get()) == LDNS_PACKET_NOTIFY);
    CHECK(ldns_pkt_qr(answer.get()));
    CHECK_FALSE(ldns_pkt_aa(answer.get()));
    CHECK(ldns_pkt_id(answer.get()) == 0x4d2);
    CHECK(question_name(answer) == "example.com.");
    CHECK(log.contains("NOTIFY for example.com. from 127.0.0.1 refused: not one of its primaries"));
    // No refresh started: nothing kept, nothing published.
    CHECK(secondaries.publishes == 0);
    CHECK_FALSE(log.contains("refreshing now"));
}

TEST_CASE("notify_for_a_zone_that_is_not_secondary_here_is_refused") {
    CapturedStderr log;
    RunningSecondaries secondaries(secondary_zone("127.0.0.1:53"));
    NotifySender sender;
    const meridian::ldns::Packet answer = sender.notify(secondaries, "example.net.");
    REQUIRE(answer);
    CHECK(ldns_pkt_get_rcode(answer.get()) == LDNS_RCODE_REFUSED);
    CHECK(question_name(answer) == "example.net.");
    CHECK(log.contains("NOTIFY for example.net. from 127.0.0.1 refused: not a secondary zone"));
}

TEST_CASE("notify_from_its_primary_transfers_the_zone_and_publishes_it") {
    CapturedStderr log;
    ScriptedPrimary primary(nullptr, meridian::testing::axfr_answer(2, "192.0.2.20"));
    RunningSecondaries secondaries(secondary_zone(primary.address()));
    NotifySender sender;
    const meridian::ldns::Packet answer = sender.notify(secondaries, "example.com.");
    REQUIRE(answer);
    CHECK(ldns_pkt_get_rcode(answer.get()) == LDNS_RCODE_NOERROR);
    CHECK(ldns_pkt_aa(answer.get()));
    REQUIRE_MESSAGE(
        secondaries.loop.run_until([&] { return secondaries.publishes > 0; }, seconds(5)),
        log.text());
    CHECK(secondaries.publishes == 1);
    CHECK(secondaries.kept_serial() == 2);
    CHECK(primary.queries() == std::vector<std::string>{"TCP AXFR"});
    // Kept on disk before it is published, so a restart serves what was answered.
    const auto file = secondaries.folder.path() / "cache/example.com.zone";
    const auto kept = meridian::zones::load_zone_file(file, "example.com.");
    REQUIRE(kept.zone);
    CHECK(kept.zone->serial() == 2);
}

TEST_CASE("start_confirms_a_kept_copy_whose_serial_is_current") {
    CapturedStderr log;
    ScriptedPrimary primary(meridian::testing::soa_answer(1), nullptr);
    RunningSecondaries secondaries(secondary_zone(primary.address()));
    const auto hour_ago = WallClock::now() - hours(1);
    secondaries.keep_copy(hour_ago);
    secondaries.zones->start();
    // The confirmation moves the expiry on (RFC 1035 §3.3.13); nothing is transferred.
    REQUIRE_MESSAGE(
        secondaries.loop.run_until(
            [&] { return secondaries.store.find(kOrigin)->refreshed > hour_ago; }, seconds(5)),
        log.text());
    CHECK(WallClock::now() - secondaries.store.find(kOrigin)->refreshed < seconds(60));
    CHECK(secondaries.kept_serial() == 1);
    CHECK(secondaries.publishes == 0);
    CHECK(primary.queries() == std::vector<std::string>{"UDP SOA"});
}

TEST_CASE("expired_copy_confirmed_by_its_primary_is_published_again") {
    CapturedStderr log;
    ScriptedPrimary primary(meridian::testing::soa_answer(1), nullptr);
    RunningSecondaries secondaries(secondary_zone(primary.address()));
    // EXPIRE is 1209600 s: this copy was left out of the snapshot as expired.
    secondaries.keep_copy(WallClock::now() - seconds(1209600 + 60));
    secondaries.zones->start();
    REQUIRE_MESSAGE(
        secondaries.loop.run_until([&] { return secondaries.publishes > 0; }, seconds(5)),
        log.text());
    CHECK_FALSE(secondaries.store.find(kOrigin)->is_expired(WallClock::now()));
    CHECK(primary.queries() == std::vector<std::string>{"UDP SOA"});
}

TEST_CASE("reload_that_removes_a_secondary_zone_forgets_its_version") {
    CapturedStderr log;
    RunningSecondaries secondaries(secondary_zone("192.0.2.1:53"));
    secondaries.keep_copy(WallClock::now());
    REQUIRE(secondaries.store.find(kOrigin));
    secondaries.zones->reconcile(secondaries.config_of(""));
    // If the zone comes back, its file is read again, not this version.
    CHECK_FALSE(secondaries.store.find(kOrigin));
    CHECK(secondaries.zones->is_empty());
    CHECK_FALSE(secondaries.zones->notify_queue()->is_accepting());
    CHECK(log.contains("secondary example.com.: removed by reload"));
}

TEST_CASE("reload_that_adds_a_secondary_zone_starts_its_transfer") {
    CapturedStderr log;
    ScriptedPrimary primary(nullptr, meridian::testing::axfr_answer(5, "192.0.2.50"));
    RunningSecondaries secondaries("");
    secondaries.zones->reconcile(secondaries.config_of(secondary_zone(primary.address())));
    CHECK(secondaries.zones->notify_queue()->is_accepting());
    REQUIRE_MESSAGE(
        secondaries.loop.run_until([&] { return secondaries.publishes > 0; }, seconds(5)),
        log.text());
    CHECK(secondaries.kept_serial() == 5);
    CHECK(log.contains("secondary example.com.: added by reload"));
}

TEST_CASE("forged_soa_replies_do_not_cut_short_the_refresh_a_notify_starts") {
    CapturedStderr log;
    // Before the primary's signed answer: a forged unsigned one from its address and port,
    // and one from another port.
    meridian::testing::SoaPrimaryWithForgers primary([](const ldns_pkt& query,
                                                        std::span<const uint8_t> wire) {
        using meridian::testing::From;
        using meridian::testing::reply_to;
        const auto forged = reply_to(query, {meridian::testing::example_soa(99)});
        return std::vector<meridian::testing::ForgedReply>{
            {From::primary, forged},
            {From::other_port, forged},
            {From::primary,
             meridian::testing::signed_reply(reply_to(query, {meridian::testing::example_soa(1)}),
                                             meridian::testing::transfer_key(), wire)}};
    });
    RunningSecondaries secondaries(signed_secondary_zone(primary.address()));
    const auto hour_ago = WallClock::now() - hours(1);
    secondaries.keep_copy(hour_ago);
    NotifySender sender;
    const auto key = meridian::testing::transfer_key();
    const meridian::ldns::Packet answer = sender.notify(secondaries, "example.com.", &key);
    REQUIRE(answer);
    CHECK(ldns_pkt_get_rcode(answer.get()) == LDNS_RCODE_NOERROR);
    // The primary confirmed serial 1: the expiry moves on, and nothing is transferred.
    REQUIRE_MESSAGE(
        secondaries.loop.run_until(
            [&] { return secondaries.store.find(kOrigin)->refreshed > hour_ago; }, seconds(5)),
        log.text());
    CHECK(secondaries.kept_serial() == 1);
    CHECK(secondaries.publishes == 0);
    CHECK(primary.queries() == 1);
    CHECK_FALSE(log.contains("refresh failed"));
}

TEST_CASE("a_copy_that_cannot_be_written_is_served_and_shown_as_an_error") {
    CapturedStderr log;
    // Serial 2 by the first transfer, 3 after.
    std::atomic<int> transfers{0};
    ScriptedPrimary primary(meridian::testing::soa_answer(3), [&transfers](const ldns_pkt& query) {
        return meridian::testing::axfr_answer(transfers++ == 0 ? 2 : 3, "192.0.2.20")(query);
    });
    RunningSecondaries secondaries(secondary_zone(primary.address()));
    // A file where the copy's folder should be: no one can write there, root included.
    secondaries.folder.write("cache", "not a folder\n");
    NotifySender sender;
    REQUIRE(sender.notify(secondaries, "example.com."));
    REQUIRE_MESSAGE(
        secondaries.loop.run_until([&] { return secondaries.publishes > 0; }, seconds(5)),
        log.text());
    // Served all the same: the primary's newer data beats a local disk's fault.
    CHECK(secondaries.kept_serial() == 2);
    CHECK(secondaries.store.copy_write_failures() == 1);
    const auto failing = secondaries.store.failing_copies();
    REQUIRE(failing.size() == 1);
    CHECK(failing[0].zone == "example.com.");
    CHECK(failing[0].error.find("cache") != std::string::npos);
    CHECK(
        log.contains("secondary example.com. (NOTIFY from 127.0.0.1): ERROR: the copy was not "
                     "kept on disk"));

    // Once the folder can be made, the next transfer's copy is written and the error clears.
    std::filesystem::remove(secondaries.folder.path() / "cache");
    REQUIRE(sender.notify(secondaries, "example.com."));
    REQUIRE_MESSAGE(
        secondaries.loop.run_until([&] { return secondaries.publishes > 1; }, seconds(5)),
        log.text());
    CHECK(secondaries.kept_serial() == 3);
    CHECK(secondaries.store.failing_copies().empty());
    CHECK(secondaries.store.copy_write_failures() == 1);
    CHECK(std::filesystem::exists(secondaries.folder.path() / "cache/example.com.zone"));
}

TEST_CASE("a_transfer_beyond_max_zone_records_keeps_the_previous_version") {
    CapturedStderr log;
    ScriptedPrimary primary(meridian::testing::soa_answer(2),
                            meridian::testing::axfr_answer(2, "192.0.2.20"));
    RunningSecondaries secondaries(secondary_zone(primary.address(), "max_zone_records = 3\n"));
    secondaries.keep_copy(WallClock::now());
    secondaries.zones->start();
    REQUIRE_MESSAGE(
        secondaries.loop.run_until([&] { return log.contains("refresh failed"); }, seconds(5)),
        log.text());
    CHECK(log.contains("refresh failed, nothing changed (" + primary.address() +
                       ": IXFR answered REFUSED, trying AXFR; the zone has more records than "
                       "max_zone_records (3)); retrying in"));
    CHECK(secondaries.kept_serial() == 1);
    CHECK(secondaries.publishes == 0);
}
