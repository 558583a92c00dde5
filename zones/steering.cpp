// Steering one question: one walk of the compiled tree, then the first pool in the decided
// preference list that is up and has addresses of the queried type.
#include "zones/steering.hpp"

#include <algorithm>

namespace meridian::zones {

namespace {

// The first pool of the decided preference list that is up and has addresses of `qtype`;
// null means fallback to the zone's own records. A "nearest" decision lists every candidate
// by distance, so skipping a down pool gives the next nearest.
const OwnedRRset* first_usable_pool(const SteeredName& name, geoip::DecisionId decision,
                                    uint16_t qtype, SteeringSource source,
                                    SteeringOutcome& outcome) {
    for (geoip::PoolIndex pool : name.tree.pools(decision)) {
        const PoolAnswers& answers = name.pools[pool];
        const OwnedRRset& rrset = answers.for_type(qtype);
        if (rrset.rdatas.empty() || (answers.state && !answers.state->is_usable())) continue;
        outcome.source = source;
        outcome.pool_slot = answers.state ? answers.state->slot() : pool;
        return &rrset;
    }
    outcome.source = SteeringSource::fallback;
    return nullptr;
}

}  // namespace

const OwnedRRset* steer(const SteeredName& name, uint16_t qtype, const ClientAddress& client,
                        SteeringOutcome& outcome) {
    if (!name.depends_on_client) {
        // "local": one leaf for every client, so the answer holds for 0.0.0.0/0 (scope 0),
        // also when the pool is down and the zone's records answer instead.
        return first_usable_pool(name,
                                 name.tree.lookup(geoip::Family::v4, client.bytes, 0).decision,
                                 qtype, SteeringSource::local, outcome);
    }
    outcome.depends_on_client = true;
    if (!client.is_known) {
        outcome.source = SteeringSource::fallback;
        return nullptr;
    }
    const auto decision = name.tree.lookup(client.family, client.bytes, client.source_prefix);
    // With several steered names in one chain, the answer holds only where all of them do.
    outcome.scope = std::max(outcome.scope, decision.scope);
    // Skipping a down pool keeps this scope: pool health is the same for every client, so
    // the whole leaf's network gets the same next pool (or the same fallback).
    const SteeringSource source = name.tree.is_from_net(decision.decision) ? SteeringSource::net
                                  : client.is_subnet                       ? SteeringSource::ecs
                                                     : SteeringSource::resolver;
    return first_usable_pool(name, decision.decision, qtype, source, outcome);
}

}  // namespace meridian::zones
