// The in-memory model of one authoritative zone: nodes keyed by lowercase wire name, each
// holding its RRsets in wire form. Built once at load time, then read-only.
//
// Built for zones of millions of records: names and RDATA live in a few large arenas (one
// allocation per chunk, none per record), RRsets are 16-octet views into them, and nodes
// are found through one open-addressing hash of the full lowercase wire name. A million
// names with 1.8M records take about 70 octets a record.
#pragma once

#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "wire/constants.hpp"
#include "zones/denial.hpp"
#include "zones/diagnostic.hpp"

namespace meridian::zones {

// Memory handed out in large chunks that never move, so views into it stay valid; freed
// all at once with the zone. Chunks come from mmap, so a freed zone goes back to the
// system at once instead of staying in malloc's free lists (a 1M-record zone reloaded
// would otherwise keep the old copy's pages).
class Arena {
  public:
    Arena() = default;
    Arena(const Arena&) = delete;
    Arena& operator=(const Arena&) = delete;
    ~Arena();

    uint8_t* allocate(size_t size);
    // Gives every chunk back; views into them become invalid.
    void release();
    const uint8_t* copy(std::string_view bytes) {
        uint8_t* out = allocate(bytes.size());
        if (!bytes.empty()) std::memcpy(out, bytes.data(), bytes.size());
        return out;
    }
    size_t bytes_used() const { return used_total_; }

  private:
    struct Chunk {
        uint8_t* data;
        size_t size;
    };
    std::vector<Chunk> chunks_;
    uint8_t* next_ = nullptr;
    size_t left_ = 0;
    size_t used_total_ = 0;
};

// Wire-form octets stored in a zone: a name, or one record's RDATA. A string_view that also
// converts to std::string, so code that took these as strings (zone transfers, diffs) keeps
// compiling; the conversion copies, which is fine off the query path.
struct WireView : std::string_view {
    WireView() = default;
    WireView(std::string_view bytes) : std::string_view(bytes) {}
    WireView(const char* data, size_t size) : std::string_view(data, size) {}
    operator std::string() const { return std::string(data(), size()); }
};

// The records of one RRset, back to back in an arena: a 2-octet count, then per record a
// 2-octet length and the uncompressed wire RDATA (lengths in host order). Iterating yields
// each record's RDATA as a string_view.
class RdataList {
  public:
    class iterator {
      public:
        using value_type = WireView;
        using difference_type = std::ptrdiff_t;
        iterator() = default;
        iterator(const uint8_t* at, uint16_t left) : at_(at), left_(left) {}
        WireView operator*() const { return {reinterpret_cast<const char*>(at_ + 2), length()}; }
        iterator& operator++() {
            at_ += 2 + length();
            --left_;
            return *this;
        }
        iterator operator++(int) {
            iterator before = *this;
            ++*this;
            return before;
        }
        bool operator==(const iterator& other) const { return left_ == other.left_; }

      private:
        uint16_t length() const {
            uint16_t n;
            std::memcpy(&n, at_, 2);
            return n;
        }
        const uint8_t* at_ = nullptr;
        uint16_t left_ = 0;
    };

    RdataList() = default;
    explicit RdataList(const uint8_t* stored) : stored_(stored) {}

    size_t size() const {
        if (!stored_) return 0;
        uint16_t n;
        std::memcpy(&n, stored_, 2);
        return n;
    }
    bool empty() const { return size() == 0; }
    iterator begin() const {
        return stored_ ? iterator(stored_ + 2, static_cast<uint16_t>(size())) : iterator();
    }
    iterator end() const { return iterator(); }
    WireView front() const { return *begin(); }
    // Walks from the first record: fine for the short RRsets of a zone, not a hot path.
    WireView operator[](size_t i) const {
        auto it = begin();
        while (i--) ++it;
        return *it;
    }
    // Octets `count` records with these RDATA lengths take in an arena.
    // A copy as strings, for code that edits record sets (allocates; never on the query path).
    operator std::vector<std::string>() const { return {begin(), end()}; }

