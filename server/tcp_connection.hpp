// One DNS-over-TCP client connection (RFC 7766): two-byte length framing, pipelined queries,
// asynchronous writes with a bounded queue, the idle and per-query deadlines; plus the worker's
// pool of connections, which enforces the limits (eviction when full, the per-client cap) and
// lends connections their buffers.
#pragma once

#include <sys/socket.h>
#include <uv.h>
#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "geoip/network.hpp"
#include "server/metrics.hpp"
#include "server/notify_queue.hpp"
#include "server/snapshot_slot.hpp"
#include "server/tcp_buffer_pool.hpp"
#include "server/transfer/exchange.hpp"

namespace meridian::server {

class TcpConnection;
class TcpConnectionPool;

// What one worker allows its TCP clients ([server] tcp_* in the config).
struct TcpLimits {
    // RFC 7766 §6.2.3: an idle connection (no query arriving, no answer being read) closes.
    unsigned idle_timeout_ms = 10000;
    // A frame that has begun must arrive whole within this, however its bytes trickle in:
    // otherwise each byte of a slowloris client would restart the idle timeout for ever.
    unsigned query_timeout_ms = 5000;
    unsigned max_connections = 1024;
    unsigned max_connections_per_client = 256;  // 0: no cap
};

// How many connections each client holds in one worker, so that one address cannot take the
// whole table. Open addressing in slots allocated once, at start: counting a connection in or
// out allocates nothing. A client is an IPv4 address or an IPv6 /64, since one IPv6 host
// usually holds a whole /64 (RFC 7421) and a per-address cap would not bind it.
class TcpClientCounts {
  public:
    using Key = std::array<uint8_t, 16>;

    // Room for `max_clients` distinct clients at once (0: no table).
    explicit TcpClientCounts(size_t max_clients);
    TcpClientCounts(const TcpClientCounts&) = delete;
    TcpClientCounts& operator=(const TcpClientCounts&) = delete;

    // The client an address belongs to: an IPv4 address (IPv4-mapped ones included), or the
    // /64 of an IPv6 one.
    static Key key_of(const geoip::Address& address);
    // Counts one more connection of `key`; false (nothing counted) when it has `cap` already
    // or the table is full.
    bool add(const Key& key, unsigned cap);
    // Counts one connection of `key` out; the key must have been added.
    void remove(const Key& key);
    unsigned count(const Key& key) const;
    size_t size() const { return size_; }  // clients with at least one connection

  private:
    struct Slot {
        Key key{};
        uint32_t count = 0;  // 0: the slot is empty
    };
    size_t home_of(const Key& key) const;
    // The slot holding `key`, or the empty slot where it would go.
    size_t find(const Key& key) const;

    std::unique_ptr<Slot[]> slots_;
    size_t mask_ = 0;  // slots - 1 (a power of two), or 0 without a table
    size_t size_ = 0;
    uint64_t seed_ = 0;  // per worker: addresses chosen to collide cannot be prepared
};

// A FIFO of connections in the order eviction should take them, linked through the
// connections themselves.
struct TcpConnectionQueue {
    TcpConnection* head = nullptr;
    TcpConnection* tail = nullptr;
};

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

    // Accepts the pending connection on `server`; false when that failed, and the connection
    // closed itself (it returns to the pool).
    bool accept(uv_stream_t* server);
    // Once the pool admitted it: starts its deadline and reading.
    void start();
    // Closes both handles; the connection goes back to the pool once libuv is done with them.
    void close();

  private:
    friend class TcpConnectionPool;

    static void on_alloc(uv_handle_t* handle, size_t suggested, uv_buf_t* buf);
    static void on_read(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf);
    static void on_written(uv_write_t* request, int status);
    static void on_deadline(uv_timer_t* timer);
    static void on_closed(uv_handle_t* handle);

    void reset_state();
    void answer_complete_queries();
    void start_write();
    void update_reading();
    // A sign of life from the client (RFC 7766 §6.2.3): octets read, or answers it read.
    void note_activity();
    // After every event: where the connection stands in the eviction order, and its deadline.
    void settle();
    void schedule_deadline();
    bool is_idle() const;
    // The frame's deadline runs only while we read: not while our own backpressure (answers
    // the client has not read) keeps the rest of it in the socket.
    bool is_frame_deadline_running() const { return is_frame_started_ && is_reading_; }
    // Answers the complete frames held, up to what the output has room for; true when it
    // stopped for room and every answer has left, so another batch can start at once.
    bool answer_batch();
    // Keeps what answer_batch could not consume (a partial frame, or frames waiting for
    // output room) inline when it is small, else in a borrowed buffer; false when it closed.
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

    // A partial frame this small (a slow client's few octets, a usual query) is kept here
    // rather than in a borrowed buffer: slow clients cost the pool nothing.
    static constexpr size_t kHeldInline = 256;

