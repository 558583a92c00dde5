// Building and searching the config nets trie.
#include "geoip/nets.hpp"

#include "geoip/error.hpp"

namespace meridian::geoip {

NetTable::NetTable(std::vector<Net> nets) : nets_(std::move(nets)) {
    for (size_t i = 0; i < nets_.size(); ++i) {
        Net& net = nets_[i];
        complete_location(net.location);
        if (net.pools.empty() && net.location.is_unknown()) {
            throw GeoipError("net " + to_string(net.network) + " has neither pools nor a location");
        }
        int32_t& root = roots_[net.network.family == Family::v4 ? 0 : 1];
        if (root < 0) {
            root = static_cast<int32_t>(trie_.size());
            trie_.emplace_back();
        }
        int32_t at = root;
        for (unsigned depth = 0; depth < net.network.length; ++depth) {
            const unsigned bit = address_bit(net.network.address.data(), depth);
            if (trie_[at].child[bit] < 0) {
                trie_[at].child[bit] = static_cast<int32_t>(trie_.size());
                trie_.emplace_back();
            }
            at = trie_[at].child[bit];
        }
        if (trie_[at].net >= 0) {
            throw GeoipError("net " + to_string(net.network) + " is listed twice");
        }
        trie_[at].net = static_cast<int32_t>(i);
    }
}

const Net* NetTable::longest_match(Family family, const uint8_t* address) const {
    const Net* best = nullptr;
    int32_t at = root(family);
    for (unsigned depth = 0; at >= 0; ++depth) {
        if (trie_[at].net >= 0) best = &nets_[trie_[at].net];
        if (depth == address_bits(family)) break;
        at = trie_[at].child[address_bit(address, depth)];
    }
    return best;
}

}  // namespace meridian::geoip
