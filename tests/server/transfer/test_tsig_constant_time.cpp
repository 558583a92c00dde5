// RFC 8945 §5.2.2 and issue 13 defect 2: a MAC is compared in constant time, so how long a
// rejection takes tells an attacker nothing about how many leading octets were right. This
// binary defines CRYPTO_memcmp itself, counts the calls and forwards to OpenSSL's.
#include <dlfcn.h>
#include <doctest/doctest.h>
#include <openssl/crypto.h>

#include <atomic>
#include <string>
#include <vector>

#include "server/transfer/tsig.hpp"
#include "wire/name.hpp"

namespace {

std::atomic<size_t> memcmp_calls{0};

}  // namespace

// Interposes on libcrypto's: the static library's calls bind to this definition.
extern "C" int CRYPTO_memcmp(const void* a, const void* b, size_t size) {
    using Compare = int (*)(const void*, const void*, size_t);
    static const auto real = reinterpret_cast<Compare>(dlsym(RTLD_NEXT, "CRYPTO_memcmp"));
    memcmp_calls.fetch_add(1);
    return real(a, b, size);
}

using namespace meridian::server;

namespace {

const tsig::Key kKey{"transfer-key.", "hmac-sha256.",
                     "c2VjcmV0LXNoYXJlZC1ieS1wcmltYXJ5LWFuZC1zZWNvbmRhcnk="};

// An AXFR query for example.com. with `flags` as the second header word.
std::vector<uint8_t> message(uint16_t flags) {
    std::vector<uint8_t> m = {
        0x12, 0x34, static_cast<uint8_t>(flags >> 8), static_cast<uint8_t>(flags), 0, 1, 0, 0, 0, 0,
        0,    0};
    const std::string qname = meridian::wire::wire_from_text("example.com.");
    m.insert(m.end(), qname.begin(), qname.end());
    m.insert(m.end(), {0, 252, 0, 1});
    return m;
}

}  // namespace

TEST_CASE("request_mac_is_compared_with_crypto_memcmp_whether_it_matches_or_not") {
    tsig::Keyring keyring;
    keyring.add(kKey);
    const auto request = tsig::sign(message(0), kKey);
    REQUIRE(request);
    size_t before = memcmp_calls.load();
    CHECK(tsig::verify_request(request->message, keyring, tsig::current_time()).verdict ==
          tsig::Verdict::valid);
    CHECK(memcmp_calls.load() > before);

    auto altered = request->message;
    altered[altered.size() - 7] ^= 0x01;  // the MAC's last octet
    before = memcmp_calls.load();
    CHECK(tsig::verify_request(altered, keyring, tsig::current_time()).verdict ==
          tsig::Verdict::bad_sig);
    CHECK(memcmp_calls.load() > before);

    const auto response = tsig::sign(message(0x8400), kKey, request->mac);
    REQUIRE(response);
    before = memcmp_calls.load();
    CHECK(tsig::verify_response(response->message, kKey, request->mac, tsig::current_time())
              .verdict == tsig::Verdict::valid);
    CHECK(memcmp_calls.load() > before);
}

TEST_CASE("every_message_of_a_stream_is_compared_with_crypto_memcmp") {
    const auto request = tsig::sign(message(0), kKey);
    REQUIRE(request);
    tsig::StreamSigner signer(kKey, request->mac);
    std::vector<std::vector<uint8_t>> stream;
    for (int i = 0; i < 3; ++i) {
        auto signed_message = signer.sign_next(message(0x8400));
        REQUIRE(signed_message);
        stream.push_back(*signed_message);
    }
    tsig::StreamVerifier verifier(kKey, request->mac);
    for (const auto& signed_message : stream) {
        const size_t before = memcmp_calls.load();
        CHECK(verifier.verify_next(signed_message, tsig::current_time()).verdict ==
              tsig::Verdict::valid);
        CHECK(memcmp_calls.load() > before);
    }
}