    TcpConnectionPool& pool_;
    uv_tcp_t stream_;
    uv_timer_t deadline_timer_;  // the idle timeout, or the frame's deadline when sooner
    uv_write_t write_request_;
    sockaddr_storage client_{};
    std::optional<geoip::Address> client_address_;  // client_ as the answer path takes it

    // Bytes received and not yet consumed: at most one incomplete frame, or complete frames
    // waiting for output room; in held_ when they fit, else in input_, borrowed from the pool
    // (never both). A connection that sends nothing, or only small frames, borrows nothing.
    uint8_t held_[kHeldInline];
    size_t held_length_ = 0;
    TcpBufferPool::Buffer input_;
    size_t input_length_ = 0;
    // Octets on_read just put in the worker's scratch input: what held_ had, in front, and
    // what was read (only while input_length_ is zero).
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

    // The limits, in the loop's milliseconds (uv_now).
    uint64_t last_activity_ms_ = 0;
    bool is_frame_started_ = false;  // a partial frame is held: its deadline applies
    bool has_new_frame_ = false;     // that frame began since the last settle()
    uint64_t frame_started_ms_ = 0;
    bool is_active_ = false;          // admitted and not closing: counted against the cap
    bool is_client_counted_ = false;  // counted in the pool's per-client table
    TcpClientCounts::Key client_key_{};
    // Which eviction queue holds it (the pool's idle or busy one), and its neighbours there.
    TcpConnectionQueue* queue_ = nullptr;
    TcpConnection* queue_previous_ = nullptr;
    TcpConnection* queue_next_ = nullptr;

    // Intrusive list of live connections, so shutdown can close them all.
    TcpConnection* previous_ = nullptr;
    TcpConnection* next_ = nullptr;
};

// The TCP connections of one worker: live ones (for shutdown), the eviction order of those
// open, the per-client counts, a small free-list of connection objects, the scratch buffers
// every connection reads and answers in, and the spare buffers connections borrow while a
// large frame is partial or answers are unsent.
class TcpConnectionPool {
  public:
    TcpConnectionPool(uv_loop_t* loop, SnapshotSlot::Reader snapshots, const TcpLimits& limits,
                      WorkerCounters& counters);
    ~TcpConnectionPool();
    TcpConnectionPool(const TcpConnectionPool&) = delete;
    TcpConnectionPool& operator=(const TcpConnectionPool&) = delete;

    // Accepts the connection pending on `server`. A client address at its cap is refused
    // (closed at once). When the worker is full, the connection idle the longest makes room
    // (RFC 7766 §6.2.3: a server may close idle connections, and should under pressure), else
    // the one that has been receiving its current frame the longest: refusing the new one
    // instead would let slow clients hold every slot (deliberately unlike NSD, whose
    // tcp-reject-overflow closes the new connection).
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
    // Spare buffers kept per worker (the high-water mark); beyond this many connections with
    // work in progress at the same moment, buffers are mapped and unmapped as they come and go.
    static constexpr size_t kMaxSpareBuffers = 32;
    // Buffers lent at most per worker: a quarter of the connections, within these bounds
    // (1024 connections: 256 buffers, 24 MiB). Beyond it a connection that needs one closes.
    static constexpr size_t kMinLentBuffers = 64;
    static constexpr size_t kMaxLentBuffers = 1024;

    // A connection idle for less than this is evicted only when no busy one is left: a
    // burst of new connections, accepted before any has been read, would otherwise close one
    // another before a single query arrived.
    static constexpr uint64_t kIdleGraceMs = 250;

    enum class BufferUse : uint8_t { input, output };

    void release(TcpConnection* connection);
    // The connection to close for a new one when the worker is full: the longest idle (past
    // its grace), else the one whose current frame began the longest ago; null when none.
    TcpConnection* eviction_victim() const;
    // Counts `connection` out of the cap, the per-client table and the eviction order.
    void forget(TcpConnection* connection);
    // Moves `connection` to the tail of the idle queue, or of the busy one when it enters it
    // or begins a new frame there.
    void place(TcpConnection* connection, bool is_idle, bool has_new_frame);
    void unqueue(TcpConnection* connection);
    // Empty when none may be lent: counted, and the caller closes its connection. Input may
    // not take the last quarter, kept for answers (and transfers) to be written.
    TcpBufferPool::Buffer take_buffer(BufferUse use);
    void give_back_buffer(TcpBufferPool::Buffer buffer);
    void publish_buffer_counts();

    uv_loop_t* loop_;
    SnapshotSlot::Reader snapshots_;
    TcpLimits limits_;
    WorkerCounters& counters_;
    TcpConnection* live_ = nullptr;
    size_t live_count_ = 0;    // until libuv has closed them
    size_t active_count_ = 0;  // admitted and not closing
    TcpConnectionQueue idle_;  // idle between queries, the longest idle first
    TcpConnectionQueue busy_;  // a frame or answers in progress, the oldest frame first
    TcpClientCounts clients_;
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
