// The offline check of a signed zone's RRSIGs: groups the records into RRsets, finds the zone
// cuts, verifies each signature with ldns against the apex DNSKEY set, and reports, bounded.
#include "zones/signature_check.hpp"

#include <algorithm>
#include <array>
#include <bitset>
#include <cstdio>
#include <ctime>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "wire/bytes.hpp"
#include "wire/name.hpp"
#include "zones/ldns.hpp"
#include "zones/zone_diff.hpp"         // serial_is_before (RFC 1982)
#include "zones/zone_file_writer.hpp"  // record_to_ldns

#include <openssl/evp.h>  // the keys made once per DNSKEY (see ZoneKey)

namespace meridian::zones {

namespace {

constexpr uint16_t kZoneKeyFlag = 0x0100;  // RFC 4034 §2.1.1
constexpr size_t kRrsigFixedLength = 18;   // RFC 4034 §3.1: the fields before the signer

// A zone with a million expired signatures must not print a million lines: each kind of
// problem is listed for its first kMaxListed occurrences (in zone order), then counted once.
constexpr size_t kMaxListed = 20;

enum class Kind {
    kMalformed,
    kWrongSigner,
    kNoCoveredRRset,
    kSignsNonAuthoritative,
    kWrongLabels,
    kBadPeriod,
    kNotYetValid,
    kExpired,
    kExpiresSoon,
    kUnknownKey,
    kDoesNotVerify,
    kMissing,
    kMissingAlgorithm,
    kDnskeyNotSelfSigned,
    kCount
};

// How the count after the listed ones reads: "and 10 more <this>".
constexpr std::array<const char*, size_t(Kind::kCount)> kKindPlural = {
    "malformed RRSIGs",
    "RRSIGs by a signer other than the apex",
    "RRSIGs covering no RRset",
    "RRSIGs over delegation NS or glue",
    "RRSIGs with a wrong labels field",
    "RRSIGs expiring before their inception",
    "RRSIGs not yet valid",
    "expired RRSIGs",
    "RRSIGs expiring within the SOA refresh",
    "RRSIGs by a key not in the apex DNSKEY set",
    "RRSIGs that do not verify",
    "RRsets without RRSIG",
    "RRsets without an RRSIG by each algorithm",
    "DNSKEY RRsets not signed by a key in them",
};

bool is_warning(Kind kind) {
    return kind == Kind::kExpiresSoon || kind == Kind::kSignsNonAuthoritative;
}

// The RDATA fields of an RRSIG (RFC 4034 §3.1).
struct RrsigFields {
    uint16_t type_covered = 0;
    uint8_t algorithm = 0;
    uint8_t labels = 0;
    uint32_t expiration = 0;
    uint32_t inception = 0;
    uint16_t key_tag = 0;
    std::string_view signer;
};

// Null when the RDATA is too short for the fixed fields, the signer's name runs past its end
// or is over-long, or no signature follows.
std::optional<RrsigFields> read_rrsig(std::string_view rdata) {
    const auto bytes = wire::bytes_of(rdata);
    if (bytes.size() < kRrsigFixedLength + 1) return std::nullopt;
    RrsigFields fields;
    fields.type_covered = wire::read16(bytes, 0);
    fields.algorithm = bytes[2];
    fields.labels = bytes[3];
    fields.expiration = wire::read32(bytes, 8);
    fields.inception = wire::read32(bytes, 12);
    fields.key_tag = wire::read16(bytes, 16);
    size_t at = kRrsigFixedLength;
    while (at < bytes.size() && bytes[at] != 0) {
        if (bytes[at] > wire::kMaxLabelLength) return std::nullopt;
        at += 1 + size_t(bytes[at]);
    }
    if (at >= bytes.size()) return std::nullopt;
    ++at;
    if (at - kRrsigFixedLength > wire::kMaxNameLength || at == bytes.size()) return std::nullopt;
    fields.signer = rdata.substr(kRrsigFixedLength, at - kRrsigFixedLength);
    return fields;
}

std::string name_text(std::string_view name) {
    return wire::to_text(wire::bytes_of(name));
}

std::string type_text(uint16_t type) {
    return ldns::take_text(ldns_rr_type2str(ldns_rr_type(type)));
}

std::string algorithm_text(uint8_t algorithm) {
    const ldns_lookup_table* entry = ldns_lookup_by_id(ldns_algorithms, algorithm);
    return entry ? entry->name : "algorithm " + std::to_string(algorithm);
}

// `now` counts seconds modulo 2^32 (RFC 4034 §3.1.5). A value before 1990, when no zone was
// signed yet, can only be a clock past the wrap in February 2106.
time_t now_instant(uint32_t now) {
    constexpr uint32_t k1990 = 631152000;
    return now < k1990 ? time_t(now) + (time_t(1) << 32) : time_t(now);
}

// RFC 4034 §3.2: the presentation form YYYYMMDDHHmmSS (UTC) of a timestamp, read as the
// instant nearest to `now` that it names modulo 2^32 (RFC 4034 §3.1.5).
std::string timestamp_text(uint32_t timestamp, uint32_t now) {
    const time_t instant = now_instant(now) + time_t(int32_t(timestamp - now));
    std::tm parts{};
    gmtime_r(&instant, &parts);
    char text[32];
    std::snprintf(text, sizeof text, "%04d%02d%02d%02d%02d%02d", parts.tm_year + 1900,
                  parts.tm_mon + 1, parts.tm_mday, parts.tm_hour, parts.tm_min, parts.tm_sec);
    return text;
}

// "2 h", "90 min": the largest unit of which there are at least two.
std::string duration_text(uint32_t seconds) {
    if (seconds >= 2 * 86400) return std::to_string(seconds / 86400) + " d";
    if (seconds >= 2 * 3600) return std::to_string(seconds / 3600) + " h";
    if (seconds >= 2 * 60) return std::to_string(seconds / 60) + " min";
    return std::to_string(seconds) + " s";
}

struct RRsetKey {
    std::string_view owner;
    uint16_t type;
    bool operator==(const RRsetKey&) const = default;
};

struct RRsetKeyHash {
    size_t operator()(const RRsetKey& key) const {
        return std::hash<std::string_view>{}(key.owner) * 31 + key.type;
    }
};

// The records of one (owner, type), and the RRSIGs whose type covered is that type: indexes
// into the records as read, in their order.
struct RRsetEntry {
    RRsetKey key;
    std::vector<size_t> records;
    std::vector<size_t> signatures;
};

struct EvpKeyFree {
    void operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); }
};
using EvpKey = std::unique_ptr<EVP_PKEY, EvpKeyFree>;

