// Steering one question: one walk of the compiled tree, then the first pool in the decided
// preference list that is up and has addresses of the queried type.
#include "zones/steering.hpp"

#include <algorithm>
#include <cstring>

#include "wire/constants.hpp"

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

// The resolver's own address, with IPv4-mapped IPv6 taken as the IPv4 address it is.
ClientAddress resolver_address(const geoip::Address* client) {
    ClientAddress address;
    if (!client) return address;
    const geoip::Address plain = geoip::unmapped(*client);
    std::memcpy(address.bytes, plain.bytes.data(), 16);
    address.family = plain.family;
    address.source_prefix = static_cast<uint8_t>(geoip::address_bits(plain.family));
    address.is_known = true;
    return address;
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

ClientAddress deciding_address(const wire::Query& query, const geoip::Address* client,
                               const SteeringTable& steering, bool& from_ecs) {
    ClientAddress resolver = resolver_address(client);
    from_ecs = false;
    const auto& edns = query.edns;
    if (!edns.has_client_subnet || !steering.ecs_enabled || edns.client_subnet.source_prefix == 0)
        return resolver;
    if (!steering.ecs_from.empty()) {
        bool allowed = false;
        for (const auto& prefix : steering.ecs_from)
            allowed = allowed || (resolver.is_known &&
                                  geoip::contains(prefix, resolver.family, resolver.bytes));
        if (!allowed) return resolver;  // as if the resolver had sent no ECS
    }
    ClientAddress subnet;
    subnet.is_known = true;
    subnet.is_subnet = true;
    subnet.family = edns.client_subnet.family == 1 ? geoip::Family::v4 : geoip::Family::v6;
    std::memcpy(subnet.bytes, edns.client_subnet.address, 16);
    subnet.source_prefix = edns.client_subnet.source_prefix;
    from_ecs = true;
    return subnet;
}

const OwnedRRset* steer_name(const SteeringContext& context, const Node& node, uint16_t qtype) {
    if (qtype != wire::type::kA && qtype != wire::type::kAAAA) return nullptr;
    const SteeredName* steered = context.table.find(node.name);
    return steered ? steer(*steered, qtype, context.client, context.outcome) : nullptr;
}

}  // namespace meridian::zones
