// TSIG (RFC 8945): signing and verifying single messages and transfer streams, and the error
// responses a server owes a request that fails (§5.2).
#include <doctest/doctest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "server/transfer/tsig.hpp"
#include "wire/constants.hpp"
#include "wire/name.hpp"
#include "wire/query.hpp"
#include "zones/ldns.hpp"

using namespace meridian::server;

namespace {

const tsig::Key kKey{"transfer-key.", "hmac-sha256.",
                     "c2VjcmV0LXNoYXJlZC1ieS1wcmltYXJ5LWFuZC1zZWNvbmRhcnk="};

// A message with one question; `flags` is the second header word (0x8400: QR AA).
std::vector<uint8_t> make_message(
    uint16_t id, uint16_t flags, uint16_t qtype,
    const std::vector<std::pair<std::string, std::string>>& txts = {}) {
    std::vector<uint8_t> m = {static_cast<uint8_t>(id >> 8),
                              static_cast<uint8_t>(id),
                              static_cast<uint8_t>(flags >> 8),
                              static_cast<uint8_t>(flags),
                              0,
                              1,
                              0,
                              static_cast<uint8_t>(txts.size()),
                              0,
                              0,
                              0,
                              0};
    const std::string qname = meridian::wire::wire_from_text("example.com.");
    m.insert(m.end(), qname.begin(), qname.end());
    m.insert(m.end(), {static_cast<uint8_t>(qtype >> 8), static_cast<uint8_t>(qtype), 0, 1});
    for (const auto& [owner, text] : txts) {
        const std::string name = meridian::wire::wire_from_text(owner);
        m.insert(m.end(), name.begin(), name.end());
        m.insert(m.end(), {0, 16, 0, 1, 0, 0, 0, 60, 0, static_cast<uint8_t>(text.size() + 1),
                           static_cast<uint8_t>(text.size())});
        m.insert(m.end(), text.begin(), text.end());
    }
    return m;
}

uint16_t rcode_of(const std::vector<uint8_t>& m) {
    return m[3] & 0x0f;
}

}  // namespace

TEST_CASE("signed_request_verifies_with_the_same_key") {
    tsig::Keyring keyring;
    keyring.add(kKey);
    const auto request = tsig::sign(make_message(7, 0, 252), kKey);
    REQUIRE(request);
    CHECK(!request->mac.empty());
    const auto check = tsig::verify_request(request->message, keyring, tsig::current_time());
    CHECK(check.verdict == tsig::Verdict::valid);
    REQUIRE(check.key);
    CHECK(check.key->name == "transfer-key.");
    CHECK(std::ranges::equal(check.mac.view(), request->mac));
    // Our own parser sees the TSIG as the last record, where RFC 8945 §5.1 wants it.
    meridian::wire::Query query;
    CHECK(meridian::wire::parse_query(request->message, query) == meridian::wire::ParseStatus::ok);
    CHECK(query.has_tsig);
}

TEST_CASE("every_supported_algorithm_signs_and_verifies") {
    for (const char* name :
         {"hmac-md5", "hmac-sha1", "hmac-sha224", "hmac-sha256", "hmac-sha384", "hmac-sha512"}) {
        CAPTURE(std::string(name));
        const auto algorithm = tsig::algorithm_wire_name(name);
        REQUIRE(algorithm);
        tsig::Key key{"k.", *algorithm, kKey.secret};
        tsig::Keyring keyring;
        keyring.add(key);
        const auto request = tsig::sign(make_message(1, 0, 6), key);
        REQUIRE(request);
        CHECK(tsig::verify_request(request->message, keyring, tsig::current_time()).verdict ==
              tsig::Verdict::valid);
    }
    CHECK(!tsig::algorithm_wire_name("hmac-sha3"));
    CHECK(!tsig::algorithm_wire_name("gss-tsig"));
    CHECK(tsig::algorithm_wire_name("HMAC-MD5") == "hmac-md5.sig-alg.reg.int.");
}

TEST_CASE("unsigned_message_is_reported_as_unsigned") {
    tsig::Keyring keyring;
    keyring.add(kKey);
    CHECK(tsig::verify_request(make_message(1, 0, 252), keyring, tsig::current_time()).verdict ==
          tsig::Verdict::unsigned_message);
}