// One apex DNSKEY that may verify signatures.
struct ZoneKey {
    ldns::Record record;
    // The OpenSSL key, made once. ldns_verify_rrsig_keylist_notime remakes it from the
    // DNSKEY for every signature, which is half the time of an ED25519 check (120 of 250 us
    // measured), so the elliptic-curve algorithms (ECDSA, RFC 6605; EdDSA, RFC 8080) verify
    // with it here; it is null for the others (RSA), which that ldns call verifies.
    EvpKey evp;
    const EVP_MD* digest = nullptr;  // null for EdDSA, which hashes as part of signing
    bool is_ecdsa = false;           // RFC 6605 §4: r | s, which OpenSSL wants in DER
};

// Null (and ldns's own path) for the algorithms not handled here.
EvpKey evp_key_of(uint8_t algorithm, std::span<const uint8_t> public_key, ZoneKey& key) {
    switch (algorithm) {
        case LDNS_ED25519:
            return EvpKey(ldns_ed255192pkey_raw(public_key.data(), public_key.size()));
        case LDNS_ED448:
            return EvpKey(ldns_ed4482pkey_raw(public_key.data(), public_key.size()));
        case LDNS_ECDSAP256SHA256:
        case LDNS_ECDSAP384SHA384:
            key.is_ecdsa = true;
            key.digest = algorithm == LDNS_ECDSAP256SHA256 ? EVP_sha256() : EVP_sha384();
            return EvpKey(ldns_ecdsa2pkey_raw(public_key.data(), public_key.size(), algorithm));
        default:
            return nullptr;
    }
}

// The apex zone keys of one (key tag, algorithm): usually one, more when tags collide.
struct KeysWithTag {
    std::vector<const ZoneKey*> keys;
    ldns::ShallowRRList records = ldns::ShallowRRList(ldns_rr_list_new());
    bool all_have_evp = true;
};

// The apex DNSKEYs that may verify signatures, by (key tag, algorithm).
struct ZoneKeys {
    std::vector<std::unique_ptr<ZoneKey>> owned;
    std::unordered_map<uint32_t, KeysWithTag> by_tag;  // zone keys only
    std::unordered_set<uint32_t> without_zone_flag;
    std::bitset<256> algorithms;

