// NOTIFY out (RFC 1996): telling a zone's secondaries that its serial changed, over UDP from
// the main loop (never a worker), retried with backoff until each one answers.
#pragma once

#include <uv.h>

#include <chrono>
#include <cstdint>
#include <list>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "server/transfer/transfer_history.hpp"
#include "server/transfer/tsig.hpp"

namespace meridian::server {

class Notifier {
  public:
    // RFC 1996 §3.6: retry with a growing interval, a bounded number of times.
    static constexpr int kAttempts = 5;
    static constexpr std::chrono::milliseconds kFirstRetry{1000};

    explicit Notifier(uv_loop_t* loop);
    ~Notifier();
    Notifier(const Notifier&) = delete;
    Notifier& operator=(const Notifier&) = delete;

    // Sends NOTIFY for `change` to each of its targets (signed with the target's key when it
    // names one); a NOTIFY still unanswered for the same zone and target is replaced.
    void notify(const ZoneChange& change);
    // Closes the sockets and the timer; what is unanswered is given up.
    void close();

  private:
    struct Pending {
        std::string origin;  // wire form
        std::string zone;    // text, for logs
        uint32_t serial = 0;
        zones::NotifyTarget target;
        std::optional<tsig::Key> key;
        uint16_t id = 0;
        std::vector<uint8_t> message;
        std::vector<uint8_t> mac;  // of the signed message, to check the answer's TSIG
        int attempts = 0;
        std::chrono::steady_clock::time_point next_attempt;
    };

    static void on_alloc(uv_handle_t* handle, size_t suggested, uv_buf_t* buf);
    static void on_receive(uv_udp_t* socket, ssize_t length, const uv_buf_t* buf,
                           const sockaddr* from, unsigned flags);
    static void on_tick(uv_timer_t* timer);

    uv_udp_t* socket_for(int family);
    void send(Pending& pending);
    void receive(std::span<const uint8_t> message, const sockaddr* from);
    void tick();

    uv_loop_t* loop_;
    uv_udp_t socket4_;
    uv_udp_t socket6_;
    bool is_open4_ = false;
    bool is_open6_ = false;
    uv_timer_t timer_;
    bool is_closed_ = false;
    std::list<Pending> pending_;
    std::vector<uint8_t> receive_buffer_;
};

}  // namespace meridian::server
