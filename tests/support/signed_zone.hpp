// Signs zone text in the test with ldns (the library ldns-signzone is built on): a fresh
// ED25519 key signs everything, with an NSEC chain or an NSEC3 chain (SHA-1, no salt,
// 0 extra iterations, RFC 9276), optionally Opt-Out. The answers' tests need real chains
// and real RRSIG fields; the signatures' validity is the integration tests' business.
#pragma once

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <ctime>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "zones/ldns.hpp"

namespace meridian::testing {

enum class Denial { nsec, nsec3, nsec3_opt_out };

namespace detail {

inline std::string lower(std::string text) {
    std::transform(text.begin(), text.end(), text.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return text;
}

// Fields of one line ldns printed: owner, TTL, class, type, RDATA fields.
inline std::vector<std::string> fields(const std::string& line) {
    std::istringstream in(line);
    std::vector<std::string> out;
    for (std::string field; in >> field;) out.push_back(field);
    return out;
}

// ldns sets the Opt-Out flag but still gives insecure delegations an NSEC3; Opt-Out means
// leaving them out (RFC 5155 §6), so this removes them and mends the chain. The changed
// NSEC3 keeps its old RRSIG, which the answers' tests do not verify.
inline std::string leave_out_insecure_delegations(const std::string& text,
                                                  const std::string& origin) {
    std::vector<std::string> lines;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) lines.push_back(line);
    std::set<std::string> cuts, secured;
    for (const auto& line : lines) {
        const auto f = fields(line);
        if (f.size() < 4 || lower(f[0]) == lower(origin)) continue;
        if (f[3] == "NS") cuts.insert(lower(f[0]));
        if (f[3] == "DS") secured.insert(lower(f[0]));
    }
    for (const auto& cut : cuts) {
        if (secured.count(cut)) continue;
        ldns_rdf* name = ldns_dname_new_frm_str(cut.c_str());
        ldns_rdf* hashed = ldns_nsec3_hash_name(name, LDNS_SHA1, 0, 0, nullptr);
        const std::string label = lower(ldns::take_text(ldns_rdf2str(hashed)));
        ldns_rdf_deep_free(name);
        ldns_rdf_deep_free(hashed);
        const std::string owner = label.substr(0, label.find('.')) + "." + lower(origin);
        std::string next;
        std::vector<std::string> kept;
        for (const auto& line : lines) {
            const auto f = fields(line);
            if (f.size() >= 4 && lower(f[0]) == owner) {
                if (f[3] == "NSEC3" && f.size() >= 9) next = f[8];
                continue;
            }
            kept.push_back(line);
        }
        const std::string removed_hash = owner.substr(0, owner.find('.'));
        for (auto& line : kept) {
            const auto f = fields(line);
            if (f.size() >= 9 && f[3] == "NSEC3" && lower(f[8]) == removed_hash) {
                const size_t at = lower(line).find(removed_hash);
                line.replace(at, removed_hash.size(), next);
            }
        }
        lines = kept;
    }
    std::string out;
    for (const auto& line : lines) out += line + "\n";
    return out;
}

}  // namespace detail

// The signed zone as master-file text, one record a line.
inline std::string sign_zone_text(const std::string& origin, const std::string& text,
                                  Denial denial) {
    FILE* in = fmemopen(const_cast<char*>(text.data()), text.size(), "r");
    ldns_rdf* origin_rdf = ldns_dname_new_frm_str(origin.c_str());
    ldns_zone* zone = nullptr;
    int line = 0;
    const ldns_status read =
        ldns_zone_new_frm_fp_l(&zone, in, origin_rdf, 3600, LDNS_RR_CLASS_IN, &line);
    std::fclose(in);
    if (read != LDNS_STATUS_OK) throw std::runtime_error("test zone does not parse");

    ldns_key* key = ldns_key_new_frm_algorithm(LDNS_SIGN_ED25519, 256);
    ldns_key_set_pubkey_owner(key, ldns_rdf_clone(origin_rdf));
    ldns_key_set_flags(key, 257);
    const auto now = static_cast<uint32_t>(std::time(nullptr));
    ldns_key_set_inception(key, now - 3600);
    ldns_key_set_expiration(key, now + 30 * 86400);
    ldns_key_list* keys = ldns_key_list_new();
    ldns_key_list_push_key(keys, key);
    ldns_zone_push_rr(zone, ldns_key2rr(key));

    ldns_dnssec_zone* dnssec_zone = ldns_dnssec_zone_new();
    ldns_dnssec_zone_add_rr(dnssec_zone, ldns_rr_clone(ldns_zone_soa(zone)));
    for (size_t i = 0; i < ldns_rr_list_rr_count(ldns_zone_rrs(zone)); ++i)
        ldns_dnssec_zone_add_rr(dnssec_zone,
                                ldns_rr_clone(ldns_rr_list_rr(ldns_zone_rrs(zone), i)));
    ldns_rr_list* added = ldns_rr_list_new();
    ldns_status signed_status;
    if (denial == Denial::nsec) {
        signed_status = ldns_dnssec_zone_sign(dnssec_zone, added, keys,
                                              ldns_dnssec_default_replace_signatures, nullptr);
    } else {
        const uint8_t flags = denial == Denial::nsec3_opt_out ? LDNS_NSEC3_VARS_OPTOUT_MASK : 0;
        signed_status = ldns_dnssec_zone_sign_nsec3(dnssec_zone, added, keys,
                                                    ldns_dnssec_default_replace_signatures, nullptr,
                                                    LDNS_SHA1, flags, 0, 0, nullptr);
    }
    if (signed_status != LDNS_STATUS_OK) throw std::runtime_error("ldns could not sign");

    char* printed = nullptr;
    size_t size = 0;
    FILE* out = open_memstream(&printed, &size);
    ldns_dnssec_zone_print(out, dnssec_zone);
    std::fclose(out);
    std::string result(printed, size);
    std::free(printed);
    if (denial == Denial::nsec3_opt_out)
        result = detail::leave_out_insecure_delegations(result, origin);

    ldns_rr_list_free(added);
    ldns_dnssec_zone_deep_free(dnssec_zone);
    ldns_key_list_free(keys);
    ldns_zone_deep_free(zone);
    ldns_rdf_deep_free(origin_rdf);
    return result;
}

}  // namespace meridian::testing