    static uint32_t id(uint16_t tag, uint8_t algorithm) { return (uint32_t(tag) << 8) | algorithm; }
};

class SignatureChecker {
  public:
    SignatureChecker(std::string_view origin, std::span<const SourceRecord> records,
                     const SignatureCheckOptions& options)
        : origin_(origin), records_(records), options_(options) {}

    void run(Diagnostics& diagnostics);

  private:
    void group_records();
    void read_keys(const RRsetEntry& dnskeys);
    bool is_below_cut(std::string_view owner) const;
    bool is_authoritative(const RRsetKey& key) const;
    void check_rrset(const RRsetEntry& entry);
    // Checks one RRSIG over `entry`; true when it verifies with an apex key. `rrset` is built
    // at the first signature that gets as far as verification.
    bool check_signature(const RRsetEntry& entry, size_t index, ldns::RRList& rrset,
                         std::bitset<256>& algorithms);
    ldns::RRList canonical_rrset(const RRsetEntry& entry, std::string& failure) const;
    ldns_status verify(ldns_rr_list* rrset, const ldns_rr* signature, const KeysWithTag& keys);
    void report(Kind kind, size_t index, std::string message);

    std::string_view origin_;
    std::span<const SourceRecord> records_;
    SignatureCheckOptions options_;
    std::vector<RRsetEntry> rrsets_;  // in the order their first record or RRSIG was read
    std::unordered_map<RRsetKey, size_t, RRsetKeyHash> rrset_index_;
    std::unordered_set<std::string_view> cuts_;  // owners of NS below the apex
    ZoneKeys keys_;
    bool has_rrsig_ = false;
    ldns::Buffer signed_data_{ldns_buffer_new(4096)};  // reused: grows to the largest RRset
    ldns::Buffer der_signature_{ldns_buffer_new(256)};

    std::vector<std::pair<size_t, Diagnostic>> listed_;  // by record index, for zone order
    std::array<size_t, size_t(Kind::kCount)> counts_{};
    std::array<size_t, size_t(Kind::kCount)> first_unlisted_{};
};

void SignatureChecker::group_records() {
    for (size_t i = 0; i < records_.size(); ++i) {
        const SourceRecord& record = records_[i];
        if (!wire::is_subdomain(wire::bytes_of(record.owner), wire::bytes_of(origin_))) continue;
        RRsetKey key{record.owner, record.type};
        const bool is_signature = record.type == LDNS_RR_TYPE_RRSIG;
        if (is_signature) {
            has_rrsig_ = true;
            // An RRSIG too short for its type covered is reported with the owner's RRSIGs.
            key.type = record.rdata.size() >= 2 ? wire::read16(wire::bytes_of(record.rdata), 0)
                                                : uint16_t(LDNS_RR_TYPE_RRSIG);
        }
        auto [found, added] = rrset_index_.try_emplace(key, rrsets_.size());
        if (added) rrsets_.push_back({key, {}, {}});
        RRsetEntry& entry = rrsets_[found->second];
        (is_signature ? entry.signatures : entry.records).push_back(i);
        if (record.type == LDNS_RR_TYPE_NS && record.owner != origin_) cuts_.insert(record.owner);
    }
}

void SignatureChecker::read_keys(const RRsetEntry& dnskeys) {
    for (const size_t i : dnskeys.records) {
        const SourceRecord& record = records_[i];
        if (record.rdata.size() < 4) continue;  // the loader reports a malformed DNSKEY
        auto key = std::make_unique<ZoneKey>();
        key->record = record_to_ldns(record.owner, record.type, record.ttl, record.rdata);
        if (!key->record) continue;
        const auto bytes = wire::bytes_of(record.rdata);
        const uint8_t algorithm = bytes[3];
        const uint32_t id = ZoneKeys::id(ldns_calc_keytag(key->record.get()), algorithm);
        // RFC 4034 §2.1.1: a DNSKEY without the Zone Key flag must not verify RRSIGs.
        if (!(wire::read16(bytes, 0) & kZoneKeyFlag)) {
            keys_.without_zone_flag.insert(id);
            continue;
        }
        keys_.algorithms.set(algorithm);
        key->evp = evp_key_of(algorithm, bytes.subspan(4), *key);
        KeysWithTag& with_tag = keys_.by_tag[id];
        with_tag.keys.push_back(key.get());
        with_tag.all_have_evp = with_tag.all_have_evp && key->evp;
        ldns_rr_list_push_rr(with_tag.records.get(), key->record.get());
        keys_.owned.push_back(std::move(key));
    }
}

