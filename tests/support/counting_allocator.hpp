// A counting global allocator for tests that show a path allocates nothing: set `counting`,
// run the path, read `allocations`. It replaces every form of operator new and delete, so
// it must be included by exactly one source file of a test binary.
#pragma once

#include <cstddef>
#include <cstdlib>
#include <new>

#include "support/allocation_count.hpp"

// Our operator new is malloc, so free in operator delete matches; GCC sees only the
// new/free pair once both are inlined here and warns falsely.
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"

// Replacing the global allocation functions observes every heap allocation in the binary;
// they count only while a test arms them, and fail only where a test asks them to.
void* operator new(size_t size) {
    if (meridian::testing::counting.load(std::memory_order_relaxed))
        meridian::testing::allocations.fetch_add(1);
    if (meridian::testing::failing_after >= 0 && meridian::testing::failing_after-- == 0)
        throw std::bad_alloc();
    if (void* p = std::malloc(size ? size : 1)) return p;
    throw std::bad_alloc();
}
void* operator new[](size_t size) {
    return operator new(size);
}
void* operator new(size_t size, std::align_val_t alignment) {
    if (meridian::testing::counting.load(std::memory_order_relaxed))
        meridian::testing::allocations.fetch_add(1);
    if (meridian::testing::failing_after >= 0 && meridian::testing::failing_after-- == 0)
        throw std::bad_alloc();
    const size_t align = static_cast<size_t>(alignment);
    if (void* p = std::aligned_alloc(align, (size + align - 1) / align * align)) return p;
    throw std::bad_alloc();
}
void* operator new[](size_t size, std::align_val_t alignment) {
    return operator new(size, alignment);
}
// The nothrow forms too (std::stable_sort's buffer uses one): every allocation in this binary
// must come from malloc, since every deallocation here goes to free.
void* operator new(size_t size, const std::nothrow_t&) noexcept {
    if (meridian::testing::counting.load(std::memory_order_relaxed))
        meridian::testing::allocations.fetch_add(1);
    return std::malloc(size ? size : 1);
}
void* operator new[](size_t size, const std::nothrow_t& tag) noexcept {
    return operator new(size, tag);
}
void* operator new(size_t size, std::align_val_t alignment, const std::nothrow_t&) noexcept {
    if (meridian::testing::counting.load(std::memory_order_relaxed))
        meridian::testing::allocations.fetch_add(1);
    const size_t align = static_cast<size_t>(alignment);
    return std::aligned_alloc(align, (size + align - 1) / align * align);
}
void* operator new[](size_t size, std::align_val_t alignment, const std::nothrow_t& tag) noexcept {
    return operator new(size, alignment, tag);
}
void operator delete(void* p) noexcept {
    std::free(p);
}
void operator delete[](void* p) noexcept {
    std::free(p);
}
void operator delete(void* p, size_t) noexcept {
    std::free(p);
}
void operator delete[](void* p, size_t) noexcept {
    std::free(p);
}
void operator delete(void* p, std::align_val_t) noexcept {
    std::free(p);
}
void operator delete[](void* p, std::align_val_t) noexcept {
    std::free(p);
}
void operator delete(void* p, size_t, std::align_val_t) noexcept {
    std::free(p);
}
void operator delete[](void* p, size_t, std::align_val_t) noexcept {
    std::free(p);
}
void operator delete(void* p, const std::nothrow_t&) noexcept {
    std::free(p);
}
void operator delete[](void* p, const std::nothrow_t&) noexcept {
    std::free(p);
}
void operator delete(void* p, std::align_val_t, const std::nothrow_t&) noexcept {
    std::free(p);
}
void operator delete[](void* p, std::align_val_t, const std::nothrow_t&) noexcept {
    std::free(p);
}
