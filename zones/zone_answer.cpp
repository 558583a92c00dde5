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

// The Original TTL field of an RRSIG RDATA (RFC 4034 §3.1.4).
uint32_t original_ttl(std::string_view rrsig) {
    return wire::read32(bytes_of(rrsig), 4);
}

// A wildcard that answered a name of the chain: what RFC 4035 §3.1.3.3 asks to prove (that
// the name itself does not exist) once the answer is written.
struct WildcardHit {
    const Node* encloser;  // the wildcard's parent: the closest encloser of `name`
    wire::Name name;       // the name it answered, lowercase
};

class AnswerWriter {
  public:
    AnswerWriter(const Zone& zone, const wire::Query& query, wire::MessageWriter& writer,
                 const SteeringContext* steering)
        : zone_(zone),
          query_(query),
          writer_(writer),
          steering_(steering),
          // RFC 4035 §3.1: DNSSEC records go only to a requester that set DO.
          chain_(query.edns.dnssec_ok ? zone.denial() : nullptr) {}

    void run();

  private:
    // A zone's RRset (with its RRSIGs when DNSSEC is wanted) or a GeoDNS pool's OwnedRRset.
    // `signature_ttl_limit` caps the RRSIGs' TTL as the RRset's own TTL was capped (the SOA
    // of a negative answer, RFC 2308 §3).
    bool write_rrset(Section section, Bytes owner, const RRset& rrset, uint32_t ttl,
                     uint32_t signature_ttl_limit = 0xFFFFFFFF);
    bool write_rrset(Section section, Bytes owner, const RRset& rrset) {
        return write_rrset(section, owner, rrset, rrset.ttl);
    }
    bool write_rrset(Section section, Bytes owner, const OwnedRRset& rrset);
    bool write_records(Section section, Bytes owner, uint16_t type, uint32_t ttl,
                       const RdataList& rdatas);
    // The answer to a question for type RRSIG at `node`; false when it has none.
    bool write_signatures_of_first_type(Bytes owner, const Node& node);
    void write_referral(const Node& cut, Bytes name);
    void write_additional();
    void add_host_addresses(Bytes target_lower, bool required);
    void write_additional_signatures();
    void truncate() { writer_.set_truncated(); }

    // Denial of existence (RFC 4035 §3.1.3, RFC 5155 §7.2), written into the authority
    // section after the SOA; false when it does not fit. Each is a no-op without DNSSEC.
    bool prove_name_error(Bytes name, const Node& closest_encloser);
    bool prove_no_data(Bytes name, const Node& node, bool expanded, const Node& closest_encloser);
    bool prove_wildcards();
    // One NSEC or NSEC3 RRset with its RRSIGs, unless already written.
    bool write_denial_node(uint32_t node);
    bool write_nsec_covering(Bytes name);
    bool write_nsec3_covering(Bytes name);
    // The nearest ancestor-or-self of `from` that has an NSEC3 (the closest provable
    // encloser, RFC 5155 §7.2.1), and that NSEC3's node in `matching`.
    const Node* provable_encloser(const Node& from, uint32_t& matching) const;
    // The NSEC3 covering the next closer name of `name` below `encloser`.
    bool write_next_closer(Bytes name, const Node& encloser);
    // The closest encloser proof: the encloser's NSEC3 and the next closer's covering one.
    // Returns the encloser, or null when something did not fit.
    const Node* write_closest_encloser_proof(Bytes name, const Node& from);

    const Zone& zone_;
    const wire::Query& query_;
    wire::MessageWriter& writer_;
    const SteeringContext* steering_;
    const DenialChain* chain_;  // null: no DNSSEC in this answer
    const RRset* additional_sources_[kMaxAdditionalSources];
    size_t additional_count_ = 0;
    // Additional RRsets whose RRSIGs go in after all of them, while they fit.
    static constexpr size_t kMaxAdditionalSigned = 2 * kMaxAdditionalTargets;
    struct SignedAdditional {
        const Node* node;
        const RRset* rrset;
    };
    SignedAdditional additional_signed_[kMaxAdditionalSigned];
    size_t additional_signed_count_ = 0;
    WildcardHit wildcards_[kMaxChain];
    size_t wildcard_count_ = 0;
    // NSEC/NSEC3 owners already in the message (one RRset may prove two things).
    static constexpr size_t kMaxDenialNodes = 8;
    uint32_t denial_written_[kMaxDenialNodes];
    size_t denial_count_ = 0;
};

