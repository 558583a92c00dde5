// The offline RRSIG check that `meridian check` runs: zones signed here with fresh ldns keys,
// then broken one defect at a time, each reported once at its file and line.
#include <doctest/doctest.h>

#include <chrono>
#include <cstdio>
#include <ctime>
#include <memory>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "wire/bytes.hpp"
#include "wire/name.hpp"
#include "zones/ldns.hpp"
#include "zones/signature_check.hpp"

using namespace meridian;

namespace {

constexpr uint32_t kNow = 1'700'000'000;  // 2023-11-14T22:13:20Z
constexpr uint32_t kHour = 3600;
constexpr uint32_t kDay = 86400;
constexpr uint32_t kRefresh = 4 * kHour;  // the SOA refresh of every zone below
constexpr const char* kFile = "dnssec.test.zone";
constexpr const char* kOrigin = "dnssec.test.";

struct KeyFree {
    void operator()(ldns_key* key) const { ldns_key_deep_free(key); }
};

// A list of keys that stay their owners': ldns_key_list_free would free them with it. Not
// emptied by ldns_key_list_pop_key, which reallocates the array to zero size (freeing it) and
// keeps the freed pointer.
struct BorrowedKeysFree {
    void operator()(ldns_key_list* list) const {
        ldns_key_list_set_key_count(list, 0);
        ldns_key_list_free(list);
    }
};

// A key made for the test: its private half signs, its DNSKEY may go to the apex.
struct TestKey {
    std::unique_ptr<ldns_key, KeyFree> key;
    ldns::Record dnskey;
    uint16_t tag = 0;
};

TestKey make_key(ldns_signing_algorithm algorithm, uint16_t flags = 257, uint16_t bits = 256) {
    TestKey made;
    made.key.reset(ldns_key_new_frm_algorithm(algorithm, bits));
    REQUIRE(made.key);
    ldns_key_set_pubkey_owner(made.key.get(), ldns_dname_new_frm_str(kOrigin));
    ldns_key_set_flags(made.key.get(), flags);
    made.dnskey.reset(ldns_key2rr(made.key.get()));
    REQUIRE(made.dnskey);
    ldns_rr_set_ttl(made.dnskey.get(), 3600);
    made.tag = ldns_calc_keytag(made.dnskey.get());
    ldns_key_set_keytag(made.key.get(), made.tag);
    return made;
}

// A second key of the same algorithm whose tag differs from `other`'s, so that a signature
// by it is told apart by its tag (RFC 4034 Appendix B: tags may collide).
TestKey make_other_key(ldns_signing_algorithm algorithm, const TestKey& other) {
    for (int attempt = 0; attempt < 16; ++attempt) {
        TestKey made = make_key(algorithm);
        if (made.tag != other.tag) return made;
    }
    FAIL("16 keys in a row had the same tag");
    return {};
}

std::string wire_of(const ldns_rdf* name) {
    std::string wire(reinterpret_cast<const char*>(ldns_rdf_data(name)), ldns_rdf_size(name));
    wire::to_lower(wire::bytes_of(wire), reinterpret_cast<uint8_t*>(wire.data()));
    return wire;
}

// A zone file being written: one record a line, lines numbered from 1.
class TestZone {
  public:
    // Adds a record from its presentation text (absolute names); returns its line.
    int add(const std::string& text) {
        ldns_rr* rr = nullptr;
        REQUIRE_MESSAGE(
            ldns_rr_new_frm_str(&rr, text.c_str(), 3600, nullptr, nullptr) == LDNS_STATUS_OK, text);
        return add(ldns::Record(rr));
    }

    int add(ldns::Record rr) {
        Line line;
        line.owner = wire_of(ldns_rr_owner(rr.get()));
        line.type = ldns_rr_get_type(rr.get());
        line.ttl = ldns_rr_ttl(rr.get());
        const ldns::Buffer buffer(ldns_buffer_new(512));
        REQUIRE(ldns_rr_rdata2buffer_wire(buffer.get(), rr.get()) == LDNS_STATUS_OK);
        line.rdata.assign(reinterpret_cast<const char*>(ldns_buffer_begin(buffer.get())),
                          ldns_buffer_position(buffer.get()));
        line.rr = std::move(rr);
        rrsets_[line.owner + char(line.type >> 8) + char(line.type)].push_back(lines_.size());
        lines_.push_back(std::move(line));
        return static_cast<int>(lines_.size());
    }

