// A primary that answers from a script, on 127.0.0.1, in a thread of its own: the SOA query
// over UDP and transfers over TCP (one query per connection), each reply built by the test,
// so a test can send a transfer cut short, a refusal or a reply that is not ours. Every
// query it receives is recorded as a line ("UDP SOA", "TCP IXFR 1", "TCP AXFR").
#pragma once

#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "zones/ldns.hpp"

namespace meridian::testing {

using Message = std::vector<uint8_t>;

// What the primary does with one query: the messages it sends back, in order; over TCP it then
// closes the connection, unless `is_held_open` (a primary gone silent).
struct ScriptedReply {
    std::vector<Message> messages;
    bool is_held_open = false;
};
using Script = std::function<ScriptedReply(const ldns_pkt& query)>;

// A response to `query` carrying `records` (presentation text) in the answer section.
// `id_offset` answers under another ID; `has_question` false leaves the question out, as
// messages after the first of a transfer may (RFC 5936 §2.2.1).
inline Message reply_to(const ldns_pkt& query, const std::vector<std::string>& records,
                        ldns_pkt_rcode rcode = LDNS_RCODE_NOERROR, bool has_question = true,
                        uint16_t id_offset = 0) {
    const meridian::ldns::Packet owned(ldns_pkt_new());
    ldns_pkt* reply = owned.get();
    ldns_pkt_set_id(reply, uint16_t(ldns_pkt_id(&query) + id_offset));
    ldns_pkt_set_qr(reply, true);
    ldns_pkt_set_aa(reply, true);
    ldns_pkt_set_opcode(reply, LDNS_PACKET_QUERY);
    ldns_pkt_set_rcode(reply, rcode);
    if (has_question) {
        // The packet takes the records, not the list.
        const meridian::ldns::ShallowRRList question(ldns_rr_list_clone(ldns_pkt_question(&query)));
        ldns_pkt_push_rr_list(reply, LDNS_SECTION_QUESTION, question.get());
    }
    for (const auto& text : records) {
        ldns_rr* rr = nullptr;
        if (ldns_rr_new_frm_str(&rr, text.c_str(), 3600, nullptr, nullptr) != LDNS_STATUS_OK)
            throw std::runtime_error("bad record in a test script: " + text);
        ldns_pkt_push_rr(reply, LDNS_SECTION_ANSWER, rr);
    }
    auto wire = meridian::ldns::to_wire(reply);
    if (!wire) throw std::runtime_error("a test script's reply does not encode");
    return std::move(*wire);
}

// The records of example.com. at `serial`, its SOA first, as a transfer carries them.
inline std::string example_soa(uint32_t serial) {
    return "example.com. 3600 IN SOA ns1.example.com. hostmaster.example.com. " +
           std::to_string(serial) + " 7200 3600 1209600 300";
}
inline std::vector<std::string> example_records(uint32_t serial, const std::string& www) {
    return {example_soa(serial), "example.com. 3600 IN NS ns1.example.com.",
            "ns1.example.com. 3600 IN A 192.0.2.1", "www.example.com. 3600 IN A " + www};
}

class ScriptedPrimary {
  public:
    // A null script leaves that transport unanswered (TCP connections are closed at once).
    ScriptedPrimary(Script udp, Script tcp)
        : udp_script_(std::move(udp)), tcp_script_(std::move(tcp)) {
        open_sockets();
        thread_ = std::thread([this] { serve(); });
    }
    ~ScriptedPrimary() {
        is_stopping_ = true;
        thread_.join();
        for (int fd : held_) ::close(fd);
        ::close(udp_);
        ::close(tcp_);
    }
    ScriptedPrimary(const ScriptedPrimary&) = delete;
    ScriptedPrimary& operator=(const ScriptedPrimary&) = delete;

    uint16_t port() const { return port_; }
    // As a config or ListenAddress writes it.
    std::string address() const { return "127.0.0.1:" + std::to_string(port_); }

    std::vector<std::string> queries() const {
        std::lock_guard lock(mutex_);
        return queries_;
    }

