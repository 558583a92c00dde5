// One DNS-over-TCP client connection (RFC 7766): two-byte length framing, pipelined queries,
// asynchronous writes with a bounded queue, and the idle timeout; plus the worker's pool of
// connections, which enforces the per-worker cap and lends connections their buffers.
#pragma once

#include <sys/socket.h>
#include <uv.h>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "server/metrics.hpp"
#include "server/notify_queue.hpp"
#include "server/snapshot_slot.hpp"
#include "server/tcp_buffer_pool.hpp"
#include "server/transfer/exchange.hpp"

namespace meridian::server {

class TcpConnectionPool;

class TcpConnection {
  public:
    // One length prefix and the largest DNS message (RFC 1035 §4.2.2).
    static constexpr size_t kMaxFrame = 2 + 65535;
    // Answers queued beyond the one being written before we stop reading the client's
    // queries; with kMaxFrame this bounds the memory a client that does not read can hold.
    static constexpr size_t kQueueLimit = 32 * 1024;
    static constexpr size_t kOutputCapacity = kMaxFrame + kQueueLimit;
    // Input and output buffers come from one pool, so both have the larger size.
    static constexpr size_t kBufferSize = kOutputCapacity;

    explicit TcpConnection(TcpConnectionPool& pool);
    TcpConnection(const TcpConnection&) = delete;
    TcpConnection& operator=(const TcpConnection&) = delete;

    // Accepts the pending connection on `server` and starts reading. On failure the
    // connection closes itself and returns to the pool.
    void accept(uv_stream_t* server);
    // Closes both handles; the connection goes back to the pool once libuv is done with them.
    void close();

  private:
    friend class TcpConnectionPool;

    static void on_alloc(uv_handle_t* handle, size_t suggested, uv_buf_t* buf);
    static void on_read(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf);
    static void on_written(uv_write_t* request, int status);
    static void on_idle(uv_timer_t* timer);
    static void on_closed(uv_handle_t* handle);

    void reset_state();
    void answer_complete_queries();
    void start_write();
    void update_reading();
    void restart_idle_timer();
    // Answers the complete frames held, up to what the output has room for; true when it
    // stopped for room and every answer has left, so another batch can start at once.
    bool answer_batch();
    // Keeps what answer_batch could not consume (a partial frame, or frames waiting for
    // output room) in the held or a borrowed buffer; false when it closed.
    bool keep_unconsumed_input(const uint8_t* rest, size_t length);
    // Writes `length` octets of answers from the worker's scratch, borrowing a buffer only
    // for what the socket does not take at once; false when it closed.
    bool write_from_scratch(size_t length);
    // Writes the transfer's next messages into the held output while there is room; false
    // when the output is full.
    bool write_stream_messages();
    // Hands back the input buffer when no partial frame is held and the output buffer when
    // everything is written: an idle connection holds no buffer.
    void return_idle_buffers();
    bool is_flushed() const { return !is_writing_ && output_sent_ == output_end_; }
    // Hands a NOTIFY to the main loop; its answer comes back through send_reply().
    void hand_off_notify(std::span<const uint8_t> message);
    void send_reply(std::span<const uint8_t> reply);

    TcpConnectionPool& pool_;
    uv_tcp_t stream_;
    uv_timer_t idle_timer_;
    uv_write_t write_request_;
    sockaddr_storage client_{};
    std::optional<geoip::Address> client_address_;  // client_ as the answer path takes it

    // Bytes received and not yet consumed: at most one incomplete frame, or complete frames
    // waiting for output room. Taken from the pool in on_alloc, which libuv calls only when
    // the socket is readable, so a connection that sends nothing never holds one.
    TcpBufferPool::Buffer input_;
    size_t input_length_ = 0;
    // Octets on_read just put in the worker's scratch input (only while input_ is empty).
    size_t scratch_length_ = 0;
    // [0, output_sent_) is handed to uv_write (in flight when is_writing_), [output_sent_,
    // output_end_) waits for it; the buffer rewinds only when everything is written, so
    // memory given to uv_write never moves. Borrowed only when the socket does not take
    // the answers at once (or while earlier ones are still queued).
    TcpBufferPool::Buffer output_;
    size_t output_sent_ = 0;
    size_t output_end_ = 0;

    // A multi-message answer (a zone transfer) being written as the client reads it; its
    // messages always go to a borrowed output buffer, since they outlive one write.
    std::unique_ptr<MessageStream> transfer_;

    int open_handles_ = 0;
    bool is_reading_ = false;
    bool is_writing_ = false;
    bool is_closing_ = false;
    bool has_client_finished_ = false;  // EOF read: answer what we have, then close
    uint64_t generation_ = 0;           // which client this pooled connection serves now
    unsigned pending_replies_ = 0;      // NOTIFY handed to the main loop, not answered yet

    // Intrusive list of live connections, so shutdown can close them all.
    TcpConnection* previous_ = nullptr;
    TcpConnection* next_ = nullptr;
};

// The TCP connections of one worker: live ones (for shutdown and the cap), a small free-list
// of connection objects, the scratch buffers every connection reads and answers in, and the
// spare buffers connections borrow while a frame is partial or answers are unsent.
class TcpConnectionPool {
  public:
    TcpConnectionPool(uv_loop_t* loop, SnapshotSlot::Reader snapshots, unsigned idle_timeout_ms,
                      unsigned max_connections, WorkerCounters& counters);
    ~TcpConnectionPool();
    TcpConnectionPool(const TcpConnectionPool&) = delete;
    TcpConnectionPool& operator=(const TcpConnectionPool&) = delete;

    // Accepts the connection pending on `server`; beyond the cap it is accepted and closed
    // at once (RFC 7766 §6.2.2 lets a server refuse), which keeps the backlog moving.
    void accept(uv_stream_t* server);
    void close_all();
    size_t live_count() const { return live_count_; }
    const TcpBufferPool& buffers() const { return buffers_; }
    // NOTIFY over TCP goes to `notify` (the main loop), which answers through `replies`.
    void set_notify(MessageQueue* notify, MessageQueue* replies) {
        notify_ = notify;
        notify_replies_ = replies;
    }
    // An answer from the main loop, written if its connection is still the one that asked.
    void deliver(const QueuedMessage& reply);

  private:
    friend class TcpConnection;
    static constexpr size_t kMaxPooled = 64;
    // Spare buffers kept per worker; beyond this many connections with work in progress at
    // the same moment, buffers are allocated and freed as they come and go.
    static constexpr size_t kMaxSpareBuffers = 64;

    void release(TcpConnection* connection);
    TcpBufferPool::Buffer take_buffer();
    void give_back_buffer(TcpBufferPool::Buffer buffer);
    void publish_buffer_counts();

    uv_loop_t* loop_;
    SnapshotSlot::Reader snapshots_;
    unsigned idle_timeout_ms_;
    unsigned max_connections_;
    WorkerCounters& counters_;
    TcpConnection* live_ = nullptr;
    size_t live_count_ = 0;
    MessageQueue* notify_ = nullptr;
    MessageQueue* notify_replies_ = nullptr;
    uint64_t next_generation_ = 0;
    std::vector<std::unique_ptr<TcpConnection>> free_;
    TcpBufferPool buffers_;
    // One read's queries and one batch of answers at a time, for every connection of the
    // worker: a connection reads into one and answers into the other, and keeps only what
    // is left over (a partial frame, answers the socket did not take) in borrowed buffers.
    std::unique_ptr<uint8_t[]> scratch_input_;
    std::unique_ptr<uint8_t[]> scratch_output_;
};

}  // namespace meridian::server