    static size_t stored_size(size_t count, size_t rdata_octets) {
        return 2 + 2 * count + rdata_octets;
    }
    // Writes the records into `out` (stored_size() octets) and returns the list.
    template <typename Range>
    static RdataList store(uint8_t* out, const Range& rdatas) {
        uint16_t count = 0;
        uint8_t* at = out + 2;
        for (const auto& rdata : rdatas) {
            const auto length = static_cast<uint16_t>(rdata.size());
            std::memcpy(at, &length, 2);
            if (length) std::memcpy(at + 2, rdata.data(), length);
            at += 2 + length;
            ++count;
        }
        std::memcpy(out, &count, 2);
        return RdataList(out);
    }

    // Where the list begins in its arena (the RRset's signatures are stored before it).
    const uint8_t* stored() const { return stored_; }

  private:
    const uint8_t* stored_ = nullptr;
};

// One RRset and, in a signed zone, the RRSIG records that cover it (RFC 4034 §3), kept
// with it so an answer writes both without a second lookup. The signatures sit in the arena
// just before the records: an RdataList of RRSIG RDATA, the RRSIG records' TTL (4 octets),
// then the size of those two (4 octets); a flag says they are there, so an RRset stays 16
// octets whether or not its zone is signed.
struct RRset {
    uint16_t type = 0;
    uint16_t flags = 0;  // kSigned
    uint32_t ttl = 0;
    RdataList rdatas;  // uncompressed wire RDATA, one entry per record

    static constexpr uint16_t kSigned = 1;
    bool is_signed() const { return flags & kSigned; }
    // The covering RRSIG records' RDATA; empty when unsigned.
    RdataList signatures() const {
        if (!is_signed()) return {};
        return RdataList(signature_block());
    }
    // The TTL the RRSIG records had where they were read (zone transfers, files). Answers use
    // each signature's Original TTL field instead, as Knot does (RFC 4034 §3.1.4).
    uint32_t signature_ttl() const {
        uint32_t value = 0;
        if (is_signed()) std::memcpy(&value, raw() - 8, 4);
        return value;
    }
    // The signatures as an RRset of type RRSIG, for code that walks every stored record.
    RRset signature_rrset() const {
        return RRset{wire::type::kRRSIG, 0, signature_ttl(), signatures()};
    }

    // Octets the signature block for these RRSIG RDATA takes in front of the records.
    static size_t signature_block_size(size_t count, size_t rdata_octets) {
        return RdataList::stored_size(count, rdata_octets) + 8;
    }
    // Writes the signature block at `out` (signature_block_size() octets); the records'
    // RdataList must be stored right after it.
    template <typename Range>
    static void store_signatures(uint8_t* out, const Range& rdatas, size_t block_size,
                                 uint32_t ttl) {
        RdataList::store(out, rdatas);
        std::memcpy(out + block_size - 8, &ttl, 4);
        const auto size = static_cast<uint32_t>(block_size - 8);
        std::memcpy(out + block_size - 4, &size, 4);
    }

  private:
    const uint8_t* raw() const { return rdatas.stored(); }
    const uint8_t* signature_block() const {
        uint32_t size;
        std::memcpy(&size, raw() - 4, 4);
        return raw() - 8 - size;
    }
};

// An RRset that owns its records: the answers GeoDNS pools give, built at snapshot time
// from the config rather than read from a zone file.
struct OwnedRRset {
    uint16_t type = 0;
    uint32_t ttl = 0;
    std::vector<std::string> rdatas;
};

struct Node {
    WireView name;  // lowercase wire form
    std::span<const RRset> rrsets;

