// The traffic counters each worker keeps on its query path, and their sum for a scrape.
//
// Every counter has exactly one writer, its worker's thread, which adds with a relaxed load
// and a relaxed store: the same instructions as incrementing a plain integer (no lock prefix,
// no read-modify-write), so the query path pays nothing for them. They are std::atomic only
// because the scrape, on the main thread, reads them while the worker writes; a plain
// integer would be a data race. A sum may be a few queries behind, never torn. Each worker's
// block starts on its own cache line, so workers never write the same line.
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string_view>

#include "zones/responder.hpp"

namespace meridian::server {

class Counter {
  public:
    // Only the owning worker's thread calls these.
    void add(uint64_t amount = 1) {
        value_.store(value_.load(std::memory_order_relaxed) + amount, std::memory_order_relaxed);
    }
    void set(uint64_t value) { value_.store(value, std::memory_order_relaxed); }
    // Any thread.
    uint64_t get() const { return value_.load(std::memory_order_relaxed); }

  private:
    std::atomic<uint64_t> value_{0};
};

inline constexpr size_t kTransports = 2;  // zones::Transport::udp, tcp
std::string_view transport_label(size_t transport);

// Query types counted by name; every other type counts as "OTHER".
inline constexpr size_t kQtypeBuckets = 19;
size_t qtype_bucket(uint16_t qtype);
std::string_view qtype_label(size_t bucket);

// Rcodes 0..15 and BADVERS (16), the only extended rcode Meridian sends.
inline constexpr size_t kRcodeBuckets = 17;
std::string_view rcode_label(size_t rcode);

// Steered answers are counted by PoolState::slot(); slots from this one on (a config with
// more pools than that, or many renamed over reloads) share one "other" counter.
inline constexpr size_t kCountedPools = 256;
std::string_view steering_source_label(size_t source);  // "ecs", "resolver", ...

struct alignas(64) WorkerCounters {
    // Answered queries by transport and question type, and their answers by rcode.
    Counter queries[kTransports][kQtypeBuckets];
    Counter responses[kTransports][kRcodeBuckets];
    Counter client_subnet_queries[kTransports];  // queries carrying ECS (RFC 7871)
    Counter truncated[kTransports];              // answers with TC set
    Counter dropped[kTransports];  // malformed, responses (QR=1), oversized: no answer
    Counter udp_unsent;            // answers dropped because the send buffer was full
    Counter tcp_accepted;
    Counter tcp_refused;  // past tcp_max_connections with none to evict: closed at once
    Counter tcp_open;     // a gauge: this worker's live connections
    // A gauge: buffers lent to connections with a partial query or unsent answers (idle
    // connections hold none); and how many buffers the worker has had to allocate.
    Counter tcp_buffers_in_use;
    Counter tcp_buffer_allocations;
    // The TCP limits (RFC 7766 §6.2.3): connections closed to make room for a new one when
    // the worker was full, refused because their client address had its per-worker cap,
    // closed because a frame did not arrive whole within tcp_query_timeout, and closed
    // because the worker's buffers were all lent.
    Counter tcp_evicted;
    Counter tcp_client_refused;
    Counter tcp_query_timeouts;
    Counter tcp_buffer_shortages;
    // Answers of steered names by the pool that answered, and by what decided.
    Counter steered_by_pool[kCountedPools];
    Counter steered_other_pool;
    Counter steered_by_source[zones::kSteeringSources];
    // Transfer refusals and TSIG failures, by zones::Incident (counted here, summarized in
    // the log, never logged one by one).
    Counter incidents[zones::kIncidents];

    // One answered or dropped query, as zones::respond summarized it.
    void record(zones::Transport transport, const zones::AnswerSummary& summary);
    void record_dropped(zones::Transport transport) {
        dropped[static_cast<size_t>(transport)].add();
    }
};

// The sum of every worker's counters at one moment, for the scrape.
struct TrafficTotals {
    uint64_t queries[kTransports][kQtypeBuckets] = {};
    uint64_t responses[kTransports][kRcodeBuckets] = {};
    uint64_t client_subnet_queries[kTransports] = {};
    uint64_t truncated[kTransports] = {};
    uint64_t dropped[kTransports] = {};
    uint64_t udp_unsent = 0;
    uint64_t tcp_accepted = 0;
    uint64_t tcp_refused = 0;
    uint64_t tcp_open = 0;
    uint64_t tcp_buffers_in_use = 0;
    uint64_t tcp_buffer_allocations = 0;
    uint64_t tcp_evicted = 0;
    uint64_t tcp_client_refused = 0;
    uint64_t tcp_query_timeouts = 0;
    uint64_t tcp_buffer_shortages = 0;
    uint64_t steered_by_pool[kCountedPools] = {};
    uint64_t steered_other_pool = 0;
    uint64_t steered_by_source[zones::kSteeringSources] = {};
    uint64_t incidents[zones::kIncidents] = {};
};

// One WorkerCounters block per worker, created before the workers start.
class TrafficCounters {
  public:
    explicit TrafficCounters(unsigned workers);
    WorkerCounters& worker(unsigned index) { return blocks_[index]; }
    TrafficTotals sum() const;

  private:
    std::unique_ptr<WorkerCounters[]> blocks_;
    unsigned workers_;
};

}  // namespace meridian::server
