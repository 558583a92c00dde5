// The set of zones served and the longest-match choice of the zone that answers a name.
#include "zones/catalog.hpp"

#include "wire/name.hpp"

namespace meridian::zones {

bool Catalog::add(std::shared_ptr<const Zone> zone) {
    auto [it, inserted] = by_origin_.try_emplace(zone->origin(), zone.get());
    if (!inserted) return false;
    zones_.push_back(std::move(zone));
    return true;
}

bool Catalog::add_unavailable(std::string origin) {
    if (by_origin_.contains(origin)) return false;
    unavailable_.push_back(std::move(origin));
    by_origin_.try_emplace(unavailable_.back(), nullptr);
    return true;
}

const Zone* Catalog::find_zone(std::span<const uint8_t> qname_lower, bool skip_exact,
                               bool* is_unavailable) const {
    if (is_unavailable) *is_unavailable = false;
    // Try the name itself, then each parent: the first hit is the most specific zone.
    size_t offset = 0;
    if (skip_exact) {
        if (qname_lower.empty() || qname_lower[0] == 0) return nullptr;
        offset = 1 + size_t(qname_lower[0]);
    }
    while (offset < qname_lower.size()) {
        const std::string_view suffix(reinterpret_cast<const char*>(qname_lower.data()) + offset,
                                      qname_lower.size() - offset);
        auto it = by_origin_.find(suffix);
        if (it != by_origin_.end()) {
            if (!it->second && is_unavailable) *is_unavailable = true;
            return it->second;
        }
        if (qname_lower[offset] == 0) break;
        offset += 1 + size_t(qname_lower[offset]);
    }
    return nullptr;
}

}  // namespace meridian::zones
