// The one place that holds the Snapshot every worker reads: read without locks, replaced by
// one atomic store on reload, and freed only once no worker still reads it.
//
// Each worker announces the snapshot it is using in its own cache line (a hazard pointer:
// one store by its owner, never written by anyone else), and clears it when its batch is
// done. publish() swaps the pointer, then waits until no worker announces the old one
// before freeing it. Workers hold a snapshot for one batch (microseconds), so the wait is
// short; it happens on the reloading thread, never on the query path.
#pragma once

#include <atomic>
#include <cstddef>
#include <memory>

#include "zones/snapshot.hpp"

namespace meridian::server {

class SnapshotSlot {
  public:
    // `readers`: how many workers will read (each gets its own Reader).
    SnapshotSlot(std::unique_ptr<const zones::Snapshot> snapshot, unsigned readers);
    SnapshotSlot(const SnapshotSlot&) = delete;
    SnapshotSlot& operator=(const SnapshotSlot&) = delete;

    // The snapshot being served, for the thread that publishes (reload, status).
    const zones::Snapshot& current() const { return *current_.load(std::memory_order_acquire); }

    // Makes `next` the snapshot every new batch reads; returns once the previous one is no
    // longer read by any worker, and frees it. Call from one thread at a time.
    void publish(std::unique_ptr<const zones::Snapshot> next);

    // One worker's handle. hold() at the start of a batch, release() at its end.
    class Reader {
      public:
        Reader(SnapshotSlot& slot, unsigned index) : slot_(&slot), index_(index) {}
        const zones::Snapshot& hold() const;
        void release() const;

      private:
        SnapshotSlot* slot_;
        unsigned index_;
    };
    Reader reader(unsigned index) { return Reader(*this, index); }

  private:
    struct alignas(64) Hazard {
        std::atomic<const zones::Snapshot*> held{nullptr};
    };

    std::unique_ptr<const zones::Snapshot> owned_;
    std::atomic<const zones::Snapshot*> current_;
    std::unique_ptr<Hazard[]> hazards_;
    unsigned readers_;
};

// Holds the current snapshot for one scope (a UDP batch, one TCP read's queries).
class HeldSnapshot {
  public:
    explicit HeldSnapshot(const SnapshotSlot::Reader& reader)
        : reader_(reader), snapshot_(reader.hold()) {}
    ~HeldSnapshot() { reader_.release(); }
    HeldSnapshot(const HeldSnapshot&) = delete;
    HeldSnapshot& operator=(const HeldSnapshot&) = delete;
    const zones::Snapshot& get() const { return snapshot_; }

  private:
    const SnapshotSlot::Reader& reader_;
    const zones::Snapshot& snapshot_;
};

}  // namespace meridian::server