// True when a proper ancestor of `owner`, below the apex, holds NS: the owner is then glue
// or occluded data, not the zone's to sign (RFC 4035 §2.2).
bool SignatureChecker::is_below_cut(std::string_view owner) const {
    if (cuts_.empty()) return false;
    size_t at = 0;
    while (at < owner.size() && owner.size() - at > origin_.size()) {
        at += 1 + size_t(uint8_t(owner[at]));
        if (owner.size() - at > origin_.size() && cuts_.count(owner.substr(at))) return true;
    }
    return false;
}

// RFC 4035 §2.2: every authoritative RRset is signed; the NS at a delegation and glue are
// not, while the DS (and NSEC) at a delegation belong to the parent and are.
bool SignatureChecker::is_authoritative(const RRsetKey& key) const {
    if (is_below_cut(key.owner)) return false;
    if (key.owner != origin_ && cuts_.count(key.owner))
        return key.type == LDNS_RR_TYPE_DS || key.type == LDNS_RR_TYPE_NSEC;
    return true;
}

// The RRset's records in the canonical form of RFC 4034 §6.2 (names in the RDATA of the
// types listed there in lowercase), made once for all its signatures.
ldns::RRList SignatureChecker::canonical_rrset(const RRsetEntry& entry,
                                               std::string& failure) const {
    ldns::RRList rrset(ldns_rr_list_new());
    for (const size_t i : entry.records) {
        const SourceRecord& record = records_[i];
        ldns::Record rr = record_to_ldns(record.owner, record.type, record.ttl, record.rdata);
        if (!rr) {
            failure = "ldns cannot read the record at line " + std::to_string(record.line);
            return nullptr;
        }
        ldns_rr2canonical(rr.get());
        ldns_rr_list_push_rr(rrset.get(), rr.release());
    }
    return rrset;
}

// What ldns_verify_rrsig_keylist_notime does (RFC 4034 §3.1.8.1: the RRSIG RDATA without the
// signature, then the RRset in canonical order with the original TTL, §6.3), with the
// OpenSSL keys made once. The owner needs no wildcard form: the labels field was checked to
// match it.
ldns_status SignatureChecker::verify(ldns_rr_list* rrset, const ldns_rr* signature,
                                     const KeysWithTag& keys) {
    if (!keys.all_have_evp)
        return ldns_verify_rrsig_keylist_notime(rrset, signature, keys.records.get(), nullptr);
    const ldns_rdf* original_ttl = ldns_rr_rrsig_origttl(signature);
    const ldns_rdf* signature_data = ldns_rr_rrsig_sig(signature);
    if (!original_ttl || !signature_data) return LDNS_STATUS_MISSING_RDATA_FIELDS_RRSIG;
    const uint32_t ttl = ldns_rdf2native_int32(original_ttl);
    for (size_t i = 0; i < ldns_rr_list_rr_count(rrset); ++i)
        ldns_rr_set_ttl(ldns_rr_list_rr(rrset, i), ttl);
    ldns_rr_list_sort(rrset);
    ldns_buffer_clear(signed_data_.get());
    if (ldns_rrsig2buffer_wire(signed_data_.get(), signature) != LDNS_STATUS_OK ||
        ldns_rr_list2buffer_wire(signed_data_.get(), rrset) != LDNS_STATUS_OK)
        return LDNS_STATUS_MEM_ERR;

    ldns_status status = LDNS_STATUS_CRYPTO_BOGUS;
    for (const ZoneKey* key : keys.keys) {
        const unsigned char* bytes = ldns_rdf_data(signature_data);
        size_t size = ldns_rdf_size(signature_data);
        if (key->is_ecdsa) {
            ldns_buffer_clear(der_signature_.get());
            if (ldns_convert_ecdsa_rrsig_rdf2asn1(der_signature_.get(), signature_data) !=
                LDNS_STATUS_OK)
                return LDNS_STATUS_CRYPTO_BOGUS;
            bytes = ldns_buffer_begin(der_signature_.get());
            size = ldns_buffer_position(der_signature_.get());
        }
        status =
            ldns_verify_rrsig_evp_raw(bytes, size, signed_data_.get(), key->evp.get(), key->digest);
        if (status == LDNS_STATUS_OK) break;
    }
    return status;
}

