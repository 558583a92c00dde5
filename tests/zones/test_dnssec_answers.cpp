// Answers from a signed zone (RFC 4035 §3.1, RFC 5155 §7.2): RRSIGs beside every RRset when
// DO is set and none otherwise, and each kind of denial of existence, checked with ldns's own
// NSEC and NSEC3 denial verifiers on zones ldns signed.
#include <doctest/doctest.h>

#include <algorithm>

#include "support/answer_fixture.hpp"
#include "support/signed_zone.hpp"
#include "wire/bytes.hpp"
#include "wire/name.hpp"
#include "zones/denial.hpp"
#include "zones/ixfr_apply.hpp"

using namespace meridian::testing;

namespace {

const char* kZone = R"($TTL 3600
@          SOA   ns1 hostmaster 2024010101 7200 900 1209600 300
@          NS    ns1
@          MX    10 mail
ns1        A     192.0.2.1
mail       A     192.0.2.25
www        A     192.0.2.80
www        AAAA  2001:db8::80
alias      CNAME www
*.wild     A     192.0.2.100
exists.wild A    192.0.2.101
x.y.ent    A     192.0.2.110
secure     NS    ns.secure
secure     DS    12345 13 2 49FD46E6C4B45C55D4AC69CBD3CD34AC1AFE51DE2D4A7E6E23E8D8E2C2CBB2B6
ns.secure  A     192.0.2.53
insecure   NS    ns.insecure
ns.insecure A    192.0.2.54
dn         DNAME target
host.target A    192.0.2.90
big        TXT   "record 01 padding padding padding padding padding padding padding"
big        TXT   "record 02 padding padding padding padding padding padding padding"
big        TXT   "record 03 padding padding padding padding padding padding padding"
big        TXT   "record 04 padding padding padding padding padding padding padding"
big        TXT   "record 05 padding padding padding padding padding padding padding"
big        TXT   "record 06 padding padding padding padding padding padding padding"
big        TXT   "record 07 padding padding padding padding padding padding padding"
big        TXT   "record 08 padding padding padding padding padding padding padding"
)";

struct Signed : AnswerFixture {
    explicit Signed(Denial denial)
        : AnswerFixture(
              ZoneTexts{{"example.com.", sign_zone_text("example.com.", kZone, denial)}}) {
        REQUIRE(errors == "");
    }
};

const QueryOptions kDo{.edns = true, .udp_size = 4096, .dnssec_ok = true};

// Records of `type` in `list` (a clone the caller frees with ldns_rr_list_deep_free).
ldns_rr_list* of_type(const ldns_rr_list* list, ldns_rr_type type) {
    ldns_rr_list* out = ldns_rr_list_new();
    for (size_t i = 0; i < ldns_rr_list_rr_count(list); ++i)
        if (ldns_rr_get_type(ldns_rr_list_rr(list, i)) == type)
            ldns_rr_list_push_rr(out, ldns_rr_clone(ldns_rr_list_rr(list, i)));
    return out;
}

size_t count(const ldns_rr_list* list, ldns_rr_type type) {
    size_t n = 0;
    for (size_t i = 0; i < ldns_rr_list_rr_count(list); ++i)
        n += ldns_rr_get_type(ldns_rr_list_rr(list, i)) == type;
    return n;
}

// ldns's verdict on the denial in `p` for the question (name, type).
ldns_status denial_verdict(const Packet& p, const std::string& name, ldns_rr_type type,
                           bool nsec3) {
    ldns_rr* question = ldns_rr_new();
    ldns_rr_set_owner(question, ldns_dname_new_frm_str(name.c_str()));
    ldns_rr_set_type(question, type);
    ldns_rr_list* denials =
        of_type(ldns_pkt_authority(p.get()), nsec3 ? LDNS_RR_TYPE_NSEC3 : LDNS_RR_TYPE_NSEC);
    ldns_rr_list* signatures = of_type(ldns_pkt_authority(p.get()), LDNS_RR_TYPE_RRSIG);
    const ldns_status status = nsec3
                                   ? ldns_dnssec_verify_denial_nsec3(
                                         question, denials, signatures, ldns_pkt_get_rcode(p.get()),
                                         type, ldns_rr_list_rr_count(ldns_pkt_answer(p.get())) == 0)
                                   : ldns_dnssec_verify_denial(question, denials, signatures);
    ldns_rr_list_deep_free(denials);
    ldns_rr_list_deep_free(signatures);
    ldns_rr_free(question);
    return status;
}

