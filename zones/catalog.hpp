// The set of zones served, and the choice of the zone that answers a name (longest match).
#pragma once

#include <memory>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "zones/zone.hpp"

namespace meridian::zones {

class Catalog {
  public:
    // Returns false when a zone with the same origin is already present.
    bool add(std::shared_ptr<const Zone> zone);

    // The most specific zone containing `qname_lower` (lowercase wire form), or null. With
    // `skip_exact`, a zone whose apex is the name itself is passed over: the parent side
    // answers DS queries (RFC 4035 §3.1.4.1).
    const Zone* find_zone(std::span<const uint8_t> qname_lower, bool skip_exact = false) const;

    size_t size() const { return zones_.size(); }
    const std::vector<std::shared_ptr<const Zone>>& zones() const { return zones_; }

  private:
    std::vector<std::shared_ptr<const Zone>> zones_;
    std::unordered_map<std::string, const Zone*, NameHash, std::equal_to<>> by_origin_;
};

}  // namespace meridian::zones
