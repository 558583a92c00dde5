// Building, sending, retrying and matching the answers of NOTIFY messages.
#include "server/transfer/notify_out.hpp"

#include <netinet/in.h>

#include <cstring>
#include <random>

#include "server/system/log.hpp"
#include "server/system/socket_address.hpp"
#include "wire/bytes.hpp"
#include "wire/constants.hpp"
#include "wire/name.hpp"
#include "wire/writer.hpp"

namespace meridian::server {

using wire::bytes_of;

namespace {

bool is_from(const sockaddr* from, const geoip::Address& target) {
    const auto address = from_socket_address(from);
    return address && *address == target;
}

// RFC 1996 §3.7: opcode NOTIFY, AA, the zone's SOA as the question, the new SOA as a hint
// in the answer section.
std::vector<uint8_t> notify_message(uint16_t id, const ZoneChange& change) {
    std::vector<uint8_t> buffer(wire::kMaxMessageSize);
    wire::MessageWriter writer(buffer, buffer.size());
    wire::Query header;
    header.id = id;
    header.opcode = wire::opcode::kNotify;
    header.has_question = true;
    std::memcpy(header.qname.bytes, change.origin.data(), change.origin.size());
    header.qname.length = static_cast<uint8_t>(change.origin.size());
    header.qtype = wire::type::kSOA;
    header.qclass = wire::klass::kIN;
    writer.begin_response(header);
    writer.set_authoritative(true);
    writer.add_record(wire::Section::answer, bytes_of(change.origin), wire::type::kSOA,
                      wire::klass::kIN, change.soa_ttl, bytes_of(change.soa_rdata));
    buffer.resize(writer.finish());
    buffer[2] &= 0x7f;  // a request: QR clear
    return buffer;
}

}  // namespace

Notifier::Notifier(uv_loop_t* loop) : loop_(loop), receive_buffer_(wire::kMaxMessageSize) {
    uv_timer_init(loop_, &timer_);
    timer_.data = this;
}

Notifier::~Notifier() = default;

void Notifier::close() {
    if (is_closed_) return;
    is_closed_ = true;
    pending_.clear();
    uv_close(reinterpret_cast<uv_handle_t*>(&timer_), nullptr);
    if (is_open4_) uv_close(reinterpret_cast<uv_handle_t*>(&socket4_), nullptr);
    if (is_open6_) uv_close(reinterpret_cast<uv_handle_t*>(&socket6_), nullptr);
}

uv_udp_t* Notifier::socket_for(int family) {
    uv_udp_t* socket = family == AF_INET ? &socket4_ : &socket6_;
    bool& is_open = family == AF_INET ? is_open4_ : is_open6_;
    if (is_open) return socket;
    uv_udp_init(loop_, socket);
    socket->data = this;
    is_open = true;  // from here on close() must close it
    sockaddr_storage any{};
    any.ss_family = static_cast<sa_family_t>(family);
    if (uv_udp_bind(socket, reinterpret_cast<const sockaddr*>(&any), 0) != 0 ||
        uv_udp_recv_start(socket, on_alloc, on_receive) != 0)
        return nullptr;
    return socket;
}

void Notifier::notify(const ZoneChange& change) {
    if (is_closed_) return;
    static thread_local std::mt19937 random(std::random_device{}());
    const std::string zone = wire::to_text(bytes_of(change.origin));
    for (const auto& target : change.targets) {
        pending_.remove_if([&](const Pending& p) {
            return p.origin == change.origin && p.target.address == target.address;
        });
        Pending pending;
        pending.origin = change.origin;
        pending.zone = zone;
        pending.serial = change.serial;
        pending.target = target;
        // The id is the only thing that ties an answer to its query: make it unguessable.
        pending.id = static_cast<uint16_t>(random());
        pending.message = notify_message(pending.id, change);
        if (!target.key.empty()) {
            for (const auto& key : change.keys)
                if (key.name == target.key) pending.key = key;
            auto signed_message =
                pending.key ? tsig::sign(pending.message, *pending.key) : std::nullopt;
            if (!signed_message) {
                log_event("NOTIFY " + zone + " to " + target.text + ": cannot sign with key " +
                          target.key);
                continue;
            }
            pending.message = std::move(signed_message->message);
            pending.mac = std::move(signed_message->mac);
        }
        pending_.push_back(std::move(pending));
        send(pending_.back());
    }
    if (!pending_.empty()) uv_timer_start(&timer_, on_tick, 100, 100);
}

void Notifier::send(Pending& pending) {
    ++pending.attempts;
    pending.next_attempt =
        std::chrono::steady_clock::now() + kFirstRetry * (1 << (pending.attempts - 1));
    const SocketAddress target = to_socket_address(pending.target.address);
    uv_udp_t* socket = socket_for(target.storage.ss_family);
    if (!socket) {
        log_event("NOTIFY " + pending.zone + " to " + pending.target.text + ": no UDP socket");
        return;
    }
    const uv_buf_t buf = uv_buf_init(reinterpret_cast<char*>(pending.message.data()),
                                     static_cast<unsigned>(pending.message.size()));
    // uv_udp_try_send: a NOTIFY is one small datagram; if the socket cannot take it now, the
    // retry timer sends it again.
    uv_udp_try_send(socket, &buf, 1, target.get());
}

void Notifier::on_alloc(uv_handle_t* handle, size_t, uv_buf_t* buf) {
    auto* self = static_cast<Notifier*>(handle->data);
    buf->base = reinterpret_cast<char*>(self->receive_buffer_.data());
    buf->len = self->receive_buffer_.size();
}

void Notifier::on_receive(uv_udp_t* socket, ssize_t length, const uv_buf_t* buf,
                          const sockaddr* from, unsigned) {
    if (length <= 0 || !from) return;
    auto* self = static_cast<Notifier*>(socket->data);
    self->receive({reinterpret_cast<const uint8_t*>(buf->base), static_cast<size_t>(length)}, from);
}

void Notifier::receive(std::span<const uint8_t> message, const sockaddr* from) {
    if (message.size() < wire::kHeaderSize || !(message[2] & 0x80)) return;
    const uint16_t id = static_cast<uint16_t>(message[0] << 8 | message[1]);
    for (auto it = pending_.begin(); it != pending_.end(); ++it) {
        if (it->id != id || !is_from(from, it->target.address)) continue;
        std::string outcome = "rcode " + std::to_string(message[3] & 0x0f);
        if (it->key) {
            const auto check =
                tsig::verify_response(message, *it->key, it->mac, tsig::current_time());
            // An answer that does not verify may be forged: keep retrying (RFC 8945 §5.3).
            if (check.verdict != tsig::Verdict::valid) {
                log_event("NOTIFY " + it->zone + " to " + it->target.text +
                          ": answer's TSIG does not verify (error " + std::to_string(check.error) +
                          ")");
                return;
            }
        }
        log_event("NOTIFY " + it->zone + " serial " + std::to_string(it->serial) + " to " +
                  it->target.text + " answered (" + outcome + ")");
        pending_.erase(it);
        break;
    }
    if (pending_.empty()) uv_timer_stop(&timer_);
}

void Notifier::on_tick(uv_timer_t* timer) {
    static_cast<Notifier*>(timer->data)->tick();
}

void Notifier::tick() {
    const auto now = std::chrono::steady_clock::now();
    for (auto it = pending_.begin(); it != pending_.end();) {
        if (now < it->next_attempt) {
            ++it;
            continue;
        }
        if (it->attempts >= kAttempts) {
            log_event("NOTIFY " + it->zone + " serial " + std::to_string(it->serial) + " to " +
                      it->target.text + ": no answer after " + std::to_string(kAttempts) +
                      " attempts; the secondary will find the change at its next refresh");
            it = pending_.erase(it);
            continue;
        }
        send(*it);
        ++it;
    }
    if (pending_.empty()) uv_timer_stop(&timer_);
}

}  // namespace meridian::server
