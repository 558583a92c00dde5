// Authenticated denial of existence in a signed zone: its NSEC chain in canonical order
// (RFC 4034 §4, §6.1) or its NSEC3 chain in hash order (RFC 5155), checked once when the zone
// version is built and then searched, without allocation, for the proofs answers carry.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace meridian::zones {

class Zone;

inline constexpr size_t kNsec3HashLength = 20;  // SHA-1, the one NSEC3 hash (RFC 5155 §11)

struct Nsec3Parameters {
    uint8_t algorithm = 0;
    uint16_t iterations = 0;
    uint8_t salt_length = 0;
    uint8_t salt[255] = {};
};

// RFC 5155 §5: IH(salt, x, 0) = H(x || salt), IH(salt, x, k) = H(IH(salt, x, k-1) || salt).
// `name` is lowercase wire form (canonical, RFC 4034 §6.2). No allocation.
void nsec3_hash(std::span<const uint8_t> name, const Nsec3Parameters& parameters,
                uint8_t out[kNsec3HashLength]);

// Base32 with the extended hex alphabet (RFC 4648 §7), as NSEC3 owner labels are written:
// the hash in `label` (any case), or false when it is not one of kNsec3HashLength octets.
bool decode_nsec3_label(std::span<const uint8_t> label, uint8_t out[kNsec3HashLength]);

class DenialChain {
  public:
    static constexpr uint32_t kNone = 0xFFFFFFFF;

    bool uses_nsec3() const { return uses_nsec3_; }

    // NSEC: the number of the node whose NSEC matches `name` (lowercase wire form, inside the
    // zone) or covers it, i.e. the last NSEC owner at or before it in canonical order.
    uint32_t nsec_at_or_before(const Zone& zone, std::span<const uint8_t> name) const;

    // NSEC3: the parameters of the chain the zone's NSEC3PARAM names (RFC 5155 §7.2).
    const Nsec3Parameters& parameters() const { return parameters_; }
    // The NSEC3 owner node matching node `node` of the zone, or kNone (none: an opted-out
    // delegation, a name below a zone cut, a name added after the chain was built).
    uint32_t nsec3_matching(uint32_t node) const {
        return node < matching_.size() ? matching_[node] : kNone;
    }
    // The NSEC3 owner node whose hash equals `hash` or covers it: the last at or before it in
    // hash order, wrapping to the last for hashes before the first (RFC 5155 §7.2.1).
    uint32_t nsec3_at_or_before(const uint8_t* hash) const;
    // The NSEC3 covering the wildcard below node `node` ("*.<node>"), found when the chain
    // was built, for the names that can be a closest provable encloser; kNone when not known
    // (then hash the wildcard's name). Spares a name error one of its hashes (RFC 5155 §7.2.2).
    uint32_t nsec3_covering_wildcard(uint32_t node) const {
        return node < wildcard_cover_.size() ? wildcard_cover_[node] : kNone;
    }
    // Whether NSEC3 owner node `nsec3_node` has exactly this hash.
    bool nsec3_has_hash(uint32_t nsec3_node, const uint8_t* hash) const;

    // Octets the chain's tables take.
    size_t memory() const {
        return canonical_.capacity() * 4 + hashed_.capacity() * sizeof(Hashed) +
               matching_.capacity() * 4 + wildcard_cover_.capacity() * 4 +
               bucket_start_.capacity() * 4;
    }

    // Builds and checks the chain of `zone`, whose apex has a DNSKEY RRset. Each problem goes
    // to `error(node, message)`; a chain with any is not returned (RFC 4035 §2.3, RFC 5155
    // §7.1: a resolver would find its answers bogus).
    using ErrorSink = std::function<void(uint32_t node, std::string message)>;
    static std::unique_ptr<const DenialChain> build(const Zone& zone, const ErrorSink& error);

  private:
    struct Hashed {
        // The hash's first 8 octets as a big-endian number: most comparisons of a search end
        // there, with one integer compare instead of a memcmp call.
        uint64_t prefix;
        uint8_t hash[kNsec3HashLength];
        uint32_t node;
    };
    static uint64_t prefix_of(const uint8_t* hash) {
        uint64_t value = 0;
        for (int i = 0; i < 8; ++i) value = (value << 8) | hash[i];
        return value;
    }
    // Hash order: the prefix, then the whole hash.
    static int compare(const uint8_t* hash, uint64_t prefix, const Hashed& entry) {
        if (prefix != entry.prefix) return prefix < entry.prefix ? -1 : 1;
        return std::memcmp(hash, entry.hash, kNsec3HashLength);
    }
    bool uses_nsec3_ = false;
    std::vector<uint32_t> canonical_;  // NSEC owners, canonical order
    Nsec3Parameters parameters_;
    std::vector<Hashed> hashed_;  // NSEC3 owners with the zone's parameters, by hash
    // Where each run of hashes with the same leading `bucket_bits_` bits begins in hashed_
    // (one more entry for the end): a search looks at one or two entries of its bucket
    // rather than bisecting the whole table, whose probes each miss the cache in a large zone.
    std::vector<uint32_t> bucket_start_;
    int bucket_bits_ = 0;
    std::vector<uint32_t> matching_;        // per node number: NSEC3 owner node, or kNone
    std::vector<uint32_t> wildcard_cover_;  // per node number: see nsec3_covering_wildcard
};

}  // namespace meridian::zones
