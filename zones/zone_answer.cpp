// The authoritative answer from one zone. One query's story: find the closest match for the
// name (exact, wildcard, delegation, DNAME or none), write what it calls for, follow CNAME
// and DNAME inside the zone, and finish with the authority and additional sections.
#include "zones/zone_answer.hpp"

#include <cstring>

#include "wire/bytes.hpp"
#include "wire/constants.hpp"
#include "wire/name.hpp"
#include "zones/lookup.hpp"

namespace meridian::zones {

using wire::bytes_of;

namespace {

using Bytes = std::span<const uint8_t>;
using wire::Section;

std::string_view key_of(Bytes name) {
    return {reinterpret_cast<const char*>(name.data()), name.size()};
}

// Chains longer than this are cut short; the resolver follows the rest (RFC 1034 §3.6.2
// asks servers to follow chains, and a bound keeps a loop from costing more than this).
// Knot 3.2 stops after 5 links; 12 answers the chains seen in practice in one round trip.
constexpr size_t kMaxChain = 12;
constexpr size_t kMaxAdditionalSources = 4;
// Addresses go in the additional section for at most this many distinct target names, each
// once. Additional data is optional and gives way first (RFC 2181 §9), so a resolver asks
// for the rest; the bound keeps the work per answer small however large the RRset. Knot and
// NSD add every target that fits; this differs only for RRsets naming over 32 hosts.
constexpr size_t kMaxAdditionalTargets = 32;

// The target name inside the RDATA of types that point at a host.
Bytes rdata_target(uint16_t type, std::string_view rdata) {
    size_t offset = 0;
    if (type == wire::type::kMX) offset = 2;
    if (type == wire::type::kSRV) offset = 6;
    if (rdata.size() <= offset) return {};
    return bytes_of(rdata).subspan(offset);
}

class AnswerWriter {
  public:
    AnswerWriter(const Zone& zone, const wire::Query& query, wire::MessageWriter& writer,
                 const SteeringContext* steering)
        : zone_(zone), query_(query), writer_(writer), steering_(steering) {}

    void run();

  private:
    // A zone's RRset or a GeoDNS pool's OwnedRRset.
    template <typename AnyRRset>
    bool write_rrset(Section section, Bytes owner, const AnyRRset& rrset, uint32_t ttl);
    template <typename AnyRRset>
    bool write_rrset(Section section, Bytes owner, const AnyRRset& rrset) {
        return write_rrset(section, owner, rrset, rrset.ttl);
    }
    void write_negative(uint16_t rcode);
    void write_referral(const Node& cut);
    void write_additional();
    void add_host_addresses(Bytes target_lower, bool required);
    void truncate() { writer_.set_truncated(); }

