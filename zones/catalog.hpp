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
    // A zone we are authoritative for but cannot answer from: a secondary zone not yet
    // transferred, or expired (RFC 1035 §3.3.13). Its names get SERVFAIL, not a parent's
    // answer. Returns false when the origin (lowercase wire form) is already present.
    bool add_unavailable(std::string origin);

    // The most specific zone containing `qname_lower` (lowercase wire form), or null. With
    // `skip_exact`, a zone whose apex is the name itself is passed over: the parent side
    // answers DS queries (RFC 4035 §3.1.4.1).
    // `is_unavailable` (optional) is set when the most specific zone is one added with
    // add_unavailable (the result is then null).
    const Zone* find_zone(std::span<const uint8_t> qname_lower, bool skip_exact = false,
                          bool* is_unavailable = nullptr) const;

    size_t size() const { return zones_.size(); }
    const std::vector<std::string>& unavailable() const { return unavailable_; }
    const std::vector<std::shared_ptr<const Zone>>& zones() const { return zones_; }

  private:
    std::vector<std::shared_ptr<const Zone>> zones_;
    std::vector<std::string> unavailable_;
    // An unavailable zone's origin maps to null.
    std::unordered_map<std::string, const Zone*, NameHash, std::equal_to<>> by_origin_;
};

}  // namespace meridian::zones
