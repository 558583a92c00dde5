// Publishing snapshots while workers read them: a reader never sees a freed snapshot, and a
// publish returns only once the old one is no longer held.
#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include "server/snapshot_slot.hpp"

using meridian::server::HeldSnapshot;
using meridian::server::SnapshotSlot;
using meridian::zones::Snapshot;

namespace {

// A snapshot whose identity string is poisoned on destruction, so a reader holding a freed
// one sees the poison (and ASan builds see the use after free itself).
struct Canary : Snapshot {
    explicit Canary(int generation) {
        settings.identity = "generation " + std::to_string(generation);
    }
    ~Canary() { settings.identity = "freed"; }
};

}  // namespace

TEST_CASE("readers_never_see_a_freed_snapshot") {
    constexpr unsigned kReaders = 3;
    SnapshotSlot slot(std::make_unique<Canary>(0), kReaders);
    std::atomic<bool> stop{false};
    std::atomic<size_t> bad{0}, reads{0};
    std::vector<std::thread> readers;
    for (unsigned i = 0; i < kReaders; ++i) {
        readers.emplace_back([&, i] {
            const SnapshotSlot::Reader reader = slot.reader(i);
            while (!stop.load()) {
                const HeldSnapshot held(reader);
                // Look at it a few times, as a batch of queries would.
                for (int k = 0; k < 8; ++k)
                    if (held.get().settings.identity.rfind("generation ", 0) != 0) ++bad;
                ++reads;
            }
        });
    }
    // Every 100 publications, wait (bounded) until the readers have read again, so the test
    // exercises overlap even when the machine is busy and the threads start late.
    const auto wait_for_reads = [&](size_t above) {
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
        while (reads.load() <= above && std::chrono::steady_clock::now() < deadline)
            std::this_thread::yield();
    };
    for (int generation = 1; generation <= 2000; ++generation) {
        if (generation % 100 == 1) wait_for_reads(reads.load());
        slot.publish(std::make_unique<Canary>(generation));
        CHECK(slot.current().settings.identity == "generation " + std::to_string(generation));
    }
    stop = true;
    for (auto& thread : readers) thread.join();
    CHECK(bad.load() == 0);
    CHECK(reads.load() > 0);
}

TEST_CASE("publish_waits_for_a_reader_holding_the_old_snapshot") {
    SnapshotSlot slot(std::make_unique<Canary>(0), 1);
    const SnapshotSlot::Reader reader = slot.reader(0);
    std::atomic<bool> published{false};
    std::thread publisher;
    {
        const HeldSnapshot held(reader);
        publisher = std::thread([&] {
            slot.publish(std::make_unique<Canary>(1));
            published = true;
        });
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
        CHECK_FALSE(published.load());  // still waiting for us
        CHECK(held.get().settings.identity == "generation 0");
    }
    publisher.join();
    CHECK(published.load());
    const HeldSnapshot held(reader);
    CHECK(held.get().settings.identity == "generation 1");
}
