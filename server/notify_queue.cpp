// Workers -> main loop hand-off of NOTIFY messages: see notify_queue.hpp.
#include "server/notify_queue.hpp"

#include <cstring>

namespace meridian::server {

NotifyQueue::NotifyQueue(uv_loop_t* loop, Handler handler)
    : handler_(std::move(handler)), slots_(std::make_unique<Slot[]>(kSlots)) {
    uv_async_init(loop, &wakeup_, on_wakeup);  // cannot fail on an initialized loop
    wakeup_.data = this;
}

bool NotifyQueue::push(std::span<const uint8_t> message, const sockaddr_storage& client,
                       socklen_t client_length, std::span<const uint8_t> control, int fd) {
    if (message.size() > ReceivedNotify::kMaxMessage ||
        control.size() > ReceivedNotify::kMaxControl || is_closed_.load(std::memory_order_acquire))
        return false;
    for (size_t i = 0; i < kSlots; ++i) {
        Slot& slot = slots_[i];
        uint8_t expected = kFree;
        if (!slot.state.compare_exchange_strong(expected, kWriting, std::memory_order_acquire))
            continue;
        ReceivedNotify& notify = slot.notify;
        std::memcpy(notify.message, message.data(), message.size());
        notify.length = message.size();
        notify.client = client;
        notify.client_length = client_length;
        if (!control.empty()) std::memcpy(notify.control, control.data(), control.size());
        notify.control_length = control.size();
        notify.fd = fd;
        slot.state.store(kReady, std::memory_order_release);
        uv_async_send(&wakeup_);  // async-signal-safe, never blocks
        return true;
    }
    return false;
}

void NotifyQueue::on_wakeup(uv_async_t* async) {
    auto* self = static_cast<NotifyQueue*>(async->data);
    // uv_async_send coalesces wakeups: take every ready slot.
    for (size_t i = 0; i < kSlots; ++i) {
        Slot& slot = self->slots_[i];
        if (slot.state.load(std::memory_order_acquire) != kReady) continue;
        self->handler_(slot.notify);
        slot.state.store(kFree, std::memory_order_release);
    }
}

void NotifyQueue::close() {
    is_closed_.store(true, std::memory_order_release);
    auto* handle = reinterpret_cast<uv_handle_t*>(&wakeup_);
    if (!uv_is_closing(handle)) uv_close(handle, nullptr);
}

}  // namespace meridian::server