TEST_CASE("unknown_key_or_other_algorithm_is_badkey") {
    tsig::Keyring keyring;
    keyring.add({"other-key.", "hmac-sha256.", kKey.secret});
    const auto request = tsig::sign(make_message(1, 0, 252), kKey);
    REQUIRE(request);
    CHECK(tsig::verify_request(request->message, keyring, tsig::current_time()).verdict ==
          tsig::Verdict::bad_key);
    tsig::Keyring same_name_other_algorithm;
    same_name_other_algorithm.add({"transfer-key.", "hmac-sha512.", kKey.secret});
    CHECK(tsig::verify_request(request->message, same_name_other_algorithm, tsig::current_time())
              .verdict == tsig::Verdict::bad_key);
}

TEST_CASE("wrong_secret_or_altered_message_is_badsig") {
    tsig::Keyring keyring;
    keyring.add({"transfer-key.", "hmac-sha256.", "b3RoZXItc2VjcmV0"});
    const auto request = tsig::sign(make_message(1, 0, 252), kKey);
    REQUIRE(request);
    CHECK(tsig::verify_request(request->message, keyring, tsig::current_time()).verdict ==
          tsig::Verdict::bad_sig);

    tsig::Keyring right;
    right.add(kKey);
    auto altered = request->message;
    altered[2] |= 0x01;  // RD set after signing
    CHECK(tsig::verify_request(altered, right, tsig::current_time()).verdict ==
          tsig::Verdict::bad_sig);
}

TEST_CASE("time_outside_the_fudge_is_badtime_and_inside_is_valid") {
    tsig::Keyring keyring;
    keyring.add(kKey);
    const auto request = tsig::sign(make_message(1, 0, 252), kKey);
    REQUIRE(request);
    const uint64_t now = tsig::current_time();
    CHECK(tsig::verify_request(request->message, keyring, now + 250).verdict ==
          tsig::Verdict::valid);
    CHECK(tsig::verify_request(request->message, keyring, now + 400).verdict ==
          tsig::Verdict::bad_time);
    CHECK(tsig::verify_request(request->message, keyring, now - 400).verdict ==
          tsig::Verdict::bad_time);
}

TEST_CASE("response_signed_over_the_request_mac_verifies_only_with_that_mac") {
    const auto request = tsig::sign(make_message(9, 0, 6), kKey);
    REQUIRE(request);
    const auto response = tsig::sign(make_message(9, 0x8400, 6), kKey, request->mac);
    REQUIRE(response);
    const uint64_t now = tsig::current_time();
    CHECK(tsig::verify_response(response->message, kKey, request->mac, now).verdict ==
          tsig::Verdict::valid);
    auto other_mac = request->mac;
    other_mac[0] ^= 0xff;
    CHECK(tsig::verify_response(response->message, kKey, other_mac, now).verdict ==
          tsig::Verdict::bad_sig);
    CHECK(tsig::verify_response(make_message(9, 0x8400, 6), kKey, request->mac, now).verdict ==
          tsig::Verdict::unsigned_message);
}

TEST_CASE("stream_of_messages_verifies_in_order_and_fails_when_reordered") {
    const auto request = tsig::sign(make_message(3, 0, 252), kKey);
    REQUIRE(request);
    tsig::StreamSigner signer(kKey, request->mac);
    std::vector<std::vector<uint8_t>> stream;
    for (int i = 0; i < 3; ++i) {
        auto message = signer.sign_next(
            make_message(3, 0x8400, 252, {{"r" + std::to_string(i) + ".example.com.", "x"}}));
        REQUIRE(message);
        stream.push_back(*message);
    }
    const uint64_t now = tsig::current_time();
    tsig::StreamVerifier in_order(kKey, request->mac);
    for (const auto& message : stream)
        CHECK(in_order.verify_next(message, now).verdict == tsig::Verdict::valid);

    tsig::StreamVerifier skipped(kKey, request->mac);
    CHECK(skipped.verify_next(stream[0], now).verdict == tsig::Verdict::valid);
    CHECK(skipped.verify_next(stream[2], now).verdict == tsig::Verdict::bad_sig);

    // A later message alone is not a valid first message (its digest is timers only, §5.3.1).
    tsig::StreamVerifier from_second(kKey, request->mac);
    CHECK(from_second.verify_next(stream[1], now).verdict == tsig::Verdict::bad_sig);
}

