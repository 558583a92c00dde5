// Fetching a secondary zone from its primaries: the SOA query over UDP (RFC 1035 §4.3.5),
// then IXFR over TCP (RFC 1995) with AXFR (RFC 5936) when the primary sends the whole zone,
// refuses IXFR, or its differences do not apply. Blocking, with deadlines: it runs on a
// thread of its own (libuv's pool), never on a worker or the main loop. A UDP reply that is
// not the answer to our query (another source, ID or question, or not signed with the
// zone's key) is ignored, and the wait goes on until the deadline: such a reply may be
// forged by anyone, and must not cut the refresh short.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "server/config/config.hpp"
#include "server/transfer/tsig.hpp"
#include "zones/zone.hpp"

namespace meridian::server {

struct FetchRequest {
    std::string origin;  // lowercase wire form
    std::vector<ListenAddress> primaries;
    std::shared_ptr<const zones::Zone> current;  // null: nothing yet, AXFR at once
    std::optional<tsig::Key> key;                // signs every query; every reply must verify
    std::string source;                          // names the result in diagnostics (the file)
    unsigned query_timeout_ms = 2000;            // per UDP try, and per TCP read
    unsigned transfer_timeout_ms = 120000;       // a whole transfer
    // The zone's limits (config.hpp): a transfer beyond them is refused, the next primary
    // tried, and nothing changes if none stays within them.
    uint64_t max_records = kDefaultMaxZoneRecords;
    uint64_t max_bytes = kDefaultMaxTransferBytes;  // octets received in one transfer
};

struct FetchResult {
    enum class Status { up_to_date, transferred, failed };
    Status status = Status::failed;
    std::shared_ptr<const zones::Zone> zone;  // the new version, when transferred
    std::string method;                       // "IXFR" or "AXFR", when transferred
    std::string primary;                      // the primary that answered
    uint32_t primary_serial = 0;
    // What happened, for the log: the cause of each failure, primary by primary.
    std::string detail;
};

FetchResult fetch_zone(const FetchRequest& request);

}  // namespace meridian::server
