// Spare TCP buffers of one worker: a free list, bounded, that never allocates to give back.
#include "server/tcp_buffer_pool.hpp"

#include <new>

namespace meridian::server {

TcpBufferPool::TcpBufferPool(size_t buffer_size, size_t max_spare)
    : buffer_size_(buffer_size), max_spare_(max_spare) {
    spare_.reserve(max_spare_);  // give_back must not allocate
}

TcpBufferPool::Buffer TcpBufferPool::take() {
    Buffer buffer;
    if (!spare_.empty()) {
        buffer = std::move(spare_.back());
        spare_.pop_back();
    } else {
        // Not zeroed: only the pages a connection writes become resident.
        buffer.reset(new (std::nothrow) uint8_t[buffer_size_]);
        if (!buffer) return buffer;
        ++allocations_;
    }
    ++in_use_;
    return buffer;
}

void TcpBufferPool::give_back(Buffer buffer) {
    if (!buffer) return;
    --in_use_;
    if (spare_.size() < max_spare_) spare_.push_back(std::move(buffer));
}

}  // namespace meridian::server
