// Config "nets": networks pinned to a location or straight to pools, overriding the
// database; kept as a small binary trie for longest-prefix matching.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "geoip/location.hpp"
#include "geoip/network.hpp"

namespace meridian::geoip {

// Either `pools` (names, preference order) or a `location` whose fields the policy then
// reads as if the database had said them.
struct Net {
    Prefix network;
    Location location;
    std::vector<std::string> pools;
};

class NetTable {
  public:
    struct TrieNode {
        int32_t child[2] = {-1, -1};
        int32_t net = -1;  // index into nets() of the net ending exactly here
    };

    NetTable() = default;
    // Throws GeoipError for a network listed twice or a net that says nothing.
    explicit NetTable(std::vector<Net> nets);

    // The longest net containing `address`, or nullptr.
    const Net* longest_match(Family family, const uint8_t* address) const;

    const std::vector<Net>& nets() const { return nets_; }
    int32_t root(Family family) const { return roots_[family == Family::v4 ? 0 : 1]; }
    const TrieNode& node(int32_t index) const { return trie_[static_cast<size_t>(index)]; }
    bool empty() const { return nets_.empty(); }

  private:
    std::vector<Net> nets_;
    std::vector<TrieNode> trie_;
    int32_t roots_[2] = {-1, -1};
};

}  // namespace meridian::geoip
