// UDP receive -> respond -> send, in batches of UdpBatch::kSize datagrams per system call.
// Hand-written over uv_poll_t rather than uv_udp_t because libuv 1.44 receives one datagram
// per recvmsg and cannot set the source address of a reply: this is the hot path.
#include "server/udp_listener.hpp"

#include <cerrno>
#include <cstring>

#include "server/system/socket_address.hpp"
#include "server/transfer/exchange.hpp"

namespace meridian::server {

namespace {

// Bounds the work done per wakeup so one busy socket cannot starve the worker's other
// sockets and TCP connections; the poll is level-triggered, so what is left wakes us again.
constexpr int kMaxBatchesPerWakeup = 8;

}  // namespace

// Copies the query's destination address into a control message for the answer, so a
// server bound to a wildcard or anycast address answers from the address that was asked
// (a client drops answers from any other source).
size_t write_source_address(const msghdr& received, uint8_t* control) {
    for (cmsghdr* in = CMSG_FIRSTHDR(&received); in != nullptr;
         in = CMSG_NXTHDR(const_cast<msghdr*>(&received), in)) {
        if (in->cmsg_level == IPPROTO_IP && in->cmsg_type == IP_PKTINFO) {
            in_pktinfo info;
            std::memcpy(&info, CMSG_DATA(in), sizeof info);
            // ipi_spec_dst is the local address the kernel routed the query to; interface
            // 0 lets the routing table choose the way back (as Unbound does).
            info.ipi_ifindex = 0;
            auto* out = reinterpret_cast<cmsghdr*>(control);
            out->cmsg_level = IPPROTO_IP;
            out->cmsg_type = IP_PKTINFO;
            out->cmsg_len = CMSG_LEN(sizeof info);
            std::memcpy(CMSG_DATA(out), &info, sizeof info);
            return CMSG_SPACE(sizeof info);
        }
        if (in->cmsg_level == IPPROTO_IPV6 && in->cmsg_type == IPV6_PKTINFO) {
            in6_pktinfo info;
            std::memcpy(&info, CMSG_DATA(in), sizeof info);
            // A link-local source is only meaningful with its interface; any other source
            // goes back by the routing table.
            if (!IN6_IS_ADDR_LINKLOCAL(&info.ipi6_addr)) info.ipi6_ifindex = 0;
            auto* out = reinterpret_cast<cmsghdr*>(control);
            out->cmsg_level = IPPROTO_IPV6;
            out->cmsg_type = IPV6_PKTINFO;
            out->cmsg_len = CMSG_LEN(sizeof info);
            std::memcpy(CMSG_DATA(out), &info, sizeof info);
            return CMSG_SPACE(sizeof info);
        }
    }
    return 0;
}

UdpBatch::UdpBatch(uint16_t udp_payload)
    : answer_size(udp_payload),
      queries(new uint8_t[kSize * kQueryStride]),
      answers(new uint8_t[kSize * udp_payload]) {
    std::memset(received, 0, sizeof received);
    std::memset(sent, 0, sizeof sent);
    for (size_t i = 0; i < kSize; ++i) {
        received_iov[i] = {query(i), kMaxDatagram};
        received[i].msg_hdr.msg_iov = &received_iov[i];
        received[i].msg_hdr.msg_iovlen = 1;
        received[i].msg_hdr.msg_name = &clients[i];
        received[i].msg_hdr.msg_control = received_control[i];
        sent[i].msg_hdr.msg_iov = &sent_iov[i];
        sent[i].msg_hdr.msg_iovlen = 1;
    }
}

UdpListener::UdpListener(uv_loop_t* loop, UdpBatch& batch, SnapshotSlot::Reader snapshots,
                         WorkerCounters& counters, MessageQueue* notify)
    : loop_(loop), batch_(batch), snapshots_(snapshots), counters_(counters), notify_(notify) {}

int UdpListener::open(Socket socket) {
    socket_ = std::move(socket);
    const int rc = uv_poll_init_socket(loop_, &poll_, socket_.fd());
    if (rc != 0) return rc;
    is_open_ = true;
    poll_.data = this;
    return uv_poll_start(&poll_, UV_READABLE, on_readable);
}

void UdpListener::close() {
    auto* handle = reinterpret_cast<uv_handle_t*>(&poll_);
    if (is_open_ && !uv_is_closing(handle)) uv_close(handle, nullptr);
}

void UdpListener::on_readable(uv_poll_t* poll, int status, int events) {
    if (status < 0 || !(events & UV_READABLE)) return;
    static_cast<UdpListener*>(poll->data)->answer_pending_queries();
}

void UdpListener::answer_pending_queries() {
    for (int round = 0; round < kMaxBatchesPerWakeup; ++round) {
        const size_t count = receive_batch();
        if (count == 0) return;
        // One snapshot per batch: a reload publishes between batches, never within one.
        const HeldSnapshot held(snapshots_);
        const zones::Snapshot& snapshot = held.get();
        size_t answers = 0;
        for (size_t i = 0; i < count; ++i) {
            const msghdr& query = batch_.received[i].msg_hdr;
            // A datagram larger than our buffer cannot be a query we answer.
            if (query.msg_flags & MSG_TRUNC) {
                counters_.record_dropped(zones::Transport::udp);
                continue;
            }
            const std::span<const uint8_t> question{batch_.query(i), batch_.received[i].msg_len};
            if (notify_ && is_notify_request(question) && notify_->is_accepting()) {
                // The main loop answers it; a full queue drops it and the primary retries.
                if (QueuedMessage* handed = notify_->claim()) {
                    if (handed->set_message(question)) {
                        handed->client = batch_.clients[i];
                        handed->client_length = query.msg_namelen;
                        handed->fd = socket_.fd();
                        handed->control_length = write_source_address(query, handed->control);
                    }
                    notify_->commit(handed);  // an oversized one arrives empty and is dropped
                }
                continue;
            }
            const auto client =
                from_socket_address(reinterpret_cast<const sockaddr*>(&batch_.clients[i]));
            const zones::QueryOrigin origin{zones::Transport::udp, client ? &*client : nullptr};
            const std::span<uint8_t> response{batch_.answer(answers), batch_.answer_size};
            zones::AnswerSummary summary;
            const size_t length =
                answer_message(snapshot, question, response, origin, summary, nullptr);
            counters_.record(zones::Transport::udp, summary);
            if (length == 0) continue;
            msghdr& answer = batch_.sent[answers].msg_hdr;
            batch_.sent_iov[answers] = {batch_.answer(answers), length};
            answer.msg_name = &batch_.clients[i];
            answer.msg_namelen = query.msg_namelen;
            answer.msg_control = batch_.sent_control[answers];
            answer.msg_controllen = write_source_address(query, batch_.sent_control[answers]);
            if (answer.msg_controllen == 0) answer.msg_control = nullptr;
            ++answers;
        }
        send_batch(answers);
        if (count < UdpBatch::kSize) return;  // the socket is drained
    }
}

size_t UdpListener::receive_batch() {
    for (size_t i = 0; i < UdpBatch::kSize; ++i) {
        // recvmmsg overwrites these lengths with what it filled in; reset them each time.
        msghdr& header = batch_.received[i].msg_hdr;
        header.msg_namelen = sizeof(sockaddr_storage);
        header.msg_controllen = UdpBatch::kControlSize;
        header.msg_flags = 0;
    }
    for (;;) {
        const int count =
            recvmmsg(socket_.fd(), batch_.received, UdpBatch::kSize, MSG_DONTWAIT, nullptr);
        if (count >= 0) return static_cast<size_t>(count);
        if (errno == EINTR) continue;
        // EAGAIN: drained. Anything else (e.g. ECONNREFUSED from an ICMP error queued on
        // the socket) is consumed by the failed call and is no reason to stop polling.
        return 0;
    }
}

void UdpListener::send_batch(size_t count) {
    size_t next = 0;
    while (next < count) {
        const int sent = sendmmsg(socket_.fd(), batch_.sent + next, count - next, MSG_DONTWAIT);
        if (sent > 0) {
            next += static_cast<size_t>(sent);
        } else if (errno == EINTR) {
            continue;
        } else if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS) {
            // The send buffer is full: dropping is what UDP would do further along anyway,
            // and the client retries. Blocking here would stall every other client.
            counters_.udp_unsent.add(count - next);
            return;
        } else {
            counters_.udp_unsent.add();
            ++next;  // this one datagram is undeliverable (e.g. bad address); skip it
        }
    }
}

}  // namespace meridian::server