    void publish(const TestKey& key) { add(ldns::Record(ldns_rr_clone(key.dnskey.get()))); }

    // Signs the RRset (owner, type) as added so far with `key`, valid from `inception` to
    // `expiration`; the RRSIG is the next line, whose number this returns.
    int sign(const std::string& owner, uint16_t type, const TestKey& key,
             uint32_t inception = kNow - kDay, uint32_t expiration = kNow + 30 * kDay) {
        const ldns::RRList rrset(ldns_rr_list_new());
        for (const size_t i : rrsets_[wire::wire_from_text(owner) + char(type >> 8) + char(type)])
            ldns_rr_list_push_rr(rrset.get(), ldns_rr_clone(lines_[i].rr.get()));
        REQUIRE(ldns_rr_list_rr_count(rrset.get()) > 0);
        ldns_key_set_inception(key.key.get(), inception);
        ldns_key_set_expiration(key.key.get(), expiration);
        const std::unique_ptr<ldns_key_list, BorrowedKeysFree> keys(ldns_key_list_new());
        ldns_key_list_push_key(keys.get(), key.key.get());
        const ldns::RRList signatures(ldns_sign_public(rrset.get(), keys.get()));
        REQUIRE(signatures);
        REQUIRE(ldns_rr_list_rr_count(signatures.get()) == 1);
        return add(ldns::Record(ldns_rr_clone(ldns_rr_list_rr(signatures.get(), 0))));
    }

    // The line of the nth record of type `type` at `owner` (for RRSIG: covering `covered`).
    int line_of(const std::string& owner, uint16_t type, size_t nth = 0,
                uint16_t covered = 0) const {
        const std::string owner_wire = wire::wire_from_text(owner);
        for (size_t i = 0; i < lines_.size(); ++i) {
            const Line& line = lines_[i];
            if (line.owner != owner_wire || line.type != type) continue;
            if (type == LDNS_RR_TYPE_RRSIG &&
                wire::read16(wire::bytes_of(line.rdata), 0) != covered)
                continue;
            if (nth-- == 0) return static_cast<int>(i + 1);
        }
        FAIL("no such record");
        return 0;
    }
    int rrsig_line(const std::string& owner, uint16_t covered, size_t nth = 0) const {
        return line_of(owner, LDNS_RR_TYPE_RRSIG, nth, covered);
    }

    // The wire RDATA of a line, to break it after it was signed.
    std::string& rdata(int line) { return lines_.at(size_t(line - 1)).rdata; }

    Diagnostics check(uint32_t now = kNow, uint32_t warn_within = kRefresh) const {
        std::vector<zones::SourceRecord> records;
        for (size_t i = 0; i < lines_.size(); ++i) {
            const Line& line = lines_[i];
            records.push_back({line.owner, line.type, line.ttl, line.rdata, kFile, int(i + 1)});
        }
        Diagnostics diagnostics;
        zones::check_signatures(wire::wire_from_text(kOrigin), records, {now, warn_within},
                                diagnostics);
        return diagnostics;
    }