  private:
    void open_sockets() {
        // UDP and TCP on one port, as a primary listens; another test may hold the first try.
        for (int attempt = 0; attempt < 20; ++attempt) {
            udp_ = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
            sockaddr_in address{};
            address.sin_family = AF_INET;
            address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
            socklen_t length = sizeof address;
            ::bind(udp_, reinterpret_cast<sockaddr*>(&address), sizeof address);
            ::getsockname(udp_, reinterpret_cast<sockaddr*>(&address), &length);
            tcp_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
            const int on = 1;
            ::setsockopt(tcp_, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
            if (::bind(tcp_, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0 &&
                ::listen(tcp_, 8) == 0) {
                port_ = ntohs(address.sin_port);
                return;
            }
            ::close(udp_);
            ::close(tcp_);
        }
        throw std::runtime_error("no loopback port for UDP and TCP both");
    }

    // Polls in short steps, so the destructor's stop is seen within a few milliseconds.
    void serve() {
        while (!is_stopping_) {
            pollfd fds[2] = {{udp_, POLLIN, 0}, {tcp_, POLLIN, 0}};
            if (::poll(fds, 2, 10) <= 0) continue;
            if (fds[0].revents & POLLIN) answer_udp();
            if (fds[1].revents & POLLIN) answer_tcp();
        }
    }

    void answer_udp() {
        uint8_t buffer[65535];
        sockaddr_storage from{};
        socklen_t from_length = sizeof from;
        const ssize_t n = ::recvfrom(udp_, buffer, sizeof buffer, 0,
                                     reinterpret_cast<sockaddr*>(&from), &from_length);
        if (n <= 0) return;
        for (const auto& message : run_script(udp_script_, "UDP", buffer, size_t(n)).messages)
            ::sendto(udp_, message.data(), message.size(), 0, reinterpret_cast<sockaddr*>(&from),
                     from_length);
    }

    void answer_tcp() {
        const int fd = ::accept4(tcp_, nullptr, nullptr, SOCK_CLOEXEC);
        if (fd < 0) return;
        // A client that never sends its query does not stop the primary for long.
        timeval timeout{2, 0};
        ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
        uint8_t length[2];
        Message query;
        if (read_exactly(fd, length, 2)) {
            query.resize(size_t(length[0]) << 8 | length[1]);
            if (!read_exactly(fd, query.data(), query.size())) query.clear();
        }
        const ScriptedReply reply = run_script(tcp_script_, "TCP", query.data(), query.size());
        for (const auto& message : reply.messages) {
            Message framed = {uint8_t(message.size() >> 8), uint8_t(message.size())};
            framed.insert(framed.end(), message.begin(), message.end());
            ::send(fd, framed.data(), framed.size(), MSG_NOSIGNAL);
        }
        if (reply.is_held_open)
            held_.push_back(fd);
        else
            ::close(fd);
    }

    static bool read_exactly(int fd, uint8_t* out, size_t size) {
        for (size_t got = 0; got < size;) {
            const ssize_t n = ::recv(fd, out + got, size - got, 0);
            if (n <= 0) return false;
            got += size_t(n);
        }
        return true;
    }

    ScriptedReply run_script(const Script& script, const char* transport, const uint8_t* data,
                             size_t size) {
        const auto query = meridian::ldns::parse_packet(data, size);
        if (size == 0 || !query) return {};
        std::string line = std::string(transport) + " ";
        const ldns_rr_list* question = ldns_pkt_question(query.get());
        if (ldns_rr_list_rr_count(question) == 1)
            line += meridian::ldns::take_text(
                ldns_rr_type2str(ldns_rr_get_type(ldns_rr_list_rr(question, 0))));
        // An IXFR query says which version the client has (RFC 1995 §3).
        const ldns_rr_list* authority = ldns_pkt_authority(query.get());
        if (ldns_rr_list_rr_count(authority) == 1 &&
            ldns_rr_get_type(ldns_rr_list_rr(authority, 0)) == LDNS_RR_TYPE_SOA)
            line += " " + std::to_string(
                              ldns_rdf2native_int32(ldns_rr_rdf(ldns_rr_list_rr(authority, 0), 2)));
        {
            std::lock_guard lock(mutex_);
            queries_.push_back(line);
        }
        return script ? script(*query) : ScriptedReply{};
    }

    Script udp_script_;
    Script tcp_script_;
    int udp_ = -1;
    int tcp_ = -1;
    uint16_t port_ = 0;
    std::vector<int> held_;  // connections held open, used by the serving thread only
    std::atomic<bool> is_stopping_{false};
    mutable std::mutex mutex_;
    std::vector<std::string> queries_;
    std::thread thread_;
};

// A script answering every SOA query with example.com.'s SOA at `serial`.
inline Script soa_answer(uint32_t serial) {
    return [serial](const ldns_pkt& query) {
        return ScriptedReply{{reply_to(query, {example_soa(serial)})}};
    };
}

// A script sending example.com. at `serial` (www at `www`) by AXFR in two messages, the
// second without its question; it refuses any other query, IXFR included.
inline Script axfr_answer(uint32_t serial, std::string www) {
    return [serial, www](const ldns_pkt& query) {
        if (ldns_rr_get_type(ldns_rr_list_rr(ldns_pkt_question(&query), 0)) != LDNS_RR_TYPE_AXFR)
            return ScriptedReply{{reply_to(query, {}, LDNS_RCODE_REFUSED)}};
        auto records = example_records(serial, www);
        const std::vector<std::string> first(records.begin(), records.begin() + 2);
        std::vector<std::string> rest(records.begin() + 2, records.end());
        rest.push_back(example_soa(serial));
        return ScriptedReply{
            {reply_to(query, first), reply_to(query, rest, LDNS_RCODE_NOERROR, false)}};
    };
}

}  // namespace meridian::testing
