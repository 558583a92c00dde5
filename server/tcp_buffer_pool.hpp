// A worker's spare DNS-over-TCP buffers: a connection holds one only while it has a large
// partial query or unsent answers, so an idle connection costs its socket and a small object.
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <memory>
#include <vector>

namespace meridian::server {

// Single-threaded: one per worker, used only on that worker's loop. Every buffer has the same
// size, so a connection's input and output buffers come from the same spares.
//
// Each buffer is its own anonymous mapping rather than a malloc chunk: a buffer freed above the
// high-water mark goes back to the system at once. From malloc, a burst of 2,000 connections
// with large frames left 149 MB resident after they closed, pinned beneath the spares kept.
class TcpBufferPool {
  public:
    // Unmaps a buffer; the size travels with it, as munmap needs it.
    struct Unmap {
        size_t size = 0;
        void operator()(uint8_t* buffer) const;
    };
    using Buffer = std::unique_ptr<uint8_t[], Unmap>;

    // At most `max_spare` free buffers are kept for reuse (the high-water mark; the rest are
    // unmapped when given back), and at most `max_lent` are lent at once.
    TcpBufferPool(size_t buffer_size, size_t max_spare,
                  size_t max_lent = std::numeric_limits<size_t>::max());
    TcpBufferPool(const TcpBufferPool&) = delete;
    TcpBufferPool& operator=(const TcpBufferPool&) = delete;

    // A buffer of buffer_size() octets: a spare when there is one, else a new one. Empty when
    // lending it would leave fewer than `keep_back` for others under max_lent, or when memory
    // is exhausted: the caller drops that connection, not the worker, and nothing grows
    // without bound.
    Buffer take(size_t keep_back = 0);
    // Keeps `buffer` as a spare, or unmaps it when max_spare are already kept: a burst of busy
    // connections does not pin its memory for ever.
    void give_back(Buffer buffer);

    size_t buffer_size() const { return buffer_size_; }
    size_t spare_count() const { return spare_.size(); }
    size_t in_use() const { return in_use_; }
    size_t max_lent() const { return max_lent_; }
    // Octets mapped now: lent buffers and spares.
    size_t held_bytes() const { return (in_use_ + spare_.size()) * buffer_size_; }
    // Buffers that had to be mapped (not taken from the spares): after warm-up this stops
    // growing as long as no more than max_spare connections of a worker are busy at once.
    uint64_t allocations() const { return allocations_; }
    // Buffers unmapped when given back above the high-water mark.
    uint64_t freed() const { return freed_; }
    // Takes refused: the limit reached, or no memory.
    uint64_t shortages() const { return shortages_; }

  private:
    size_t buffer_size_;
    size_t max_spare_;
    size_t max_lent_;
    std::vector<Buffer> spare_;
    size_t in_use_ = 0;
    uint64_t allocations_ = 0;
    uint64_t freed_ = 0;
    uint64_t shortages_ = 0;
};

}  // namespace meridian::server