TEST_CASE("badkey_and_badsig_error_responses_are_unsigned_with_the_error") {
    tsig::Keyring keyring;
    keyring.add({"other-key.", "hmac-sha256.", kKey.secret});
    const auto request = tsig::sign(make_message(5, 0, 252), kKey);
    REQUIRE(request);
    const uint64_t now = tsig::current_time();
    const auto check = tsig::verify_request(request->message, keyring, now);
    REQUIRE(check.verdict == tsig::Verdict::bad_key);
    auto response = make_message(5, 0x8000 | meridian::wire::rcode::kNotAuth, 252);
    REQUIRE(tsig::append_error_tsig(response, check, now));
    CHECK(rcode_of(response) == meridian::wire::rcode::kNotAuth);
    // The client with the key sees the server's BADKEY, not a signature to check.
    const auto seen = tsig::verify_response(response, kKey, request->mac, now);
    CHECK(seen.verdict == tsig::Verdict::bad_key);
    CHECK(seen.error == tsig::error::kBadKey);
    CHECK(seen.mac.empty());
    meridian::wire::Query parsed;
    CHECK(meridian::wire::parse_query(response, parsed) == meridian::wire::ParseStatus::drop);

    tsig::Verification not_an_error;
    not_an_error.verdict = tsig::Verdict::valid;
    CHECK(!tsig::append_error_tsig(response, not_an_error, now));
}

TEST_CASE("badtime_error_response_is_signed_and_carries_the_server_time") {
    tsig::Keyring keyring;
    keyring.add(kKey);
    const auto request = tsig::sign(make_message(5, 0, 252), kKey);
    REQUIRE(request);
    const uint64_t server_now = tsig::current_time() + 1000;
    const auto check = tsig::verify_request(request->message, keyring, server_now);
    REQUIRE(check.verdict == tsig::Verdict::bad_time);
    auto response = make_message(5, 0x8000 | meridian::wire::rcode::kNotAuth, 252);
    REQUIRE(tsig::append_error_tsig(response, check, server_now));
    // The client learns it is a genuine BADTIME: the MAC verifies over its request's MAC.
    const auto seen = tsig::verify_response(response, kKey, request->mac, server_now);
    CHECK(seen.verdict == tsig::Verdict::bad_time);
    CHECK(seen.error == tsig::error::kBadTime);
    CHECK(!seen.mac.empty());
    // Change one octet of the MAC and it no longer does.
    auto forged = response;
    forged[forged.size() - 20] ^= 0x01;
    CHECK(tsig::verify_response(forged, kKey, request->mac, server_now).verdict ==
          tsig::Verdict::bad_sig);
}

// ---- Known answers and interoperation --------------------------------------------------------

