// A zone as RFC 1035 master-file text: what a secondary keeps of the zones it transferred
// (written with server/system/atomic_file), so a restart serves them before the primary is
// reachable again.
#pragma once

#include <string>
#include <string_view>

#include "zones/ldns.hpp"
#include "zones/zone.hpp"

namespace meridian::zones {

// The zone as master-file text: the SOA first, then every record with absolute names, one
// per line, in a stable order (names, then types). ldns writes each record's text, so every
// type it knows reads back as written and unknown types use the RFC 3597 form.
std::string zone_to_text(const Zone& zone);

// One record (owner in wire form, class IN) as an ldns record; null when ldns cannot read
// the RDATA as that type.
ldns::Record record_to_ldns(std::string_view owner, uint16_t type, uint32_t ttl,
                            std::string_view rdata);

}  // namespace meridian::zones