    const Zone& zone_;
    const wire::Query& query_;
    wire::MessageWriter& writer_;
    const SteeringContext* steering_;
    const RRset* additional_sources_[kMaxAdditionalSources];
    size_t additional_count_ = 0;
};

template <typename AnyRRset>
bool AnswerWriter::write_rrset(Section section, Bytes owner, const AnyRRset& rrset, uint32_t ttl) {
    const auto mark = writer_.mark();
    for (const auto& rdata : rrset.rdatas) {
        if (!writer_.add_record(section, owner, rrset.type, wire::klass::kIN, ttl,
                                bytes_of(rdata))) {
            writer_.rollback(mark);
            return false;
        }
    }
    return true;
}

// NXDOMAIN or NODATA: the SOA in authority with the negative TTL (RFC 2308 §3, §5).
void AnswerWriter::write_negative(uint16_t rcode) {
    writer_.set_rcode(rcode);
    if (!write_rrset(Section::authority, bytes_of(zone_.origin()), zone_.soa(),
                     zone_.negative_ttl()))
        truncate();
}

void AnswerWriter::write_referral(const Node& cut) {
    const RRset& ns = *cut.find(wire::type::kNS);
    if (!write_rrset(Section::authority, bytes_of(cut.name), ns)) {
        truncate();
        return;
    }
    const Bytes cut_name = bytes_of(cut.name);
    // RFC 9471 §3: in-domain glue must all be present, else the response is truncated; glue
    // for names elsewhere in the zone (sibling glue) is added only while it fits.
    for (int pass = 0; pass < 2; ++pass) {
        const bool in_domain = pass == 0;
        for (const auto& rdata : ns.rdatas) {
            uint8_t target[wire::kMaxNameLength];
            wire::to_lower(bytes_of(rdata), target);
            const Bytes target_name{target, rdata.size()};
            if (wire::is_subdomain(target_name, cut_name) != in_domain) continue;
            add_host_addresses(target_name, in_domain);
            if (writer_.is_truncated()) return;
        }
    }
}

void AnswerWriter::add_host_addresses(Bytes target_lower, bool required) {
    if (!wire::is_subdomain(target_lower, bytes_of(zone_.origin()))) return;
    const Node* node = zone_.find_node(key_of(target_lower));
    if (!node) return;
    for (uint16_t type : {wire::type::kA, wire::type::kAAAA}) {
        const RRset* rrset = node->find(type);
        if (!rrset) continue;
        // Skip an RRset already present (two NS names with one host, or MX and NS alike).
        if (!write_rrset(Section::additional, bytes_of(node->name), *rrset) && required) {
            truncate();
            return;
        }
    }
}

// Addresses of in-zone targets of the NS, MX and SRV records in the answer (RFC 1034 §4.3.2
// step 6, RFC 2782), added while they fit; missing ones never set TC (RFC 2181 §9).
void AnswerWriter::write_additional() {
    const Node* done[kMaxAdditionalTargets];
    size_t done_count = 0;
    for (size_t i = 0; i < additional_count_; ++i) {
        const RRset& rrset = *additional_sources_[i];
        for (const auto& rdata : rrset.rdatas) {
            const Bytes target = rdata_target(rrset.type, rdata);
            if (target.empty() || target.size() > wire::kMaxNameLength) continue;
            uint8_t lower[wire::kMaxNameLength];
            wire::to_lower(target, lower);
            const Bytes target_lower{lower, target.size()};
            const Node* node = zone_.find_node(key_of(target_lower));
            if (!node) continue;
            bool seen = false;
            for (size_t d = 0; d < done_count; ++d) seen = seen || done[d] == node;
            if (seen) continue;  // MX 10 a and MX 20 a: a's addresses once
            if (done_count == kMaxAdditionalTargets) return;
            done[done_count++] = node;
            add_host_addresses(target_lower, false);
        }
    }
}

void AnswerWriter::run() {
    writer_.set_authoritative(true);
    const uint16_t qtype = query_.qtype;
    Bytes name = query_.qname_lower.view();  // what we look up, lowercase
    Bytes owner = query_.qname.view();       // what we write, case as sent
    wire::Name synthesized[2];               // DNAME results, alternating
    wire::Name chain_lower[2];
    // The CNAME and DNAME owners met so far: meeting one again ends the chain, so a loop
    // stops and no RRset goes into the answer twice (RFC 2181 §5).
    const Node* visited[kMaxChain] = {};
    const auto is_visited = [&](const Node& node, size_t hops) {
        for (size_t i = 0; i < hops; ++i)
            if (visited[i] == &node) return true;
        return false;
    };
    size_t hops = 0;

    for (; hops < kMaxChain; ++hops) {
        const Lookup match = look_up(zone_, name, qtype);
        switch (match.outcome) {
            case LookupOutcome::delegation:
                // RFC 1034 §4.3.2 step 3b: a referral is not authoritative data.
                if (hops == 0) writer_.set_authoritative(false);
                write_referral(*match.node);
                return;
            case LookupOutcome::nxdomain:
                // RFC 6604 §3: the rcode describes the last name of the chain.
                write_negative(wire::rcode::kNxDomain);
                return;
            case LookupOutcome::dname: {
                const Node& dname_node = *match.node;
                // A DNAME may lead back below itself, directly or through another, as
                // CNAMEs may loop (RFC 1034 §3.6.2): the chain so far is the answer, and the
                // resolver asks again where it ends.
                if (is_visited(dname_node, hops)) return;
                visited[hops] = &dname_node;
                const RRset& dname = *dname_node.find(wire::type::kDNAME);
                if (!write_rrset(Section::answer, bytes_of(dname_node.name), dname)) {
                    truncate();
                    return;
                }
                // RFC 6672 §2.2: replace the DNAME owner's suffix with the DNAME target.
                const size_t prefix = owner.size() - dname_node.name.size();
                const std::string_view target = dname.rdatas.front();
                wire::Name& next = synthesized[hops % 2];
                if (prefix + target.size() > wire::kMaxNameLength) {
                    writer_.set_rcode(6);  // YXDOMAIN, RFC 6672 §2.2
                    return;
                }
                std::memcpy(next.bytes, owner.data(), prefix);
                std::memcpy(next.bytes + prefix, target.data(), target.size());
                next.length = static_cast<uint8_t>(prefix + target.size());
                if (!writer_.add_record(Section::answer, owner, wire::type::kCNAME,
                                        wire::klass::kIN, dname.ttl, next.view())) {
                    truncate();
                    return;
                }
                // A CNAME question is answered by the synthesized CNAME itself.
                if (qtype == wire::type::kCNAME) return;
                wire::Name& lower = chain_lower[hops % 2];
                lower = next;
                wire::to_lower(lower);
                if (!wire::is_subdomain(lower.view(), bytes_of(zone_.origin()))) return;
                name = lower.view();
                owner = next.view();
                continue;
            }
            case LookupOutcome::exact:
            case LookupOutcome::cname:
            case LookupOutcome::empty_non_terminal:
            case LookupOutcome::wildcard:
                break;
        }

        const Node& node = *match.node;
        // GeoDNS: a policy overrides the name's own A/AAAA records, which stay the fallback.
        // Also at the end of a CNAME chain, so an alias of a steered name is steered too.
        if (steering_ && match.outcome != LookupOutcome::wildcard) {
            if (const OwnedRRset* chosen = steer_name(*steering_, node, qtype)) {
                if (!write_rrset(Section::answer, owner, *chosen)) truncate();
                return;
            }
        }
        if (match.outcome == LookupOutcome::empty_non_terminal) {
            write_negative(wire::rcode::kNoError);
            return;
        }
        if (qtype == wire::type::kANY) {
            // RFC 8482 §4.1: answer ANY with one RRset rather than all of them.
            const RRset* chosen = node.find(wire::type::kCNAME);
            if (!chosen) chosen = &node.rrsets.front();
            if (!write_rrset(Section::answer, owner, *chosen)) truncate();
            return;
        }
        const RRset* cname = node.find(wire::type::kCNAME);
        if (cname && qtype != wire::type::kCNAME) {
            if (is_visited(node, hops)) return;  // a loop: the chain so far is the answer
            visited[hops] = &node;
            if (!write_rrset(Section::answer, owner, *cname)) {
                truncate();
                return;
            }
            const std::string_view target = cname->rdatas.front();
            wire::Name& lower = chain_lower[hops % 2];
            std::memcpy(lower.bytes, target.data(), target.size());
            lower.length = static_cast<uint8_t>(target.size());
            wire::to_lower(lower);
            // RFC 1034 §4.3.2 step 3a: follow the chain while it stays in this zone.
            if (!wire::is_subdomain(lower.view(), bytes_of(zone_.origin()))) return;
            name = lower.view();
            owner = bytes_of(target);
            continue;
        }
        const RRset* rrset = node.find(qtype);
        if (!rrset) {
            write_negative(wire::rcode::kNoError);
            return;
        }
        if (!write_rrset(Section::answer, owner, *rrset)) {
            truncate();
            return;
        }
        if (rrset->type == wire::type::kNS || rrset->type == wire::type::kMX ||
            rrset->type == wire::type::kSRV)
            additional_sources_[additional_count_++] = rrset;
        write_additional();
        return;
    }
}

}  // namespace

void write_zone_answer(const Zone& zone, const wire::Query& query, wire::MessageWriter& writer,
                       const SteeringContext* steering) {
    AnswerWriter(zone, query, writer, steering).run();
}

}  // namespace meridian::zones
