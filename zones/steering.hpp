// GeoDNS in the answer path, every decision in one place: which address decides (the ECS
// subnet or the resolver's address, RFC 7871 §7.1.2), whether a name is steered, and which
// pool answers. The names that have a geo policy carry their compiled decision tree and the
// A/AAAA RRsets of every pool prebuilt in wire form.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "geoip/network.hpp"
#include "geoip/pool_state.hpp"
#include "geoip/prefix_tree.hpp"
#include "wire/query.hpp"
#include "zones/zone.hpp"

namespace meridian::zones {

// One pool's answers for one steered name (the policy's TTL is already in them), and the
// pool's health (null: always usable), owned by the SteeringTable.
struct PoolAnswers {
    OwnedRRset a;
    OwnedRRset aaaa;
    const geoip::PoolState* state = nullptr;
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
    bool is_subnet = false;  // the ECS subnet, not the resolver's own address
    geoip::Family family = geoip::Family::v4;
    uint8_t bytes[16] = {};
    uint8_t source_prefix = 0;  // bits of `bytes` that count
};

// What decided a steered answer, for the metrics: the config net, the database location of
// the ECS subnet or of the resolver's address, a "local" policy, or nothing (fallback: the
// zone's own records, because the client is unlocated, no rule names it, or every pool of
// its decision is down or has no address of the type).
enum class SteeringSource : uint8_t { none, ecs, resolver, net, local, fallback };
inline constexpr size_t kSteeringSources = 6;

// What steering did to a response, so the responder can set the ECS scope.
struct SteeringOutcome {
    bool depends_on_client = false;
    uint8_t scope = 0;  // RFC 7871 §7.2.1 SCOPE PREFIX-LENGTH
    // The last steered name of the answer: how it was decided and, unless fallback, the
    // PoolState::slot() of the pool that answered.
    SteeringSource source = SteeringSource::none;
    uint16_t pool_slot = 0;
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
    // Every pool's health, by geoip::PoolIndex; shared with the checks that write them and
    // with the next snapshot, so a reload keeps the states of pools that still exist.
    std::vector<std::shared_ptr<geoip::PoolState>> pool_states;

  private:
    std::unordered_map<std::string, SteeredName, NameHash, std::equal_to<>> names_;
};

// GeoDNS inputs for one query; `outcome` tells the responder what the ECS scope must be.
struct SteeringContext {
    const SteeringTable& table;
    const ClientAddress& client;
    SteeringOutcome& outcome;
};

// RFC 7871 §7.1.2: the address whose location decides. The ECS subnet when the query
// carries one we accept (ECS enabled, resolver allowed by `ecs_from`, SOURCE PREFIX-LENGTH
// above 0, which asks us to use the resolver's own address); else the resolver's address,
// IPv4-mapped IPv6 taken as IPv4 (`resolver` may be null: unknown). Sets `from_ecs` when
// the subnet decided.
ClientAddress deciding_address(const wire::Query& query, const geoip::Address* resolver,
                               const SteeringTable& steering, bool& from_ecs);

// Whether the question for `qtype` at `node` is steered, and if so the pool's RRset: only
// A and AAAA at a name with a policy; null leaves the answer to the zone's own records.
const OwnedRRset* steer_name(const SteeringContext& context, const Node& node, uint16_t qtype);

// Steers one question at `node_name` for `qtype` (A or AAAA). Returns the RRset of the first
// pool of the decision that is up and has addresses of that type, or null to answer from
// the zone's own records (unknown location, no rule, or no such pool). Records the
// dependence on the client, and the source and pool for the metrics.
const OwnedRRset* steer(const SteeredName& name, uint16_t qtype, const ClientAddress& client,
                        SteeringOutcome& outcome);

}  // namespace meridian::zones