  private:
    struct Line {
        ldns::Record rr;
        std::string owner;
        uint16_t type = 0;
        uint32_t ttl = 0;
        std::string rdata;
    };
    std::vector<Line> lines_;
    std::unordered_map<std::string, std::vector<size_t>> rrsets_;  // owner + type: line indexes
};

// The RRsets RFC 4035 §2.2 wants signed in signed_zone(): everything but the delegation's NS
// and the glue below it.
const std::vector<std::pair<std::string, uint16_t>> kSignedRRsets = {
    {"dnssec.test.", LDNS_RR_TYPE_SOA},
    {"dnssec.test.", LDNS_RR_TYPE_NS},
    {"dnssec.test.", LDNS_RR_TYPE_DNSKEY},
    {"dnssec.test.", LDNS_RR_TYPE_NSEC},
    {"ns1.dnssec.test.", LDNS_RR_TYPE_A},
    {"www.dnssec.test.", LDNS_RR_TYPE_A},
    {"*.wild.dnssec.test.", LDNS_RR_TYPE_TXT},
    {"sub.dnssec.test.", LDNS_RR_TYPE_DS},
    {"2vptu5timamqttgl4luu9kg21e0aor3s.dnssec.test.", LDNS_RR_TYPE_NSEC3},
};

// A small zone signed with each of `keys`: apex, hosts, a wildcard, a delegation with DS and
// glue, an NSEC and an NSEC3 (whose chains this check leaves to the zone builder).
// `unused_keys` are published but sign nothing.
TestZone signed_zone(const std::vector<const TestKey*>& keys, uint32_t inception = kNow - kDay,
                     uint32_t expiration = kNow + 30 * kDay,
                     const std::vector<const TestKey*>& unused_keys = {}) {
    TestZone zone;
    zone.add(
        "dnssec.test. 3600 IN SOA ns1.dnssec.test. hostmaster.dnssec.test. 1 14400 900 1209600 "
        "300");
    zone.add("dnssec.test. 3600 IN NS ns1.dnssec.test.");
    for (const TestKey* key : keys) zone.publish(*key);
    for (const TestKey* key : unused_keys) zone.publish(*key);
    zone.add("dnssec.test. 300 IN NSEC ns1.dnssec.test. NS SOA RRSIG NSEC DNSKEY");
    zone.add("ns1.dnssec.test. 3600 IN A 192.0.2.1");
    zone.add("www.dnssec.test. 3600 IN A 192.0.2.10");
    zone.add("www.dnssec.test. 3600 IN A 192.0.2.11");
    zone.add("*.wild.dnssec.test. 3600 IN TXT \"wildcard\"");
    zone.add("sub.dnssec.test. 3600 IN NS ns.sub.dnssec.test.");
    zone.add(
        "sub.dnssec.test. 3600 IN DS 12345 13 2 "
        "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef");
    zone.add("ns.sub.dnssec.test. 3600 IN A 192.0.2.53");
    zone.add(
        "2vptu5timamqttgl4luu9kg21e0aor3s.dnssec.test. 300 IN NSEC3 1 0 0 - "
        "2vptu5timamqttgl4luu9kg21e0aor3t A RRSIG");
    for (const auto& [owner, type] : kSignedRRsets)
        for (const TestKey* key : keys) zone.sign(owner, type, *key, inception, expiration);
    return zone;
}

bool contains(const std::string& text, const std::string& part) {
    return text.find(part) != std::string::npos;
}

std::string describe(const Diagnostics& diagnostics) {
    std::string text;
    for (const auto& d : diagnostics) text += d.to_string() + "\n";
    return text;
}

// Exactly one diagnostic, at `line` of the zone file, of the given severity.
Diagnostic only_one(const Diagnostics& diagnostics, int line, bool is_error = true) {
    INFO(describe(diagnostics));
    REQUIRE(diagnostics.size() == 1);
    CHECK(diagnostics[0].file == kFile);
    CHECK(diagnostics[0].line == line);
    CHECK(diagnostics[0].is_error == is_error);
    return diagnostics[0];
}

}  // namespace

TEST_CASE("a correctly signed zone gives no diagnostic") {
    SUBCASE("ED25519") {
        const TestKey key = make_key(LDNS_SIGN_ED25519);
        const Diagnostics diagnostics = signed_zone({&key}).check();
        CHECK_MESSAGE(diagnostics.empty(), describe(diagnostics));
    }
    SUBCASE("ECDSAP256SHA256") {
        const TestKey key = make_key(LDNS_SIGN_ECDSAP256SHA256);
        const Diagnostics diagnostics = signed_zone({&key}).check();
        CHECK_MESSAGE(diagnostics.empty(), describe(diagnostics));
    }
    SUBCASE("RSASHA256, which ldns verifies on its own path") {
        const TestKey key = make_key(LDNS_SIGN_RSASHA256, 257, 2048);
        const Diagnostics diagnostics = signed_zone({&key}).check();
        CHECK_MESSAGE(diagnostics.empty(), describe(diagnostics));
    }
    SUBCASE("a KSK and a ZSK of each of two algorithms") {
        const TestKey ksk = make_key(LDNS_SIGN_ED25519, 257);
        const TestKey zsk = make_key(LDNS_SIGN_ED25519, 256);
        const TestKey ecdsa = make_key(LDNS_SIGN_ECDSAP256SHA256, 256);
        const Diagnostics diagnostics = signed_zone({&ksk, &zsk, &ecdsa}).check();
        CHECK_MESSAGE(diagnostics.empty(), describe(diagnostics));
    }
}

