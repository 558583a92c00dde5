// The one place that holds the Snapshot every worker reads: built before the workers start,
// read without locks, and (in the reload work to come) replaced by one atomic store.
#pragma once

#include <atomic>
#include <memory>

#include "zones/snapshot.hpp"

namespace meridian::server {

class SnapshotSlot {
  public:
    explicit SnapshotSlot(std::unique_ptr<const zones::Snapshot> snapshot)
        : owned_(std::move(snapshot)), current_(owned_.get()) {}
    SnapshotSlot(const SnapshotSlot&) = delete;
    SnapshotSlot& operator=(const SnapshotSlot&) = delete;

    // Workers load this once per wakeup (a UDP batch, a TCP read) and use it for the whole
    // batch. Acquire pairs with the release store a reload will make.
    const zones::Snapshot& current() const { return *current_.load(std::memory_order_acquire); }

    // Reload will add `publish()` here; it must keep a replaced snapshot alive until every
    // worker has passed a quiescent point (e.g. one loop iteration), not free it at once.

  private:
    std::unique_ptr<const zones::Snapshot> owned_;
    std::atomic<const zones::Snapshot*> current_;
};

}  // namespace meridian::server
