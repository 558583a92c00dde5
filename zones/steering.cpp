// Steering one question: one walk of the compiled tree, then the first pool in the decided
// preference list that has addresses of the queried type.
#include "zones/steering.hpp"

#include <algorithm>

namespace meridian::zones {

namespace {

// The first pool of the decided preference list with addresses of `qtype`; null means
// fallback to the zone's own records.
const OwnedRRset* first_usable_pool(const SteeredName& name, geoip::DecisionId decision,
                                    uint16_t qtype) {
    for (geoip::PoolIndex pool : name.tree.pools(decision)) {
        const OwnedRRset& rrset = name.pools[pool].for_type(qtype);
        if (!rrset.rdatas.empty()) return &rrset;
    }
    return nullptr;
}

}  // namespace

const OwnedRRset* steer(const SteeredName& name, uint16_t qtype, const ClientAddress& client,
                        SteeringOutcome& outcome) {
    if (!name.depends_on_client) {
        // "local": one leaf for every client, so the answer holds for 0.0.0.0/0 (scope 0).
        return first_usable_pool(
            name, name.tree.lookup(geoip::Family::v4, client.bytes, 0).decision, qtype);
    }
    outcome.depends_on_client = true;
    if (!client.is_known) return nullptr;
    const auto decision = name.tree.lookup(client.family, client.bytes, client.source_prefix);
    // With several steered names in one chain, the answer holds only where all of them do.
    outcome.scope = std::max(outcome.scope, decision.scope);
    // A fallback holds for this whole scope too: the zone's records answer it.
    return first_usable_pool(name, decision.decision, qtype);
}

}  // namespace meridian::zones
