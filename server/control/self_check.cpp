// Sending self-queries and matching their answers: see self_check.hpp.
#include "server/control/self_check.hpp"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cstring>

#include "server/socket.hpp"
#include "server/system/socket_address.hpp"

namespace meridian::server {

namespace {

// A wildcard listener answers on every local address; ask it on loopback.
ListenAddress target_for(const ListenAddress& listen) {
    ListenAddress target = listen;
    const geoip::Address any{listen.address.family, {}, listen.address.port};
    if (listen.address == any) {
        if (any.family == geoip::Family::v4) {
            target.address.bytes[0] = 127;
            target.address.bytes[3] = 1;
        } else {
            target.address.bytes[15] = 1;
        }
    }
    return target;
}

// Binding without IP_FREEBIND succeeds only for an address this host has.
bool is_local(const ListenAddress& address) {
    geoip::Address any_port = address.address;
    any_port.port = 0;
    const SocketAddress bound = to_socket_address(any_port);
    Socket probe(::socket(bound.storage.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    if (!probe.is_open()) return false;
    return ::bind(probe.fd(), bound.get(), bound.length) == 0;
}

bool same_endpoint(const ListenAddress& address, const sockaddr* from) {
    return from_socket_address(from) == address.address;
}

}  // namespace

SelfCheck::SelfCheck(uv_loop_t* loop, const std::vector<ListenAddress>& listen,
                     unsigned interval_ms, Result result)
    : loop_(loop),
      interval_ms_(interval_ms),
      result_(std::move(result)),
      random_(std::random_device{}()) {
    for (const auto& address : listen) {
        Target target;
        target.address = target_for(address);
        targets_.push_back(std::move(target));
    }
}

bool SelfCheck::start(SelfCheckQuestion question, std::string& error) {
    question_ = std::move(question);
    for (const auto& target : targets_) {
        const int family = target.address.address.family == geoip::Family::v6 ? AF_INET6 : AF_INET;
        bool& has = family == AF_INET6 ? has_v6_ : has_v4_;
        if (has) continue;
        uv_udp_t* socket = socket_for(family);
        uv_udp_init(loop_, socket);
        has = true;
        socket->data = this;
        sockaddr_storage any{};
        any.ss_family = static_cast<sa_family_t>(family);
        int rc = uv_udp_bind(socket, reinterpret_cast<const sockaddr*>(&any), 0);
        if (rc == 0)
            rc = uv_udp_recv_start(
                socket,
                [](uv_handle_t* handle, size_t, uv_buf_t* buf) {
                    auto* self = static_cast<SelfCheck*>(handle->data);
                    *buf = uv_buf_init(self->buffer_, sizeof self->buffer_);
                },
                on_receive);
        if (rc != 0) {
            error = std::string("self-check socket: ") + uv_strerror(rc);
            return false;
        }
    }
    uv_timer_init(loop_, &timer_);
    timer_.data = this;
    is_running_ = true;
    uv_timer_start(&timer_, on_tick, 0, interval_ms_);
    return true;
}

void SelfCheck::close() {
    if (!is_running_) return;
    is_running_ = false;
    uv_close(reinterpret_cast<uv_handle_t*>(&timer_), nullptr);
    if (has_v4_) uv_close(reinterpret_cast<uv_handle_t*>(&v4_), nullptr);
    if (has_v6_) uv_close(reinterpret_cast<uv_handle_t*>(&v6_), nullptr);
}

void SelfCheck::on_tick(uv_timer_t* timer) {
    auto* self = static_cast<SelfCheck*>(timer->data);
    if (self->has_round_) self->finish_round();
    self->send_round();
}

void SelfCheck::finish_round() {
    std::string problem;
    for (const auto& target : targets_) {
        if (target.is_answered) continue;
        problem = target.problem.empty() ? target.address.text + ": no answer within " +
                                               std::to_string(interval_ms_) + " ms"
                                         : target.problem;
        break;
    }
    result_(problem.empty(), problem);
}

void SelfCheck::send_round() {
    has_round_ = true;
    for (auto& target : targets_) {
        target.is_answered = false;
        target.problem.clear();
        if (!is_local(target.address)) {
            target.problem = target.address.text + ": not an address of this host";
            continue;
        }
        target.id = static_cast<uint16_t>(random_());
        std::string query = {static_cast<char>(target.id >> 8),
                             static_cast<char>(target.id),
                             0,
                             0,
                             0,
                             1,
                             0,
                             0,
                             0,
                             0,
                             0,
                             0};
        query += question_.name;
        query += {static_cast<char>(question_.type >> 8), static_cast<char>(question_.type),
                  static_cast<char>(question_.klass >> 8), static_cast<char>(question_.klass)};
        const uv_buf_t buf = uv_buf_init(query.data(), static_cast<unsigned>(query.size()));
        const SocketAddress to = to_socket_address(target.address.address);
        const int rc = uv_udp_try_send(socket_for(to.storage.ss_family), &buf, 1, to.get());
        if (rc < 0) target.problem = target.address.text + ": send failed: " + uv_strerror(rc);
    }
}

void SelfCheck::on_receive(uv_udp_t* socket, ssize_t length, const uv_buf_t* buffer,
                           const sockaddr* from, unsigned) {
    auto* self = static_cast<SelfCheck*>(socket->data);
    if (length < 12 || from == nullptr) return;
    const auto* reply = reinterpret_cast<const uint8_t*>(buffer->base);
    const uint16_t id = static_cast<uint16_t>(reply[0] << 8 | reply[1]);
    const bool is_response = reply[2] & 0x80;
    const unsigned rcode = reply[3] & 0x0F;
    for (auto& target : self->targets_) {
        if (target.id != id || !same_endpoint(target.address, from) || !is_response) continue;
        if (self->question_.needs_noerror && rcode != 0)
            target.problem = target.address.text + ": answered with rcode " +
                             std::to_string(rcode) + " (the zone is not served?)";
        else
            target.is_answered = true;
    }
}

}  // namespace meridian::server
