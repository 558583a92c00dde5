// The lock-free hand-off of NOTIFY between threads: messages arrive whole and in full, a full
// queue refuses instead of waiting, and a producer allocates nothing.
#include <doctest/doctest.h>

#include <uv.h>

#include <atomic>
#include <thread>
#include <vector>

#include "server/notify_queue.hpp"

// metrics_test.cpp brings the counting allocator into this binary; these are its counters
// (inline variables: this declaration is the same entity).
namespace meridian::testing {
inline std::atomic<bool> counting{false};
inline std::atomic<size_t> allocations{0};
}  // namespace meridian::testing

using meridian::server::MessageQueue;
using meridian::server::QueuedMessage;

TEST_CASE("notify_request_is_recognised_by_its_header") {
    std::vector<uint8_t> message(12, 0);
    message[2] = 4 << 3;  // opcode NOTIFY, QR clear
    CHECK(meridian::server::is_notify_request(message));
    message[2] |= 0x80;  // a response
    CHECK_FALSE(meridian::server::is_notify_request(message));
    message[2] = 0;  // QUERY
    CHECK_FALSE(meridian::server::is_notify_request(message));
    CHECK_FALSE(meridian::server::is_notify_request({message.data(), 11}));
}

TEST_CASE("queued_messages_reach_the_loop_and_a_full_queue_refuses") {
    uv_loop_t loop;
    REQUIRE(uv_loop_init(&loop) == 0);
    std::vector<std::vector<uint8_t>> received;
    MessageQueue queue(&loop, [&](const QueuedMessage& message) {
        received.emplace_back(message.message, message.message + message.length);
    });
    // Producers on other threads race for the slots.
    std::atomic<size_t> refused{0};
    std::vector<std::thread> producers;
    for (int t = 0; t < 4; ++t)
        producers.emplace_back([&, t] {
            for (int i = 0; i < 20; ++i) {
                const uint8_t bytes[3] = {uint8_t(t), uint8_t(i), 0xAA};
                QueuedMessage* slot = queue.claim();
                if (!slot) {
                    ++refused;
                    continue;
                }
                slot->set_message(bytes);
                queue.commit(slot);
            }
        });
    for (auto& producer : producers) producer.join();
    // 80 offered to 64 slots, and the loop has not run yet: 16 refused.
    CHECK(refused == 80 - MessageQueue::kSlots);
    uv_run(&loop, UV_RUN_NOWAIT);
    CHECK(received.size() == MessageQueue::kSlots);
    for (const auto& message : received) {
        REQUIRE(message.size() == 3);
        CHECK(message[2] == 0xAA);
    }
    // The slots are free again.
    QueuedMessage* again = queue.claim();
    REQUIRE(again);
    const uint8_t too_large[QueuedMessage::kMaxMessage + 1] = {};
    CHECK_FALSE(again->set_message(too_large));
    queue.commit(again);
    queue.close();
    CHECK(queue.claim() == nullptr);  // closed: producers are refused
    uv_run(&loop, UV_RUN_DEFAULT);
    CHECK(uv_loop_close(&loop) == 0);
}

TEST_CASE("claim_and_commit_allocate_nothing") {
    uv_loop_t loop;
    REQUIRE(uv_loop_init(&loop) == 0);
    size_t handled = 0;
    MessageQueue queue(&loop, [&](const QueuedMessage&) { ++handled; });
    const uint8_t bytes[40] = {};
    meridian::testing::allocations = 0;
    meridian::testing::counting = true;
    for (int i = 0; i < 10; ++i) {
        QueuedMessage* slot = queue.claim();
        if (!slot) break;
        slot->set_message(bytes);
        queue.commit(slot);
    }
    meridian::testing::counting = false;
    CHECK(meridian::testing::allocations == 0);
    uv_run(&loop, UV_RUN_NOWAIT);
    CHECK(handled == 10);
    queue.close();
    uv_run(&loop, UV_RUN_DEFAULT);
    CHECK(uv_loop_close(&loop) == 0);
}
