// Building the minimal steering tree: hash-consed nodes and interned decisions.
#include "geoip/prefix_tree.hpp"

#include "geoip/error.hpp"

namespace meridian::geoip {

PrefixTreeBuilder::PrefixTreeBuilder() {
    decision_by_pools_.emplace(std::vector<PoolIndex>{}, kFallback);
}

size_t PrefixTreeBuilder::PoolsHash::operator()(
    const std::vector<PoolIndex>& pools) const noexcept {
    size_t hash = 1469598103934665603ull;  // FNV-1a
    for (PoolIndex pool : pools) hash = (hash ^ pool) * 1099511628211ull;
    return hash;
}

DecisionId PrefixTreeBuilder::intern_decision(std::span<const PoolIndex> pools, bool is_from_net) {
    if (pools.empty()) return kFallback;
    std::vector<PoolIndex> key(pools.begin(), pools.end());
    // No pool has index 0xFFFF (Steering refuses more than 65535 pools), so this marker
    // cannot be mistaken for a pool.
    if (is_from_net) key.push_back(0xFFFF);
    auto [found, inserted] = decision_by_pools_.emplace(
        std::move(key), static_cast<DecisionId>(decision_by_pools_.size()));
    if (inserted) {
        tree_.decision_pools_.insert(tree_.decision_pools_.end(), pools.begin(), pools.end());
        tree_.decision_starts_.push_back(static_cast<uint32_t>(tree_.decision_pools_.size()));
        tree_.decision_from_net_.push_back(is_from_net);
    }
    return found->second;
}

PrefixTreeBuilder::Ref PrefixTreeBuilder::branch(Ref zero, Ref one) {
    // Only equal leaves merge: a node whose children are the same inner subtree still
    // consumes this bit, and collapsing it would shift the subtree up one level.
    if (zero == one && (zero & PrefixTree::kLeafBit)) return zero;
    const uint64_t key = (uint64_t{zero} << 32) | one;
    auto [found, inserted] =
        node_by_children_.emplace(key, static_cast<uint32_t>(tree_.nodes_.size()));
    if (inserted) {
        if (tree_.nodes_.size() >= PrefixTree::kLeafBit) {
            throw GeoipError("steering tree exceeds 2^31 nodes");
        }
        tree_.nodes_.push_back({zero, one});
    }
    return found->second;
}

PrefixTree PrefixTreeBuilder::finish(Ref ipv4_root, Ref ipv6_root) {
    tree_.roots_[0] = ipv4_root;
    tree_.roots_[1] = ipv6_root;
    tree_.nodes_.shrink_to_fit();
    node_by_children_.clear();
    decision_by_pools_.clear();
    return std::move(tree_);
}

std::vector<DecisionId> PrefixTree::reachable_decisions() const {
    std::vector<bool> seen_node(nodes_.size()), seen_decision(decision_count());
    std::vector<uint32_t> pending = {roots_[0], roots_[1]};
    while (!pending.empty()) {
        const uint32_t ref = pending.back();
        pending.pop_back();
        if (ref & kLeafBit) {
            seen_decision[ref & ~kLeafBit] = true;
        } else if (!seen_node[ref]) {  // subtrees are shared: visit each once
            seen_node[ref] = true;
            pending.push_back(nodes_[ref][0]);
            pending.push_back(nodes_[ref][1]);
        }
    }
    std::vector<DecisionId> result;
    for (DecisionId d = 0; d < seen_decision.size(); ++d)
        if (seen_decision[d]) result.push_back(d);
    return result;
}

}  // namespace meridian::geoip