TEST_CASE("an unsigned zone gives no diagnostic") {
    const TestKey key = make_key(LDNS_SIGN_ED25519);
    SUBCASE("no DNSKEY and no RRSIG, with an unsigned DS") {
        TestZone zone = signed_zone({});
        zone.add("mail.dnssec.test. 3600 IN A 192.0.2.25");
        CHECK(zone.check().empty());
    }
    SUBCASE("a DNSKEY at the apex but no RRSIG anywhere") {
        TestZone zone;
        zone.add(
            "dnssec.test. 3600 IN SOA ns1.dnssec.test. hostmaster.dnssec.test. 1 14400 900 "
            "1209600 300");
        zone.publish(key);
        CHECK(zone.check().empty());
    }
    SUBCASE("RRSIGs but no DNSKEY at the apex") {
        TestZone zone;
        zone.add(
            "dnssec.test. 3600 IN SOA ns1.dnssec.test. hostmaster.dnssec.test. 1 14400 900 "
            "1209600 300");
        zone.sign("dnssec.test.", LDNS_RR_TYPE_SOA, key);
        CHECK(zone.check().empty());
    }
}

TEST_CASE("an RRSIG over RDATA changed after signing does not verify, at the RRSIG's line") {
    for (const auto algorithm :
         {LDNS_SIGN_ED25519, LDNS_SIGN_ECDSAP256SHA256, LDNS_SIGN_RSASHA256}) {
        const TestKey key = make_key(algorithm, 257, 2048);
        TestZone zone = signed_zone({&key});
        zone.rdata(zone.line_of("www.dnssec.test.", LDNS_RR_TYPE_A, 1))[3] = 99;
        const Diagnostic d =
            only_one(zone.check(), zone.rrsig_line("www.dnssec.test.", LDNS_RR_TYPE_A));
        const std::string name = algorithm == LDNS_SIGN_ED25519           ? "ED25519"
                                 : algorithm == LDNS_SIGN_ECDSAP256SHA256 ? "ECDSAP256SHA256"
                                                                          : "RSASHA256";
        CHECK_MESSAGE(
            contains(d.message, "RRSIG for www.dnssec.test. A (key " + std::to_string(key.tag) +
                                    ", " + name + ") does not verify: "),
            d.message);
    }
}

TEST_CASE("an authoritative RRset without RRSIG is an error at its first record") {
    const TestKey key = make_key(LDNS_SIGN_ED25519);
    SUBCASE("an A RRset") {
        TestZone zone = signed_zone({&key});
        const int first = zone.add("mail.dnssec.test. 3600 IN A 192.0.2.25");
        zone.add("mail.dnssec.test. 3600 IN A 192.0.2.26");
        const Diagnostic d = only_one(zone.check(), first);
        CHECK_MESSAGE(contains(d.message, "mail.dnssec.test. A has no RRSIG"), d.message);
    }
    SUBCASE("an NSEC3 at a hashed owner below the apex") {
        TestZone zone = signed_zone({&key});
        const int line = zone.add(
            "2vptu5timamqttgl4luu9kg21e0aor3t.dnssec.test. 300 IN NSEC3 1 0 0 - "
            "2vptu5timamqttgl4luu9kg21e0aor3s A RRSIG");
        const Diagnostic d = only_one(zone.check(), line);
        CHECK_MESSAGE(
            contains(d.message, "2vptu5timamqttgl4luu9kg21e0aor3t.dnssec.test. NSEC3 has no RRSIG"),
            d.message);
    }
    SUBCASE("the DS of a delegation, though its NS and glue need none (RFC 4035 §2.2)") {
        TestZone zone = signed_zone({&key});
        zone.add("other.dnssec.test. 3600 IN NS ns.other.dnssec.test.");
        const int ds = zone.add(
            "other.dnssec.test. 3600 IN DS 54321 13 2 "
            "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef");
        zone.add("ns.other.dnssec.test. 3600 IN A 192.0.2.54");
        zone.add("deeper.ns.other.dnssec.test. 3600 IN AAAA 2001:db8::54");
        const Diagnostic d = only_one(zone.check(), ds);
        CHECK_MESSAGE(contains(d.message, "other.dnssec.test. DS has no RRSIG"), d.message);
    }
}

