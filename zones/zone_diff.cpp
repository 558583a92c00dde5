// Comparing two zone versions RRset by RRset, and keeping a bounded chain of the results.
#include "zones/zone_diff.hpp"

#include <string_view>
#include <unordered_set>

#include "wire/constants.hpp"

namespace meridian::zones {

namespace {

DiffRecord soa_record(const Zone& zone) {
    return {zone.origin(), wire::type::kSOA, zone.soa().ttl, zone.soa().rdatas.front()};
}

// Appends to `out` every record of `from` that is not in `other` with the same TTL.
void collect_missing(const Zone& from, const Zone& other, std::vector<DiffRecord>& out) {
    for (const auto& [name, node] : from.nodes()) {
        const Node* other_node = other.find_stored_node(name);
        for_each_stored_rrset(node, [&](const RRset& rrset) {
            if (rrset.type == wire::type::kSOA && &node == &from.apex()) return;
            std::optional<RRset> found;
            if (other_node && !rrset.rdatas.empty())
                found =
                    find_stored_rrset(*other_node, rrset.type, type_covered(rrset.rdatas.front()));
            const RRset* counterpart = found ? &*found : nullptr;
            if (counterpart && counterpart->ttl != rrset.ttl) counterpart = nullptr;
            // Large RRsets get a set; the usual few records are compared directly.
            std::unordered_set<std::string_view> index;
            if (counterpart && counterpart->rdatas.size() > 16)
                index.insert(counterpart->rdatas.begin(), counterpart->rdatas.end());
            for (const std::string& rdata : rrset.rdatas) {
                bool present = false;
                if (counterpart && !index.empty()) {
                    present = index.count(rdata) > 0;
                } else if (counterpart) {
                    for (const std::string& candidate : counterpart->rdatas)
                        present = present || candidate == rdata;
                }
                if (!present) out.push_back({name, rrset.type, rrset.ttl, rdata});
            }
        });
    }
}

}  // namespace

bool serial_is_before(uint32_t a, uint32_t b) {
    return a != b && static_cast<uint32_t>(b - a) < 0x80000000u;
}

ZoneDiff diff_zones(const Zone& before, const Zone& after) {
    ZoneDiff diff;
    diff.from_serial = before.serial();
    diff.to_serial = after.serial();
    diff.from_soa = soa_record(before);
    diff.to_soa = soa_record(after);
    collect_missing(before, after, diff.removed);
    collect_missing(after, before, diff.added);
    return diff;
}

std::shared_ptr<const ZoneHistory> ZoneHistory::extend(
    const std::shared_ptr<const ZoneHistory>& previous, std::shared_ptr<const ZoneDiff> diff,
    size_t max_diffs, size_t max_records) {
    auto history = std::make_shared<ZoneHistory>();
    if (previous && previous->newest_serial() == diff->from_serial)
        history->diffs_ = previous->diffs_;
    history->diffs_.push_back(std::move(diff));
    size_t records = 0;
    for (const auto& d : history->diffs_) records += d->record_count();
    size_t drop = 0;
    while (drop + 1 < history->diffs_.size() &&
           (history->diffs_.size() - drop > max_diffs || records > max_records)) {
        records -= history->diffs_[drop]->record_count();
        ++drop;
    }
    history->diffs_.erase(history->diffs_.begin(), history->diffs_.begin() + drop);
    // A single difference larger than allowed is not worth keeping either.
    if (history->diffs_.size() > max_diffs || records > max_records) return nullptr;
    return history;
}

std::vector<std::shared_ptr<const ZoneDiff>> ZoneHistory::since(uint32_t serial) const {
    for (size_t i = 0; i < diffs_.size(); ++i)
        if (diffs_[i]->from_serial == serial) return {diffs_.begin() + i, diffs_.end()};
    return {};
}

}  // namespace meridian::zones
