// DNS over TCP per RFC 7766 on one client connection: frames in, answers out, never
// blocking the worker whatever the client does.
#include "server/tcp_connection.hpp"

#include <algorithm>
#include <cassert>
#include <cstring>
#include <random>

#include "server/system/socket_address.hpp"
#include "wire/constants.hpp"

namespace meridian::server {

TcpClientCounts::TcpClientCounts(size_t max_clients) {
    if (max_clients == 0) return;
    // At most half full, so a probe ends soon at an empty slot.
    size_t slots = 16;
    while (slots < 2 * max_clients) slots *= 2;
    slots_ = std::make_unique<Slot[]>(slots);
    mask_ = slots - 1;
    std::random_device random;
    seed_ = (uint64_t{random()} << 32) ^ random();
}

TcpClientCounts::Key TcpClientCounts::key_of(const geoip::Address& address) {
    // A dual-stack socket reports IPv4 clients as ::ffff:a.b.c.d: client_network makes each
    // its own client, not one /64 shared by every IPv4 address.
    const geoip::Address client = geoip::client_network(address);
    Key key{};
    if (client.family == geoip::Family::v4) {
        key[10] = key[11] = 0xff;  // kept apart from IPv6 networks in the same table
        std::memcpy(key.data() + 12, client.bytes.data(), 4);
    } else {
        std::memcpy(key.data(), client.bytes.data(), key.size());
    }
    return key;
}

size_t TcpClientCounts::home_of(const Key& key) const {
    uint64_t high, low;
    std::memcpy(&high, key.data(), 8);
    std::memcpy(&low, key.data() + 8, 8);
    uint64_t hash = (high ^ seed_) * 0x9e3779b97f4a7c15ull;
    hash = (hash ^ (hash >> 29) ^ low) * 0xbf58476d1ce4e5b9ull;
    hash ^= hash >> 32;
    return static_cast<size_t>(hash) & mask_;
}

size_t TcpClientCounts::find(const Key& key) const {
    size_t slot = home_of(key);
    // Bounded: the table is never full (add refuses the last empty slot).
    while (slots_[slot].count != 0 && slots_[slot].key != key) slot = (slot + 1) & mask_;
    return slot;
}

bool TcpClientCounts::add(const Key& key, unsigned cap) {
    if (!slots_) return false;
    Slot& slot = slots_[find(key)];
    if (slot.count == 0) {
        if (size_ >= (mask_ + 1) / 2) return false;  // more clients than it was sized for
        slot.key = key;
        ++size_;
    } else if (slot.count >= cap) {
        return false;
    }
    ++slot.count;
    return true;
}

void TcpClientCounts::remove(const Key& key) {
    if (!slots_) return;
    size_t hole = find(key);
    if (slots_[hole].count == 0) return;  // never added: nothing to count out
    if (--slots_[hole].count > 0) return;
    --size_;
    // Linear probing without tombstones: shift back each later entry of the run that could
    // live in the hole (its home is not cyclically within (hole, next]), so every key stays
    // reachable from its home.
    for (size_t next = (hole + 1) & mask_; slots_[next].count != 0; next = (next + 1) & mask_) {
        const size_t home = home_of(slots_[next].key);
        const bool stays =
            hole <= next ? (hole < home && home <= next) : (hole < home || home <= next);
        if (stays) continue;
        slots_[hole] = slots_[next];
        hole = next;
    }
    slots_[hole].count = 0;
}

unsigned TcpClientCounts::count(const Key& key) const {
    if (!slots_) return 0;
    return slots_[find(key)].count;
}

TcpConnection::TcpConnection(TcpConnectionPool& pool) : pool_(pool) {}

void TcpConnection::reset_state() {
    client_ = {};
    client_address_.reset();
    held_length_ = 0;
    input_length_ = 0;
    scratch_length_ = 0;
    output_sent_ = 0;
    output_end_ = 0;
    open_handles_ = 0;
    is_reading_ = false;
    is_writing_ = false;
    is_closing_ = false;
    has_client_finished_ = false;
    transfer_.reset();
    generation_ = ++pool_.next_generation_;
    pending_replies_ = 0;
    last_activity_ms_ = uv_now(pool_.loop_);
    is_frame_started_ = false;
    has_new_frame_ = false;
    frame_started_ms_ = 0;
    is_active_ = false;
    is_client_counted_ = false;
    client_key_ = {};
    queue_ = nullptr;
    queue_previous_ = queue_next_ = nullptr;
}

bool TcpConnection::accept(uv_stream_t* server) {
    reset_state();
    // With AF_UNSPEC neither init creates a socket, so neither can fail.
    uv_tcp_init(pool_.loop_, &stream_);
    uv_timer_init(pool_.loop_, &deadline_timer_);
    stream_.data = this;
    deadline_timer_.data = this;
    write_request_.data = this;
    open_handles_ = 2;
    if (uv_accept(server, reinterpret_cast<uv_stream_t*>(&stream_)) != 0) {
        close();
        return false;
    }
    int length = sizeof client_;
    uv_tcp_getpeername(&stream_, reinterpret_cast<sockaddr*>(&client_), &length);
    client_address_ = from_socket_address(reinterpret_cast<const sockaddr*>(&client_));
    return true;
}

void TcpConnection::start() {
    // Pipelined answers are small separate writes; Nagle would hold each one back until the
    // previous is acknowledged (RFC 7766 §6.2.1.1 wants them sent as soon as ready).
    uv_tcp_nodelay(&stream_, 1);
    update_reading();
    settle();
}

void TcpConnection::close() {
    if (is_closing_) return;
    is_closing_ = true;
    pool_.forget(this);
    transfer_.reset();
    // libuv reads nothing more once the stream is closing, so the input buffer can go back
    // at once; the output buffer waits for on_closed, after any write in flight is cancelled.
    pool_.give_back_buffer(std::move(input_));
    input_length_ = 0;
    held_length_ = 0;
    is_frame_started_ = false;
    // Closing the stream cancels a write in flight (on_written sees UV_ECANCELED before
    // on_closed), so the buffers stay valid until libuv is done with them.
    uv_close(reinterpret_cast<uv_handle_t*>(&stream_), on_closed);
    uv_close(reinterpret_cast<uv_handle_t*>(&deadline_timer_), on_closed);
}

void TcpConnection::on_closed(uv_handle_t* handle) {
    auto* connection = static_cast<TcpConnection*>(handle->data);
    if (--connection->open_handles_ == 0) connection->pool_.release(connection);
}

void TcpConnection::on_alloc(uv_handle_t* handle, size_t, uv_buf_t* buf) {
    auto* connection = static_cast<TcpConnection*>(handle->data);
    TcpConnectionPool& pool = connection->pool_;
    if (connection->input_length_ == 0) {
        // Nothing borrowed: read into the worker's scratch buffer, behind the small partial
        // frame held inline, if any (copied, not moved: a read that brings nothing leaves it
        // where it was). on_read consumes the scratch before the loop reads any other
        // connection, and keeps only what is left of a partial frame.
        uint8_t* const scratch = pool.scratch_input_.get();
        std::memcpy(scratch, connection->held_, connection->held_length_);
        buf->base = reinterpret_cast<char*>(scratch + connection->held_length_);
        buf->len = kMaxFrame - connection->held_length_;
        return;
    }
    // Reading is only on while no complete frame is waiting, so at most kMaxFrame - 1 octets
    // are held here and the room is never zero.
    buf->base = reinterpret_cast<char*>(connection->input_.get() + connection->input_length_);
    buf->len = kMaxFrame - connection->input_length_;
}

void TcpConnection::on_read(uv_stream_t* stream, ssize_t nread, const uv_buf_t*) {
    auto* connection = static_cast<TcpConnection*>(stream->data);
    if (nread > 0) {
        if (connection->input_length_ > 0) {
            connection->input_length_ += static_cast<size_t>(nread);
        } else {
            connection->scratch_length_ = connection->held_length_ + static_cast<size_t>(nread);
            connection->held_length_ = 0;  // now in front, in the scratch
        }
        connection->note_activity();
        connection->answer_complete_queries();
    } else if (nread == UV_EOF) {
        // RFC 7766 §6.2.4: a client may half-close after sending its queries; it still
        // gets every answer before we close our side.
        connection->is_reading_ = false;  // libuv stops reading on EOF by itself
        connection->has_client_finished_ = true;
        connection->answer_complete_queries();
    } else if (nread < 0) {
        connection->close();
    }
}

void TcpConnection::answer_complete_queries() {
    // Batches until the input holds no complete frame: a batch stops when its answers fill
    // the output, and when the socket took them all at once, no on_written will come back
    // for the frames still waiting, so the next batch starts here.
    while (answer_batch()) {
    }
    if (is_closing_) return;
    update_reading();
    if (has_client_finished_ && !transfer_ && is_flushed() && pending_replies_ == 0) {
        close();
        return;
    }
    return_idle_buffers();
    settle();
}

bool TcpConnection::answer_batch() {
    if (is_closing_) return false;
    // A transfer in progress goes first: its messages are written as the client reads them,
    // and the queries pipelined behind it wait their turn.
    if (transfer_) {
        if (!output_ && !(output_ = pool_.take_buffer(TcpConnectionPool::BufferUse::output))) {
            close();
            return false;
        }
        if (!write_stream_messages()) {
            start_write();
            return false;  // on_written resumes
        }
    }
    const HeldSnapshot held(pool_.snapshots_);
    const zones::Snapshot& snapshot = held.get();
    const zones::QueryOrigin origin{zones::Transport::tcp,
                                    client_address_ ? &*client_address_ : nullptr};
    // Queries are in the borrowed buffer; or, fresh from on_read, in the worker's scratch;
    // or (after on_written, or at EOF) in the few octets held inline.
    const uint8_t* input = held_;
    size_t input_length = held_length_;
    if (input_length_ > 0) {
        input = input_.get();
        input_length = input_length_;
    } else if (scratch_length_ > 0) {
        input = pool_.scratch_input_.get();
        input_length = scratch_length_;
    }
    scratch_length_ = 0;
    // Answers go behind whatever is still queued, or, when nothing is, into the worker's
    // scratch, from which they are usually written at once without borrowing a buffer.
    bool is_output_held = output_ != nullptr;
    uint8_t* const output = is_output_held ? output_.get() : pool_.scratch_output_.get();
    size_t output_end = is_output_held ? output_end_ : 0;
    size_t consumed = 0;
    bool is_output_full = false;
    while (input_length - consumed >= 2) {
        const uint8_t* frame = input + consumed;
        const size_t length = static_cast<size_t>(frame[0]) << 8 | frame[1];
        // A zero-length or header-less message cannot be a query, and nothing after it in
        // the stream can be trusted to be framed correctly: close, as Knot does.
        if (length < wire::kHeaderSize) {
            pool_.counters_.record_dropped(zones::Transport::tcp);
            close();
            return false;
        }
        if (input_length - consumed < 2 + length) break;  // the rest has not arrived yet
        if (kOutputCapacity - output_end < kMaxFrame) {   // wait for the client to read
            is_output_full = true;
            break;
        }
        const std::span<const uint8_t> query{frame + 2, length};
        if (pool_.notify_ && is_notify_request(query) && pool_.notify_->is_accepting()) {
            // The main loop answers it, through send_reply().
            hand_off_notify(query);
            consumed += 2 + length;
            continue;
        }
        uint8_t* answer = output + output_end;
        zones::AnswerSummary summary;
        // A transfer leaves the rest of its stream in transfer_, written as the socket drains.
        const size_t answer_length = answer_message(
            snapshot, query, {answer + 2, wire::kMaxMessageSize}, origin, summary, &transfer_);
        pool_.counters_.record(zones::Transport::tcp, summary);
        if (answer_length > 0) {
            answer[0] = static_cast<uint8_t>(answer_length >> 8);
            answer[1] = static_cast<uint8_t>(answer_length);
            output_end += 2 + answer_length;
        }
        consumed += 2 + length;
        if (transfer_) break;  // the rest of the stream first, then the queries behind it
    }
    const size_t rest = input_length - consumed;
    // A frame that has begun must arrive whole within tcp_query_timeout, however its octets
    // trickle in (RFC 7766 §6.2.3 lets a server close slow clients; the idle timeout alone
    // restarts on every octet). Its clock starts at the read that brought its first octet;
    // frames waiting for output room, or behind a transfer, wait on us, not on the client.
    if (rest == 0 || is_output_full || transfer_) {
        is_frame_started_ = false;
    } else if (consumed > 0 || !is_frame_started_) {
        is_frame_started_ = true;
        has_new_frame_ = true;
        frame_started_ms_ = uv_now(pool_.loop_);
    }
    if (!keep_unconsumed_input(input + consumed, rest)) return false;
    if (transfer_ && !is_output_held) {
        // The stream's messages outlive this batch: move its answers to a borrowed buffer.
        if (!(output_ = pool_.take_buffer(TcpConnectionPool::BufferUse::output))) {
            close();
            return false;
        }
        std::memcpy(output_.get(), output, output_end);
        output_sent_ = 0;
        is_output_held = true;
    }
    if (is_output_held) {
        output_end_ = output_end;
        if (transfer_) write_stream_messages();
        start_write();
        return false;  // on_written resumes
    }
    if (!write_from_scratch(output_end)) return false;
    return is_output_full && output_ == nullptr;
}

bool TcpConnection::keep_unconsumed_input(const uint8_t* rest, size_t length) {
    // At most one partial frame (or frames waiting for output room) moves, once per read;
    // `rest` may lie in held_ or input_ themselves, hence memmove.
    if (length <= kHeldInline) {
        std::memmove(held_, rest, length);
        held_length_ = length;
        input_length_ = 0;  // a borrowed buffer goes back in return_idle_buffers
        return true;
    }
    held_length_ = 0;
    if (input_) {
        std::memmove(input_.get(), rest, length);
        input_length_ = length;
        return true;
    }
    // A large partial frame (or frames waiting for output room) outlives the scratch: borrow.
    if (!(input_ = pool_.take_buffer(TcpConnectionPool::BufferUse::input))) {
        close();
        return false;
    }
    std::memcpy(input_.get(), rest, length);
    input_length_ = length;
    return true;
}

bool TcpConnection::write_from_scratch(size_t length) {
    if (length == 0) return true;
    uint8_t* const scratch = pool_.scratch_output_.get();
    // Nothing is queued before these answers, so they may go straight to the socket; what
    // the socket does not take now is copied to a borrowed buffer and written in order.
    const uv_buf_t buf =
        uv_buf_init(reinterpret_cast<char*>(scratch), static_cast<unsigned>(length));
    const int written = uv_try_write(reinterpret_cast<uv_stream_t*>(&stream_), &buf, 1);
    if (written < 0 && written != UV_EAGAIN) {
        close();
        return false;
    }
    const size_t taken = written > 0 ? static_cast<size_t>(written) : 0;
    if (taken == length) return true;
    if (!(output_ = pool_.take_buffer(TcpConnectionPool::BufferUse::output))) {
        close();
        return false;
    }
    std::memcpy(output_.get(), scratch + taken, length - taken);
    output_sent_ = 0;
    output_end_ = length - taken;
    start_write();
    return !is_closing_;
}

bool TcpConnection::write_stream_messages() {
    while (transfer_) {
        if (kOutputCapacity - output_end_ < kMaxFrame) return false;
        uint8_t* frame = output_.get() + output_end_;
        const size_t length = transfer_->next({frame + 2, wire::kMaxMessageSize});
        if (length == 0) {
            transfer_.reset();  // done: the zone version it held goes with it
            break;
        }
        frame[0] = static_cast<uint8_t>(length >> 8);
        frame[1] = static_cast<uint8_t>(length);
        output_end_ += 2 + length;
    }
    return true;
}

void TcpConnection::return_idle_buffers() {
    if (is_closing_) return;  // close() and on_closed hand everything back
    if (input_ && input_length_ == 0) pool_.give_back_buffer(std::move(input_));
    if (output_ && !transfer_ && is_flushed() && output_end_ == 0)
        pool_.give_back_buffer(std::move(output_));
}

void TcpConnection::hand_off_notify(std::span<const uint8_t> message) {
    QueuedMessage* handed = pool_.notify_->claim();
    if (!handed) return;  // the queue is full: no answer, and the primary retries
    if (handed->set_message(message)) {
        handed->client = client_;
        handed->client_length = sizeof client_;
        handed->reply_queue = pool_.notify_replies_;
        handed->connection = this;
        handed->generation = generation_;
        ++pending_replies_;
    }
    pool_.notify_->commit(handed);
}

void TcpConnection::send_reply(std::span<const uint8_t> reply) {
    if (pending_replies_ > 0) --pending_replies_;
    if (is_closing_) return;
    if (!reply.empty() && 2 + reply.size() <= kMaxFrame) {
        if (output_) {
            // Behind the answers still queued, when there is room; otherwise the primary
            // gets no answer and retries, as when the hand-off queue is full.
            if (kOutputCapacity - output_end_ >= 2 + reply.size()) {
                uint8_t* out = output_.get() + output_end_;
                out[0] = static_cast<uint8_t>(reply.size() >> 8);
                out[1] = static_cast<uint8_t>(reply.size());
                std::memcpy(out + 2, reply.data(), reply.size());
                output_end_ += 2 + reply.size();
                start_write();
            }
        } else {
            // Nothing is queued: the reply goes out like a batch of answers, from scratch.
            uint8_t* out = pool_.scratch_output_.get();
            out[0] = static_cast<uint8_t>(reply.size() >> 8);
            out[1] = static_cast<uint8_t>(reply.size());
            std::memcpy(out + 2, reply.data(), reply.size());
            if (!write_from_scratch(2 + reply.size())) return;
        }
    }
    answer_complete_queries();  // goes on with queries held, closes a finished client
}

void TcpConnection::start_write() {
    if (is_writing_ || is_closing_ || output_sent_ == output_end_) return;
    const uv_buf_t buf = uv_buf_init(reinterpret_cast<char*>(output_.get() + output_sent_),
                                     static_cast<unsigned>(output_end_ - output_sent_));
    if (uv_write(&write_request_, reinterpret_cast<uv_stream_t*>(&stream_), &buf, 1, on_written) !=
        0) {
        close();
        return;
    }
    output_sent_ = output_end_;
    is_writing_ = true;
}

void TcpConnection::on_written(uv_write_t* request, int status) {
    auto* connection = static_cast<TcpConnection*>(request->data);
    connection->is_writing_ = false;
    if (connection->is_closing_) return;
    if (status < 0) {
        connection->close();
        return;
    }
    // The client reads: that is activity, and it keeps a slow but live reader connected.
    connection->note_activity();
    if (connection->output_sent_ == connection->output_end_)
        connection->output_sent_ = connection->output_end_ = 0;
    connection->answer_complete_queries();
}

void TcpConnection::update_reading() {
    const bool wants_to_read = !is_closing_ && !has_client_finished_ && !transfer_ &&
                               kOutputCapacity - output_end_ >= kMaxFrame;
    auto* stream = reinterpret_cast<uv_stream_t*>(&stream_);
    if (wants_to_read && !is_reading_) {
        if (uv_read_start(stream, on_alloc, on_read) != 0) {
            close();
            return;
        }
        is_reading_ = true;
        // The frame's clock stood still while we did not read (our backpressure, not the
        // client's slowness): it starts again now.
        if (is_frame_started_) frame_started_ms_ = uv_now(pool_.loop_);
    } else if (!wants_to_read && is_reading_) {
        // Backpressure: a client that sends queries but does not read its answers stops
        // being read, and the idle timer closes it if it never catches up.
        uv_read_stop(stream);
        is_reading_ = false;
    }
}

void TcpConnection::note_activity() {
    // RFC 7766 §6.2.3: the idle timeout restarts on every sign of life from the client.
    last_activity_ms_ = uv_now(pool_.loop_);
}

bool TcpConnection::is_idle() const {
    return held_length_ == 0 && input_length_ == 0 && !transfer_ && is_flushed() &&
           output_end_ == 0 && pending_replies_ == 0;
}

void TcpConnection::settle() {
    if (is_closing_) return;
    pool_.place(this, is_idle(), has_new_frame_);
    has_new_frame_ = false;
    schedule_deadline();
}

void TcpConnection::schedule_deadline() {
    const TcpLimits& limits = pool_.limits_;
    uint64_t deadline = last_activity_ms_ + limits.idle_timeout_ms;
    if (is_frame_deadline_running())
        deadline = std::min(deadline, frame_started_ms_ + limits.query_timeout_ms);
    const uint64_t now = uv_now(pool_.loop_);
    uv_timer_start(&deadline_timer_, on_deadline, deadline > now ? deadline - now : 0, 0);
}

void TcpConnection::on_deadline(uv_timer_t* timer) {
    auto* connection = static_cast<TcpConnection*>(timer->data);
    TcpConnectionPool& pool = connection->pool_;
    if (connection->is_frame_deadline_running() &&
        uv_now(pool.loop_) >= connection->frame_started_ms_ + pool.limits_.query_timeout_ms)
        pool.counters_.tcp_query_timeouts.add();
    connection->close();
}

TcpConnectionPool::TcpConnectionPool(uv_loop_t* loop, SnapshotSlot::Reader snapshots,
                                     const TcpLimits& limits, WorkerCounters& counters)
    : loop_(loop),
      snapshots_(snapshots),
      limits_(limits),
      counters_(counters),
      // Room for every connection to be a distinct client, and one being admitted.
      clients_(limits.max_connections_per_client > 0 ? size_t{limits.max_connections} + 1 : 0),
      buffers_(TcpConnection::kBufferSize, kMaxSpareBuffers,
               std::clamp<size_t>(limits.max_connections / 4, kMinLentBuffers, kMaxLentBuffers)),
      scratch_input_(new uint8_t[TcpConnection::kMaxFrame]),
      scratch_output_(new uint8_t[TcpConnection::kOutputCapacity]) {
    free_.reserve(kMaxPooled);  // release() must not allocate
}

TcpConnectionPool::~TcpConnectionPool() {
    // The worker runs its loop until every handle has closed before destroying the pool.
    assert(live_ == nullptr);
}

void TcpConnectionPool::accept(uv_stream_t* server) {
    TcpConnection* connection;
    if (!free_.empty()) {
        connection = free_.back().release();
        free_.pop_back();
    } else {
        connection = new TcpConnection(*this);
    }
    connection->previous_ = nullptr;
    connection->next_ = live_;
    if (live_) live_->previous_ = connection;
    live_ = connection;
    ++live_count_;
    counters_.tcp_accepted.add();
    counters_.tcp_open.set(live_count_);
    if (!connection->accept(server)) return;
    if (limits_.max_connections_per_client > 0) {
        // A client without an address we can read is counted as one client, the zero key.
        if (connection->client_address_)
            connection->client_key_ = TcpClientCounts::key_of(*connection->client_address_);
        if (!clients_.add(connection->client_key_, limits_.max_connections_per_client)) {
            counters_.tcp_client_refused.add();
            connection->close();
            return;
        }
        connection->is_client_counted_ = true;
    }
    if (active_count_ >= limits_.max_connections) {
        TcpConnection* victim = eviction_victim();
        if (!victim) {
            counters_.tcp_refused.add();
            connection->close();
            return;
        }
        counters_.tcp_evicted.add();
        victim->close();
    }
    connection->is_active_ = true;
    ++active_count_;
    connection->start();
}

TcpConnection* TcpConnectionPool::eviction_victim() const {
    TcpConnection* idle = idle_.head;
    if (idle && uv_now(loop_) - idle->last_activity_ms_ >= kIdleGraceMs) return idle;
    return busy_.head ? busy_.head : idle;
}

void TcpConnectionPool::forget(TcpConnection* connection) {
    unqueue(connection);
    if (connection->is_active_) {
        connection->is_active_ = false;
        --active_count_;
    }
    if (connection->is_client_counted_) {
        connection->is_client_counted_ = false;
        clients_.remove(connection->client_key_);
    }
}

void TcpConnectionPool::place(TcpConnection* connection, bool is_idle, bool has_new_frame) {
    TcpConnectionQueue& queue = is_idle ? idle_ : busy_;
    // Idle ones line up by when they last showed life; busy ones by when their current frame
    // began (or they became busy), not by their last octet, which a slow client controls.
    if (!is_idle && connection->queue_ == &queue && !has_new_frame) return;
    unqueue(connection);
    connection->queue_ = &queue;
    connection->queue_previous_ = queue.tail;
    connection->queue_next_ = nullptr;
    if (queue.tail)
        queue.tail->queue_next_ = connection;
    else
        queue.head = connection;
    queue.tail = connection;
}

void TcpConnectionPool::unqueue(TcpConnection* connection) {
    TcpConnectionQueue* queue = connection->queue_;
    if (!queue) return;
    if (connection->queue_previous_)
        connection->queue_previous_->queue_next_ = connection->queue_next_;
    else
        queue->head = connection->queue_next_;
    if (connection->queue_next_)
        connection->queue_next_->queue_previous_ = connection->queue_previous_;
    else
        queue->tail = connection->queue_previous_;
    connection->queue_ = nullptr;
    connection->queue_previous_ = connection->queue_next_ = nullptr;
}

void TcpConnectionPool::release(TcpConnection* connection) {
    if (connection->previous_)
        connection->previous_->next_ = connection->next_;
    else
        live_ = connection->next_;
    if (connection->next_) connection->next_->previous_ = connection->previous_;
    --live_count_;
    counters_.tcp_open.set(live_count_);
    give_back_buffer(std::move(connection->input_));
    give_back_buffer(std::move(connection->output_));
    if (free_.size() < kMaxPooled)
        free_.emplace_back(connection);
    else
        delete connection;
}

TcpBufferPool::Buffer TcpConnectionPool::take_buffer(BufferUse use) {
    // Slow senders of large frames cannot take the buffers answers need to be written.
    const size_t keep_back = use == BufferUse::input ? buffers_.max_lent() / 4 : 0;
    TcpBufferPool::Buffer buffer = buffers_.take(keep_back);
    if (!buffer) counters_.tcp_buffer_shortages.add();
    publish_buffer_counts();
    return buffer;
}

void TcpConnectionPool::give_back_buffer(TcpBufferPool::Buffer buffer) {
    if (!buffer) return;
    buffers_.give_back(std::move(buffer));
    publish_buffer_counts();
}

void TcpConnectionPool::publish_buffer_counts() {
    counters_.tcp_buffers_in_use.set(buffers_.in_use());
    counters_.tcp_buffer_allocations.set(buffers_.allocations());
}

void TcpConnectionPool::deliver(const QueuedMessage& reply) {
    // The connection may have closed, and its memory serve another client, since it asked.
    for (TcpConnection* connection = live_; connection != nullptr; connection = connection->next_)
        if (connection == reply.connection && connection->generation_ == reply.generation) {
            connection->send_reply({reply.message, reply.length});
            return;
        }
}

void TcpConnectionPool::close_all() {
    for (TcpConnection* connection = live_; connection != nullptr; connection = connection->next_)
        connection->close();
}

}  // namespace meridian::server