namespace {

std::vector<uint8_t> from_hex(std::string_view hex) {
    std::vector<uint8_t> bytes;
    for (size_t i = 0; i + 1 < hex.size(); i += 2)
        bytes.push_back(
            static_cast<uint8_t>(std::stoi(std::string(hex.substr(i, 2)), nullptr, 16)));
    return bytes;
}

// Signed by dnspython 2.3 (an independent implementation) at 1700000000 with the key
// "known-key." and this secret: an SOA query for example.com., id 0x4d52, fudge 300.
constexpr const char* kKnownSecret = "a25vd24tYW5zd2VyIHNlY3JldCBmb3IgVFNJRyEhISE=";
constexpr uint64_t kKnownTime = 1700000000;

struct KnownAnswer {
    const char* algorithm;
    const char* secret;
    const char* message;
};

const KnownAnswer kKnownAnswers[] = {
    {"hmac-md5.sig-alg.reg.int.", kKnownSecret,
     "4d5200000001000000000001076578616d706c6503636f6d0000060001096b6e6f776e2d6b65790000fa00ff0000"
     "0000003a08686d61632d6d6435077369672d616c670372656703696e740000006553f100012c001097ac4d7580a9"
     "139862d707a6fee3f76f4d5200000000"},
    {"hmac-sha1.", kKnownSecret,
     "4d5200000001000000000001076578616d706c6503636f6d0000060001096b6e6f776e2d6b65790000fa00ff0000"
     "0000002f09686d61632d736861310000006553f100012c00142ac0c709f6afaaa732e13915e4b094dd0ddb24eb4d"
     "5200000000"},
    {"hmac-sha224.", kKnownSecret,
     "4d5200000001000000000001076578616d706c6503636f6d0000060001096b6e6f776e2d6b65790000fa00ff0000"
     "000000390b686d61632d7368613232340000006553f100012c001c035f01c7540e98a6661fc17a1155e0989c1648"
     "43b2dadfc9e6a9c65d4d5200000000"},
    {"hmac-sha256.", kKnownSecret,
     "4d5200000001000000000001076578616d706c6503636f6d0000060001096b6e6f776e2d6b65790000fa00ff0000"
     "0000003d0b686d61632d7368613235360000006553f100012c0020c6719022f06e9e079b00cc8cd1d35117e80844"
     "5cc62af4ac457ebf8d6a4c03214d5200000000"},
    {"hmac-sha384.", kKnownSecret,
     "4d5200000001000000000001076578616d706c6503636f6d0000060001096b6e6f776e2d6b65790000fa00ff0000"
     "0000004d0b686d61632d7368613338340000006553f100012c0030d8ae53d8819c976a1833ef9c078a4ddcba3064"
     "51bb525ef74782fa5bbe782ee56db19af088af301b13e4ad6b55fa39454d5200000000"},
    {"hmac-sha512.", kKnownSecret,
     "4d5200000001000000000001076578616d706c6503636f6d0000060001096b6e6f776e2d6b65790000fa00ff0000"
     "0000005d0b686d61632d7368613531320000006553f100012c0040f76631a696cc0c45b1dce6dc2ff11eeb7b5b54"
     "2670ba666fcccdc61e9b01955e60fdcfd849739a778b670d267e2a96225750efc792644fd3ccfac8a9162855094d"
     "5200000000"},
    // A 200-octet secret, longer than SHA-256's block: HMAC hashes it first (RFC 2104 §2).
    {"hmac-sha256.",
     "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKissLS4vMDEyMzQ1Njc4OTo7PD0+P0BBQkNE"
     "RUZHSElKS0xNTk9QUVJTVFVWV1hZWltcXV5fYGFiY2RlZmdoaWprbG1ub3BxcnN0dXZ3eHl6e3x9fn+AgYKDhIWGh4iJ"
     "iouMjY6PkJGSk5SVlpeYmZqbnJ2en6ChoqOkpaanqKmqq6ytrq+wsbKztLW2t7i5uru8vb6/wMHCw8TFxsc=",
     "4d5200000001000000000001076578616d706c6503636f6d0000060001096b6e6f776e2d6b65790000fa00ff0000"
     "0000003d0b686d61632d7368613235360000006553f100012c00204f6dec6b91a8e6469f65c5688e35ce2788b642"
     "dd8ea9b641cab02aa640e98b334d5200000000"},
};

// The offset of the MAC inside a signed message.
size_t mac_offset(const std::vector<uint8_t>& message) {
    tsig::Record record;
    REQUIRE(tsig::read_record(message, record) == tsig::RecordStatus::present);
    return static_cast<size_t>(record.mac.data() - message.data());
}

}  // namespace

TEST_CASE("known_answers_from_an_independent_implementation_verify_for_every_algorithm") {
    for (const KnownAnswer& known : kKnownAnswers) {
        CAPTURE(std::string(known.algorithm));
        const tsig::Key key{"known-key.", known.algorithm, known.secret};
        const std::vector<tsig::Key> keys = {key};
        const auto message = from_hex(known.message);
        const auto check = tsig::verify_request(message, keys, kKnownTime);
        CHECK(check.verdict == tsig::Verdict::valid);
        CHECK(check.key == &keys[0]);
        // The same message signed by us at the same time is the same octets.
        auto unsigned_part = std::vector<uint8_t>(message.begin(), message.begin() + 29);
        unsigned_part[11] = 0;  // ARCOUNT before the TSIG record
        std::vector<uint8_t> ours(512);
        std::copy(unsigned_part.begin(), unsigned_part.end(), ours.begin());
        ours.resize(tsig::sign_in_place(ours, unsigned_part.size(), key, {}, kKnownTime));
        CHECK(ours == message);
    }
}

