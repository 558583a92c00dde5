// Spare TCP buffers of one worker: a free list, bounded, that never allocates to give back,
// and a bound on what is lent.
#include "server/tcp_buffer_pool.hpp"

#include <sys/mman.h>

namespace meridian::server {

void TcpBufferPool::Unmap::operator()(uint8_t* buffer) const {
    if (buffer) munmap(buffer, size);
}

TcpBufferPool::TcpBufferPool(size_t buffer_size, size_t max_spare, size_t max_lent)
    : buffer_size_(buffer_size), max_spare_(max_spare), max_lent_(max_lent) {
    spare_.reserve(max_spare_);  // give_back must not allocate
}

TcpBufferPool::Buffer TcpBufferPool::take(size_t keep_back) {
    if (in_use_ >= max_lent_ || max_lent_ - in_use_ <= keep_back) {
        ++shortages_;
        return {};
    }
    Buffer buffer;
    if (!spare_.empty()) {
        buffer = std::move(spare_.back());
        spare_.pop_back();
    } else {
        // Zero-filled on demand: only the pages a connection writes become resident.
        void* mapped =
            mmap(nullptr, buffer_size_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (mapped == MAP_FAILED) {
            ++shortages_;
            return {};
        }
        buffer = Buffer(static_cast<uint8_t*>(mapped), Unmap{buffer_size_});
        ++allocations_;
    }
    ++in_use_;
    return buffer;
}

void TcpBufferPool::give_back(Buffer buffer) {
    if (!buffer) return;
    --in_use_;
    if (spare_.size() < max_spare_) {
        spare_.push_back(std::move(buffer));
    } else {
        ++freed_;  // unmapped as `buffer` goes out of scope
    }
}

}  // namespace meridian::server
