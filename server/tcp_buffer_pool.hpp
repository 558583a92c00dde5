// A worker's spare DNS-over-TCP buffers: a connection holds one only while it has a partial
// query or unsent answers, so an idle connection costs its socket and a small object.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

namespace meridian::server {

// Single-threaded: one per worker, used only on that worker's loop. Every buffer has the same
// size, so a connection's input and output buffers come from the same spares.
class TcpBufferPool {
  public:
    using Buffer = std::unique_ptr<uint8_t[]>;

    TcpBufferPool(size_t buffer_size, size_t max_spare);
    TcpBufferPool(const TcpBufferPool&) = delete;
    TcpBufferPool& operator=(const TcpBufferPool&) = delete;

    // A buffer of buffer_size() octets: a spare when there is one, else a new one; empty only
    // when memory is exhausted (the caller drops that connection, not the worker).
    Buffer take();
    // Keeps `buffer` as a spare, or frees it when max_spare are already kept: a burst of busy
    // connections does not pin its memory for ever.
    void give_back(Buffer buffer);

    size_t buffer_size() const { return buffer_size_; }
    size_t spare_count() const { return spare_.size(); }
    size_t in_use() const { return in_use_; }
    // Buffers that had to be allocated (not taken from the spares): after warm-up this stops
    // growing as long as no more than max_spare connections of a worker are busy at once.
    uint64_t allocations() const { return allocations_; }

  private:
    size_t buffer_size_;
    size_t max_spare_;
    std::vector<Buffer> spare_;
    size_t in_use_ = 0;
    uint64_t allocations_ = 0;
};

}  // namespace meridian::server
