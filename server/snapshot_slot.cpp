// Publishing snapshots with hazard pointers: see snapshot_slot.hpp.
#include "server/snapshot_slot.hpp"

#include <thread>

namespace meridian::server {

SnapshotSlot::SnapshotSlot(std::unique_ptr<const zones::Snapshot> snapshot, unsigned readers)
    : owned_(std::move(snapshot)),
      current_(owned_.get()),
      hazards_(new Hazard[readers > 0 ? readers : 1]),
      readers_(readers) {}

const zones::Snapshot& SnapshotSlot::Reader::hold() const {
    // Announce, then check the announcement still names the current snapshot: if publish()
    // swapped in between, it may already have looked at our slot and missed us, so retry
    // with the new one. All sequentially consistent, so publish() either sees our
    // announcement or we see its swap.
    const zones::Snapshot* snapshot = slot_->current_.load();
    while (true) {
        slot_->hazards_[index_].held.store(snapshot);
        const zones::Snapshot* again = slot_->current_.load();
        if (again == snapshot) return *snapshot;
        snapshot = again;
    }
}

void SnapshotSlot::Reader::release() const {
    slot_->hazards_[index_].held.store(nullptr, std::memory_order_release);
}

void SnapshotSlot::publish(std::unique_ptr<const zones::Snapshot> next) {
    const zones::Snapshot* previous = owned_.get();
    current_.store(next.get());
    for (unsigned i = 0; i < readers_; ++i) {
        // A worker holds a snapshot for one batch; yield, then sleep, until it lets go.
        for (unsigned spins = 0; hazards_[i].held.load() == previous; ++spins) {
            if (spins < 64)
                std::this_thread::yield();
            else
                std::this_thread::sleep_for(std::chrono::microseconds(100));
        }
    }
    owned_ = std::move(next);  // frees the previous snapshot
}

}  // namespace meridian::server