TEST_CASE("known_answer_response_and_stream_verify_over_the_request_mac") {
    // dnspython: a signed AXFR request, then two messages of its answer stream (§5.3.1).
    const tsig::Key key{"known-key.", "hmac-sha256.", kKnownSecret};
    const auto request = from_hex(
        "4d5200000001000000000001076578616d706c6503636f6d0000fc0001096b6e6f776e2d6b65790000fa00ff"
        "00000000003d0b686d61632d7368613235360000006553f100012c00201fec814126eec129842a58359af0a3"
        "aa640598c1eeb74aac25ed96df4ad33c374d5200000000");
    const auto first = from_hex(
        "4d5284000001000100000001076578616d706c6503636f6d0000fc0001c00c000100010000003c0004c00002"
        "01096b6e6f776e2d6b65790000fa00ff00000000003d0b686d61632d7368613235360000006553f100012c00"
        "2032e9375aab32d19bf27c9079f5f8d2fa6e4086c6a36e58caa191925447ff10ba4d5200000000");
    const auto second = from_hex(
        "4d5284000001000100000001076578616d706c6503636f6d0000fc0001c00c000100010000003c0004c00002"
        "02096b6e6f776e2d6b65790000fa00ff00000000003d0b686d61632d7368613235360000006553f100012c00"
        "20d72f3561b680b3f58c333af6a94e1414cfdbcdaf2fae0475f326df1696bf85834d5200000000");
    const std::vector<tsig::Key> keys = {key};
    const auto check = tsig::verify_request(request, keys, kKnownTime);
    REQUIRE(check.verdict == tsig::Verdict::valid);
    CHECK(tsig::verify_response(first, key, check.mac, kKnownTime).verdict == tsig::Verdict::valid);
    tsig::StreamVerifier stream(key, check.mac);
    CHECK(stream.verify_next(first, kKnownTime).verdict == tsig::Verdict::valid);
    CHECK(stream.verify_next(second, kKnownTime).verdict == tsig::Verdict::valid);
    // The second alone, as a first message, is not (its digest is the timers only).
    CHECK(tsig::verify_response(second, key, check.mac, kKnownTime).verdict ==
          tsig::Verdict::bad_sig);
}

TEST_CASE("one_mac_octet_changed_first_or_last_is_badsig") {
    for (const char* algorithm : {"hmac-sha256.", "hmac-sha512."}) {
        CAPTURE(std::string(algorithm));
        const tsig::Key key{"transfer-key.", algorithm, kKey.secret};
        const std::vector<tsig::Key> keys = {key};
        const auto request = tsig::sign(make_message(1, 0, 252), key);
        REQUIRE(request);
        const uint64_t now = tsig::current_time();
        REQUIRE(tsig::verify_request(request->message, keys, now).verdict == tsig::Verdict::valid);
        const size_t at = mac_offset(request->message);
        for (const size_t octet : {size_t(0), request->mac.size() - 1}) {
            CAPTURE(octet);
            auto altered = request->message;
            altered[at + octet] ^= 0x80;
            const auto check = tsig::verify_request(altered, keys, now);
            CHECK(check.verdict == tsig::Verdict::bad_sig);
            CHECK(check.key == &keys[0]);
        }
        // The time window does not hide a bad MAC: the MAC is checked first (§5.2).
        auto late = request->message;
        late[at] ^= 0x01;
        CHECK(tsig::verify_request(late, keys, now + 100000).verdict == tsig::Verdict::bad_sig);
    }
}

