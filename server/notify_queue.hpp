// NOTIFY messages (RFC 1996) handed from the workers to the main loop. A worker copies the
// message into a free slot and wakes the loop: no lock, no allocation, no wait, as on the
// rest of the query path. The main loop checks the sender and the signature, answers from
// the socket the message came to, and schedules the refresh.
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

struct ReceivedNotify {
    static constexpr size_t kMaxMessage = 2048;  // a NOTIFY is a question, an SOA and a TSIG
    static constexpr size_t kMaxControl = 64;    // one IP_PKTINFO / IPV6_PKTINFO message
    uint8_t message[kMaxMessage];
    size_t length = 0;
    sockaddr_storage client{};
    socklen_t client_length = 0;
    uint8_t control[kMaxControl];  // sends the answer from the address the NOTIFY reached
    size_t control_length = 0;
    int fd = -1;  // the worker's UDP socket; it outlives the main loop's handles
};

class NotifyQueue {
  public:
    static constexpr size_t kSlots = 64;
    using Handler = std::function<void(const ReceivedNotify& notify)>;

    // `handler` runs on `loop`'s thread for each message pushed.
    NotifyQueue(uv_loop_t* loop, Handler handler);
    NotifyQueue(const NotifyQueue&) = delete;
    NotifyQueue& operator=(const NotifyQueue&) = delete;

    // From any worker thread. False when every slot is taken or the message is too large:
    // the NOTIFY is dropped, and the primary sends it again (RFC 1996 §3.6).
    bool push(std::span<const uint8_t> message, const sockaddr_storage& client,
              socklen_t client_length, std::span<const uint8_t> control, int fd);
    void close();

  private:
    enum State : uint8_t { kFree, kWriting, kReady };
    struct Slot {
        std::atomic<uint8_t> state{kFree};
        ReceivedNotify notify;
    };
    static void on_wakeup(uv_async_t* async);

    uv_async_t wakeup_;
    std::atomic<bool> is_closed_{false};  // workers may still push while the loop stops
    Handler handler_;
    std::unique_ptr<Slot[]> slots_;
};

// Whether `message` is a NOTIFY request (opcode 4, QR clear), by its header alone.
inline bool is_notify_request(std::span<const uint8_t> message) {
    return message.size() >= 12 && (message[2] & 0x80) == 0 && ((message[2] >> 3) & 0x0F) == 4;
}

}  // namespace meridian::server
