// Self-queries through the real UDP listeners, sent from the main thread's loop: readiness
// means a query reached a worker through the kernel and came back answered, as a client's
// would. One round per interval; each round asks every listen address once.
//
// An address not on any interface of this host (an anycast address not yet configured, which
// IP_FREEBIND lets us bind) fails the round without a query: sent anyway, the query would be
// routed off the host and might come back answered by another PoP.
#pragma once

#include <uv.h>
#include <cstdint>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "server/config/config.hpp"

namespace meridian::server {

// What the self-check asks: normally the SOA of the first zone served, which must come back
// NOERROR; without zones, CHAOS TXT id.server, where any answer counts.
struct SelfCheckQuestion {
    std::string name;  // wire form
    uint16_t type = 6;
    uint16_t klass = 1;
    bool needs_noerror = true;
};

class SelfCheck {
  public:
    // Called once per round: whether every address answered, and what failed when not.
    using Result = std::function<void(bool answered, const std::string& problem)>;

    SelfCheck(uv_loop_t* loop, const std::vector<ListenAddress>& listen, unsigned interval_ms,
              Result result);
    SelfCheck(const SelfCheck&) = delete;
    SelfCheck& operator=(const SelfCheck&) = delete;

    // Opens the client sockets and starts the rounds; false and `error` when a socket fails.
    bool start(SelfCheckQuestion question, std::string& error);
    // Takes effect from the next round (after a reload changed the zones).
    void set_question(SelfCheckQuestion question) { question_ = std::move(question); }
    void close();

  private:
    struct Target {
        ListenAddress address;  // where the query goes (a wildcard becomes loopback)
        uint16_t id = 0;
        bool is_answered = false;
        std::string problem;
    };
    static void on_tick(uv_timer_t* timer);
    static void on_receive(uv_udp_t* socket, ssize_t length, const uv_buf_t* buffer,
                           const sockaddr* from, unsigned flags);
    void finish_round();
    void send_round();
    uv_udp_t* socket_for(int family) { return family == AF_INET6 ? &v6_ : &v4_; }

    uv_loop_t* loop_;
    std::vector<Target> targets_;
    unsigned interval_ms_;
    Result result_;
    SelfCheckQuestion question_;
    uv_timer_t timer_;
    uv_udp_t v4_;
    uv_udp_t v6_;
    bool has_v4_ = false;
    bool has_v6_ = false;
    bool is_running_ = false;
    bool has_round_ = false;
    std::minstd_rand random_;
    char buffer_[4096];
};

}  // namespace meridian::server