// Every NSEC/NSEC3 and SOA in authority has its RRSIG beside it.
void check_authority_signed(const Packet& p) {
    const ldns_rr_list* authority = ldns_pkt_authority(p.get());
    const size_t signed_types =
        count(authority, LDNS_RR_TYPE_NSEC) + count(authority, LDNS_RR_TYPE_NSEC3) +
        count(authority, LDNS_RR_TYPE_SOA) + count(authority, LDNS_RR_TYPE_DS);
    CHECK(count(authority, LDNS_RR_TYPE_RRSIG) == signed_types);
}

}  // namespace

TEST_CASE("dnssec_records_only_with_do") {
    for (Denial denial : {Denial::nsec, Denial::nsec3}) {
        Signed f(denial);
        auto plain = f.ask("www.example.com.", LDNS_RR_TYPE_A, {.edns = true});
        CHECK(answer(plain).size() == 1);
        auto nx = f.ask("nope.example.com.", LDNS_RR_TYPE_A, {.edns = true});
        CHECK(authority(nx).size() == 1);  // the SOA alone (RFC 4035 §3.2.1)
        auto with_do = f.ask("www.example.com.", LDNS_RR_TYPE_A, kDo);
        CHECK(count(ldns_pkt_answer(with_do.get()), LDNS_RR_TYPE_A) == 1);
        CHECK(count(ldns_pkt_answer(with_do.get()), LDNS_RR_TYPE_RRSIG) == 1);
        CHECK(ldns_pkt_edns_do(with_do.get()));
        CHECK_FALSE(ldns_pkt_ad(with_do.get()));  // an authoritative server never sets AD
        // Asked for by type, DNSSEC records are data with or without DO.
        auto keys = f.ask("example.com.", LDNS_RR_TYPE_DNSKEY, {.edns = true});
        CHECK(answer(keys).size() == 1);
        auto sigs = f.ask("www.example.com.", LDNS_RR_TYPE_RRSIG, {.edns = true});
        // As Knot: the RRSIGs of the lowest type at the name (A here), not all of them.
        CHECK(count(ldns_pkt_answer(sigs.get()), LDNS_RR_TYPE_RRSIG) == 1);
    }
}

TEST_CASE("nxdomain_proofs") {
    for (Denial denial : {Denial::nsec, Denial::nsec3, Denial::nsec3_opt_out}) {
        CAPTURE(int(denial));
        Signed f(denial);
        const bool nsec3 = denial != Denial::nsec;
        for (const char* name :
             {"nope.example.com.", "a.b.www.example.com.", "zzz.example.com.", "a.example.com."}) {
            CAPTURE(name);
            auto p = f.ask(name, LDNS_RR_TYPE_A, kDo);
            CHECK(rcode(p) == LDNS_RCODE_NXDOMAIN);
            check_authority_signed(p);
            CHECK(denial_verdict(p, name, LDNS_RR_TYPE_A, nsec3) == LDNS_STATUS_OK);
            // NSEC: name and wildcard (one NSEC may cover both); NSEC3: encloser, next
            // closer and wildcard (RFC 5155 §7.2.2), one NSEC3 may serve twice.
            const size_t proofs =
                count(ldns_pkt_authority(p.get()), nsec3 ? LDNS_RR_TYPE_NSEC3 : LDNS_RR_TYPE_NSEC);
            CHECK(proofs >= 1);
            CHECK(proofs <= (nsec3 ? 3u : 2u));
        }
    }
}

TEST_CASE("negative_soa_signature_has_the_negative_ttl") {
    Signed f(Denial::nsec);
    auto p = f.ask("nope.example.com.", LDNS_RR_TYPE_A, kDo);
    for (size_t i = 0; i < ldns_rr_list_rr_count(ldns_pkt_authority(p.get())); ++i) {
        const ldns_rr* rr = ldns_rr_list_rr(ldns_pkt_authority(p.get()), i);
        const bool soa_related =
            ldns_rr_get_type(rr) == LDNS_RR_TYPE_SOA ||
            (ldns_rr_get_type(rr) == LDNS_RR_TYPE_RRSIG &&
             ldns_rdf2rr_type(ldns_rr_rrsig_typecovered(rr)) == LDNS_RR_TYPE_SOA);
        if (soa_related) CHECK(ldns_rr_ttl(rr) == 300);  // RFC 2308 §3: min(SOA TTL, MINIMUM)
    }
}

