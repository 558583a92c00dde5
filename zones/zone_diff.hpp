// The differences between two versions of a zone (what IXFR sends, RFC 1995), and the bounded
// history of such differences kept in memory for the versions served since start.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "zones/zone.hpp"

namespace meridian::zones {

// One record in wire form, as IXFR carries it.
struct DiffRecord {
    std::string owner;  // lowercase wire name
    uint16_t type = 0;
    uint32_t ttl = 0;
    std::string rdata;
};

// From one version to the next: the old SOA, the records removed, the new SOA, the records
// added (RFC 1995 §4). The SOA itself is in neither list.
struct ZoneDiff {
    uint32_t from_serial = 0;
    uint32_t to_serial = 0;
    DiffRecord from_soa;
    DiffRecord to_soa;
    std::vector<DiffRecord> removed;
    std::vector<DiffRecord> added;

    size_t record_count() const { return removed.size() + added.size() + 2; }
};

// What changed from `before` to `after`. A record whose RRset changed TTL is removed and
// added again, since IXFR has no other way to change a TTL.
ZoneDiff diff_zones(const Zone& before, const Zone& after);

// RFC 1982 serial number arithmetic: true when `a` is before `b`.
bool serial_is_before(uint32_t a, uint32_t b);

// The differences between consecutive versions, oldest first, each one starting where the
// previous ended. Immutable: a reload builds the next history from the last one.
class ZoneHistory {
  public:
    // The history after `diff`: `previous` (when it ends where `diff` starts) plus `diff`,
    // trimmed from the oldest end to at most `max_diffs` differences holding at most
    // `max_records` records in all (beyond the zone's own size a full transfer is cheaper).
    static std::shared_ptr<const ZoneHistory> extend(
        const std::shared_ptr<const ZoneHistory>& previous, std::shared_ptr<const ZoneDiff> diff,
        size_t max_diffs, size_t max_records);

    // The differences leading from `serial` to the newest version, in order; empty when
    // `serial` is not a version this history starts a difference from.
    std::vector<std::shared_ptr<const ZoneDiff>> since(uint32_t serial) const;

    uint32_t newest_serial() const { return diffs_.back()->to_serial; }
    size_t size() const { return diffs_.size(); }
    const std::vector<std::shared_ptr<const ZoneDiff>>& diffs() const { return diffs_; }

  private:
    std::vector<std::shared_ptr<const ZoneDiff>> diffs_;  // never empty
};

}  // namespace meridian::zones
