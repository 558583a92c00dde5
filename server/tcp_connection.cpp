// DNS over TCP per RFC 7766 on one client connection: frames in, answers out, never
// blocking the worker whatever the client does.
#include "server/tcp_connection.hpp"

#include <cassert>
#include <cstring>

#include "server/system/socket_address.hpp"
#include "wire/constants.hpp"

namespace meridian::server {

TcpConnection::TcpConnection(TcpConnectionPool& pool) : pool_(pool) {}

void TcpConnection::reset_state() {
    client_ = {};
    client_address_.reset();
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
}

void TcpConnection::accept(uv_stream_t* server) {
    reset_state();
    // With AF_UNSPEC neither init creates a socket, so neither can fail.
    uv_tcp_init(pool_.loop_, &stream_);
    uv_timer_init(pool_.loop_, &idle_timer_);
    stream_.data = this;
    idle_timer_.data = this;
    write_request_.data = this;
    open_handles_ = 2;
    if (uv_accept(server, reinterpret_cast<uv_stream_t*>(&stream_)) != 0) {
        close();
        return;
    }
    int length = sizeof client_;
    uv_tcp_getpeername(&stream_, reinterpret_cast<sockaddr*>(&client_), &length);
    client_address_ = from_socket_address(reinterpret_cast<const sockaddr*>(&client_));
    // Pipelined answers are small separate writes; Nagle would hold each one back until the
    // previous is acknowledged (RFC 7766 §6.2.1.1 wants them sent as soon as ready).
    uv_tcp_nodelay(&stream_, 1);
    restart_idle_timer();
    update_reading();
}

void TcpConnection::close() {
    if (is_closing_) return;
    is_closing_ = true;
    transfer_.reset();
    // libuv reads nothing more once the stream is closing, so the input buffer can go back
    // at once; the output buffer waits for on_closed, after any write in flight is cancelled.
    pool_.give_back_buffer(std::move(input_));
    input_length_ = 0;
    // Closing the stream cancels a write in flight (on_written sees UV_ECANCELED before
    // on_closed), so the buffers stay valid until libuv is done with them.
    uv_close(reinterpret_cast<uv_handle_t*>(&stream_), on_closed);
    uv_close(reinterpret_cast<uv_handle_t*>(&idle_timer_), on_closed);
}

void TcpConnection::on_closed(uv_handle_t* handle) {
    auto* connection = static_cast<TcpConnection*>(handle->data);
    if (--connection->open_handles_ == 0) connection->pool_.release(connection);
}

void TcpConnection::on_alloc(uv_handle_t* handle, size_t, uv_buf_t* buf) {
    auto* connection = static_cast<TcpConnection*>(handle->data);
    TcpConnectionPool& pool = connection->pool_;
    if (!connection->input_) {
        // Nothing held: read into the worker's scratch buffer. on_read consumes it before the
        // loop reads any other connection, and keeps only what is left of a partial frame.
        buf->base = reinterpret_cast<char*>(pool.scratch_input_.get());
        buf->len = kMaxFrame;
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
        if (connection->input_)
            connection->input_length_ += static_cast<size_t>(nread);
        else
            connection->scratch_length_ = static_cast<size_t>(nread);
        connection->restart_idle_timer();
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
}

bool TcpConnection::answer_batch() {
    if (is_closing_) return false;
    // A transfer in progress goes first: its messages are written as the client reads them,
    // and the queries pipelined behind it wait their turn.
    if (transfer_) {
        if (!output_ && !(output_ = pool_.take_buffer())) {
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
    // Queries are in the held buffer, or, fresh from on_read, in the worker's scratch.
    const bool is_input_held = input_ != nullptr;
    const uint8_t* const input = is_input_held ? input_.get() : pool_.scratch_input_.get();
    const size_t input_length = is_input_held ? input_length_ : scratch_length_;
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
    if (!keep_unconsumed_input(input + consumed, input_length - consumed)) return false;
    if (transfer_ && !is_output_held) {
        // The stream's messages outlive this batch: move its answers to a borrowed buffer.
        if (!(output_ = pool_.take_buffer())) {
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
    if (input_) {
        // At most one partial frame (or frames waiting for output room) moves, once per read.
        std::memmove(input_.get(), rest, length);
        input_length_ = length;
        return true;
    }
    if (length == 0) return true;
    // A partial frame (or frames waiting for output room) outlives the scratch: borrow.
    if (!(input_ = pool_.take_buffer())) {
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
    if (!(output_ = pool_.take_buffer())) {
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
    connection->restart_idle_timer();
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
    } else if (!wants_to_read && is_reading_) {
        // Backpressure: a client that sends queries but does not read its answers stops
        // being read, and the idle timer closes it if it never catches up.
        uv_read_stop(stream);
        is_reading_ = false;
    }
}

void TcpConnection::restart_idle_timer() {
    // RFC 7766 §6.2.3: the idle timeout restarts on every sign of life from the client.
    uv_timer_start(&idle_timer_, on_idle, pool_.idle_timeout_ms_, 0);
}

void TcpConnection::on_idle(uv_timer_t* timer) {
    static_cast<TcpConnection*>(timer->data)->close();
}

TcpConnectionPool::TcpConnectionPool(uv_loop_t* loop, SnapshotSlot::Reader snapshots,
                                     unsigned idle_timeout_ms, unsigned max_connections,
                                     WorkerCounters& counters)
    : loop_(loop),
      snapshots_(snapshots),
      idle_timeout_ms_(idle_timeout_ms),
      max_connections_(max_connections),
      counters_(counters),
      buffers_(TcpConnection::kBufferSize, kMaxSpareBuffers),
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
    connection->accept(server);
    if (live_count_ > max_connections_) {
        counters_.tcp_refused.add();
        connection->close();
    }
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

TcpBufferPool::Buffer TcpConnectionPool::take_buffer() {
    TcpBufferPool::Buffer buffer = buffers_.take();
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