void SignatureChecker::report(Kind kind, size_t index, std::string message) {
    const size_t k = size_t(kind);
    if (counts_[k]++ == kMaxListed) first_unlisted_[k] = index;
    if (counts_[k] > kMaxListed) return;
    const SourceRecord& record = records_[index];
    listed_.push_back({index, Diagnostic{std::string(record.file), record.line, std::move(message),
                                         !is_warning(kind)}});
}

bool SignatureChecker::check_signature(const RRsetEntry& entry, size_t index, ldns::RRList& rrset,
                                       std::bitset<256>& algorithms) {
    const SourceRecord& record = records_[index];
    const std::optional<RrsigFields> fields = read_rrsig(record.rdata);
    if (!fields) {
        report(Kind::kMalformed, index,
               "RRSIG at " + name_text(record.owner) +
                   " is malformed: its RDATA is too short or its signer's name is broken");
        return false;
    }
    const std::string what =
        "RRSIG for " + name_text(record.owner) + " " + type_text(fields->type_covered) + " (key " +
        std::to_string(fields->key_tag) + ", " + algorithm_text(fields->algorithm) + ")";
    // RFC 4035 §2.2: the signer's name is the zone apex.
    if (!wire::equal_ignoring_case(wire::bytes_of(fields->signer), wire::bytes_of(origin_))) {
        report(Kind::kWrongSigner, index,
               what + ": signer " + name_text(fields->signer) + " is not the zone apex " +
                   name_text(origin_) + " (RFC 4035 §2.2)");
        return false;
    }
    if (entry.records.empty()) {
        report(Kind::kNoCoveredRRset, index,
               what + " covers " + type_text(fields->type_covered) + ", but the zone has no " +
                   name_text(record.owner) + " " + type_text(fields->type_covered) + " RRset");
        return false;
    }
    if (!is_authoritative(entry.key)) {
        report(Kind::kSignsNonAuthoritative, index,
               what +
                   " signs data that is not authoritative (a delegation's NS or glue), "
                   "which RFC 4035 §2.2 leaves unsigned: validators ignore it");
        return false;
    }
    // RFC 4034 §3.1.3: the labels of the owner, the root and a leading "*" not counted.
    const auto owner = wire::bytes_of(record.owner);
    const bool is_wildcard = owner.size() >= 2 && owner[0] == 1 && owner[1] == '*';
    const size_t labels = wire::count_labels(owner) - (is_wildcard ? 1 : 0);
    if (fields->labels != labels) {
        report(Kind::kWrongLabels, index,
               what + ": labels field is " + std::to_string(fields->labels) + ", but " +
                   name_text(record.owner) + " has " + std::to_string(labels) +
                   " labels (RFC 4034 §3.1.3)");
        return false;
    }

    // RFC 4034 §3.1.5: the validity period in serial number arithmetic (RFC 1982), and
    // RFC 4035 §5.3.1: valid from inception to expiration, both included.
    const uint32_t now = options_.now;
    if (serial_is_before(fields->expiration, fields->inception)) {
        report(Kind::kBadPeriod, index,
               what + " expires before its inception (" + timestamp_text(fields->expiration, now) +
                   " < " + timestamp_text(fields->inception, now) + ")");
    } else if (serial_is_before(now, fields->inception)) {
        report(Kind::kNotYetValid, index,
               what + " is not valid until " + timestamp_text(fields->inception, now) + ", " +
                   duration_text(fields->inception - now) + " from now");
    } else if (serial_is_before(fields->expiration, now)) {
        report(Kind::kExpired, index,
               what + " expired at " + timestamp_text(fields->expiration, now) + ", " +
                   duration_text(now - fields->expiration) + " ago");
    } else if (fields->expiration - now < options_.warn_within) {
        report(Kind::kExpiresSoon, index,
               what + " expires in " + duration_text(fields->expiration - now) +
                   ", within the SOA refresh of " + duration_text(options_.warn_within) +
                   ": a secondary may serve it expired");
    }

    const uint32_t key_id = ZoneKeys::id(fields->key_tag, fields->algorithm);
    const auto key = keys_.by_tag.find(key_id);
    if (key == keys_.by_tag.end()) {
        report(Kind::kUnknownKey, index,
               what + (keys_.without_zone_flag.count(key_id)
                           ? ": the DNSKEY lacks the Zone Key flag, so it cannot sign the zone "
                             "(RFC 4034 §2.1.1)"
                           : ": the key is not in the apex DNSKEY set"));
        return false;
    }
    algorithms.set(fields->algorithm);

    std::string failure;
    if (!rrset) rrset = canonical_rrset(entry, failure);
    if (!rrset) {
        report(Kind::kDoesNotVerify, index, what + " cannot be verified: " + failure);
        return false;
    }
    const ldns::Record signature =
        record_to_ldns(record.owner, record.type, record.ttl, record.rdata);
    if (!signature) {
        report(Kind::kMalformed, index, what + " is malformed: ldns cannot read it as an RRSIG");
        return false;
    }
    // The time was checked above, in serial arithmetic, with its own message: only the
    // signature is checked here.
    const ldns_status status = verify(rrset.get(), signature.get(), key->second);
    if (status != LDNS_STATUS_OK) {
        report(Kind::kDoesNotVerify, index,
               what + " does not verify: " + ldns_get_errorstr_by_id(status));
        return false;
    }
    return true;
}

