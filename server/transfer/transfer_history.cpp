// Differences between the running and the next version of each zone, computed while a reload
// builds its snapshot (off the query path and off the main loop).
#include "server/transfer/transfer_history.hpp"

#include <algorithm>
#include <map>

namespace meridian::server {

namespace {

ZoneChange change_of(const zones::Zone& zone, const zones::ZoneTransferPolicy& policy,
                     const std::vector<zones::TsigKey>& keys) {
    ZoneChange change{
        zone.origin(), zone.serial(), zone.soa().ttl, zone.soa().rdatas.front(), policy.notify, {}};
    for (const auto& target : change.targets)
        for (const auto& key : keys)
            if (key.name == target.key) change.keys.push_back(key);
    return change;
}

}  // namespace

std::vector<ZoneChange> advance_transfer_history(const zones::Snapshot& running,
                                                 zones::Snapshot& next) {
    std::map<std::string, const zones::Zone*> before;
    for (const auto& zone : running.catalog.zones()) before[zone->origin()] = zone.get();
    std::vector<ZoneChange> changes;
    for (const auto& zone : next.catalog.zones()) {
        auto policy = next.transfers.zones.find(zone->origin());
        if (policy == next.transfers.zones.end()) continue;
        const auto old = before.find(zone->origin());
        if (old == before.end()) continue;  // a new zone: no earlier version to differ from
        const zones::ZoneTransferPolicy* old_policy = running.transfers.find(zone->origin());
        const auto previous = old_policy ? old_policy->history : nullptr;
        const uint32_t from = old->second->serial(), to = zone->serial();
        auto& history = policy->second.history;
        if (from == to) {
            history = previous;
            continue;
        }
        if (zones::serial_is_before(from, to) && !policy->second.allow.empty() &&
            policy->second.history_depth > 0) {
            auto diff =
                std::make_shared<const zones::ZoneDiff>(zones::diff_zones(*old->second, *zone));
            // Past the zone's own size a client is better served by a full transfer; a small
            // zone still keeps a few thousand records of recent changes.
            const size_t max_records = std::max<size_t>(zone->record_count(), 4096);
            history = zones::ZoneHistory::extend(previous, std::move(diff),
                                                 policy->second.history_depth, max_records);
        }
        if (!policy->second.notify.empty())
            changes.push_back(change_of(*zone, policy->second, next.transfers.keys));
    }
    return changes;
}

std::vector<ZoneChange> zones_to_notify(const zones::Snapshot& snapshot) {
    std::vector<ZoneChange> changes;
    for (const auto& zone : snapshot.catalog.zones()) {
        const zones::ZoneTransferPolicy* policy = snapshot.transfers.find(zone->origin());
        if (policy && !policy->notify.empty())
            changes.push_back(change_of(*zone, *policy, snapshot.transfers.keys));
    }
    return changes;
}

}  // namespace meridian::server