bool AnswerWriter::write_records(Section section, Bytes owner, uint16_t type, uint32_t ttl,
                                 const RdataList& rdatas) {
    for (const auto& rdata : rdatas)
        if (!writer_.add_record(section, owner, type, wire::klass::kIN, ttl, bytes_of(rdata)))
            return false;
    return true;
}

// The RRset and its RRSIGs go in whole or not at all (RFC 4035 §3.1.1: an RRset without its
// signatures would not validate).
bool AnswerWriter::write_rrset(Section section, Bytes owner, const RRset& rrset, uint32_t ttl,
                               uint32_t signature_ttl_limit) {
    const auto mark = writer_.mark();
    bool ok = write_records(section, owner, rrset.type, ttl, rrset.rdatas);
    if (ok && chain_ && rrset.is_signed()) {
        // One TTL for the RRSIG RRset: the first signature's Original TTL, as Knot does.
        const RdataList signatures = rrset.signatures();
        const uint32_t signature_ttl =
            std::min(original_ttl(signatures.front()), signature_ttl_limit);
        ok = write_records(section, owner, wire::type::kRRSIG, signature_ttl, signatures);
    }
    if (!ok) writer_.rollback(mark);
    return ok;
}

bool AnswerWriter::write_rrset(Section section, Bytes owner, const OwnedRRset& rrset) {
    const auto mark = writer_.mark();
    for (const auto& rdata : rrset.rdatas) {
        if (!writer_.add_record(section, owner, rrset.type, wire::klass::kIN, rrset.ttl,
                                bytes_of(rdata))) {
            writer_.rollback(mark);
            return false;
        }
    }
    return true;
}

bool AnswerWriter::write_signatures_of_first_type(Bytes owner, const Node& node) {
    // Knot answers with the RRSIGs covering the lowest type number at the node; a resolver
    // wanting more asks for each type with DO (RFC 4035 §3.1.5 leaves this open).
    const RRset* first = nullptr;
    for (const RRset& rrset : node.rrsets)
        if (rrset.is_signed() && (!first || rrset.type < first->type)) first = &rrset;
    if (!first) return false;
    const auto mark = writer_.mark();
    if (!write_records(Section::answer, owner, wire::type::kRRSIG, first->signature_ttl(),
                       first->signatures())) {
        writer_.rollback(mark);
        truncate();
    }
    return true;
}

bool AnswerWriter::write_denial_node(uint32_t node) {
    if (node == DenialChain::kNone) return true;
    for (size_t i = 0; i < denial_count_; ++i)
        if (denial_written_[i] == node) return true;
    const Node& owner = zone_.node_at(node);
    const RRset* rrset = owner.find(chain_->uses_nsec3() ? wire::type::kNSEC3 : wire::type::kNSEC);
    if (!rrset) return true;
    if (!write_rrset(Section::authority, bytes_of(owner.name), *rrset)) return false;
    if (denial_count_ < kMaxDenialNodes) denial_written_[denial_count_++] = node;
    return true;
}

bool AnswerWriter::write_nsec_covering(Bytes name) {
    return write_denial_node(chain_->nsec_at_or_before(zone_, name));
}

bool AnswerWriter::write_nsec3_covering(Bytes name) {
    uint8_t hash[kNsec3HashLength];
    nsec3_hash(name, chain_->parameters(), hash);
    return write_denial_node(chain_->nsec3_at_or_before(hash));
}

const Node* AnswerWriter::provable_encloser(const Node& from, uint32_t& matching) const {
    // Walk up from `from` to the nearest name with an NSEC3: an opted-out delegation, or an
    // empty non-terminal above only such, has none; the apex always has one.
    const Node* encloser = &from;
    matching = chain_->nsec3_matching(zone_.number_of(*encloser));
    const size_t origin_labels = wire::count_labels(bytes_of(zone_.origin()));
    Bytes encloser_name = bytes_of(encloser->name);
    for (size_t labels = wire::count_labels(encloser_name);
         matching == DenialChain::kNone && labels > origin_labels; --labels) {
        encloser_name = encloser_name.subspan(wire::suffix_offset(encloser_name, labels - 1));
        encloser = zone_.find_node(key_of(encloser_name));
        if (!encloser) return nullptr;
        matching = chain_->nsec3_matching(zone_.number_of(*encloser));
    }
    return encloser;
}

