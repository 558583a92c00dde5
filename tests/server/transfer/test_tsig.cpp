// TSIG (RFC 8945): signing and verifying single messages and transfer streams, and the error
// responses a server owes a request that fails (§5.2).
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "server/transfer/tsig.hpp"
#include "wire/constants.hpp"
#include "wire/name.hpp"
#include "wire/query.hpp"

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
    CHECK(check.mac == request->mac);
    // Our own parser sees the TSIG as the last record, where RFC 8945 §5.1 wants it.
    meridian::wire::Query query;
    CHECK(meridian::wire::parse_query(request->message, query) == meridian::wire::ParseStatus::ok);
    CHECK(query.has_tsig);
}

TEST_CASE("every_supported_algorithm_signs_and_verifies") {
    for (const char* name : {"hmac-md5", "hmac-sha1", "hmac-sha256", "hmac-sha512"}) {
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
    // ldns 1.8.3 cannot sign with these two; refusing them keeps a config from failing later.
    CHECK(!tsig::algorithm_wire_name("hmac-sha384"));
    CHECK(!tsig::algorithm_wire_name("hmac-sha224"));
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
    // The MAC we computed by hand verifies with ldns: the client learns it is a genuine BADTIME.
    const auto seen = tsig::verify_response(response, kKey, request->mac, server_now);
    CHECK(seen.verdict == tsig::Verdict::bad_time);
    CHECK(seen.error == tsig::error::kBadTime);
    CHECK(!seen.mac.empty());
    // Our hand-made MAC is what ldns computes: change one octet of it and ldns refuses it.
    auto forged = response;
    forged[forged.size() - 20] ^= 0x01;
    CHECK(tsig::verify_response(forged, kKey, request->mac, server_now).verdict ==
          tsig::Verdict::bad_sig);
}