TEST_CASE("nodata_proofs") {
    for (Denial denial : {Denial::nsec, Denial::nsec3}) {
        CAPTURE(int(denial));
        Signed f(denial);
        const bool nsec3 = denial == Denial::nsec3;
        // At a name with other data, at an empty non-terminal, and for DS at a delegation
        // without one.
        for (auto [name, type] : {std::pair{"www.example.com.", LDNS_RR_TYPE_TXT},
                                  std::pair{"y.ent.example.com.", LDNS_RR_TYPE_A},
                                  std::pair{"ent.example.com.", LDNS_RR_TYPE_A},
                                  std::pair{"insecure.example.com.", LDNS_RR_TYPE_DS}}) {
            CAPTURE(name);
            auto p = f.ask(name, type, kDo);
            CHECK(rcode(p) == LDNS_RCODE_NOERROR);
            CHECK(answer(p).empty());
            check_authority_signed(p);
            CHECK(count(ldns_pkt_authority(p.get()),
                        nsec3 ? LDNS_RR_TYPE_NSEC3 : LDNS_RR_TYPE_NSEC) == 1);
            if (nsec3) CHECK(denial_verdict(p, name, type, true) == LDNS_STATUS_OK);
        }
    }
}

TEST_CASE("wildcard_answer_and_wildcard_nodata") {
    for (Denial denial : {Denial::nsec, Denial::nsec3}) {
        CAPTURE(int(denial));
        Signed f(denial);
        const ldns_rr_type proof = denial == Denial::nsec ? LDNS_RR_TYPE_NSEC : LDNS_RR_TYPE_NSEC3;
        auto p = f.ask("foo.wild.example.com.", LDNS_RR_TYPE_A, kDo);
        CHECK(rcode(p) == LDNS_RCODE_NOERROR);
        REQUIRE(ldns_rr_list_rr_count(ldns_pkt_answer(p.get())) == 2);
        // The RRSIG is the wildcard's: its Labels field (2) is one less than the owner's
        // (RFC 4035 §5.3.4), which is how a validator sees the expansion.
        ldns_rr_list* sigs = of_type(ldns_pkt_answer(p.get()), LDNS_RR_TYPE_RRSIG);
        REQUIRE(ldns_rr_list_rr_count(sigs) == 1);
        CHECK(ldns_rdf2native_int8(ldns_rr_rrsig_labels(ldns_rr_list_rr(sigs, 0))) == 3);
        ldns_rr_list_deep_free(sigs);
        // The proof that foo.wild itself does not exist.
        CHECK(count(ldns_pkt_authority(p.get()), proof) == 1);
        check_authority_signed(p);

        auto nodata = f.ask("foo.wild.example.com.", LDNS_RR_TYPE_AAAA, kDo);
        CHECK(answer(nodata).empty());
        check_authority_signed(nodata);
        // NSEC: the wildcard's NSEC and the one covering foo.wild; NSEC3: the wildcard's,
        // the closest encloser's and the next closer's (RFC 5155 §7.2.5).
        CHECK(count(ldns_pkt_authority(nodata.get()), proof) == (denial == Denial::nsec ? 2u : 3u));
    }
}

