// The compiled steering tree a query reads: a minimal binary prefix tree over IPv4 and IPv6
// whose leaves are decisions (pool preference lists), with the ECS scope of each answer.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <unordered_map>
#include <vector>

#include "geoip/network.hpp"
#include "geoip/policy.hpp"

namespace meridian::geoip {

using DecisionId = uint32_t;
// Decision 0 is always "fallback": no pool list, answer as if the name had no policy.
constexpr DecisionId kFallback = 0;

struct ScopedDecision {
    DecisionId decision = kFallback;
    // RFC 7871 §7.2.1 SCOPE PREFIX-LENGTH: the length of the network over which this
    // decision is constant, in the queried family's bits (IPv4 scopes are IPv4 lengths).
    uint8_t scope = 0;
};

class PrefixTree {
  public:
    // Walks at most 32 (v4) or 128 (v6) bits of `address`, of which only the first
    // `source_prefix_length` count (RFC 7871 §6: the client sent no more; the rest are taken
    // as zero, whatever the buffer holds). If the tree needs bits past the source, the
    // answer is that of the zero-padded address and the scope is the depth at which its
    // leaf was found, so it exceeds the source length: RFC 7871 §7.2.1 allows that, and a
    // resolver then caches the answer for the narrower network only. Never throws or
    // allocates; an empty tree answers fallback with scope 0.
    ScopedDecision lookup(Family family, const uint8_t* address,
                          unsigned source_prefix_length) const noexcept {
        const unsigned bits = address_bits(family);
        if (source_prefix_length > bits) source_prefix_length = bits;
        uint32_t ref = roots_[family == Family::v4 ? 0 : 1];
        unsigned depth = 0;
        while (!(ref & kLeafBit) && depth < bits) {
            const unsigned bit = depth < source_prefix_length ? address_bit(address, depth) : 0;
            ref = nodes_[ref][bit];
            ++depth;
        }
        // The builder never makes a tree deeper than the family, so ref is a leaf here.
        return {ref & kLeafBit ? ref & ~kLeafBit : kFallback, static_cast<uint8_t>(depth)};
    }

    // The decision's pools, most preferred first; empty for kFallback.
    std::span<const PoolIndex> pools(DecisionId decision) const noexcept {
        return {decision_pools_.data() + decision_starts_[decision],
                decision_starts_[decision + 1] - decision_starts_[decision]};
    }
    // Whether a config net ([[geoip.nets]]) made this decision rather than the database:
    // what the metrics count as the decision's source.
    bool is_from_net(DecisionId decision) const noexcept { return decision_from_net_[decision]; }

    // Every decision some address of either family reaches, each once, in ascending order
    // (for checks that must consider every answer a policy can give, not for queries).
    std::vector<DecisionId> reachable_decisions() const;

    size_t decision_count() const { return decision_starts_.size() - 1; }
    size_t node_count() const { return nodes_.size(); }
    size_t memory_bytes() const {
        return nodes_.size() * sizeof(nodes_[0]) + decision_starts_.size() * sizeof(uint32_t) +
               decision_pools_.size() * sizeof(PoolIndex);
    }

  private:
    friend class PrefixTreeBuilder;
    static constexpr uint32_t kLeafBit = 0x80000000u;

    // A child is a node index, or kLeafBit | decision.
    std::vector<std::array<uint32_t, 2>> nodes_;
    uint32_t roots_[2] = {kLeafBit | kFallback, kLeafBit | kFallback};
    std::vector<uint32_t> decision_starts_{0, 0};
    std::vector<PoolIndex> decision_pools_;
    std::vector<uint8_t> decision_from_net_{0};
};

// Builds a PrefixTree bottom-up. branch() merges a node whose two children are the same leaf
// into that leaf, and shares identical subtrees (a DAG in one flat array), so a tree built
// from the leaves up is minimal: every leaf sits at the shortest prefix over which its
// decision is constant.
class PrefixTreeBuilder {
  public:
    using Ref = uint32_t;

    PrefixTreeBuilder();
    // A net's decision is kept apart from the database's with the same pools, so the query
    // path can tell which decided; where the two meet, the tree is one level deeper than it
    // would be (a narrower ECS scope, still correct). An empty list is always kFallback.
    DecisionId intern_decision(std::span<const PoolIndex> pools, bool is_from_net = false);
    static Ref leaf(DecisionId decision) { return PrefixTree::kLeafBit | decision; }
    Ref branch(Ref zero, Ref one);
    PrefixTree finish(Ref ipv4_root, Ref ipv6_root);

  private:
    PrefixTree tree_;
    std::unordered_map<uint64_t, uint32_t> node_by_children_;
    struct PoolsHash {
        size_t operator()(const std::vector<PoolIndex>& pools) const noexcept;
    };
    std::unordered_map<std::vector<PoolIndex>, DecisionId, PoolsHash> decision_by_pools_;
};

}  // namespace meridian::geoip
