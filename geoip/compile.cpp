// The one-pass compiler from database search tree + nets + policy to a minimal PrefixTree.
#include "geoip/compile.hpp"

#include <optional>

namespace meridian::geoip {

namespace {

using Ref = PrefixTreeBuilder::Ref;

class PolicyCompiler {
  public:
    PolicyCompiler(const Policy& policy, std::span<const Pool> pools, const NetTable& nets,
                   const Database* database)
        : steering_(policy, pools), nets_(nets), database_(database) {
        for (const Net& net : nets.nets()) {
            const std::vector<PoolIndex> chosen =
                net.pools.empty() ? steering_.choose(net.location).pools
                                  : steering_.resolve(net.pools, "net " + to_string(net.network));
            net_decisions_.push_back(builder_.intern_decision(chosen, true));
        }
        if (database_) location_decisions_.resize(database_->location_count());
    }

    PrefixTree compile() {
        if (!steering_.depends_on_location()) {
            const Ref only =
                PrefixTreeBuilder::leaf(builder_.intern_decision(steering_.choose({}).pools));
            return builder_.finish(only, only);
        }
        const Ref ipv4 = compile_family(Family::v4);
        const Ref ipv6 = compile_family(Family::v6);
        return builder_.finish(ipv4, ipv6);
    }

  private:
    Ref compile_family(Family family) {
        family_ = family;
        const TreeRecord root =
            database_ ? database_->root(family) : TreeRecord{TreeRecord::Kind::empty, 0};
        return compile_with_nets(root, nets_.root(family), std::nullopt);
    }

    // Below a point where nets still branch, both the nets trie and the database tree are
    // walked in step; once no net lies further down, either the covering net decides the
    // whole subtree or the database does.
    Ref compile_with_nets(TreeRecord record, int32_t net_node, std::optional<DecisionId> covering) {
        bool nets_below = false;
        if (net_node >= 0) {
            const NetTable::TrieNode& node = nets_.node(net_node);
            if (node.net >= 0) covering = net_decisions_[node.net];
            nets_below = node.child[0] >= 0 || node.child[1] >= 0;
        }
        if (!nets_below) {
            return covering ? PrefixTreeBuilder::leaf(*covering) : compile_database(record);
        }
        std::array<TreeRecord, 2> children{record, record};  // a database leaf covers both
        if (record.kind == TreeRecord::Kind::node) children = database_->children(record.value);
        const NetTable::TrieNode& node = nets_.node(net_node);
        const Ref zero = compile_with_nets(children[0], node.child[0], covering);
        const Ref one = compile_with_nets(children[1], node.child[1], covering);
        return builder_.branch(zero, one);
    }

    // Recursion depth is bounded by the database's validated depth (32 or 128 bits).
    Ref compile_database(TreeRecord record) {
        switch (record.kind) {
            case TreeRecord::Kind::empty:
                return PrefixTreeBuilder::leaf(kFallback);
            case TreeRecord::Kind::location:
                return PrefixTreeBuilder::leaf(decide_location(record.value));
            case TreeRecord::Kind::node:
                break;
        }
        if (family_ == Family::v6 && database_->is_ipv4_alias(record.value)) {
            if (!ipv4_alias_) {
                family_ = Family::v4;
                ipv4_alias_ = compile_database(database_->root(Family::v4));
                family_ = Family::v6;
            }
            return *ipv4_alias_;
        }
        const auto children = database_->children(record.value);
        const Ref zero = compile_database(children[0]);
        const Ref one = compile_database(children[1]);
        return builder_.branch(zero, one);
    }

    DecisionId decide_location(uint32_t index) {
        std::optional<DecisionId>& cached = location_decisions_[index];
        if (!cached) {
            cached = builder_.intern_decision(steering_.choose(database_->location(index)).pools);
        }
        return *cached;
    }

    Steering steering_;
    const NetTable& nets_;
    const Database* database_;
    PrefixTreeBuilder builder_;
    Family family_ = Family::v4;
    std::vector<DecisionId> net_decisions_;
    std::vector<std::optional<DecisionId>> location_decisions_;
    std::optional<Ref> ipv4_alias_;
};

}  // namespace

PrefixTree compile_policy(const Policy& policy, std::span<const Pool> pools, const NetTable& nets,
                          const Database* database) {
    return PolicyCompiler(policy, pools, nets, database).compile();
}

}  // namespace meridian::geoip
