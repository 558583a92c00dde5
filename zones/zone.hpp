// The in-memory model of one authoritative zone: nodes keyed by lowercase wire name, each
// holding its RRsets in wire form. Built once at load time, then read-only.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "zones/diagnostic.hpp"

namespace meridian::zones {

struct RRset {
    uint16_t type = 0;
    uint32_t ttl = 0;
    std::vector<std::string> rdatas;  // uncompressed wire RDATA, one entry per record
};

struct Node {
    std::string name;  // lowercase wire form
    std::vector<RRset> rrsets;

    const RRset* find(uint16_t type) const {
        for (const auto& rrset : rrsets)
            if (rrset.type == type) return &rrset;
        return nullptr;
    }
    // An empty non-terminal exists only because names below it do (RFC 4592 §2.2.2).
    bool is_empty_non_terminal() const { return rrsets.empty(); }
};

struct NameHash {
    using is_transparent = void;
    size_t operator()(std::string_view name) const { return std::hash<std::string_view>{}(name); }
};

class Zone {
  public:
    // Lowercase wire form of the origin.
    const std::string& origin() const { return origin_; }
    const std::string& source_file() const { return source_file_; }

    // The node with exactly this lowercase wire name, or null.
    const Node* find_node(std::string_view name) const {
        auto it = nodes_.find(name);
        return it == nodes_.end() ? nullptr : &it->second;
    }
    const Node& apex() const { return *apex_; }
    const RRset& soa() const { return *soa_; }
    uint32_t serial() const;
    // RFC 2308 §5: the TTL of negative answers is min(SOA TTL, SOA MINIMUM).
    uint32_t negative_ttl() const;
    size_t node_count() const { return nodes_.size(); }
    // Every node, in no particular order (zone transfers, checks; not the query path).
    const auto& nodes() const { return nodes_; }
    size_t record_count() const { return record_count_; }

  private:
    friend class ZoneBuilder;
    friend std::shared_ptr<const Zone> with_empty_nodes(const std::shared_ptr<const Zone>&,
                                                        const std::vector<std::string>&);
    std::string origin_;
    std::string source_file_;
    std::unordered_map<std::string, Node, NameHash, std::equal_to<>> nodes_;
    const Node* apex_ = nullptr;
    const RRset* soa_ = nullptr;
    size_t record_count_ = 0;
};

// `zone` itself when every name in `names` (lowercase wire form, inside the zone) has a
// node, else a copy where the missing ones exist as empty nodes, with their empty
// non-terminal ancestors. A name a GeoDNS policy steers exists even when the zone file has
// no record for it, and answers NODATA for the types nobody steers.
std::shared_ptr<const Zone> with_empty_nodes(const std::shared_ptr<const Zone>& zone,
                                             const std::vector<std::string>& names);

// Collects records, then checks the zone's structure and produces an immutable Zone.
class ZoneBuilder {
  public:
    ZoneBuilder(std::string origin_wire, std::string source_file);

    // Registers a further file (an $INCLUDE) for diagnostics; returns its index.
    uint16_t add_source(std::string file);

    // `line` in source file `source` is where the record was read, for diagnostics.
    void add_record(std::string_view owner_wire, uint16_t type, uint32_t ttl, std::string rdata,
                    int line, uint16_t source = 0);

    // Checks RFC rules (SOA at the apex, CNAME alone at its node, one CNAME/DNAME, records
    // inside the zone) and adds the empty non-terminals. Returns null on any error.
    std::shared_ptr<const Zone> finish(Diagnostics& diagnostics);

  private:
    struct PendingRecord {
        std::string owner;
        uint16_t type;
        uint32_t ttl;
        std::string rdata;
        int line;
        uint16_t source;
    };
    std::string origin_;
    std::string source_file_;
    std::vector<std::string> sources_;  // [0] is source_file_
    std::vector<PendingRecord> records_;
};

}  // namespace meridian::zones
