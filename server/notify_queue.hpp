// Messages handed between threads without a lock: NOTIFY requests (RFC 1996) from the
// workers to the main loop, and the main loop's answers to NOTIFY that came over TCP back to
// the worker that owns the connection. A producer claims a free slot, fills it and commits
// it, which wakes the consumer's loop: no lock, no allocation, no wait, as the query path
// requires. A full queue drops the message; a primary sends its NOTIFY again (RFC 1996 §3.6).
#pragma once

#include <sys/socket.h>
#include <uv.h>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>

namespace meridian::server {

class MessageQueue;

struct QueuedMessage {
    static constexpr size_t kMaxMessage = 2048;  // a NOTIFY is a question, an SOA and a TSIG
    static constexpr size_t kMaxControl = 64;    // one IP_PKTINFO / IPV6_PKTINFO message
    uint8_t message[kMaxMessage];
    size_t length = 0;
    sockaddr_storage client{};
    socklen_t client_length = 0;
    // UDP: the worker's socket (it outlives the main loop's handles) and the control message
    // that sends the answer from the address the NOTIFY reached.
    int fd = -1;
    uint8_t control[kMaxControl];
    size_t control_length = 0;
    // TCP: where the answer goes back to; the generation tells a reused connection apart.
    MessageQueue* reply_queue = nullptr;
    void* connection = nullptr;
    uint64_t generation = 0;

    // Copies `bytes` in; false when they do not fit.
    bool set_message(std::span<const uint8_t> bytes);
};

class MessageQueue {
  public:
    static constexpr size_t kSlots = 64;
    using Handler = std::function<void(const QueuedMessage& message)>;

    // `handler` runs on `loop`'s thread for each message committed.
    MessageQueue(uv_loop_t* loop, Handler handler);
    MessageQueue(const MessageQueue&) = delete;
    MessageQueue& operator=(const MessageQueue&) = delete;

    // From any thread: a free slot to fill, or null when every slot is taken (or the queue
    // is closed). Every slot claimed must be committed.
    QueuedMessage* claim();
    void commit(QueuedMessage* message);
    void close();
    // Whether producers hand messages here at all; read by the workers for NOTIFY only, so
    // one without a secondary zone to answer for is answered as any other opcode (NOTIMP).
    void set_accepting(bool is_accepting) {
        is_accepting_.store(is_accepting, std::memory_order_relaxed);
    }
    bool is_accepting() const { return is_accepting_.load(std::memory_order_relaxed); }

  private:
    enum State : uint8_t { kFree, kWriting, kReady };
    struct Slot {
        std::atomic<uint8_t> state{kFree};
        QueuedMessage message;
    };
    static void on_wakeup(uv_async_t* async);

    uv_async_t wakeup_;
    std::atomic<bool> is_closed_{false};  // producers may still claim while the loop stops
    std::atomic<bool> is_accepting_{true};
    Handler handler_;
    std::unique_ptr<Slot[]> slots_;
};

// Whether `message` is a NOTIFY request (opcode 4, QR clear), by its header alone.
inline bool is_notify_request(std::span<const uint8_t> message) {
    return message.size() >= 12 && (message[2] & 0x80) == 0 && ((message[2] >> 3) & 0x0F) == 4;
}

}  // namespace meridian::server
