// Steering one question: one walk of the compiled tree, then the first pool in the decided
// preference list that has addresses of the queried type.
#include "zones/steering.hpp"

#include <algorithm>

namespace meridian::zones {

const RRset* steer(const SteeredName& name, uint16_t qtype, const ClientAddress& client,
                   SteeringOutcome& outcome) {
    if (!name.depends_on_client) {
        // "local": one leaf for every client, so the answer holds for 0.0.0.0/0 (scope 0).
        const auto decision = name.tree.lookup(geoip::Family::v4, client.bytes, 0);
        for (geoip::PoolIndex pool : name.tree.pools(decision.decision)) {
            const RRset& rrset = name.pools[pool].for_type(qtype);
            if (!rrset.rdatas.empty()) return &rrset;
        }
        return nullptr;
    }
    outcome.depends_on_client = true;
    if (!client.is_known) return nullptr;
    const auto decision = name.tree.lookup(client.family, client.bytes, client.source_prefix);
    // With several steered names in one chain, the answer holds only where all of them do.
    outcome.scope = std::max(outcome.scope, decision.scope);
    for (geoip::PoolIndex pool : name.tree.pools(decision.decision)) {
        const RRset& rrset = name.pools[pool].for_type(qtype);
        if (!rrset.rdatas.empty()) return &rrset;
    }
    return nullptr;  // fallback: the zone's own records answer (for this whole scope)
}

}  // namespace meridian::zones
