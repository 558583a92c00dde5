// Where a name lands in one zone (RFC 1034 §4.3.2 step 3): the outcome of walking from the
// apex down, which both the answer path and the snapshot builder (placing geo policies) ask
// for, so the walk is written once.
#pragma once

#include <cstdint>
#include <span>

#include "zones/zone.hpp"

namespace meridian::zones {

enum class LookupOutcome : uint8_t {
    exact,               // the name's node, holding data of its own
    cname,               // the name's node holds a CNAME (RFC 1034 §3.6.2: and nothing else)
    empty_non_terminal,  // the name exists only as an ancestor of others (RFC 4592 §2.2.2)
    wildcard,            // no such name; the wildcard below the closest encloser answers
    delegation,          // a zone cut at or above the name (RFC 1034 §4.3.2 step 3b)
    dname,               // a DNAME above the name (RFC 6672 §3.2)
    nxdomain,            // no such name, no wildcard
};

struct Lookup {
    LookupOutcome outcome;
    // The answering node (exact, cname, empty_non_terminal, wildcard), the zone cut, the
    // DNAME owner, or the closest encloser (nxdomain).
    const Node* node;
};

// Looks `name` (lowercase wire form, inside the zone) up for `qtype`: only DS at a zone cut
// is answered from the parent side (RFC 4035 §3.1.4.1). Allocates nothing.
Lookup look_up(const Zone& zone, std::span<const uint8_t> name, uint16_t qtype);

}  // namespace meridian::zones