    const RRset* find(uint16_t type) const {
        for (const auto& rrset : rrsets)
            if (rrset.type == type) return &rrset;
        return nullptr;
    }
    // An empty non-terminal exists only because names below it do (RFC 4592 §2.2.2).
    bool is_empty_non_terminal() const { return rrsets.empty(); }
};

// Calls `visit(rrset)` for each RRset of `node` as stored, each signed one followed by its
// RRSIGs as an RRset of type RRSIG: every record a zone transfer, a diff or a zone file holds.
template <typename Visit>
void for_each_stored_rrset(const Node& node, Visit&& visit) {
    for (const RRset& rrset : node.rrsets) {
        visit(rrset);
        if (rrset.is_signed()) visit(rrset.signature_rrset());
    }
}

// The RRset `for_each_stored_rrset` gives for `type` (and, for RRSIG, the type covered).
inline std::optional<RRset> find_stored_rrset(const Node& node, uint16_t type, uint16_t covered) {
    if (type != wire::type::kRRSIG) {
        const RRset* rrset = node.find(type);
        return rrset ? std::optional<RRset>(*rrset) : std::nullopt;
    }
    const RRset* rrset = node.find(covered);
    return rrset && rrset->is_signed() ? std::optional<RRset>(rrset->signature_rrset())
                                       : std::nullopt;
}

// The type an RRSIG RDATA covers (RFC 4034 §3.1.1), or 0 when it is too short to say.
inline uint16_t type_covered(std::string_view rrsig_rdata) {
    if (rrsig_rdata.size() < 2) return 0;
    return static_cast<uint16_t>((uint8_t(rrsig_rdata[0]) << 8) | uint8_t(rrsig_rdata[1]));
}

// Hashing of lowercase wire names for the small maps keyed by name (zones, steered names).
struct NameHash {
    using is_transparent = void;
    size_t operator()(std::string_view name) const { return std::hash<std::string_view>{}(name); }
};

// Open addressing over 32-bit node numbers, keyed by the full lowercase wire name: one hash
// of the query name, then (nearly always) one probe, and no pointer chasing through
// buckets. Each slot keeps the name's hash so probes compare names only on a likely match.
class NameIndex {
  public:
    static uint32_t hash(std::string_view name);
    // The node number stored for `name`, or kMissing. `name_of` gives a node's name.
    static constexpr uint32_t kMissing = 0xFFFFFFFF;
    template <typename NameOf>
    uint32_t find(std::string_view name, NameOf&& name_of) const {
        if (slots_.empty()) return kMissing;
        const uint32_t h = hash(name);
        for (size_t i = h & mask_;; i = (i + 1) & mask_) {
            const Slot& slot = slots_[i];
            if (slot.node == kMissing) return kMissing;
            if (slot.hash == h && name_of(slot.node) == name) return slot.node;
        }
    }
    // Adds `node` for `name` (which must be absent).
    void insert(std::string_view name, uint32_t node);
    size_t size() const { return count_; }
    size_t memory() const { return slots_.capacity() * sizeof(Slot); }

  private:
    struct Slot {
        uint32_t hash;
        uint32_t node = kMissing;
    };
    void grow();
    std::vector<Slot> slots_;
    size_t mask_ = 0;
    size_t count_ = 0;
};

// What a zone's views point into; shared by a zone and the copies with_empty_nodes makes.
struct ZoneStorage {
    Arena names;   // owner names, lowercase wire form
    Arena rdatas;  // RdataLists
    std::vector<RRset> rrsets;
};

class Zone {
  public:
    // Lowercase wire form of the origin.
    const std::string& origin() const { return origin_; }
    const std::string& source_file() const { return source_file_; }

    // The node with exactly this lowercase wire name, or null. Allocates nothing.
    const Node* find_node(std::string_view name) const {
        const uint32_t i = index_.find(name, [this](uint32_t n) { return nodes_[n].name; });
        return i == NameIndex::kMissing ? nullptr : &nodes_[i];
    }
    const Node& apex() const { return nodes_[apex_]; }
    const RRset& soa() const { return *soa_; }
    uint32_t serial() const;
    // RFC 2308 §5: the TTL of negative answers is min(SOA TTL, SOA MINIMUM).
    uint32_t negative_ttl() const;
    // A node by number, the position nodes() gives it; and a node's number.
    const Node& node_at(uint32_t number) const { return nodes_[number]; }
    uint32_t number_of(const Node& node) const {
        return static_cast<uint32_t>(&node - nodes_.data());
    }
    // Like find_node, but also finds NSEC3 owner nodes, which answers never see (RFC 5155
    // §7.2.8) and zone transfers and diffs do.
    const Node* find_stored_node(std::string_view name) const;

    // DNSSEC (RFC 4035): the zone's denial chain when its data is signed (a DNSKEY RRset at
    // the apex and RRSIGs), else null.
    const DenialChain* denial() const { return denial_.get(); }
    bool is_signed() const { return denial_ != nullptr; }
    // The earliest Signature Expiration among the zone's RRSIGs (RFC 4034 §3.1.5, seconds
    // since the epoch), where it is, and its type covered; 0 when unsigned.
    uint32_t earliest_signature_expiry() const { return earliest_expiry_; }
    uint32_t earliest_expiring_node() const { return earliest_expiry_node_; }
    uint16_t earliest_expiring_type() const { return earliest_expiry_type_; }