TEST_CASE("truncated_mac_is_badtrunc_and_one_shorter_than_allowed_is_malformed") {
    const std::vector<tsig::Key> keys = {kKey};
    const auto request = tsig::sign(make_message(1, 0, 252), kKey);
    REQUIRE(request);
    const size_t at = mac_offset(request->message);
    // Keeps the first `size` octets of the MAC (§5.2.2.1), fixing the MAC size and RDLENGTH.
    const auto truncated = [&](size_t size) {
        auto message = request->message;
        const size_t cut = request->mac.size() - size;
        message.erase(message.begin() + static_cast<long>(at + size),
                      message.begin() + static_cast<long>(at + request->mac.size()));
        message[at - 2] = static_cast<uint8_t>(size >> 8);
        message[at - 1] = static_cast<uint8_t>(size);
        // RDLENGTH sits before the algorithm name (13 octets here), time (6) and fudge (2).
        const size_t rdlength_at = at - 2 - 2 - 6 - 13 - 2;
        const size_t rdlength = ((message[rdlength_at] << 8) | message[rdlength_at + 1]) - cut;
        message[rdlength_at] = static_cast<uint8_t>(rdlength >> 8);
        message[rdlength_at + 1] = static_cast<uint8_t>(rdlength);
        return message;
    };
    const uint64_t now = tsig::current_time();
    // 16 of 32 octets is an allowed truncation that verifies, but our policy is the full MAC.
    const auto half = truncated(16);
    const auto check = tsig::verify_request(half, keys, now);
    CHECK(check.verdict == tsig::Verdict::bad_trunc);
    // BADTRUNC is answered signed (§5.3.2), over the truncated MAC the request carried.
    auto response = make_message(1, 0x8000 | meridian::wire::rcode::kNotAuth, 252);
    REQUIRE(tsig::append_error_tsig(response, check, now));
    const auto seen = tsig::verify_response(response, kKey, check.mac.view(), now);
    CHECK(seen.error == tsig::error::kBadTrunc);
    CHECK(seen.verdict == tsig::Verdict::bad_trunc);
    // A truncated MAC that does not match is BADSIG, as a full one would be.
    auto wrong = half;
    wrong[at] ^= 0x01;
    CHECK(tsig::verify_request(wrong, keys, now).verdict == tsig::Verdict::bad_sig);
    // Shorter than half the digest (or 10 octets), or longer than the digest: FORMERR.
    CHECK(tsig::verify_request(truncated(15), keys, now).verdict == tsig::Verdict::malformed);
    CHECK(tsig::verify_request(truncated(0), keys, now).verdict == tsig::Verdict::malformed);
}

TEST_CASE("messages_signed_by_ldns_verify_and_ours_verify_with_ldns") {
    for (const char* algorithm : {"hmac-sha256.", "hmac-sha512."}) {
        CAPTURE(std::string(algorithm));
        const tsig::Key key{"transfer-key.", algorithm, kKey.secret};
        const std::vector<tsig::Key> keys = {key};
        ldns_pkt* packet = nullptr;
        REQUIRE(ldns_pkt_query_new_frm_str(&packet, "example.com.", LDNS_RR_TYPE_AXFR,
                                           LDNS_RR_CLASS_IN, 0) == LDNS_STATUS_OK);
        const meridian::ldns::Packet owned(packet);
        REQUIRE(ldns_pkt_tsig_sign(packet, key.name.c_str(), key.secret.c_str(), 300, algorithm,
                                   nullptr) == LDNS_STATUS_OK);
        const auto by_ldns = meridian::ldns::to_wire(packet);
        REQUIRE(by_ldns);
        const auto check = tsig::verify_request(*by_ldns, keys, tsig::current_time());
        CHECK(check.verdict == tsig::Verdict::valid);

        // Our signed answer to it, checked by ldns over the request's MAC.
        std::vector<uint8_t> answer = make_message(ldns_pkt_id(packet), 0x8400, 252);
        const size_t unsigned_size = answer.size();
        answer.resize(unsigned_size + tsig::record_size(key));
        answer.resize(
            tsig::sign_in_place(answer, unsigned_size, key, check.mac, tsig::current_time()));
        REQUIRE(!answer.empty());
        CHECK(answer.size() == unsigned_size + tsig::record_size(key));
        const meridian::ldns::Packet parsed =
            meridian::ldns::parse_packet(answer.data(), answer.size());
        REQUIRE(parsed);
        const meridian::ldns::Rdf request_mac(ldns_native2rdf_int16_data(
            check.mac.size, const_cast<uint8_t*>(check.mac.octets.data())));
        CHECK(ldns_pkt_tsig_verify(parsed.get(), answer.data(), answer.size(), key.name.c_str(),
                                   key.secret.c_str(), request_mac.get()));
    }
}