void SignatureChecker::check_rrset(const RRsetEntry& entry) {
    ldns::RRList rrset;  // built once per RRset, for all its signatures
    std::bitset<256> algorithms;
    bool verifies = false;
    for (const size_t index : entry.signatures)
        verifies |= check_signature(entry, index, rrset, algorithms);
    if (entry.records.empty() || !is_authoritative(entry.key)) return;

    const size_t first = entry.records.front();
    const std::string what = name_text(entry.key.owner) + " " + type_text(entry.key.type);
    if (entry.signatures.empty()) {
        report(Kind::kMissing, first,
               what + " has no RRSIG (RFC 4035 §2.2: every authoritative RRset is signed)");
    } else if (algorithms.any()) {
        // RFC 4035 §2.2: an RRSIG by at least one key of each algorithm of the apex DNSKEY
        // set. With no RRSIG by an apex key at all, the RRSIGs' own errors say why.
        for (size_t algorithm = 0; algorithm < keys_.algorithms.size(); ++algorithm)
            if (keys_.algorithms.test(algorithm) && !algorithms.test(algorithm))
                report(Kind::kMissingAlgorithm, first,
                       what + " has no RRSIG by algorithm " + algorithm_text(uint8_t(algorithm)) +
                           " of the apex DNSKEY set (RFC 4035 §2.2)");
    }
    // RFC 4035 §5.2: a validator trusts the DNSKEY set only through an RRSIG by one of its
    // own keys (the one the parent's DS names); without one the whole zone is bogus.
    if (entry.key.type == LDNS_RR_TYPE_DNSKEY && entry.key.owner == origin_ &&
        !entry.signatures.empty() && !verifies)
        report(Kind::kDnskeyNotSelfSigned, first,
               "the DNSKEY RRset at " + name_text(origin_) +
                   " is not signed by any key in it: validators will find the zone bogus");
}

void SignatureChecker::run(Diagnostics& diagnostics) {
    group_records();
    const auto dnskeys = rrset_index_.find(RRsetKey{origin_, LDNS_RR_TYPE_DNSKEY});
    if (!has_rrsig_ || dnskeys == rrset_index_.end() || rrsets_[dnskeys->second].records.empty())
        return;
    read_keys(rrsets_[dnskeys->second]);

    for (const RRsetEntry& entry : rrsets_) check_rrset(entry);

    std::stable_sort(listed_.begin(), listed_.end(),
                     [](const auto& a, const auto& b) { return a.first < b.first; });
    for (auto& [index, diagnostic] : listed_) diagnostics.push_back(std::move(diagnostic));
    for (size_t k = 0; k < counts_.size(); ++k) {
        if (counts_[k] <= kMaxListed) continue;
        diagnostics.push_back(Diagnostic{
            std::string(records_[first_unlisted_[k]].file), 0,
            "and " + std::to_string(counts_[k] - kMaxListed) + " more " + kKindPlural[k] +
                " (at most " + std::to_string(kMaxListed) + " of each kind are listed)",
            !is_warning(Kind(k))});
    }
}

}  // namespace

void check_signatures(std::string_view origin_wire, std::span<const SourceRecord> records,
                      const SignatureCheckOptions& options, Diagnostics& diagnostics) {
    SignatureChecker(origin_wire, records, options).run(diagnostics);
}

}  // namespace meridian::zones
