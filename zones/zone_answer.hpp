// The authoritative answer from one zone: lookup (RFC 1034 §4.3.2), CNAME chains, DNAME
// synthesis (RFC 6672), wildcards (RFC 4592), referrals with glue (RFC 9471) and negative
// answers (RFC 2308), written into a response already holding the header and question.
#pragma once

#include "wire/query.hpp"
#include "wire/writer.hpp"
#include "zones/steering.hpp"
#include "zones/zone.hpp"

namespace meridian::zones {

// Sets rcode, AA and TC and fills the three sections. Truncates at an RRset boundary.
// A and AAAA questions for names in `steering` are steered (null: no GeoDNS).
void write_zone_answer(const Zone& zone, const wire::Query& query, wire::MessageWriter& writer,
                       const SteeringContext* steering = nullptr);

}  // namespace meridian::zones