TEST_CASE("glue and a delegation's NS left unsigned give no diagnostic") {
    const TestKey key = make_key(LDNS_SIGN_ED25519);
    TestZone zone = signed_zone({&key});
    zone.add("other.dnssec.test. 3600 IN NS ns.other.dnssec.test.");
    zone.add("ns.other.dnssec.test. 3600 IN A 192.0.2.54");
    CHECK(zone.check().empty());
}

TEST_CASE("a signed delegation NS or glue is a warning: RFC 4035 §2.2 leaves them unsigned") {
    const TestKey key = make_key(LDNS_SIGN_ED25519);
    TestZone zone = signed_zone({&key});
    const int line = zone.sign("ns.sub.dnssec.test.", LDNS_RR_TYPE_A, key);
    const Diagnostic d = only_one(zone.check(), line, false);
    CHECK_MESSAGE(contains(d.message, "ns.sub.dnssec.test. A"), d.message);
    CHECK_MESSAGE(contains(d.message, "not authoritative"), d.message);
}

TEST_CASE("an RRSIG by a key not in the apex DNSKEY set is an error") {
    const TestKey key = make_key(LDNS_SIGN_ED25519);
    const TestKey stranger = make_other_key(LDNS_SIGN_ED25519, key);
    TestZone zone = signed_zone({&key});
    const int line = zone.sign("www.dnssec.test.", LDNS_RR_TYPE_A, stranger);
    const Diagnostic d = only_one(zone.check(), line);
    CHECK_MESSAGE(
        contains(d.message, "RRSIG for www.dnssec.test. A (key " + std::to_string(stranger.tag) +
                                ", ED25519): the key is not in the apex DNSKEY set"),
        d.message);
}

TEST_CASE("an RRSIG by a DNSKEY without the Zone Key flag is an error (RFC 4034 §2.1.1)") {
    const TestKey key = make_key(LDNS_SIGN_ED25519);
    TestKey not_zone = make_key(LDNS_SIGN_ED25519, 0);
    for (int attempt = 0; attempt < 16 && not_zone.tag == key.tag; ++attempt)
        not_zone = make_key(LDNS_SIGN_ED25519, 0);
    REQUIRE(not_zone.tag != key.tag);
    TestZone zone = signed_zone({&key}, kNow - kDay, kNow + 30 * kDay, {&not_zone});
    // ldns signs only with zone keys: the flag is set for signing alone, and the RRSIG keeps
    // the tag of the DNSKEY as published, without the flag.
    ldns_key_set_flags(not_zone.key.get(), 256);
    const int line = zone.sign("www.dnssec.test.", LDNS_RR_TYPE_A, not_zone);
    const Diagnostic d = only_one(zone.check(), line);
    CHECK_MESSAGE(
        contains(d.message, "RRSIG for www.dnssec.test. A (key " + std::to_string(not_zone.tag) +
                                ", ED25519): the DNSKEY lacks the Zone Key flag"),
        d.message);
}

TEST_CASE("an RRSIG past its expiration is an error, one before its inception too") {
    const TestKey key = make_key(LDNS_SIGN_ED25519);
    TestZone zone = signed_zone({&key});
    zone.add("old.dnssec.test. 3600 IN A 192.0.2.20");
    SUBCASE("expired") {
        const int line =
            zone.sign("old.dnssec.test.", LDNS_RR_TYPE_A, key, kNow - 30 * kDay, kNow - 3 * kHour);
        const Diagnostic d = only_one(zone.check(), line);
        CHECK_MESSAGE(
            contains(d.message, "RRSIG for old.dnssec.test. A (key " + std::to_string(key.tag) +
                                    ", ED25519) expired at 20231114191320, 3 h ago"),
            d.message);
    }
    SUBCASE("not yet valid") {
        const int line =
            zone.sign("old.dnssec.test.", LDNS_RR_TYPE_A, key, kNow + 2 * kDay, kNow + 30 * kDay);
        const Diagnostic d = only_one(zone.check(), line);
        CHECK_MESSAGE(contains(d.message, "is not valid until 20231116221320, 2 d from now"),
                      d.message);
    }
    SUBCASE("expiration before inception") {
        const int line =
            zone.sign("old.dnssec.test.", LDNS_RR_TYPE_A, key, kNow - kDay, kNow - 2 * kDay);
        const Diagnostic d = only_one(zone.check(), line);
        CHECK_MESSAGE(contains(d.message, "expires before its inception"), d.message);
    }
}