TEST_CASE("referrals_carry_ds_or_its_absence") {
    for (Denial denial : {Denial::nsec, Denial::nsec3, Denial::nsec3_opt_out}) {
        CAPTURE(int(denial));
        Signed f(denial);
        const ldns_rr_type proof = denial == Denial::nsec ? LDNS_RR_TYPE_NSEC : LDNS_RR_TYPE_NSEC3;
        auto secure = f.ask("www.secure.example.com.", LDNS_RR_TYPE_A, kDo);
        CHECK(count(ldns_pkt_authority(secure.get()), LDNS_RR_TYPE_NS) == 1);
        CHECK(count(ldns_pkt_authority(secure.get()), LDNS_RR_TYPE_DS) == 1);
        CHECK(count(ldns_pkt_authority(secure.get()), LDNS_RR_TYPE_RRSIG) == 1);
        CHECK(count(ldns_pkt_additional(secure.get()), LDNS_RR_TYPE_A) == 1);  // glue, unsigned
        CHECK(count(ldns_pkt_additional(secure.get()), LDNS_RR_TYPE_RRSIG) == 0);

        auto insecure = f.ask("www.insecure.example.com.", LDNS_RR_TYPE_A, kDo);
        CHECK(count(ldns_pkt_authority(insecure.get()), LDNS_RR_TYPE_DS) == 0);
        // The NSEC or NSEC3 at the cut; with Opt-Out the cut has none, and the closest
        // encloser (the apex) and the Opt-Out NSEC3 covering the cut prove it (RFC 5155 §7.2.7).
        const size_t proofs = count(ldns_pkt_authority(insecure.get()), proof);
        CHECK(proofs == (denial == Denial::nsec3_opt_out ? 2u : 1u));
        check_authority_signed(insecure);
        // Only the parent is authoritative for DS (RFC 4035 §3.1.4.1).
        auto ds = f.ask("secure.example.com.", LDNS_RR_TYPE_DS, kDo);
        CHECK(ldns_pkt_aa(ds.get()));
        CHECK(count(ldns_pkt_answer(ds.get()), LDNS_RR_TYPE_RRSIG) == 1);
    }
}

TEST_CASE("cname_and_dname_signatures") {
    Signed f(Denial::nsec);
    auto p = f.ask("alias.example.com.", LDNS_RR_TYPE_A, kDo);
    CHECK(count(ldns_pkt_answer(p.get()), LDNS_RR_TYPE_CNAME) == 1);
    CHECK(count(ldns_pkt_answer(p.get()), LDNS_RR_TYPE_A) == 1);
    CHECK(count(ldns_pkt_answer(p.get()), LDNS_RR_TYPE_RRSIG) == 2);
    // The DNAME is signed; the CNAME synthesised from it is not (RFC 6672 §5.3.1).
    auto d = f.ask("host.dn.example.com.", LDNS_RR_TYPE_A, kDo);
    CHECK(count(ldns_pkt_answer(d.get()), LDNS_RR_TYPE_DNAME) == 1);
    CHECK(count(ldns_pkt_answer(d.get()), LDNS_RR_TYPE_CNAME) == 1);
    CHECK(count(ldns_pkt_answer(d.get()), LDNS_RR_TYPE_A) == 1);
    CHECK(count(ldns_pkt_answer(d.get()), LDNS_RR_TYPE_RRSIG) == 2);
    // An NSEC at an alias is asked for as itself, not followed (RFC 4035 §2.5).
    auto nsec = f.ask("alias.example.com.", LDNS_RR_TYPE_NSEC, kDo);
    CHECK(count(ldns_pkt_answer(nsec.get()), LDNS_RR_TYPE_NSEC) == 1);
    CHECK(count(ldns_pkt_answer(nsec.get()), LDNS_RR_TYPE_CNAME) == 0);
}

TEST_CASE("nsec3_owner_names_do_not_exist") {
    Signed f(Denial::nsec3);
    // Find one hashed owner by asking for a NODATA proof, then ask for it (RFC 5155 §7.2.8).
    auto p = f.ask("www.example.com.", LDNS_RR_TYPE_TXT, kDo);
    ldns_rr_list* nsec3s = of_type(ldns_pkt_authority(p.get()), LDNS_RR_TYPE_NSEC3);
    REQUIRE(ldns_rr_list_rr_count(nsec3s) == 1);
    const std::string owner =
        meridian::ldns::take_text(ldns_rdf2str(ldns_rr_owner(ldns_rr_list_rr(nsec3s, 0))));
    ldns_rr_list_deep_free(nsec3s);
    auto hashed = f.ask(owner, LDNS_RR_TYPE_NSEC3, kDo);
    CHECK(rcode(hashed) == LDNS_RCODE_NXDOMAIN);
}