bool AnswerWriter::write_next_closer(Bytes name, const Node& encloser) {
    // RFC 5155 §7.2.1: the next closer name is one label longer than the encloser.
    const size_t labels = wire::count_labels(bytes_of(encloser.name)) + 1;
    if (wire::count_labels(name) < labels) return true;
    return write_nsec3_covering(name.subspan(wire::suffix_offset(name, labels)));
}

const Node* AnswerWriter::write_closest_encloser_proof(Bytes name, const Node& from) {
    uint32_t matching;
    const Node* encloser = provable_encloser(from, matching);
    if (!encloser) return &from;  // nothing provable: the zone's chain would be broken
    if (!write_denial_node(matching) || !write_next_closer(name, *encloser)) return nullptr;
    return encloser;
}

// RFC 4035 §3.1.3.2 (NSEC: the name and the wildcard at its closest encloser are covered),
// RFC 5155 §7.2.2 (NSEC3: closest encloser proof and the wildcard's covering NSEC3).
bool AnswerWriter::prove_name_error(Bytes name, const Node& closest_encloser) {
    if (!chain_) return true;
    uint8_t buffer[wire::kMaxNameLength];
    if (!chain_->uses_nsec3()) {
        if (!write_nsec_covering(name)) return false;
        const Bytes star = wire::wildcard_of(bytes_of(closest_encloser.name), buffer);
        return star.empty() || write_nsec_covering(star);
    }
    const Node* encloser = write_closest_encloser_proof(name, closest_encloser);
    if (!encloser) return false;
    const uint32_t cover = chain_->nsec3_covering_wildcard(zone_.number_of(*encloser));
    if (cover != DenialChain::kNone) return write_denial_node(cover);
    const Bytes star = wire::wildcard_of(bytes_of(encloser->name), buffer);
    return star.empty() || write_nsec3_covering(star);
}

// RFC 4035 §3.1.3.1 and §3.1.3.4 (the NSEC at the name, or covering an empty non-terminal),
// RFC 5155 §7.2.3 to §7.2.5 (the matching NSEC3; for a wildcard or an opted-out name, the
// closest encloser proof as well).
bool AnswerWriter::prove_no_data(Bytes name, const Node& node, bool expanded,
                                 const Node& closest_encloser) {
    if (!chain_) return true;
    if (!chain_->uses_nsec3()) {
        if (node.is_empty_non_terminal()) return write_nsec_covering(bytes_of(node.name));
        return write_denial_node(zone_.number_of(node));
    }
    const uint32_t matching = chain_->nsec3_matching(zone_.number_of(node));
    if (!write_denial_node(matching)) return false;
    if (expanded || matching == DenialChain::kNone)
        return write_closest_encloser_proof(name, closest_encloser) != nullptr;
    return true;
}

// RFC 4035 §3.1.3.3, RFC 5155 §7.2.6: for each wildcard that answered, proof that the name
// it answered does not exist: the NSEC covering it, or the NSEC3 covering its next closer
// name (the wildcard's parent is the closest encloser).
bool AnswerWriter::prove_wildcards() {
    if (!chain_) return true;
    for (size_t i = 0; i < wildcard_count_; ++i) {
        const WildcardHit& hit = wildcards_[i];
        if (!chain_->uses_nsec3()) {
            if (!write_nsec_covering(hit.name.view())) return false;
            continue;
        }
        uint32_t matching;
        const Node* encloser = provable_encloser(*hit.encloser, matching);
        if (encloser && !write_next_closer(hit.name.view(), *encloser)) return false;
    }
    return true;
}