    size_t node_count() const { return nodes_.size(); }
    size_t record_count() const { return record_count_; }
    // Octets the zone's data takes (arenas, RRsets, nodes, index), for logs and tests.
    size_t memory() const;

    // Every node, in the order their names first appeared (zone transfers, checks; not the
    // query path). Iterating yields {first: name, second: node}, like a map's entries.
    class NodeRange {
      public:
        struct Entry {
            WireView first;
            const Node& second;
        };
        class iterator {
          public:
            using value_type = Entry;
            using difference_type = std::ptrdiff_t;
            struct Arrow {
                Entry entry;
                const Entry* operator->() const { return &entry; }
            };
            iterator() = default;
            explicit iterator(const Node* at) : at_(at) {}
            Entry operator*() const { return {at_->name, *at_}; }
            Arrow operator->() const { return {**this}; }
            iterator& operator++() {
                ++at_;
                return *this;
            }
            iterator operator++(int) {
                iterator before = *this;
                ++at_;
                return before;
            }
            bool operator==(const iterator& other) const { return at_ == other.at_; }

          private:
            const Node* at_ = nullptr;
        };
        explicit NodeRange(std::span<const Node> nodes) : nodes_(nodes) {}
        iterator begin() const { return iterator(nodes_.data()); }
        iterator end() const { return iterator(nodes_.data() + nodes_.size()); }
        size_t size() const { return nodes_.size(); }

      private:
        std::span<const Node> nodes_;
    };
    NodeRange nodes() const { return NodeRange(nodes_); }

  private:
    friend class ZoneBuilder;
    friend std::shared_ptr<const Zone> with_empty_nodes(const std::shared_ptr<const Zone>&,
                                                        const std::vector<std::string>&);
    // Adds `name` (owned by one of storage_) unless it `exists`, and its missing ancestors,
    // as empty nodes.
    void add_empty_node(std::string_view name, bool exists);

    std::string origin_;
    std::string source_file_;
    std::vector<std::shared_ptr<const ZoneStorage>> storage_;
    std::vector<Node> nodes_;
    NameIndex index_;
    NameIndex hashed_index_;  // NSEC3 owners, which index_ leaves out
    std::shared_ptr<const DenialChain> denial_;
    uint32_t earliest_expiry_ = 0;
    uint32_t earliest_expiry_node_ = 0;
    uint16_t earliest_expiry_type_ = 0;
    uint32_t apex_ = 0;
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
    ~ZoneBuilder();

    // For a loader that learns the origin while reading (from $ORIGIN or the SOA owner).
    void set_origin(std::string origin_wire) { origin_ = std::move(origin_wire); }

    // Makes finish() verify every RRSIG of a signed zone as of `now` (seconds since the
    // epoch): costly (a signature verification per RRSIG), so for `meridian check` only.
    void verify_signatures_at(uint32_t now) { verify_at_ = now; }

    // Registers a further file (an $INCLUDE) for diagnostics; returns its index.
    uint16_t add_source(std::string file);

    // `line` in source file `source` is where the record was read, for diagnostics.
    // `owner_wire` is lowercased here.
    void add_record(std::string_view owner_wire, uint16_t type, uint32_t ttl,
                    std::string_view rdata, int line, uint16_t source = 0);

    // Checks RFC rules (SOA at the apex, CNAME alone at its node, one CNAME/DNAME, records
    // inside the zone) and adds the empty non-terminals. Returns null on any error.
    std::shared_ptr<const Zone> finish(Diagnostics& diagnostics);

  private:
    struct PendingRecord {
        const uint8_t* rdata;  // in pending_rdata_
        uint32_t node;
        uint32_t ttl;
        int32_t line;
        uint16_t type;
        uint16_t source;
        uint16_t rdata_size;
    };
    uint32_t node_for(std::string_view owner_lower);
    void verify_signatures(Diagnostics& diagnostics) const;
    uint32_t find_or_add_node(std::string_view owner_lower);

    std::string origin_;
    std::string source_file_;
    std::vector<std::string> sources_;  // [0] is source_file_
    std::shared_ptr<ZoneStorage> storage_;
    std::vector<std::string_view> names_;  // by node number, in storage_->names
    NameIndex index_;
    uint32_t last_node_ = 0;
    Arena pending_rdata_;
    std::vector<PendingRecord> records_;
    std::optional<uint32_t> verify_at_;
};

}  // namespace meridian::zones
