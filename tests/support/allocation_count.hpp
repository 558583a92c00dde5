// The switch and the count of tests/support/counting_allocator.hpp, for test files other than
// the one that includes the allocator itself (the binary may define operator new only once).
#pragma once

#include <atomic>
#include <cstddef>

namespace meridian::testing {
inline std::atomic<bool> counting{false};
inline std::atomic<size_t> allocations{0};
}  // namespace meridian::testing
