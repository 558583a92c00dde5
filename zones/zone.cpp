// Building a Zone from loaded records: grouping into RRsets, structural checks (RFC 1034,
// RFC 2181, RFC 6672) and the empty non-terminals that make RFC 4592 wildcards work.
#include "zones/zone.hpp"

#include <malloc.h>
#include <sys/mman.h>

#include <algorithm>
#include <functional>
#include <new>
#include <unordered_set>

#include "wire/bytes.hpp"
#include "wire/constants.hpp"
#include "wire/name.hpp"
#include "zones/signature_check.hpp"

namespace meridian::zones {

namespace {

std::span<const uint8_t> as_bytes(std::string_view s) {
    return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

uint32_t read32(std::string_view s, size_t at) {
    return wire::read32(as_bytes(s), at);
}

// Types that may share a node with a CNAME (RFC 2181 §10.1, RFC 4035 §2.5).
bool may_accompany_cname(uint16_t type) {
    return type == wire::type::kCNAME || type == wire::type::kRRSIG || type == wire::type::kNSEC;
}

constexpr size_t kFirstChunk = 64 * 1024;
constexpr size_t kLargestChunk = 4 * 1024 * 1024;

}  // namespace

// ---------------------------------------------------------------------------------------
// Arena

Arena::~Arena() {
    release();
}

void Arena::release() {
    for (const Chunk& chunk : chunks_) munmap(chunk.data, chunk.size);
    chunks_.clear();
    next_ = nullptr;
    left_ = 0;
    used_total_ = 0;
}

uint8_t* Arena::allocate(size_t size) {
    if (size > left_) {
        // Chunks double up to 4 MiB, so a small zone stays small and a large one needs
        // few mappings.
        size_t chunk =
            chunks_.empty() ? kFirstChunk : std::min(kLargestChunk, chunks_.back().size * 2);
        if (chunk < size) chunk = (size + 4095) & ~size_t(4095);
        void* data =
            mmap(nullptr, chunk, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (data == MAP_FAILED) throw std::bad_alloc();
        chunks_.push_back({static_cast<uint8_t*>(data), chunk});
        next_ = static_cast<uint8_t*>(data);
        left_ = chunk;
    }
    uint8_t* out = next_;
    next_ += size;
    left_ -= size;
    used_total_ += size;
    return out;
}

// ---------------------------------------------------------------------------------------
// NameIndex

uint32_t NameIndex::hash(std::string_view name) {
    const size_t h = std::hash<std::string_view>{}(name);
    return static_cast<uint32_t>(h ^ (h >> 32));
}

void NameIndex::insert(std::string_view name, uint32_t node) {
    // At most half full, so a miss ends after a probe or two.
    if ((count_ + 1) * 2 > slots_.size()) grow();
    const uint32_t h = hash(name);
    size_t i = h & mask_;
    while (slots_[i].node != kMissing) i = (i + 1) & mask_;
    slots_[i] = {h, node};
    ++count_;
}

void NameIndex::grow() {
    std::vector<Slot> old = std::move(slots_);
    const size_t size = old.empty() ? 16 : old.size() * 2;
    slots_.assign(size, Slot{});
    mask_ = size - 1;
    for (const Slot& slot : old) {
        if (slot.node == kMissing) continue;
        size_t i = slot.hash & mask_;
        while (slots_[i].node != kMissing) i = (i + 1) & mask_;
        slots_[i] = slot;
    }
}

// ---------------------------------------------------------------------------------------
// Zone

uint32_t Zone::serial() const {
    const std::string_view rdata = soa_->rdatas.front();
    return read32(rdata, rdata.size() - 20);
}

uint32_t Zone::negative_ttl() const {
    const std::string_view rdata = soa_->rdatas.front();
    return std::min(soa_->ttl, read32(rdata, rdata.size() - 4));
}

size_t Zone::memory() const {
    size_t total = nodes_.capacity() * sizeof(Node) + index_.memory() + hashed_index_.memory() +
                   (denial_ ? denial_->memory() : 0);
    for (const auto& storage : storage_)
        total += storage->names.bytes_used() + storage->rdatas.bytes_used() +
                 storage->rrsets.capacity() * sizeof(RRset);
    return total;
}

const Node* Zone::find_stored_node(std::string_view name) const {
    if (const Node* node = find_node(name)) return node;
    const uint32_t i = hashed_index_.find(name, [this](uint32_t n) { return nodes_[n].name; });
    return i == NameIndex::kMissing ? nullptr : &nodes_[i];
}

void Zone::add_empty_node(std::string_view name, bool exists) {
    // Every name between `name` and the apex exists (RFC 4592 §2.2.2). The ancestors are
    // suffixes of `name`, so they need no storage of their own.
    const auto bytes = as_bytes(name);
    const size_t labels = wire::count_labels(bytes);
    const size_t origin_labels = wire::count_labels(as_bytes(origin_));
    // The apex (the root name, in a root zone: RFC 8806) has no ancestors in the zone;
    // `labels - 1` below would wrap for the root's 0 labels.
    if (labels <= origin_labels) return;
    for (size_t keep = exists ? labels - 1 : labels; keep > origin_labels; --keep) {
        const std::string_view ancestor = name.substr(wire::suffix_offset(bytes, keep));
        if (find_node(ancestor)) {
            if (keep < labels) break;  // its ancestors are already there
            continue;
        }
        index_.insert(ancestor, static_cast<uint32_t>(nodes_.size()));
        nodes_.push_back(Node{ancestor, {}});
    }
}

std::shared_ptr<const Zone> with_empty_nodes(const std::shared_ptr<const Zone>& zone,
                                             const std::vector<std::string>& names) {
    bool all_present = true;
    for (const auto& name : names) all_present = all_present && zone->find_node(name);
    if (all_present) return zone;
    auto copy = std::make_shared<Zone>(*zone);  // shares the storage, copies nodes and index
    auto storage = std::make_shared<ZoneStorage>();
    for (const auto& name : names) {
        if (copy->find_node(name)) continue;
        const auto* stored = storage->names.copy(name);
        copy->add_empty_node({reinterpret_cast<const char*>(stored), name.size()}, false);
    }
    copy->storage_.push_back(std::move(storage));
    return copy;
}

// ---------------------------------------------------------------------------------------
// ZoneBuilder

ZoneBuilder::ZoneBuilder(std::string origin_wire, std::string source_file)
    : origin_(std::move(origin_wire)),
      source_file_(std::move(source_file)),
      storage_(std::make_shared<ZoneStorage>()) {
    sources_.push_back(source_file_);
}

ZoneBuilder::~ZoneBuilder() = default;

uint16_t ZoneBuilder::add_source(std::string file) {
    sources_.push_back(std::move(file));
    return static_cast<uint16_t>(sources_.size() - 1);
}

uint32_t ZoneBuilder::node_for(std::string_view owner_lower) {
    // Master files list a name's records together: most records need no lookup at all.
    if (!names_.empty() && names_[last_node_] == owner_lower) return last_node_;
    last_node_ = find_or_add_node(owner_lower);
    return last_node_;
}

uint32_t ZoneBuilder::find_or_add_node(std::string_view owner_lower) {
    const uint32_t found = index_.find(owner_lower, [this](uint32_t n) { return names_[n]; });
    if (found != NameIndex::kMissing) return found;
    const auto* stored = storage_->names.copy(owner_lower);
    const std::string_view name(reinterpret_cast<const char*>(stored), owner_lower.size());
    const auto node = static_cast<uint32_t>(names_.size());
    names_.push_back(name);
    index_.insert(name, node);
    return node;
}

void ZoneBuilder::add_record(std::string_view owner_wire, uint16_t type, uint32_t ttl,
                             std::string_view rdata, int line, uint16_t source) {
    uint8_t lower[wire::kMaxNameLength];
    const size_t length = std::min(owner_wire.size(), size_t(wire::kMaxNameLength));
    wire::to_lower(as_bytes(owner_wire.substr(0, length)), lower);
    const uint32_t node = node_for({reinterpret_cast<const char*>(lower), length});
    const uint8_t* stored = pending_rdata_.copy(rdata);
    records_.push_back({stored, node, ttl, line, type, source,
                        static_cast<uint16_t>(std::min(rdata.size(), size_t(65535)))});
}

void ZoneBuilder::verify_signatures(Diagnostics& diagnostics) const {
    std::vector<SourceRecord> records;
    records.reserve(records_.size());
    uint32_t refresh = 0;
    for (const PendingRecord& record : records_) {
        const std::string_view rdata(reinterpret_cast<const char*>(record.rdata),
                                     record.rdata_size);
        // RFC 1035 §3.3.13: REFRESH is 16 octets from the end of the SOA RDATA.
        if (record.type == wire::type::kSOA && names_[record.node] == origin_ && rdata.size() >= 20)
            refresh = read32(rdata, rdata.size() - 16);
        records.push_back({names_[record.node], record.type, record.ttl, rdata,
                           sources_[record.source], record.line});
    }
    check_signatures(origin_, records, {*verify_at_, refresh}, diagnostics);
}

std::shared_ptr<const Zone> ZoneBuilder::finish(Diagnostics& diagnostics) {
    auto zone = std::make_shared<Zone>();
    zone->origin_ = origin_;
    zone->source_file_ = source_file_;
    const auto origin = as_bytes(origin_);
    const std::string origin_text = wire::to_text(origin);
    bool ok = true;
    auto error = [&](const PendingRecord* at, std::string message) {
        diagnostics.push_back({at ? sources_[at->source] : source_file_, at ? at->line : 0,
                               std::move(message), true});
        ok = false;
    };
    auto warn = [&](const PendingRecord* at, std::string message) {
        diagnostics.push_back({at ? sources_[at->source] : source_file_, at ? at->line : 0,
                               std::move(message), false});
    };
    auto rdata_of = [](const PendingRecord& r) {
        return std::string_view(reinterpret_cast<const char*>(r.rdata), r.rdata_size);
    };

    if (verify_at_) verify_signatures(diagnostics);

    // Records grouped by node (a counting sort, stable, so each node's records keep their
    // order in the file), then by type in the order the types first appear.
    const size_t node_total = names_.size();
    std::vector<uint32_t> first(node_total + 1, 0);
    for (const auto& record : records_) ++first[record.node + 1];
    for (size_t n = 0; n < node_total; ++n) first[n + 1] += first[n];
    std::vector<uint32_t> order(records_.size());
    {
        std::vector<uint32_t> next(first.begin(), first.end() - 1);
        for (uint32_t i = 0; i < records_.size(); ++i) order[next[records_[i].node]++] = i;
    }
    std::vector<bool> inside(node_total);
    for (size_t n = 0; n < node_total; ++n)
        inside[n] = wire::is_subdomain(as_bytes(names_[n]), origin);

    auto& rrsets = storage_->rrsets;
    rrsets.reserve(records_.size());
    struct Span {
        uint32_t begin, count;
    };
    std::vector<Span> node_rrsets(node_total, Span{0, 0});
    std::vector<const PendingRecord*> cname_at(node_total, nullptr);
    // Where each node was first read: the place a problem with its NSEC/NSEC3 is reported.
    std::vector<std::pair<uint16_t, int32_t>> node_place(node_total, {0, 0});
    std::vector<const PendingRecord*> group;
    std::vector<const PendingRecord*> signatures;  // this node's RRSIGs
    std::vector<std::string_view> signatures_kept;
    std::vector<uint16_t> handled;
    std::vector<std::string_view> kept;
    std::unordered_set<std::string_view> seen;
    const std::string_view apex_name = origin_;
    for (uint32_t n = 0; n < node_total; ++n) {
        const std::string_view name = names_[n];
        const uint32_t begin = first[n], end = first[n + 1];
        node_rrsets[n].begin = static_cast<uint32_t>(rrsets.size());
        if (begin < end) {
            const PendingRecord& at = records_[order[begin]];
            node_place[n] = {at.source, at.line};
        }
        // RRSIGs are kept with the RRset they cover (RFC 4034 §3.1.1), not as one of their own.
        signatures.clear();
        for (uint32_t i = begin; i < end; ++i)
            if (records_[order[i]].type == wire::type::kRRSIG)
                signatures.push_back(&records_[order[i]]);
        // Each type of this node in first-seen order.
        handled.clear();
        handled.push_back(wire::type::kRRSIG);
        for (uint32_t i = begin; i < end; ++i) {
            const PendingRecord& head = records_[order[i]];
            if (std::find(handled.begin(), handled.end(), head.type) != handled.end()) continue;
            handled.push_back(head.type);
            group.clear();
            for (uint32_t j = i; j < end; ++j)
                if (records_[order[j]].type == head.type) group.push_back(&records_[order[j]]);

            kept.clear();
            seen.clear();
            size_t octets = 0;
            for (const PendingRecord* record : group) {
                if (!inside[n]) {
                    // Appended, not "'" + ...: GCC 12 warns falsely (-Wrestrict) on that at -O3.
                    error(record, std::string(1, '\'')
                                      .append(wire::to_text(as_bytes(name)))
                                      .append("' is outside the zone ")
                                      .append(origin_text));
                    continue;
                }
                if (record->type == wire::type::kSOA && name != apex_name) {
                    error(record, "SOA record at '" + wire::to_text(as_bytes(name)) +
                                      "', not at the zone apex " + origin_text);
                    continue;
                }
                if (record->ttl != head.ttl) {
                    // RFC 2181 §5.2: one TTL per RRset; like Knot, keep the first and say so.
                    warn(record, "TTL " + std::to_string(record->ttl) +
                                     " differs from the RRset's " + std::to_string(head.ttl) +
                                     " (line " + std::to_string(head.line) + "); using " +
                                     std::to_string(head.ttl));
                }
                // RFC 2181 §5: an RRset holds no duplicate records. Small RRsets are
                // searched, large ones (thousands of NS or TXT at one name) hashed.
                const std::string_view rdata = rdata_of(*record);
                bool duplicate = false;
                if (kept.size() < 32) {
                    duplicate = std::find(kept.begin(), kept.end(), rdata) != kept.end();
                } else {
                    if (seen.empty()) seen.insert(kept.begin(), kept.end());
                    duplicate = !seen.insert(rdata).second;
                }
                if (duplicate) continue;
                if (record->type == wire::type::kSOA && !kept.empty()) {
                    error(record, "a second SOA record at the zone apex");
                    continue;
                }
                if ((record->type == wire::type::kCNAME || record->type == wire::type::kDNAME) &&
                    !kept.empty()) {
                    error(record, std::string("a second ") +
                                      (record->type == wire::type::kCNAME ? "CNAME" : "DNAME") +
                                      " record at '" + wire::to_text(as_bytes(name)) +
                                      "' (RFC 2181 §10.1, RFC 6672 §2.4)");
                    continue;
                }
                // RdataList keeps a 2-octet count: refused here rather than stored wider,
                // since no DNS message (64 KiB) can hold such an RRset, and a wider count
                // would cost every RRset in memory and the hot path for nothing.
                if (kept.size() == 65535) {
                    error(record, "more than 65535 records in one RRset at '" +
                                      wire::to_text(as_bytes(name)) + "'");
                    continue;
                }
                if (!seen.empty()) seen.insert(rdata);
                kept.push_back(rdata);
                octets += rdata.size();
            }
            if (kept.empty()) continue;
            if (head.type == wire::type::kCNAME) cname_at[n] = group.front();
            // The RRSIGs covering this type, duplicates dropped (RFC 2181 §5).
            signatures_kept.clear();
            size_t signature_octets = 0;
            uint32_t signature_ttl = 0;
            for (const PendingRecord* signature : signatures) {
                const std::string_view rdata = rdata_of(*signature);
                if (type_covered(rdata) != head.type || rdata.size() < 18) continue;
                if (std::find(signatures_kept.begin(), signatures_kept.end(), rdata) !=
                    signatures_kept.end())
                    continue;
                if (signatures_kept.empty()) signature_ttl = signature->ttl;
                signatures_kept.push_back(rdata);
                signature_octets += rdata.size();
                // RFC 4034 §3.1.5: the expiration is 8 octets in; compared as serial numbers
                // (RFC 1982) since the field wraps in 2106.
                const uint32_t expires = read32(rdata, 8);
                if (zone->earliest_expiry_ == 0 ||
                    static_cast<int32_t>(expires - zone->earliest_expiry_) < 0) {
                    zone->earliest_expiry_ = expires;
                    zone->earliest_expiry_node_ = n;
                    zone->earliest_expiry_type_ = head.type;
                }
            }
            const size_t records_size = RdataList::stored_size(kept.size(), octets);
            const size_t block_size =
                signatures_kept.empty()
                    ? 0
                    : RRset::signature_block_size(signatures_kept.size(), signature_octets);
            uint8_t* out = storage_->rdatas.allocate(block_size + records_size);
            RRset rrset{head.type, 0, head.ttl, RdataList::store(out + block_size, kept)};
            if (block_size) {
                RRset::store_signatures(out, signatures_kept, block_size, signature_ttl);
                rrset.flags |= RRset::kSigned;
            }
            rrsets.push_back(rrset);
            zone->record_count_ += kept.size() + signatures_kept.size();
        }
        // RRSIGs for a type the node does not hold cannot be served with anything.
        for (const PendingRecord* signature : signatures) {
            const uint16_t covered = type_covered(rdata_of(*signature));
            if (std::find(handled.begin() + 1, handled.end(), covered) == handled.end() ||
                rdata_of(*signature).size() < 18) {
                // Appended: `"literal" + std::string` trips GCC 12's false -Wrestrict.
                std::string message = "RRSIG at '";
                message.append(wire::to_text(as_bytes(name)))
                    .append("' covers type ")
                    .append(std::to_string(covered))
                    .append(", which has no records there; ignored");
                warn(signature, std::move(message));
            }
        }
        node_rrsets[n].count = static_cast<uint32_t>(rrsets.size()) - node_rrsets[n].begin;
    }
    order = {};

    // RFC 1034 §3.6.2: a CNAME owner has no other data.
    for (uint32_t n = 0; n < node_total; ++n) {
        if (!cname_at[n]) continue;
        const Span s = node_rrsets[n];
        for (uint32_t r = s.begin; r < s.begin + s.count; ++r) {
            if (!may_accompany_cname(rrsets[r].type)) {
                std::string message(1, '\'');
                message.append(wire::to_text(as_bytes(names_[n])))
                    .append("' has a CNAME and other data (RFC 1034 §3.6.2)");
                error(cname_at[n], std::move(message));
                break;
            }
        }
    }

    // Only now: cname_at points into records_ (freeing it first was a use after free).
    records_.clear();
    records_.shrink_to_fit();

    zone->nodes_.reserve(node_total + node_total / 8);
    for (uint32_t n = 0; n < node_total; ++n) {
        const Span s = node_rrsets[n];
        zone->nodes_.push_back(Node{names_[n], {rrsets.data() + s.begin, s.count}});
    }
    // NSEC3 records live at hashed owner names that are not names of the zone: a query for
    // one is answered as for any name that does not exist (RFC 5155 §7.2.8), so they stay out
    // of the index answers search.
    std::vector<bool> hashed(node_total, false);
    bool any_hashed = false;
    for (uint32_t n = 0; n < node_total; ++n) {
        const Node& node = zone->nodes_[n];
        hashed[n] = node.rrsets.size() == 1 && node.rrsets[0].type == wire::type::kNSEC3 &&
                    names_[n] != apex_name;
        any_hashed = any_hashed || hashed[n];
    }
    if (any_hashed) {
        NameIndex plain;
        for (uint32_t n = 0; n < node_total; ++n)
            (hashed[n] ? zone->hashed_index_ : plain).insert(names_[n], n);
        index_ = std::move(plain);
    }
    zone->index_ = std::move(index_);
    const Node* apex = zone->find_node(origin_);
    if (!apex || !apex->find(wire::type::kSOA)) {
        error(nullptr, "no SOA record at the zone apex " + origin_text);
        return nullptr;
    }
    if (!apex->find(wire::type::kNS))
        warn(nullptr, "no NS records at the zone apex " + origin_text);
    if (!ok) return nullptr;
    zone->apex_ = static_cast<uint32_t>(apex - zone->nodes_.data());
    zone->soa_ = apex->find(wire::type::kSOA);

    // Empty non-terminals: every name between an owner and the apex exists (RFC 4592 §2.2.2).
    for (uint32_t n = 0; n < node_total; ++n) {
        if (!zone->nodes_[n].rrsets.empty() && !hashed[n]) zone->add_empty_node(names_[n], true);
    }
    zone->nodes_.shrink_to_fit();

    // A zone is signed when its apex has a DNSKEY RRset and its records carry RRSIGs
    // (RFC 4035 §2); it is then served with its NSEC or NSEC3 chain, which must be whole.
    const RRset* dnskey = zone->apex().find(wire::type::kDNSKEY);
    if (dnskey && zone->earliest_expiry_ != 0) {
        auto chain = DenialChain::build(*zone, [&](uint32_t node, std::string message) {
            const bool known = node < node_total;
            diagnostics.push_back({known ? sources_[node_place[node].first] : source_file_,
                                   known ? node_place[node].second : 0, std::move(message), true});
            ok = false;
        });
        if (!ok) return nullptr;
        zone->denial_ = std::move(chain);
    }
    zone->storage_.push_back(std::move(storage_));
    names_ = {};
    pending_rdata_.release();
    // The pending records and the file text were tens of MB for a large zone; glibc keeps
    // freed heap below its mmap threshold unless asked to give it back.
    malloc_trim(0);
    return zone;
}

}  // namespace meridian::zones
