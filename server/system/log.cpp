// Operator-facing log lines on stderr: written at once, or queued for a background writer,
// and the per-network incident counts that keep a flood from becoming a log flood.
#include "server/system/log.hpp"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <thread>
#include <tuple>
#include <utility>

namespace meridian::server {

namespace {

constexpr std::string_view kPrefix = "meridian: ";

void write_line(const char* data, size_t size) {
    // Best effort: a log line that cannot be written is not a reason to stop serving.
    [[maybe_unused]] ssize_t written = ::write(STDERR_FILENO, data, size);
}

// A bounded queue of whole lines and the thread that writes them. The queue is a ring of
// fixed slots, so posting copies octets and never allocates; a poster only ever tries the
// lock, so it never waits for the writer (which holds it only to copy a slot out) nor for
// another poster.
class LogWriter {
  public:
    static constexpr size_t kSlots = 256;

    LogWriter() : thread_([this] { run(); }) {}

    bool post(std::string_view message) {
        std::unique_lock lock(mutex_, std::try_to_lock);
        if (!lock.owns_lock() || count_ == kSlots) {
            dropped_.fetch_add(1, std::memory_order_relaxed);
            return false;
        }
        Slot& slot = slots_[(head_ + count_) % kSlots];
        const size_t size = std::min(message.size(), kMaxPostedLine);
        std::memcpy(slot.text, kPrefix.data(), kPrefix.size());
        if (size > 0) std::memcpy(slot.text + kPrefix.size(), message.data(), size);
        slot.text[kPrefix.size() + size] = '\n';
        slot.size = kPrefix.size() + size + 1;
        ++count_;
        lock.unlock();
        wake_.notify_one();
        return true;
    }

    uint64_t dropped() const { return dropped_.load(std::memory_order_relaxed); }

    // Waits until every queued line has been written, at most `limit`.
    void flush(std::chrono::milliseconds limit) {
        std::unique_lock lock(mutex_);
        idle_.wait_for(lock, limit, [this] { return count_ == 0 && !is_writing_; });
    }

  private:
    struct Slot {
        char text[kPrefix.size() + kMaxPostedLine + 1];
        size_t size = 0;
    };

    void run() {
        uint64_t reported = 0;
        Slot line;
        for (;;) {
            {
                std::unique_lock lock(mutex_);
                is_writing_ = false;
                if (count_ == 0) idle_.notify_all();
                wake_.wait(lock, [this] { return count_ > 0; });
                line = slots_[head_];
                head_ = (head_ + 1) % kSlots;
                --count_;
                is_writing_ = true;
            }
            write_line(line.text, line.size);
            const uint64_t dropped = dropped_.load(std::memory_order_relaxed);
            if (dropped != reported) {
                const std::string note = std::string(kPrefix) + std::to_string(dropped - reported) +
                                         " log lines dropped: the log could not keep up\n";
                write_line(note.data(), note.size());
                reported = dropped;
            }
        }
    }