TEST_CASE("an RRSIG expiring within the SOA refresh is a warning") {
    const TestKey key = make_key(LDNS_SIGN_ED25519);
    TestZone zone = signed_zone({&key});
    zone.add("soon.dnssec.test. 3600 IN A 192.0.2.30");
    SUBCASE("within") {
        const int line =
            zone.sign("soon.dnssec.test.", LDNS_RR_TYPE_A, key, kNow - kDay, kNow + 2 * kHour);
        const Diagnostic d = only_one(zone.check(), line, false);
        CHECK_MESSAGE(
            contains(d.message, "RRSIG for soon.dnssec.test. A (key " + std::to_string(key.tag) +
                                    ", ED25519) expires in 2 h, within the SOA refresh "
                                    "of 4 h: a secondary may serve it expired"),
            d.message);
    }
    SUBCASE("beyond") {
        zone.sign("soon.dnssec.test.", LDNS_RR_TYPE_A, key, kNow - kDay, kNow + 5 * kHour);
        CHECK(zone.check().empty());
    }
}

TEST_CASE("validity periods compare by serial arithmetic across 2106 (RFC 4034 §3.1.5)") {
    const TestKey key = make_key(LDNS_SIGN_ED25519);
    // Inception before the 32-bit wrap, expiration after it.
    const uint32_t inception = 0xFFF00000u;
    const uint32_t expiration = 0x00100000u;
    const TestZone zone = signed_zone({&key}, inception, expiration);
    SUBCASE("valid just before and just after the wrap") {
        CHECK(zone.check(0xFFFFFFF0u, 0).empty());
        CHECK(zone.check(0x00000010u, 0).empty());
    }
    SUBCASE("expired after the wrap") {
        const Diagnostics diagnostics = zone.check(0x00200000u, 0);
        REQUIRE(diagnostics.size() == kSignedRRsets.size());
        for (const auto& d : diagnostics) {
            CHECK(d.is_error);
            CHECK_MESSAGE(contains(d.message, "expired at 21060219094432, 12 d ago"), d.message);
        }
    }
    SUBCASE("not yet valid before the inception") {
        const Diagnostics diagnostics = zone.check(0xFFE00000u, 0);
        REQUIRE(diagnostics.size() == kSignedRRsets.size());
        for (const auto& d : diagnostics) CHECK(contains(d.message, "is not valid until"));
    }
}

TEST_CASE("an RRSIG whose labels or owner do not fit is an error") {
    const TestKey key = make_key(LDNS_SIGN_ED25519);
    TestZone zone = signed_zone({&key});
    const int line = zone.rrsig_line("www.dnssec.test.", LDNS_RR_TYPE_A);
    SUBCASE("labels larger than the owner's (RFC 4034 §3.1.3)") {
        zone.rdata(line)[3] = 4;
        const Diagnostic d = only_one(zone.check(), line);
        CHECK_MESSAGE(contains(d.message, "labels field is 4, but www.dnssec.test. has 3 labels"),
                      d.message);
    }
    SUBCASE("labels of a wildcard's signature count the '*' label") {
        const int wild = zone.rrsig_line("*.wild.dnssec.test.", LDNS_RR_TYPE_TXT);
        zone.rdata(wild)[3] = 4;
        const Diagnostic d = only_one(zone.check(), wild);
        CHECK_MESSAGE(contains(d.message, "labels field is 4, but *.wild.dnssec.test. has 3"),
                      d.message);
    }
    SUBCASE("covering a type its owner does not have") {
        const int copy = zone.sign("www.dnssec.test.", LDNS_RR_TYPE_A, key);
        zone.rdata(copy)[1] = LDNS_RR_TYPE_AAAA;
        const Diagnostic d = only_one(zone.check(), copy);
        CHECK_MESSAGE(contains(d.message, "but the zone has no www.dnssec.test. AAAA RRset"),
                      d.message);
    }
    SUBCASE("a signer other than the zone apex (RFC 4035 §2.2)") {
        std::string& rdata = zone.rdata(line);
        const size_t signer = 18;
        const size_t signer_length = wire::wire_from_text(kOrigin).size();
        rdata.replace(signer, signer_length, wire::wire_from_text("other.test."));
        const Diagnostic d = only_one(zone.check(), line);
        CHECK_MESSAGE(contains(d.message, "signer other.test. is not the zone apex"), d.message);
    }
    SUBCASE("too short to hold its fields") {
        zone.rdata(line).resize(20);
        const Diagnostic d = only_one(zone.check(), line);
        CHECK_MESSAGE(contains(d.message, "is malformed"), d.message);
    }
}

