// Lock-free hand-off of NOTIFY requests and their TCP answers: see notify_queue.hpp.
#include "server/notify_queue.hpp"

#include <cstring>

namespace meridian::server {

bool QueuedMessage::set_message(std::span<const uint8_t> bytes) {
    if (bytes.size() > kMaxMessage) return false;
    if (!bytes.empty()) std::memcpy(message, bytes.data(), bytes.size());
    length = bytes.size();
    return true;
}

MessageQueue::MessageQueue(uv_loop_t* loop, Handler handler)
    : handler_(std::move(handler)), slots_(std::make_unique<Slot[]>(kSlots)) {
    uv_async_init(loop, &wakeup_, on_wakeup);  // cannot fail on an initialized loop
    wakeup_.data = this;
}

QueuedMessage* MessageQueue::claim() {
    if (is_closed_.load(std::memory_order_acquire)) return nullptr;
    for (size_t i = 0; i < kSlots; ++i) {
        Slot& slot = slots_[i];
        uint8_t expected = kFree;
        if (slot.state.compare_exchange_strong(expected, kWriting, std::memory_order_acquire)) {
            slot.message.length = 0;
            slot.message.control_length = 0;
            slot.message.fd = -1;
            slot.message.reply_queue = nullptr;
            slot.message.connection = nullptr;
            return &slot.message;
        }
    }
    return nullptr;
}

void MessageQueue::commit(QueuedMessage* message) {
    // The slot that holds `message`: Slot is standard-layout enough for this walk, and
    // kSlots is small.
    for (size_t i = 0; i < kSlots; ++i) {
        if (&slots_[i].message != message) continue;
        slots_[i].state.store(kReady, std::memory_order_release);
        uv_async_send(&wakeup_);  // async-signal-safe, never blocks
        return;
    }
}

void MessageQueue::on_wakeup(uv_async_t* async) {
    auto* self = static_cast<MessageQueue*>(async->data);
    // uv_async_send coalesces wakeups: take every ready slot.
    for (size_t i = 0; i < kSlots; ++i) {
        Slot& slot = self->slots_[i];
        if (slot.state.load(std::memory_order_acquire) != kReady) continue;
        self->handler_(slot.message);
        slot.state.store(kFree, std::memory_order_release);
    }
}

void MessageQueue::close() {
    is_closed_.store(true, std::memory_order_release);
    auto* handle = reinterpret_cast<uv_handle_t*>(&wakeup_);
    if (!uv_is_closing(handle)) uv_close(handle, nullptr);
}

}  // namespace meridian::server
