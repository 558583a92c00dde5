// Building, checking and searching a signed zone's NSEC or NSEC3 chain.
#include "zones/denial.hpp"

// SHA1_Init and friends are deprecated in OpenSSL 3 in favour of EVP_Digest*, which may
// allocate on every call; the low-level functions only compute on a caller's struct, which
// the query path needs (RFC 5155 §7.2: a proof hashes names that are not in the zone).
#define OPENSSL_SUPPRESS_DEPRECATED
#include <openssl/sha.h>

#include <algorithm>
#include <cstring>
#include <initializer_list>
#include <string_view>

#include "wire/bytes.hpp"
#include "wire/constants.hpp"
#include "wire/name.hpp"
#include "zones/zone.hpp"

namespace meridian::zones {

namespace {

using Bytes = std::span<const uint8_t>;
using wire::bytes_of;

// Message text from pieces, appended: `"literal" + std::string` trips a false -Wrestrict in
// GCC 12 at -O3 (GCC bug 105329), and Release builds use -Werror.
std::string join(std::initializer_list<std::string_view> pieces) {
    std::string text;
    for (const std::string_view piece : pieces) text += piece;
    return text;
}

std::string hash_text(const uint8_t* hash) {
    static constexpr char kAlphabet[] = "0123456789abcdefghijklmnopqrstuv";
    std::string text;
    uint32_t buffer = 0;
    int bits = 0;
    for (size_t i = 0; i < kNsec3HashLength; ++i) {
        buffer = (buffer << 8) | hash[i];
        bits += 8;
        while (bits >= 5) {
            text += kAlphabet[(buffer >> (bits - 5)) & 31];
            bits -= 5;
        }
    }
    return text;
}

// True when a proper ancestor of `name` below the apex holds NS: the name is glue or other
// data below a zone cut, which is not the zone's to prove or sign (RFC 4035 §2.2).
bool below_zone_cut(const Zone& zone, Bytes name) {
    const size_t origin_labels = wire::count_labels(bytes_of(zone.origin()));
    const size_t labels = wire::count_labels(name);
    for (size_t depth = origin_labels + 1; depth < labels; ++depth) {
        const Bytes ancestor = name.subspan(wire::suffix_offset(name, depth));
        const Node* node =
            zone.find_node({reinterpret_cast<const char*>(ancestor.data()), ancestor.size()});
        if (node && node->find(wire::type::kNS)) return true;
    }
    return false;
}

// NSEC3 RDATA (RFC 5155 §3.2): algorithm, flags, iterations, salt, then the next hashed
// owner. Null when too short to hold what it says it holds.
struct Nsec3Fields {
    uint8_t algorithm;
    uint8_t flags;
    uint16_t iterations;
    Bytes salt;
    Bytes next_hash;
};
bool read_nsec3(std::string_view rdata, Nsec3Fields& out) {
    const Bytes bytes = bytes_of(rdata);
    if (bytes.size() < 5) return false;
    out.algorithm = bytes[0];
    out.flags = bytes[1];
    out.iterations = wire::read16(bytes, 2);
    const size_t salt_length = bytes[4];
    if (bytes.size() < 5 + salt_length + 1) return false;
    out.salt = bytes.subspan(5, salt_length);
    const size_t hash_length = bytes[5 + salt_length];
    if (bytes.size() < 6 + salt_length + hash_length) return false;
    out.next_hash = bytes.subspan(6 + salt_length, hash_length);
    return true;
}

// Length of the uncompressed name RDATA starts with (an NSEC's Next Domain Name), or 0.
size_t leading_name_length(Bytes rdata) {
    for (size_t i = 0; i < rdata.size() && i < wire::kMaxNameLength; i += 1 + size_t(rdata[i]))
        if (rdata[i] == 0) return i + 1;
    return 0;
}

bool same_parameters(const Nsec3Fields& fields, const Nsec3Parameters& parameters) {
    return fields.algorithm == parameters.algorithm && fields.iterations == parameters.iterations &&
           fields.salt.size() == parameters.salt_length &&
           std::equal(fields.salt.begin(), fields.salt.end(), parameters.salt);
}

}  // namespace

void nsec3_hash(Bytes name, const Nsec3Parameters& parameters, uint8_t out[kNsec3HashLength]) {
    SHA_CTX context;
    SHA1_Init(&context);
    SHA1_Update(&context, name.data(), name.size());
    SHA1_Update(&context, parameters.salt, parameters.salt_length);
    SHA1_Final(out, &context);
    for (uint16_t i = 0; i < parameters.iterations; ++i) {
        SHA1_Init(&context);
        SHA1_Update(&context, out, kNsec3HashLength);
        SHA1_Update(&context, parameters.salt, parameters.salt_length);
        SHA1_Final(out, &context);
    }
}

bool decode_nsec3_label(Bytes label, uint8_t out[kNsec3HashLength]) {
    // 20 octets are 160 bits, 32 characters of 5 bits with no padding.
    if (label.size() != 32) return false;
    uint32_t buffer = 0;
    int bits = 0;
    size_t written = 0;
    for (const uint8_t c : label) {
        int value;
        if (c >= '0' && c <= '9') {
            value = c - '0';
        } else if (c >= 'a' && c <= 'v') {
            value = c - 'a' + 10;
        } else if (c >= 'A' && c <= 'V') {
            value = c - 'A' + 10;
        } else {
            return false;
        }
        buffer = (buffer << 5) | static_cast<uint32_t>(value);
        bits += 5;
        if (bits >= 8) {
            out[written++] = static_cast<uint8_t>(buffer >> (bits - 8));
            bits -= 8;
        }
    }
    return written == kNsec3HashLength;
}

uint32_t DenialChain::nsec_at_or_before(const Zone& zone, Bytes name) const {
    if (canonical_.empty()) return kNone;
    // The first owner after `name`; the one before it matches or covers.
    const auto after = std::upper_bound(
        canonical_.begin(), canonical_.end(), name, [&zone](Bytes wanted, uint32_t node) {
            return wire::canonical_compare(wanted, bytes_of(zone.node_at(node).name)) < 0;
        });
    return after == canonical_.begin() ? canonical_.back() : *(after - 1);
}

uint32_t DenialChain::nsec3_at_or_before(const uint8_t* hash) const {
    if (hashed_.empty()) return kNone;
    const uint64_t prefix = prefix_of(hash);
    // Sorted as a whole, so the entry before the first one after `hash` is the answer, even
    // when that is in an earlier bucket.
    const size_t bucket = bucket_bits_ ? prefix >> (64 - bucket_bits_) : 0;
    const auto after = std::upper_bound(hashed_.begin() + bucket_start_[bucket],
                                        hashed_.begin() + bucket_start_[bucket + 1], hash,
                                        [prefix](const uint8_t* wanted, const Hashed& entry) {
                                            return compare(wanted, prefix, entry) < 0;
                                        });
    return after == hashed_.begin() ? hashed_.back().node : (after - 1)->node;
}

bool DenialChain::nsec3_has_hash(uint32_t nsec3_node, const uint8_t* hash) const {
    // The owner nodes are few per query; comparing through the sorted table avoids decoding.
    const uint64_t prefix = prefix_of(hash);
    const auto at = std::lower_bound(hashed_.begin(), hashed_.end(), hash,
                                     [prefix](const Hashed& entry, const uint8_t* wanted) {
                                         return compare(wanted, prefix, entry) > 0;
                                     });
    return at != hashed_.end() && at->node == nsec3_node &&
           std::memcmp(at->hash, hash, kNsec3HashLength) == 0;
}

std::unique_ptr<const DenialChain> DenialChain::build(const Zone& zone, const ErrorSink& error) {
    auto chain = std::make_unique<DenialChain>();
    const Bytes origin = bytes_of(zone.origin());
    const size_t origin_labels = wire::count_labels(origin);
    const auto node_count = static_cast<uint32_t>(zone.node_count());
    const auto text = [](std::string_view name) { return wire::to_text(bytes_of(name)); };
    bool ok = true;
    const auto fail = [&](uint32_t node, std::string message) {
        error(node, std::move(message));
        ok = false;
    };

    // Authoritative names: not NSEC3 owners, not below a cut. A cut itself is the parent's
    // (its NSEC or NSEC3 proves whether there is a DS, RFC 4035 §2.3).
    std::vector<bool> authoritative(node_count, false);
    for (uint32_t n = 0; n < node_count; ++n) {
        const Node& node = zone.node_at(n);
        if (zone.find_node(node.name) != &node) continue;  // an NSEC3 owner
        authoritative[n] = !below_zone_cut(zone, bytes_of(node.name));
    }

    const RRset* parameters = zone.apex().find(wire::type::kNSEC3PARAM);
    if (!parameters) {
        for (uint32_t n = 0; n < node_count; ++n) {
            const Node& node = zone.node_at(n);
            if (!authoritative[n] || node.is_empty_non_terminal()) continue;
            if (node.find(wire::type::kNSEC))
                chain->canonical_.push_back(n);
            else
                fail(n, join({"'", text(node.name), "' has no NSEC record (RFC 4035 §2.3)"}));
        }
        if (chain->canonical_.empty()) {
            fail(zone.number_of(zone.apex()),
                 "the zone has a DNSKEY and RRSIGs but neither an NSEC nor an NSEC3 chain");
            return nullptr;
        }
        auto& order = chain->canonical_;
        std::sort(order.begin(), order.end(), [&zone](uint32_t a, uint32_t b) {
            return wire::canonical_compare(bytes_of(zone.node_at(a).name),
                                           bytes_of(zone.node_at(b).name)) < 0;
        });
        // RFC 4034 §4.1.1: each NSEC names the next owner in canonical order, the last the apex.
        for (size_t i = 0; i < order.size(); ++i) {
            const Node& node = zone.node_at(order[i]);
            const Node& next = zone.node_at(order[(i + 1) % order.size()]);
            const Bytes rdata = bytes_of(node.find(wire::type::kNSEC)->rdatas.front());
            const size_t length = leading_name_length(rdata);
            uint8_t lower[wire::kMaxNameLength];
            wire::to_lower(rdata.first(length), lower);
            const std::string_view named(reinterpret_cast<const char*>(lower), length);
            if (named != next.name) {
                fail(order[i], join({"NSEC chain broken: the NSEC at '", text(node.name),
                                     "' names '", text(named), "' as next, but the next name is '",
                                     text(next.name), "' (RFC 4034 §4.1.1)"}));
            }
        }
        return ok ? std::move(chain) : nullptr;
    }

    // NSEC3: the chain the NSEC3PARAM names (RFC 5155 §4, §7.2); records with other
    // parameters (a chain being replaced) are stored and transferred but not used.
    chain->uses_nsec3_ = true;
    {
        const Bytes rdata = bytes_of(parameters->rdatas.front());
        if (rdata.size() < 5 || rdata.size() < size_t(5 + rdata[4]) || rdata[0] != 1) {
            fail(zone.number_of(zone.apex()),
                 "the NSEC3PARAM record is malformed or names a hash other than SHA-1");
            return nullptr;
        }
        chain->parameters_.algorithm = rdata[0];
        chain->parameters_.iterations = wire::read16(rdata, 2);
        chain->parameters_.salt_length = rdata[4];
        std::memcpy(chain->parameters_.salt, rdata.data() + 5, rdata[4]);
    }
    auto& hashed = chain->hashed_;
    for (uint32_t n = 0; n < node_count; ++n) {
        const Node& node = zone.node_at(n);
        const RRset* nsec3 = node.find(wire::type::kNSEC3);
        if (!nsec3) continue;
        const Bytes name = bytes_of(node.name);
        Hashed entry{};
        entry.node = n;
        if (wire::count_labels(name) != origin_labels + 1 ||
            !decode_nsec3_label(name.subspan(1, name[0]), entry.hash)) {
            fail(n,
                 join({"NSEC3 owner '", text(node.name),
                       "' is not a base32hex SHA-1 hash directly below the apex (RFC 5155 §3)"}));
            continue;
        }
        Nsec3Fields fields{};
        if (!read_nsec3(nsec3->rdatas.front(), fields)) {
            fail(n, join({"the NSEC3 record at '", text(node.name), "' is malformed"}));
            continue;
        }
        entry.prefix = prefix_of(entry.hash);
        if (same_parameters(fields, chain->parameters_)) hashed.push_back(entry);
    }
    if (hashed.empty()) {
        fail(zone.number_of(zone.apex()),
             "the zone has an NSEC3PARAM but no NSEC3 records with its parameters");
        return nullptr;
    }
    std::sort(hashed.begin(), hashed.end(),
              [](const Hashed& a, const Hashed& b) { return compare(a.hash, a.prefix, b) < 0; });
    // About one hash a bucket.
    while (chain->bucket_bits_ < 24 && (size_t(1) << chain->bucket_bits_) < hashed.size())
        ++chain->bucket_bits_;
    const size_t buckets = size_t(1) << chain->bucket_bits_;
    chain->bucket_start_.assign(buckets + 1, 0);
    for (size_t b = 0, i = 0; b <= buckets; ++b) {
        while (i < hashed.size() && chain->bucket_bits_ &&
               (hashed[i].prefix >> (64 - chain->bucket_bits_)) < b)
            ++i;
        chain->bucket_start_[b] = static_cast<uint32_t>(b == buckets ? hashed.size() : i);
    }
    // RFC 5155 §3.1.7: each names the next hash in order, the last the first.
    for (size_t i = 0; i < hashed.size(); ++i) {
        const Node& node = zone.node_at(hashed[i].node);
        const Hashed& next = hashed[(i + 1) % hashed.size()];
        Nsec3Fields fields{};
        read_nsec3(node.find(wire::type::kNSEC3)->rdatas.front(), fields);
        if (fields.next_hash.size() != kNsec3HashLength ||
            std::memcmp(fields.next_hash.data(), next.hash, kNsec3HashLength) != 0) {
            const std::string named =
                fields.next_hash.size() == kNsec3HashLength
                    ? hash_text(fields.next_hash.data())
                    : join({"a hash of ", std::to_string(fields.next_hash.size()), " octets"});
            fail(hashed[i].node, join({"NSEC3 chain broken: the NSEC3 at '", text(node.name),
                                       "' names ", named, " as next, but the next hash is ",
                                       hash_text(next.hash), " (RFC 5155 §3.1.7)"}));
        }
    }
    // Every authoritative name has its NSEC3, unless an opt-out NSEC3 covers it (RFC 5155
    // §6: insecure delegations, and empty non-terminals above only those, may be left out).
    chain->matching_.assign(node_count, kNone);
    chain->wildcard_cover_.assign(node_count, kNone);
    for (uint32_t n = 0; n < node_count; ++n) {
        if (!authoritative[n]) continue;
        const Node& node = zone.node_at(n);
        uint8_t hash[kNsec3HashLength];
        nsec3_hash(bytes_of(node.name), chain->parameters_, hash);
        const uint32_t found = chain->nsec3_at_or_before(hash);
        if (chain->nsec3_has_hash(found, hash)) {
            chain->matching_[n] = found;
            // Only a name with an NSEC3 can be a closest provable encloser.
            uint8_t buffer[wire::kMaxNameLength];
            const Bytes star = wire::wildcard_of(bytes_of(node.name), buffer);
            if (!star.empty()) {
                nsec3_hash(star, chain->parameters_, hash);
                const uint32_t cover = chain->nsec3_at_or_before(hash);
                if (!chain->nsec3_has_hash(cover, hash)) chain->wildcard_cover_[n] = cover;
            }
            continue;
        }
        Nsec3Fields covering{};
        read_nsec3(zone.node_at(found).find(wire::type::kNSEC3)->rdatas.front(), covering);
        if (covering.flags & 1) continue;  // Opt-Out (RFC 5155 §3.1.2.1)
        fail(n, join({"'", text(node.name), "' has no NSEC3 record (its hash is ", hash_text(hash),
                      ") and no Opt-Out NSEC3 covers it (RFC 5155 §7.1)"}));
    }
    return ok ? std::move(chain) : nullptr;
}

}  // namespace meridian::zones
