// A zone as a set of records that incremental transfers edit: the differences of an IXFR
// (RFC 1995 §4) applied to a zone version, and a whole zone (AXFR) built from its records.
// Transport-neutral: the server's transfer client fills these in from the wire.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "zones/diagnostic.hpp"
#include "zones/zone.hpp"
#include "zones/zone_diff.hpp"  // serial_is_before (RFC 1982)

namespace meridian::zones {

struct ZoneRecord {
    std::string owner;  // lowercase wire form
    uint16_t type = 0;
    uint32_t ttl = 0;
    std::string rdata;  // uncompressed wire RDATA

    bool operator==(const ZoneRecord&) const = default;
};

// One difference sequence of an IXFR: the SOA of the version it starts from, the records it
// deletes, the SOA of the version it produces, the records it adds.
struct ZoneDifference {
    ZoneRecord old_soa;
    std::vector<ZoneRecord> deleted;
    ZoneRecord new_soa;
    std::vector<ZoneRecord> added;
};

// The serial of an SOA record's RDATA (0 when it is too short to hold one).
uint32_t soa_serial(const std::string& rdata);

// Every record of `zone`, the apex SOA first.
std::vector<ZoneRecord> zone_records(const Zone& zone);

// A zone from the records of a full transfer, checked like a zone file (ZoneBuilder);
// `source` names it in diagnostics. Null on any error.
std::shared_ptr<const Zone> build_zone(const std::string& origin,
                                       const std::vector<ZoneRecord>& records,
                                       const std::string& source, Diagnostics& diagnostics);

// Applies `differences` in order to `zone`. Each sequence must start from the serial the
// previous one (or `zone`) ends at, delete only records present, and produce a newer
// serial; the result is checked like a zone file. Null on any error, with the cause in
// `diagnostics`: the caller keeps `zone` and falls back to a full transfer.
std::shared_ptr<const Zone> apply_differences(const Zone& zone,
                                              const std::vector<ZoneDifference>& differences,
                                              const std::string& source, Diagnostics& diagnostics);

}  // namespace meridian::zones
