// The switch, the count and the fault injection of tests/support/counting_allocator.hpp, for test
// files other than the one that includes the allocator itself (the binary may define operator new
// only once).
#pragma once

#include <atomic>
#include <cstddef>

namespace meridian::testing {
inline std::atomic<bool> counting{false};
inline std::atomic<size_t> allocations{0};
// Fault injection: when set to N >= 0, the (N+1)th throwing allocation made by this thread
// from then on throws std::bad_alloc, once; -1 (the default) never throws.
inline thread_local long failing_after = -1;
}  // namespace meridian::testing