TEST_CASE("truncation_never_leaves_a_partial_rrset_or_proof") {
    for (Denial denial : {Denial::nsec, Denial::nsec3}) {
        Signed f(denial);
        QueryOptions small = kDo;
        small.udp_size = 512;
        auto big = f.ask("big.example.com.", LDNS_RR_TYPE_TXT, small);
        CHECK(ldns_pkt_tc(big.get()));
        CHECK(answer(big).empty());
        // Over TCP the same answer is whole.
        auto whole =
            f.ask("big.example.com.", LDNS_RR_TYPE_TXT, kDo, meridian::zones::Transport::tcp);
        CHECK(count(ldns_pkt_answer(whole.get()), LDNS_RR_TYPE_TXT) == 8);
        CHECK(count(ldns_pkt_answer(whole.get()), LDNS_RR_TYPE_RRSIG) == 1);
        // A proof is whole or absent: every NSEC/NSEC3 present has its RRSIG.
        for (uint16_t size : {512, 600, 700, 800}) {
            QueryOptions limited = kDo;
            limited.udp_size = size;
            auto nx = f.ask("nope.example.com.", LDNS_RR_TYPE_A, limited);
            check_authority_signed(nx);
            if (!ldns_pkt_tc(nx.get()))
                CHECK(denial_verdict(nx, "nope.example.com.", LDNS_RR_TYPE_A,
                                     denial == Denial::nsec3) == LDNS_STATUS_OK);
            else
                CHECK(authority(nx).empty());
        }
    }
}

TEST_CASE("broken_chains_are_refused_with_their_place") {
    std::string text = sign_zone_text("example.com.", kZone, Denial::nsec);
    // Drop www's NSEC: the chain then skips a name and www has none.
    std::string broken;
    size_t line_start = 0;
    while (line_start < text.size()) {
        const size_t end = text.find('\n', line_start);
        const std::string line = text.substr(line_start, end - line_start);
        line_start = end == std::string::npos ? text.size() : end + 1;
        if (line.rfind("www.example.com.", 0) == 0 && line.find("\tNSEC\t") != std::string::npos)
            continue;
        broken += line + "\n";
    }
    REQUIRE(broken.size() < text.size());
    AnswerFixture f(ZoneTexts{{"example.com.", broken}});
    CHECK(f.errors.find("'www.example.com.' has no NSEC record") != std::string::npos);
    CHECK(f.errors.find("NSEC chain broken") != std::string::npos);
    CHECK(f.errors.find("zone0.zone:") != std::string::npos);
}

TEST_CASE("nsec3_hash_matches_rfc5155_appendix_a") {
    // RFC 5155 Appendix A: H(example) with salt aabbccdd and 12 iterations.
    meridian::zones::Nsec3Parameters parameters;
    parameters.algorithm = 1;
    parameters.iterations = 12;
    parameters.salt_length = 4;
    const uint8_t salt[] = {0xaa, 0xbb, 0xcc, 0xdd};
    std::copy(salt, salt + 4, parameters.salt);
    const std::string name = meridian::wire::wire_from_text("example.");
    uint8_t hash[meridian::zones::kNsec3HashLength];
    meridian::zones::nsec3_hash(meridian::wire::bytes_of(name), parameters, hash);
    const std::string label = "0p9mhaveqvm6t7vbl5lop2u3t2rp3tom";
    uint8_t expected[meridian::zones::kNsec3HashLength];
    REQUIRE(meridian::zones::decode_nsec3_label(meridian::wire::bytes_of(label), expected));
    CHECK(std::equal(hash, hash + 20, expected));
}

TEST_CASE("signed_zone_transfers_every_record") {
    // Zone transfers, diffs and kept copies read records back from the zone: RRSIGs (kept
    // with what they cover) and NSEC3 records (kept out of the name index) must all be there.
    for (Denial denial : {Denial::nsec, Denial::nsec3}) {
        const std::string text = sign_zone_text("example.com.", kZone, denial);
        size_t lines = 0;
        for (char c : text) lines += c == '\n';
        Signed f(denial);
        REQUIRE(f.snapshot().catalog.zones().size() == 1);
        const auto& zone = f.snapshot().catalog.zones().front();
        const auto records = meridian::zones::zone_records(*zone);
        CHECK(records.size() == lines);
        meridian::Diagnostics diagnostics;
        const auto rebuilt =
            meridian::zones::build_zone(zone->origin(), records, "axfr", diagnostics);
        REQUIRE(rebuilt);
        CHECK(rebuilt->is_signed());
        CHECK(rebuilt->record_count() == zone->record_count());
    }
}