void AnswerWriter::write_referral(const Node& cut, Bytes name) {
    const auto mark = writer_.mark();
    const RRset& ns = *cut.find(wire::type::kNS);
    if (!write_rrset(Section::authority, bytes_of(cut.name), ns)) {
        truncate();
        return;
    }
    // RFC 4035 §3.1.4: the DS RRset with its RRSIGs, or proof that there is none (an
    // insecure delegation).
    if (chain_) {
        const RRset* ds = cut.find(wire::type::kDS);
        const bool proven = ds ? write_rrset(Section::authority, bytes_of(cut.name), *ds)
                               : prove_no_data(name, cut, false, cut);
        if (!proven || !prove_wildcards()) {
            writer_.rollback(mark);
            truncate();
            return;
        }
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
    write_additional_signatures();
}

void AnswerWriter::add_host_addresses(Bytes target_lower, bool required) {
    if (!wire::is_subdomain(target_lower, bytes_of(zone_.origin()))) return;
    const Node* node = zone_.find_node(key_of(target_lower));
    if (!node) return;
    for (uint16_t type : {wire::type::kA, wire::type::kAAAA}) {
        const RRset* rrset = node->find(type);
        if (!rrset) continue;
        // Additional data goes in first and its RRSIGs after it, while they fit: RFC 4035
        // §3.1.1 makes them optional there, and Knot fills the section the same way.
        if (!write_records(Section::additional, bytes_of(node->name), rrset->type, rrset->ttl,
                           rrset->rdatas)) {
            if (!required) continue;
            truncate();
            return;
        }
        if (chain_ && rrset->is_signed() && additional_signed_count_ < kMaxAdditionalSigned)
            additional_signed_[additional_signed_count_++] = {node, rrset};
    }
}

void AnswerWriter::write_additional_signatures() {
    for (size_t i = 0; i < additional_signed_count_; ++i) {
        const auto [node, rrset] = additional_signed_[i];
        const RdataList signatures = rrset->signatures();
        const auto mark = writer_.mark();
        if (!write_records(Section::additional, bytes_of(node->name), wire::type::kRRSIG,
                           original_ttl(signatures.front()), signatures)) {
            writer_.rollback(mark);
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
    // The authority section of a negative answer or a referral: the SOA or NS, then its
    // proofs and those of the wildcards met on the way, all or nothing (a partial proof
    // would not validate; the resolver retries over TCP).
    const auto negative = [&](uint16_t rcode, auto&& prove) {
        writer_.set_rcode(rcode);
        const auto mark = writer_.mark();
        if (!write_rrset(Section::authority, bytes_of(zone_.origin()), zone_.soa(),
                         zone_.negative_ttl(), zone_.negative_ttl()) ||
            !prove() || !prove_wildcards()) {
            writer_.rollback(mark);
            truncate();
        }
    };
    // The end of a positive answer: proof for the wildcards that answered, then additional.
    const auto positive = [&] {
        const auto mark = writer_.mark();
        if (!prove_wildcards()) {
            writer_.rollback(mark);
            truncate();
            return;
        }
        write_additional();
        write_additional_signatures();
    };
    size_t hops = 0;

    for (; hops < kMaxChain; ++hops) {
        const Lookup match = look_up(zone_, name, qtype);
        switch (match.outcome) {
            case LookupOutcome::delegation:
                // RFC 1034 §4.3.2 step 3b: a referral is not authoritative data.
                if (hops == 0) writer_.set_authoritative(false);
                write_referral(*match.node, name);
                return;
            case LookupOutcome::nxdomain:
                // RFC 6604 §3: the rcode describes the last name of the chain.
                negative(wire::rcode::kNxDomain,
                         [&] { return prove_name_error(name, *match.node); });
                return;
            case LookupOutcome::dname: {
                const Node& dname_node = *match.node;
                // A DNAME may lead back below itself, directly or through another, as
                // CNAMEs may loop (RFC 1034 §3.6.2): the chain so far is the answer, and the
                // resolver asks again where it ends.
                if (is_visited(dname_node, hops)) return positive();
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
                // RFC 6672 §5.3.1: the synthesised CNAME goes unsigned; the DNAME's RRSIG
                // is what a validator checks.
                if (!writer_.add_record(Section::answer, owner, wire::type::kCNAME,
                                        wire::klass::kIN, dname.ttl, next.view())) {
                    truncate();
                    return;
                }
                // A CNAME question is answered by the synthesized CNAME itself.
                if (qtype == wire::type::kCNAME) return positive();
                wire::Name& lower = chain_lower[hops % 2];
                lower = next;
                wire::to_lower(lower);
                if (!wire::is_subdomain(lower.view(), bytes_of(zone_.origin()))) return positive();
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
        const bool expanded = match.outcome == LookupOutcome::wildcard;
        // The closest encloser: the wildcard's parent, or the name itself.
        const Node* encloser = &node;
        if (expanded) {
            const Bytes wildcard = bytes_of(node.name);
            const Bytes parent = wildcard.subspan(1 + wildcard[0]);
            encloser = zone_.find_node(key_of(parent));
            if (!encloser) encloser = &zone_.apex();
            if (wildcard_count_ < kMaxChain) {
                WildcardHit& hit = wildcards_[wildcard_count_++];
                hit.encloser = encloser;
                std::memcpy(hit.name.bytes, name.data(), name.size());
                hit.name.length = static_cast<uint8_t>(name.size());
            }
        }
        // GeoDNS: a policy overrides the name's own A/AAAA records, which stay the fallback.
        // Also at the end of a CNAME chain, so an alias of a steered name is steered too.
        if (steering_ && !expanded) {
            if (const OwnedRRset* chosen = steer_name(*steering_, node, qtype)) {
                if (!write_rrset(Section::answer, owner, *chosen)) truncate();
                return;
            }
        }
        const auto no_data = [&] {
            negative(wire::rcode::kNoError,
                     [&] { return prove_no_data(name, node, expanded, *encloser); });
        };
        if (match.outcome == LookupOutcome::empty_non_terminal) return no_data();
        if (qtype == wire::type::kANY) {
            // RFC 8482 §4.1: answer ANY with one RRset rather than all of them.
            const RRset* chosen = node.find(wire::type::kCNAME);
            if (!chosen) chosen = &node.rrsets.front();
            if (!write_rrset(Section::answer, owner, *chosen)) return truncate();
            return positive();
        }
        if (qtype == wire::type::kRRSIG) {
            // Asked for by type, RRSIGs are data, with or without DO (RFC 4035 §3.2.1).
            if (!write_signatures_of_first_type(owner, node)) return no_data();
            if (!writer_.is_truncated()) positive();
            return;
        }
        const RRset* cname = node.find(wire::type::kCNAME);
        // An NSEC at an alias is answered as itself (RFC 4035 §2.5 lets it share the node).
        if (cname && qtype != wire::type::kCNAME && qtype != wire::type::kNSEC) {
            if (is_visited(node, hops)) return positive();  // a loop: the chain so far
            visited[hops] = &node;
            if (!write_rrset(Section::answer, owner, *cname)) return truncate();
            const std::string_view target = cname->rdatas.front();
            wire::Name& lower = chain_lower[hops % 2];
            std::memcpy(lower.bytes, target.data(), target.size());
            lower.length = static_cast<uint8_t>(target.size());
            wire::to_lower(lower);
            // RFC 1034 §4.3.2 step 3a: follow the chain while it stays in this zone.
            if (!wire::is_subdomain(lower.view(), bytes_of(zone_.origin()))) return positive();
            name = lower.view();
            owner = bytes_of(target);
            continue;
        }
        const RRset* rrset = node.find(qtype);
        if (!rrset) return no_data();
        if (!write_rrset(Section::answer, owner, *rrset)) return truncate();
        // An NSEC given as the answer is not given again as proof (Knot skips the same RRset).
        if (rrset->type == wire::type::kNSEC && denial_count_ < kMaxDenialNodes)
            denial_written_[denial_count_++] = zone_.number_of(node);
        if (rrset->type == wire::type::kNS || rrset->type == wire::type::kMX ||
            rrset->type == wire::type::kSRV)
            additional_sources_[additional_count_++] = rrset;
        return positive();
    }
    positive();  // the chain was cut short at kMaxChain links
}

}  // namespace

void write_zone_answer(const Zone& zone, const wire::Query& query, wire::MessageWriter& writer,
                       const SteeringContext* steering) {
    AnswerWriter(zone, query, writer, steering).run();
}

}  // namespace meridian::zones