TEST_CASE("every authoritative RRset needs an RRSIG by each algorithm of the DNSKEY set") {
    const TestKey ed25519 = make_key(LDNS_SIGN_ED25519);
    const TestKey ecdsa = make_key(LDNS_SIGN_ECDSAP256SHA256);
    TestZone zone = signed_zone({&ed25519, &ecdsa});
    const int first = zone.add("mail.dnssec.test. 3600 IN A 192.0.2.25");
    zone.sign("mail.dnssec.test.", LDNS_RR_TYPE_A, ed25519);
    const Diagnostic d = only_one(zone.check(), first);
    CHECK_MESSAGE(contains(d.message,
                           "mail.dnssec.test. A has no RRSIG by algorithm "
                           "ECDSAP256SHA256 of the apex DNSKEY set (RFC 4035 §2.2)"),
                  d.message);
}

TEST_CASE("a DNSKEY set no key of which signs it is an error at its first record") {
    const TestKey key = make_key(LDNS_SIGN_ED25519);
    const TestKey stranger = make_other_key(LDNS_SIGN_ED25519, key);
    TestZone zone;
    zone.add(
        "dnssec.test. 3600 IN SOA ns1.dnssec.test. hostmaster.dnssec.test. 1 14400 900 1209600 "
        "300");
    zone.sign("dnssec.test.", LDNS_RR_TYPE_SOA, key);
    const int dnskey = zone.add(ldns::Record(ldns_rr_clone(key.dnskey.get())));
    const int signature = zone.sign("dnssec.test.", LDNS_RR_TYPE_DNSKEY, stranger);
    const Diagnostics diagnostics = zone.check();
    INFO(describe(diagnostics));
    REQUIRE(diagnostics.size() == 2);
    CHECK(diagnostics[0].line == dnskey);
    CHECK(contains(diagnostics[0].message,
                   "the DNSKEY RRset at dnssec.test. is not signed by any key in it"));
    CHECK(diagnostics[1].line == signature);
    CHECK(contains(diagnostics[1].message, "not in the apex DNSKEY set"));
}

TEST_CASE("diagnostics of one kind are bounded, then counted") {
    const TestKey key = make_key(LDNS_SIGN_ED25519);
    TestZone zone = signed_zone({&key});
    std::vector<int> lines;
    for (int i = 0; i < 30; ++i)
        lines.push_back(zone.add("h" + std::to_string(i) + ".dnssec.test. 3600 IN A 192.0.2.1"));
    const Diagnostics diagnostics = zone.check();
    INFO(describe(diagnostics));
    REQUIRE(diagnostics.size() == 21);
    for (size_t i = 0; i < 20; ++i) CHECK(diagnostics[i].line == lines[i]);
    CHECK(diagnostics[20].is_error);
    CHECK(diagnostics[20].line == 0);
    CHECK(contains(diagnostics[20].message, "and 10 more RRsets without RRSIG"));
}

// A measurement, not a check: run with --no-skip -tc='*100k*'.
TEST_CASE("checking 100k signed names" * doctest::skip()) {
    const TestKey key = make_key(LDNS_SIGN_ED25519);
    TestZone zone = signed_zone({&key});
    constexpr int kNames = 100'000;
    for (int i = 0; i < kNames; ++i) {
        const std::string owner = "host" + std::to_string(i) + ".dnssec.test.";
        zone.add(owner + " 3600 IN A 192.0.2.1");
        zone.sign(owner, LDNS_RR_TYPE_A, key);
    }
    // Processor time as well as wall time: the build machines are shared.
    const auto start = std::chrono::steady_clock::now();
    const std::clock_t start_cpu = std::clock();
    const Diagnostics diagnostics = zone.check();
    const double cpu = double(std::clock() - start_cpu) / CLOCKS_PER_SEC;
    const std::chrono::duration<double> took = std::chrono::steady_clock::now() - start;
    std::printf("checked %d signed names in %.2f s (%.2f s of processor time)\n", kNames,
                took.count(), cpu);
    CHECK(diagnostics.empty());
}
