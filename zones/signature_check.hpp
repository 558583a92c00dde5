// The offline check of a signed zone's RRSIGs that `meridian check` runs, as ldns-verify-zone
// does: every authoritative RRset signed, every signature verifying, in its validity period.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

#include "zones/diagnostic.hpp"

namespace meridian::zones {

// One record of the zone as read, with where it was read.
struct SourceRecord {
    std::string_view owner;  // lowercase wire form
    uint16_t type;
    uint32_t ttl;
    std::string_view rdata;  // uncompressed wire RDATA
    std::string_view file;
    int line;
};

struct SignatureCheckOptions {
    uint32_t now;          // seconds since the epoch (tests pass a fixed time)
    uint32_t warn_within;  // the zone's SOA refresh: signatures expiring sooner are warned about
};

// Reports, each at the file and line of the record concerned: an RRSIG that does not verify,
// whose key is not in the apex DNSKEY set, that has expired or is not yet valid (errors) or
// expires within `warn_within` (a warning), whose signer, labels or owner do not fit; an
// authoritative RRset without an RRSIG by each algorithm of the apex DNSKEY set; a DNSKEY set
// no key of which signs it. At most a few diagnostics of each kind are listed, then a count.
// Does nothing for a zone that is not signed (no DNSKEY at the apex or no RRSIG anywhere).
// The NSEC/NSEC3 chain is checked where the zone is built, not here.
void check_signatures(std::string_view origin_wire, std::span<const SourceRecord> records,
                      const SignatureCheckOptions& options, Diagnostics& diagnostics);

}  // namespace meridian::zones