    std::mutex mutex_;
    std::condition_variable wake_;
    std::condition_variable idle_;
    Slot slots_[kSlots];
    size_t head_ = 0;
    size_t count_ = 0;
    bool is_writing_ = false;
    std::atomic<uint64_t> dropped_{0};
    std::thread thread_;  // last: starts once everything above is constructed
};

// Never destroyed: a worker may post while the process exits. At exit the queue is written
// out (for at most a second) so the last lines are not lost.
LogWriter& writer() {
    static LogWriter* const instance = [] {
        auto* created = new LogWriter;
        std::atexit([] { writer().flush(std::chrono::seconds(1)); });
        return created;
    }();
    return *instance;
}

void append_network(std::string& line, bool is_known, geoip::Family family,
                    const std::array<uint8_t, 8>& network) {
    if (!is_known) {
        line += "unknown addresses";
        return;
    }
    uint8_t bytes[16] = {};
    std::memcpy(bytes, network.data(), network.size());
    line += geoip::address_text(family, bytes);
    line += family == geoip::Family::v4 ? "/24" : "/56";
}

}  // namespace

void log_event(std::string_view message) {
    std::string line(kPrefix);
    line.append(message);
    line.push_back('\n');
    write_line(line.data(), line.size());
}

void post_log_event(std::string_view message) {
    writer().post(message);
}

uint64_t dropped_log_events() {
    return writer().dropped();
}

void start_log_writer() {
    writer();
}

void flush_posted_log_events() {
    writer().flush(std::chrono::seconds(1));
}

void IncidentTable::add(size_t kind, const geoip::Address* client) {
    if (kind >= kMaxKinds) return;
    Row key;
    key.kind = static_cast<uint8_t>(kind);
    if (client) {
        const geoip::Address address = geoip::unmapped(*client);
        key.is_known = true;
        key.family = address.family;
        // A /24 or a /56: what one operator or one customer usually holds.
        std::memcpy(key.network.data(), address.bytes.data(),
                    address.family == geoip::Family::v4 ? 3 : 7);
    }
    uint64_t hash = 14695981039346656037ull;  // FNV-1a over the key
    const auto mix = [&hash](uint8_t octet) { hash = (hash ^ octet) * 1099511628211ull; };
    mix(key.kind);
    mix(static_cast<uint8_t>(key.is_known ? 1 + static_cast<uint8_t>(key.family) : 0));
    for (const uint8_t octet : key.network) mix(octet);
    for (size_t probe = 0; probe < kSlots; ++probe) {
        Row& row = slots_[(hash + probe) % kSlots];
        if (row.count == 0) {
            if (used_ == kRows) break;
            row = key;
            row.count = 1;
            ++used_;
            return;
        }
        if (row.kind == key.kind && row.is_known == key.is_known && row.family == key.family &&
            row.network == key.network) {
            ++row.count;
            return;
        }
    }
    ++overflow_[kind];
    has_overflow_ = true;
}

std::vector<std::string> IncidentTable::take_lines(std::span<const KindName> names,
                                                   unsigned seconds) {
    std::vector<Row> rows;
    rows.reserve(used_);
    for (Row& row : slots_)
        if (row.count > 0) rows.push_back(std::exchange(row, Row{}));
    used_ = 0;
    // Largest first; ties in a fixed order (kind, known before unknown, IPv4, network).
    std::sort(rows.begin(), rows.end(), [](const Row& a, const Row& b) {
        if (a.count != b.count) return a.count > b.count;
        return std::tie(a.kind, b.is_known, a.family, a.network) <
               std::tie(b.kind, a.is_known, b.family, b.network);
    });
    const auto name_of = [&names](size_t kind, uint64_t count) {
        if (kind >= names.size()) return std::string_view(count == 1 ? "incident" : "incidents");
        return count == 1 ? names[kind].singular : names[kind].plural;
    };
    const std::string period = " in the last " + std::to_string(seconds) + " s";
    std::vector<std::string> lines;
    uint64_t rest[kMaxKinds] = {};
    for (size_t i = 0; i < rows.size(); ++i) {
        const Row& row = rows[i];
        if (i >= kMaxLines) {
            rest[row.kind] += row.count;
            continue;
        }
        std::string line = grouped_number(row.count);
        line += ' ';
        line += name_of(row.kind, row.count);
        line += " from ";
        append_network(line, row.is_known, row.family, row.network);
        line += period;
        lines.push_back(std::move(line));
    }
    for (size_t kind = 0; kind < kMaxKinds; ++kind) {
        const uint64_t count = rest[kind] + overflow_[kind];
        overflow_[kind] = 0;
        if (count == 0) continue;
        lines.push_back("and " + grouped_number(count) + " " + std::string(name_of(kind, count)) +
                        " from other networks" + period);
    }
    has_overflow_ = false;
    return lines;
}

std::string grouped_number(uint64_t value) {
    std::string digits = std::to_string(value);
    std::string result;
    for (size_t i = 0; i < digits.size(); ++i) {
        if (i > 0 && (digits.size() - i) % 3 == 0) result += ',';
        result += digits[i];
    }
    return result;
}

}  // namespace meridian::server
