// GeoDNS in the answer path: the names that have a geo policy, each with its compiled
// decision tree and the A/AAAA RRsets of every pool prebuilt in wire form, and the client
// address that decides (the ECS subnet or the resolver's address, RFC 7871 §7.1.2).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "geoip/network.hpp"
#include "geoip/prefix_tree.hpp"
#include "zones/zone.hpp"

namespace meridian::zones {

// One pool's answers for one steered name (the policy's TTL is already in them).
struct PoolAnswers {
    OwnedRRset a;
    OwnedRRset aaaa;
    const OwnedRRset& for_type(uint16_t type) const { return type == 1 ? a : aaaa; }
};

struct SteeredName {
    geoip::PrefixTree tree;
    std::vector<PoolAnswers> pools;  // indexed by geoip::PoolIndex
    // False for "local" mode: the answer is this PoP's pool for everyone (ECS scope 0).
    bool depends_on_client = true;
};

// The address whose location decides, as the responder found it.
struct ClientAddress {
    bool is_known = false;
    geoip::Family family = geoip::Family::v4;
    uint8_t bytes[16] = {};
    uint8_t source_prefix = 0;  // bits of `bytes` that count
};

// What steering did to a response, so the responder can set the ECS scope.
struct SteeringOutcome {
    bool depends_on_client = false;
    uint8_t scope = 0;  // RFC 7871 §7.2.1 SCOPE PREFIX-LENGTH
};

class SteeringTable {
  public:
    void add(std::string owner_lower_wire, SteeredName name) {
        names_.insert_or_assign(std::move(owner_lower_wire), std::move(name));
    }
    const SteeredName* find(std::string_view owner_lower_wire) const {
        if (names_.empty()) return nullptr;
        auto it = names_.find(owner_lower_wire);
        return it == names_.end() ? nullptr : &it->second;
    }
    bool empty() const { return names_.empty(); }
    size_t size() const { return names_.size(); }

    bool ecs_enabled = true;              // [geoip] ecs
    std::vector<geoip::Prefix> ecs_from;  // [geoip] ecs_from; empty = every resolver

  private:
    std::unordered_map<std::string, SteeredName, NameHash, std::equal_to<>> names_;
};

// Steers one question at `node_name` for `qtype` (A or AAAA). Returns the RRset to answer
// with, or null to answer from the zone's own records (unknown location, no rule, or no
// usable pool with addresses of that type). Records the dependence on the client.
const OwnedRRset* steer(const SteeredName& name, uint16_t qtype, const ClientAddress& client,
                        SteeringOutcome& outcome);

}  // namespace meridian::zones
