// UDP on one listen address in one worker: batched recvmmsg/sendmmsg driven by a uv_poll_t,
// answers sent from the address each query reached.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>
#include <uv.h>
#include <cstddef>
#include <cstdint>
#include <memory>

#include "server/metrics.hpp"
#include "server/notify_queue.hpp"
#include "server/snapshot_slot.hpp"
#include "server/socket.hpp"

namespace meridian::server {

// The buffers one batch of datagrams needs, allocated once per worker and shared by all its
// UDP listeners (they run one at a time on the worker's loop), so the query path never
// allocates.
struct UdpBatch {
    static constexpr size_t kSize = 32;
    // A DNS query is a few hundred bytes; one larger than this (MSG_TRUNC) is dropped as
    // malformed. A 64 KiB buffer per datagram would spread a batch over 2 MiB and put every
    // query at the same cache-set offset.
    static constexpr size_t kMaxDatagram = 4096;
    // Buffer stride: a cache line past a page, so consecutive queries do not alias.
    static constexpr size_t kQueryStride = kMaxDatagram + 64;
    // Room for one IP_PKTINFO or IPV6_PKTINFO control message.
    static constexpr size_t kControlSize = CMSG_SPACE(sizeof(in6_pktinfo)) >
                                                   CMSG_SPACE(sizeof(in_pktinfo))
                                               ? CMSG_SPACE(sizeof(in6_pktinfo))
                                               : CMSG_SPACE(sizeof(in_pktinfo));

    explicit UdpBatch(uint16_t udp_payload);

    uint8_t* query(size_t i) { return queries.get() + i * kQueryStride; }
    uint8_t* answer(size_t i) { return answers.get() + i * answer_size; }

    size_t answer_size;  // RFC 6891: our UDP answers never exceed the configured payload
    std::unique_ptr<uint8_t[]> queries;  // kSize x kQueryStride
    std::unique_ptr<uint8_t[]> answers;  // kSize x answer_size
    mmsghdr received[kSize];
    iovec received_iov[kSize];
    sockaddr_storage clients[kSize];
    alignas(cmsghdr) uint8_t received_control[kSize][kControlSize];
    mmsghdr sent[kSize];
    iovec sent_iov[kSize];
    alignas(cmsghdr) uint8_t sent_control[kSize][kControlSize];
};

class UdpListener {
  public:
    // With `notify`, NOTIFY requests are handed to it instead of answered here (they are
    // for the secondary zones, which the main loop keeps).
    UdpListener(uv_loop_t* loop, UdpBatch& batch, SnapshotSlot::Reader snapshots,
                WorkerCounters& counters, MessageQueue* notify = nullptr);
    UdpListener(const UdpListener&) = delete;
    UdpListener& operator=(const UdpListener&) = delete;

    // Takes ownership of `socket` (from open_udp_socket) and starts polling it. Returns 0 or
    // a libuv error; either way close() must be called before the listener is destroyed.
    int open(Socket socket);
    // Stops polling; the descriptor is closed when the listener is destroyed, after the loop
    // has finished closing the handle.
    void close();

  private:
    static void on_readable(uv_poll_t* poll, int status, int events);
    void answer_pending_queries();
    size_t receive_batch();
    void send_batch(size_t count);

    uv_loop_t* loop_;
    uv_poll_t poll_;
    Socket socket_;
    bool is_open_ = false;
    UdpBatch& batch_;
    SnapshotSlot::Reader snapshots_;
    WorkerCounters& counters_;
    MessageQueue* notify_;
};

// Writes into `control` the IP_PKTINFO / IPV6_PKTINFO message that sends an answer from the
// address `received` was sent to; returns its length (0: none).
size_t write_source_address(const msghdr& received, uint8_t* control);

}  // namespace meridian::server
