// The steering rules: map (subdivision, country, continent, default), nearest and local.
#include "geoip/policy.hpp"

#include <algorithm>
#include <cstdio>
#include <numeric>

#include "geoip/error.hpp"

namespace meridian::geoip {

namespace {

bool is_continent_code(const std::string& code) {
    static constexpr const char* kContinents[] = {"AF", "AN", "AS", "EU", "NA", "OC", "SA"};
    return std::any_of(std::begin(kContinents), std::end(kContinents),
                       [&](const char* c) { return code == c; });
}

std::string upper(std::string text) {
    for (char& c : text) {
        if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
    }
    return text;
}

}  // namespace

Steering::Steering(const Policy& policy, std::span<const Pool> pools)
    : mode_(policy.mode), policy_name_(policy.name), pools_(pools) {
    const std::string where = "policy \"" + policy.name + "\"";
    if (pools.size() > UINT16_MAX) throw GeoipError(where + ": too many pools");
    for (size_t i = 0; i < pools.size(); ++i) {
        if (!pool_by_name_.emplace(pools[i].name, static_cast<PoolIndex>(i)).second) {
            throw GeoipError("pool \"" + pools[i].name + "\" is defined twice");
        }
    }
    switch (mode_) {
        case Policy::Mode::map:
            for (const MapRule& rule : policy.map) {
                const std::string code = upper(rule.code);
                std::unordered_map<std::string, std::vector<PoolIndex>>* table = nullptr;
                bool valid = false;
                switch (rule.scope) {
                    case MapRule::Scope::subdivision:
                        // ISO 3166-2: country code, hyphen, 1-3 alphanumerics.
                        valid = code.size() >= 4 && code.size() <= 6 && code[2] == '-';
                        table = &by_subdivision_;
                        break;
                    case MapRule::Scope::country:
                        valid = code.size() == 2;
                        table = &by_country_;
                        break;
                    case MapRule::Scope::continent:
                        valid = is_continent_code(code);
                        table = &by_continent_;
                        break;
                }
                if (!valid) throw GeoipError(where + ": map key \"" + rule.code + "\" is invalid");
                auto resolved = resolve(rule.pools, where + " map \"" + rule.code + "\"");
                if (!table->emplace(code, std::move(resolved)).second) {
                    throw GeoipError(where + ": map key \"" + rule.code + "\" appears twice");
                }
            }
            default_pools_ = resolve(policy.default_pools, where + " default");
            break;
        case Policy::Mode::nearest:
            if (policy.nearest_pools.empty()) {
                candidates_.resize(pools.size());
                std::iota(candidates_.begin(), candidates_.end(), PoolIndex{0});
            } else {
                candidates_ = resolve(policy.nearest_pools, where);
            }
            if (candidates_.empty()) throw GeoipError(where + ": nearest has no pools");
            for (PoolIndex index : candidates_) {
                if (!pools[index].coordinates) {
                    throw GeoipError(where + ": nearest needs coordinates for pool \"" +
                                     pools[index].name + "\"");
                }
            }
            break;
        case Policy::Mode::local:
            local_pool_ = resolve({policy.local_pool}, where + " local").front();
            break;
    }
}

std::vector<PoolIndex> Steering::resolve(const std::vector<std::string>& names,
                                         const std::string& where) const {
    std::vector<PoolIndex> indices;
    for (const std::string& name : names) {
        auto found = pool_by_name_.find(name);
        if (found == pool_by_name_.end()) {
            throw GeoipError(where + ": unknown pool \"" + name + "\"");
        }
        indices.push_back(found->second);
    }
    return indices;
}

Choice Steering::choose(const Location& location) const {
    switch (mode_) {
        case Policy::Mode::local:
            return {{local_pool_}, "local pool \"" + pools_[local_pool_].name + "\""};
        case Policy::Mode::nearest: {
            if (location.is_unknown()) return {{}, "location unknown (fallback)"};
            if (!location.coordinates) return {{}, "nearest: no coordinates (fallback)"};
            std::vector<std::pair<double, PoolIndex>> by_distance;
            for (PoolIndex index : candidates_) {
                by_distance.emplace_back(
                    distance_km(*location.coordinates, *pools_[index].coordinates), index);
            }
            // Ties keep the configured order, so equal-distance pools never flap on reload.
            std::stable_sort(by_distance.begin(), by_distance.end(),
                             [](const auto& a, const auto& b) { return a.first < b.first; });
            Choice choice;
            for (const auto& [distance, index] : by_distance) choice.pools.push_back(index);
            char where[64];
            std::snprintf(where, sizeof where, "nearest to (%.4f, %.4f)",
                          location.coordinates->latitude, location.coordinates->longitude);
            choice.rule = where;
            return choice;
        }
        case Policy::Mode::map:
            break;
    }
    // An unlocated client is not "elsewhere": the default is for located clients no rule
    // names, and an unknown one gets the zone's plain answer, as if no database were there.
    if (location.is_unknown()) return {{}, "location unknown (fallback)"};
    // Most specific first: subdivision, country, continent, default (as gdnsd's map).
    if (auto found = by_subdivision_.find(location.subdivision); found != by_subdivision_.end()) {
        return {found->second, "subdivision " + location.subdivision};
    }
    if (auto found = by_country_.find(location.country); found != by_country_.end()) {
        return {found->second, "country " + location.country};
    }
    if (auto found = by_continent_.find(location.continent); found != by_continent_.end()) {
        return {found->second, "continent " + location.continent};
    }
    if (!default_pools_.empty()) return {default_pools_, "default"};
    return {{}, "no map rule matched (fallback)"};
}

}  // namespace meridian::geoip
