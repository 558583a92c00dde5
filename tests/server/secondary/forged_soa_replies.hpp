// A primary's UDP side for the SOA query with forgers beside it: each reply a test scripts is
// sent from the primary's own socket, from another port of its address, or from another
// address on its port, so a test can send what an off-path attacker can (replies claiming to
// be the primary's, unsigned or signed with a key it guessed) before the real answer.
#pragma once

#include <poll.h>
#include <sys/socket.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "server/system/socket_address.hpp"
#include "server/transfer/tsig.hpp"
#include "support/loopback_socket.hpp"
#include "support/scripted_primary.hpp"

namespace meridian::testing {

enum class From { primary, other_port, other_address };

struct ForgedReply {
    From from = From::primary;
    Message message;
};

// The replies to one SOA query: `query` parsed, `wire` as received (to sign over its MAC).
using SoaScript =
    std::function<std::vector<ForgedReply>(const ldns_pkt& query, std::span<const uint8_t> wire)>;

class SoaPrimaryWithForgers {
  public:
    explicit SoaPrimaryWithForgers(SoaScript script) : script_(std::move(script)) {
        thread_ = std::thread([this] { serve(); });
    }
    ~SoaPrimaryWithForgers() {
        is_stopping_ = true;
        thread_.join();
    }
    SoaPrimaryWithForgers(const SoaPrimaryWithForgers&) = delete;
    SoaPrimaryWithForgers& operator=(const SoaPrimaryWithForgers&) = delete;

    // As a config or ListenAddress writes it.
    std::string address() const { return "127.0.0.1:" + std::to_string(primary_.port()); }
    int queries() const { return queries_; }

  private:
    // Polls in short steps, so the destructor's stop is seen within a few milliseconds.
    void serve() {
        while (!is_stopping_) {
            pollfd p{primary_.fd(), POLLIN, 0};
            if (::poll(&p, 1, 10) <= 0) continue;
            uint8_t buffer[65535];
            sockaddr_storage client{};
            socklen_t client_length = sizeof client;
            const ssize_t n = ::recvfrom(primary_.fd(), buffer, sizeof buffer, 0,
                                         reinterpret_cast<sockaddr*>(&client), &client_length);
            if (n <= 0) continue;
            const auto query = ldns::parse_packet(buffer, size_t(n));
            if (!query) continue;
            ++queries_;
            for (const auto& reply : script_(*query, {buffer, size_t(n)})) {
                const int fd = reply.from == From::primary      ? primary_.fd()
                               : reply.from == From::other_port ? other_port_.fd()
                                                                : other_address_.fd();
                ::sendto(fd, reply.message.data(), reply.message.size(), 0,
                         reinterpret_cast<sockaddr*>(&client), client_length);
            }
        }
    }

    SoaScript script_;
    LoopbackSocket primary_{SOCK_DGRAM, "127.0.0.1"};
    LoopbackSocket other_port_{SOCK_DGRAM, "127.0.0.1"};
    // Any address of 127.0.0.0/8 is on the loopback interface.
    LoopbackSocket other_address_{SOCK_DGRAM, "127.0.0.2", primary_.port()};
    std::atomic<bool> is_stopping_{false};
    std::atomic<int> queries_{0};
    std::thread thread_;
};

// The zone's key in the tests: hmac-sha256, and another secret under the same name.
inline server::tsig::Key transfer_key() {
    return {"transfer-key.", "hmac-sha256.", "c2VjcmV0LXNoYXJlZC13aXRoLXRoZS1wcmltYXJ5"};
}
inline server::tsig::Key guessed_key() {
    return {"transfer-key.", "hmac-sha256.", "YS1zZWNyZXQtdGhlLWF0dGFja2VyLWd1ZXNzZWQ="};
}

// `reply` signed with `key` as the answer to the signed `request` (RFC 8945 §5.3: over the
// request's MAC). Empty when the request is not signed with transfer_key(): the test then
// fails for want of an answer (a script runs on the primary's thread, where an assertion
// could not stop the test).
inline Message signed_reply(const Message& reply, const server::tsig::Key& key,
                            std::span<const uint8_t> request) {
    server::tsig::Keyring keyring;
    keyring.add(transfer_key());
    const auto check = server::tsig::verify_request(request, keyring, server::tsig::current_time());
    if (check.verdict != server::tsig::Verdict::valid) return {};
    auto signed_message = server::tsig::sign(reply, key, check.mac);
    return signed_message ? signed_message->message : Message{};
}

}  // namespace meridian::testing
