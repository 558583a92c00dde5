// Operator-facing log lines on stderr, "meridian: ...": written at once from the main,
// reload and control threads; through a background writer from the workers, which must never
// block on a slow journal; and, for what a hostile client can cause once per packet, counted
// per client network and summarized a few lines at a time (IncidentTable).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "geoip/network.hpp"

namespace meridian::server {

// Writes "meridian: <message>\n" with a single write(2), so lines from several threads
// never interleave mid-line. Blocks while stderr does: not for worker threads.
void log_event(std::string_view message);

// The same line, handed to a background thread that writes it: never blocks, never
// allocates. A line is dropped, and counted, when the bounded queue is full (the log cannot
// keep up) or another thread is queueing at that instant; the writer then logs how many were
// lost. Lines longer than kMaxPostedLine octets are cut.
void post_log_event(std::string_view message);
inline constexpr size_t kMaxPostedLine = 480;
// Lines post_log_event dropped since the start.
uint64_t dropped_log_events();
// Starts the background writer if it is not running (the first post_log_event would); call
// from the main thread so that no worker ever starts a thread. Lines still queued at exit are
// written before the process ends.
void start_log_writer();
// Waits until every posted line has been written (at most a second).
void flush_posted_log_events();

// Counts of incidents by kind and client network (/24 for IPv4, /56 for IPv6) in a fixed
// table, so a flood costs a counter increment per packet and a few log lines per period
// instead of a line per packet. One owner thread; no lock.
class IncidentTable {
  public:
    static constexpr size_t kRows = 64;      // networks x kinds kept apart per period
    static constexpr size_t kMaxKinds = 16;  // kinds are small numbers the caller chooses
    static constexpr size_t kMaxLines = 8;   // rows written per period; the rest summed

    struct KindName {
        std::string_view singular;  // "transfer refusal"
        std::string_view plural;    // "transfer refusals"
    };

    // Counts one incident of `kind` from `client` (null: an unknown address). Never
    // allocates. Rows are taken first come in a period: once kRows are taken, incidents from
    // networks without one count as "from other networks" until the period ends.
    void add(size_t kind, const geoip::Address* client);

    // The lines for the period of `seconds` that ends now, largest counts first ("1,234
    // transfer refusals from 203.0.113.0/24 in the last 10 s"), at most kMaxLines of them,
    // then per kind one line for the rest ("and 56 transfer refusals from other networks in
    // the last 10 s"); empties the table. `names` is indexed by kind. Allocates: call it from
    // a timer, not per packet.
    std::vector<std::string> take_lines(std::span<const KindName> names, unsigned seconds);

    bool empty() const { return used_ == 0 && !has_overflow_; }

  private:
    struct Row {
        uint64_t count = 0;  // 0: a free slot
        uint8_t kind = 0;
        bool is_known = false;  // false: incidents whose client address was not known
        geoip::Family family = geoip::Family::v4;
        std::array<uint8_t, 8> network{};  // the /24 or /56, zero-padded
    };
    // Open addressing at most half full, so a probe is short.
    static constexpr size_t kSlots = 2 * kRows;
    Row slots_[kSlots]{};
    size_t used_ = 0;
    uint64_t overflow_[kMaxKinds]{};
    bool has_overflow_ = false;
};

// "1234567" -> "1,234,567", for counts in log lines.
std::string grouped_number(uint64_t value);

}  // namespace meridian::server
