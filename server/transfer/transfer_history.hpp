// Keeping each zone's IXFR history across reloads, and telling which zones' serials changed
// so their secondaries can be sent NOTIFY.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "zones/snapshot.hpp"

namespace meridian::server {

// A zone whose serial changed in a reload, with what NOTIFY needs (RFC 1996 §3.7: the new
// SOA may travel in the answer section).
struct ZoneChange {
    std::string origin;  // wire form
    uint32_t serial = 0;
    uint32_t soa_ttl = 0;
    std::string soa_rdata;
    std::vector<zones::NotifyTarget> targets;
    std::vector<zones::TsigKey> keys;  // the keys the targets name
};

// Gives every zone of `next` the history of the same zone in `running`, extended by the
// difference between the two versions when the serial moved forward (RFC 1982); a serial
// that moved back starts the history afresh. Only zones someone may transfer keep one.
// Returns the zones whose serial changed and that have secondaries to notify.
std::vector<ZoneChange> advance_transfer_history(const zones::Snapshot& running,
                                                 zones::Snapshot& next);

// Every zone of `snapshot` that has secondaries to notify, for the NOTIFY sent at start:
// changes made while this server was down reach the secondaries at once, as with Knot and
// BIND, instead of at their next refresh.
std::vector<ZoneChange> zones_to_notify(const zones::Snapshot& snapshot);

}  // namespace meridian::server
