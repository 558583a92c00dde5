// Looking up one address step by step for `explain`.
#include "geoip/explain.hpp"

namespace meridian::geoip {

Explanation explain_address(const Policy& policy, std::span<const Pool> pools, const NetTable& nets,
                            const Database* database, Family family, const uint8_t* address) {
    const Steering steering(policy, pools);
    Explanation explanation;
    Choice choice;
    if (!steering.depends_on_location()) {
        choice = steering.choose({});
    } else if (const Net* net = nets.longest_match(family, address)) {
        explanation.source = Explanation::Source::net;
        explanation.network = net->network;
        if (!net->pools.empty()) {
            choice = {steering.resolve(net->pools, "net " + to_string(net->network)), "net pools"};
        } else {
            explanation.location = net->location;
            choice = steering.choose(net->location);
        }
    } else {
        if (database) {
            const Database::Match match = database->find(family, address);
            explanation.network = match.network;
            if (match.location) {
                explanation.source = Explanation::Source::database;
                explanation.location = *match.location;
            }
        }
        choice = steering.choose(explanation.location);
    }
    explanation.rule = choice.rule;
    for (PoolIndex index : choice.pools) explanation.pools.push_back(pools[index].name);
    return explanation;
}

}  // namespace meridian::geoip
