// Building a Zone from loaded records: grouping into RRsets, structural checks (RFC 1034,
// RFC 2181, RFC 6672) and the empty non-terminals that make RFC 4592 wildcards work.
#include "zones/zone.hpp"

#include <algorithm>
#include <map>

#include "wire/constants.hpp"
#include "wire/name.hpp"

namespace meridian::zones {

namespace {

std::span<const uint8_t> as_bytes(std::string_view s) {
    return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

uint32_t read32(const std::string& s, size_t at) {
    return (uint32_t(uint8_t(s[at])) << 24) | (uint32_t(uint8_t(s[at + 1])) << 16) |
           (uint32_t(uint8_t(s[at + 2])) << 8) | uint32_t(uint8_t(s[at + 3]));
}

// Types that may share a node with a CNAME (RFC 2181 §10.1, RFC 4035 §2.5).
bool may_accompany_cname(uint16_t type) {
    return type == wire::type::kCNAME || type == wire::type::kRRSIG || type == wire::type::kNSEC;
}

}  // namespace

uint32_t Zone::serial() const {
    const std::string& rdata = soa_->rdatas.front();
    return read32(rdata, rdata.size() - 20);
}

uint32_t Zone::negative_ttl() const {
    const std::string& rdata = soa_->rdatas.front();
    return std::min(soa_->ttl, read32(rdata, rdata.size() - 4));
}

ZoneBuilder::ZoneBuilder(std::string origin_wire, std::string source_file)
    : origin_(std::move(origin_wire)), source_file_(std::move(source_file)) {
    sources_.push_back(source_file_);
}

uint16_t ZoneBuilder::add_source(std::string file) {
    sources_.push_back(std::move(file));
    return static_cast<uint16_t>(sources_.size() - 1);
}

void ZoneBuilder::add_record(std::string_view owner_wire, uint16_t type, uint32_t ttl,
                             std::string rdata, int line, uint16_t source) {
    records_.push_back({std::string(owner_wire), type, ttl, std::move(rdata), line, source});
}

namespace {

// Every name between `owner` and the apex exists (RFC 4592 §2.2.2).
void add_empty_non_terminals(
    std::unordered_map<std::string, Node, NameHash, std::equal_to<>>& nodes,
    const std::string& owner, size_t origin_labels) {
    const auto bytes = as_bytes(owner);
    const size_t labels = wire::count_labels(bytes);
    for (size_t keep = labels - 1; keep > origin_labels; --keep) {
        const std::string ancestor(owner.substr(wire::suffix_offset(bytes, keep)));
        auto [it, inserted] = nodes.try_emplace(ancestor);
        if (!inserted) break;  // its ancestors are already there
        it->second.name = ancestor;
    }
}

}  // namespace

std::shared_ptr<const Zone> with_empty_nodes(const std::shared_ptr<const Zone>& zone,
                                             const std::vector<std::string>& names) {
    bool all_present = true;
    for (const auto& name : names) all_present = all_present && zone->find_node(name);
    if (all_present) return zone;
    auto copy = std::make_shared<Zone>(*zone);
    const size_t origin_labels = wire::count_labels(as_bytes(copy->origin_));
    for (const auto& name : names) {
        auto [it, inserted] = copy->nodes_.try_emplace(name);
        if (!inserted) continue;
        it->second.name = name;
        add_empty_non_terminals(copy->nodes_, name, origin_labels);
    }
    // The copied pointers point into the original's nodes.
    copy->apex_ = &copy->nodes_.find(copy->origin_)->second;
    copy->soa_ = copy->apex_->find(wire::type::kSOA);
    return copy;
}

std::shared_ptr<const Zone> ZoneBuilder::finish(Diagnostics& diagnostics) {
    auto zone = std::make_shared<Zone>();
    zone->origin_ = origin_;
    zone->source_file_ = source_file_;
    const auto origin = as_bytes(origin_);
    const std::string origin_text = wire::to_text(origin);
    bool ok = true;
    const PendingRecord* current = nullptr;
    auto file_of = [&](int line) -> const std::string& {
        return (line > 0 && current) ? sources_[current->source] : source_file_;
    };
    auto error = [&](int line, std::string message) {
        diagnostics.push_back({file_of(line), line, std::move(message), true});
        ok = false;
    };
    auto warn = [&](int line, std::string message) {
        diagnostics.push_back({file_of(line), line, std::move(message), false});
    };

    // Where each (owner, type) was first seen, for TTL and conflict messages.
    std::map<std::pair<std::string, uint16_t>, const PendingRecord*> first_seen;
    for (auto& record : records_) {
        current = &record;
        const auto owner = as_bytes(record.owner);
        if (!wire::is_subdomain(owner, origin)) {
            error(record.line, "'" + wire::to_text(owner) + "' is outside the zone " + origin_text);
            continue;
        }
        if (record.type == wire::type::kSOA && record.owner != origin_) {
            error(record.line, "SOA record at '" + wire::to_text(owner) +
                                   "', not at the zone apex " + origin_text);
            continue;
        }
        Node& node = zone->nodes_[record.owner];
        node.name = record.owner;
        auto rrset = std::find_if(node.rrsets.begin(), node.rrsets.end(),
                                  [&](const RRset& r) { return r.type == record.type; });
        if (rrset == node.rrsets.end()) {
            node.rrsets.push_back(RRset{record.type, record.ttl, {}});
            rrset = node.rrsets.end() - 1;
            first_seen[{record.owner, record.type}] = &record;
        } else if (rrset->ttl != record.ttl) {
            // RFC 2181 §5.2: one TTL per RRset; like Knot, keep the first and say so.
            warn(record.line, "TTL " + std::to_string(record.ttl) + " differs from the RRset's " +
                                  std::to_string(rrset->ttl) + " (line " +
                                  std::to_string(first_seen[{record.owner, record.type}]->line) +
                                  "); using " + std::to_string(rrset->ttl));
        }
        // RFC 2181 §5: an RRset holds no duplicate records.
        if (std::find(rrset->rdatas.begin(), rrset->rdatas.end(), record.rdata) !=
            rrset->rdatas.end())
            continue;
        if (record.type == wire::type::kSOA && !rrset->rdatas.empty()) {
            error(record.line, "a second SOA record at the zone apex");
            continue;
        }
        if ((record.type == wire::type::kCNAME || record.type == wire::type::kDNAME) &&
            !rrset->rdatas.empty()) {
            error(record.line, std::string("a second ") +
                                   (record.type == wire::type::kCNAME ? "CNAME" : "DNAME") +
                                   " record at '" + wire::to_text(owner) +
                                   "' (RFC 2181 §10.1, RFC 6672 §2.4)");
            continue;
        }
        rrset->rdatas.push_back(std::move(record.rdata));
        ++zone->record_count_;
    }

    // RFC 1034 §3.6.2: a CNAME owner has no other data.
    for (const auto& [name, node] : zone->nodes_) {
        const RRset* cname = node.find(wire::type::kCNAME);
        if (!cname) continue;
        for (const auto& rrset : node.rrsets) {
            if (!may_accompany_cname(rrset.type)) {
                current = first_seen[{name, wire::type::kCNAME}];
                error(current->line, "'" + wire::to_text(as_bytes(name)) +
                                         "' has a CNAME and other data (RFC 1034 §3.6.2)");
                break;
            }
        }
    }

    current = nullptr;
    auto apex = zone->nodes_.find(origin_);
    if (apex == zone->nodes_.end() || !apex->second.find(wire::type::kSOA)) {
        error(0, "no SOA record at the zone apex " + origin_text);
        records_.clear();
        return nullptr;
    }
    if (!apex->second.find(wire::type::kNS))
        warn(0, "no NS records at the zone apex " + origin_text);

    // Empty non-terminals: every name between an owner and the apex exists (RFC 4592 §2.2.2).
    std::vector<std::string> owners;
    owners.reserve(zone->nodes_.size());
    for (const auto& [name, node] : zone->nodes_) owners.push_back(name);
    const size_t origin_labels = wire::count_labels(origin);
    for (const auto& owner : owners) add_empty_non_terminals(zone->nodes_, owner, origin_labels);

    records_.clear();
    if (!ok) return nullptr;
    zone->apex_ = &zone->nodes_.find(origin_)->second;
    zone->soa_ = zone->apex_->find(wire::type::kSOA);
    return zone;
}

}  // namespace meridian::zones
