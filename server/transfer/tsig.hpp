// TSIG (RFC 8945): shared-secret keys, the reading of a message's TSIG record, and the signing
// and verifying of DNS messages and of multi-message transfer streams, for zone transfers and
// NOTIFY in both directions.
//
// Our own code over OpenSSL's digests, not ldns: the server verifies every signed packet it
// receives, so a request is read and checked in place (no parse into objects, no allocation),
// its MAC compared in constant time (CRYPTO_memcmp), and error answers written straight into
// the caller's buffer.
//
// How to use it:
//   client (SOA/IXFR/AXFR query, NOTIFY out):
//     auto request = tsig::sign(query_bytes, key);              // send request->message
//     auto check = tsig::verify_response(reply, key, request->mac, now);   // one reply
//     tsig::StreamVerifier stream(key, request->mac);           // or a transfer stream:
//     for each message: stream.verify_next(message, now).verdict == Verdict::valid
//   server (AXFR/IXFR in, NOTIFY in, any signed query):
//     auto check = tsig::verify_request(message, keys, now);
//     unsigned_message: no TSIG; valid: check.key signed it; malformed: answer FORMERR;
//     otherwise answer NOTAUTH and append_error_tsig(buffer, length, check, now) (§5.2).
//     Replies: sign_in_place(buffer, length, *check.key, check.mac, now), or for a stream
//     tsig::StreamSigner signer(*check.key, check.mac); signer.sign_next(...) for each.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "wire/name.hpp"
#include "zones/transfer_policy.hpp"

namespace meridian::server::tsig {

// TSIG error field values (RFC 8945 §3, IANA "DNS RCODEs"); they travel in the TSIG record,
// with RCODE NOTAUTH in the header.
namespace error {
inline constexpr uint16_t kNone = 0;
inline constexpr uint16_t kBadSig = 16;
inline constexpr uint16_t kBadKey = 17;
inline constexpr uint16_t kBadTime = 18;
inline constexpr uint16_t kBadTrunc = 22;
}  // namespace error

// RFC 8945 §10: 300 seconds is the recommended fudge.
inline constexpr uint16_t kDefaultFudge = 300;
// The longest MAC of the algorithms we know (hmac-sha512).
inline constexpr size_t kMaxMacSize = 64;
// The longest secret we accept, in octets (4096 bits; keymgr and tsig-keygen make 32 or 64).
// Secrets are decoded into a buffer of this size on the stack for each message.
inline constexpr size_t kMaxSecretSize = 512;

// name (absolute, lowercase: "transfer-key."), algorithm (wire name: "hmac-sha256."),
// secret (base64). Defined with the zones' transfer settings, which snapshots carry.
using Key = zones::TsigKey;

// The wire algorithm name ("hmac-sha256.") for a configured one ("hmac-sha256", any case,
// trailing dot optional; "hmac-md5" is "hmac-md5.sig-alg.reg.int."), or nullopt when we
// cannot compute it. Supported: hmac-md5, hmac-sha1, hmac-sha224, hmac-sha256, hmac-sha384,
// hmac-sha512 (RFC 8945 §6).
std::optional<std::string> algorithm_wire_name(std::string_view configured);

// True when `base64` is padded base64 of 1 to kMaxSecretSize octets.
bool is_valid_secret(std::string_view base64);

// "Transfer-Key" -> "transfer-key.": the form Key::name and lookups use.
std::string canonical_key_name(std::string_view name);

// The keys this server knows, by name.
class Keyring {
  public:
    Keyring() = default;
    explicit Keyring(const std::vector<Key>& keys) {
        for (const Key& key : keys) add(key);
    }
    void add(Key key);  // replaces a key of the same name
    // Case-insensitive; the trailing dot is optional. Null when unknown.
    const Key* find(std::string_view name) const;
    std::span<const Key> keys() const { return keys_; }
    bool empty() const { return keys_.empty(); }
    size_t size() const { return keys_.size(); }

  private:
    std::vector<Key> keys_;
};

// A MAC in a fixed array, so reading and computing one never allocates.
struct Mac {
    std::array<uint8_t, kMaxMacSize> octets{};
    uint16_t size = 0;

    std::span<const uint8_t> view() const { return {octets.data(), size}; }
    operator std::span<const uint8_t>() const { return view(); }  // NOLINT: a MAC is its octets
    bool empty() const { return size == 0; }
};

// A signed message and the MAC its TSIG record carries, which the reply is checked against.
struct Signed {
    std::vector<uint8_t> message;
    std::vector<uint8_t> mac;  // the MAC octets, without the length prefix
};

// Signs `message` (which has no TSIG record yet) with `key`, at the current time. A request
// has an empty `request_mac`; a response passes the MAC of the request it answers
// (RFC 8945 §5.3). Nullopt when the message has no header or the key cannot sign.
std::optional<Signed> sign(std::span<const uint8_t> message, const Key& key,
                           std::span<const uint8_t> request_mac = {},
                           uint16_t fudge = kDefaultFudge);

// The same in place: appends the TSIG record to the `length` octets of message at the start
// of `buffer`, counts it in ARCOUNT, and returns the new length; 0 when it does not fit or
// the key cannot sign. `mac` (optional) receives the MAC. Allocates nothing.
size_t sign_in_place(std::span<uint8_t> buffer, size_t length, const Key& key,
                     std::span<const uint8_t> request_mac, uint64_t now,
                     uint16_t fudge = kDefaultFudge, Mac* mac = nullptr);

enum class Verdict {
    unsigned_message,  // no TSIG record
    valid,             // signed by `key`, within the time window
    bad_key,           // unknown key, or the algorithm does not match (§5.2.1)
    bad_sig,           // the MAC does not verify (§5.2.2)
    bad_time,          // the MAC verifies but the time is outside the fudge (§5.2.3)
    bad_trunc,         // the MAC verifies but is truncated, which we do not accept (§5.2.4)
    malformed,         // not a message whose TSIG can be read (§5.2: FORMERR)
};

// What checking a message found. Fixed-size: verifying allocates nothing.
struct Verification {
    Verdict verdict = Verdict::malformed;
    const Key* key = nullptr;  // the key that signed it (valid, bad_sig, bad_time, bad_trunc)
    wire::Name key_name;       // as in the TSIG record, lowercase wire form
    wire::Name algorithm;      // as in the TSIG record, lowercase wire form
    Mac mac;                   // the record's MAC: a reply to this message is signed over it
    uint64_t time_signed = 0;  // seconds since the epoch, as the sender wrote it
    uint16_t fudge = 0;
    uint16_t original_id = 0;
    uint16_t error = 0;  // the error field the sender set (a server's error response)

    std::string key_text() const;  // "transfer-key." for logs ("?" when unread)
};

// Server side: verifies a request against `keys` (a key pointer in the result points into
// `keys`); `now` is seconds since the epoch. Allocates nothing.
Verification verify_request(std::span<const uint8_t> message, std::span<const Key> keys,
                            uint64_t now);
inline Verification verify_request(std::span<const uint8_t> message, const Keyring& keyring,
                                   uint64_t now) {
    return verify_request(message, keyring.keys(), now);
}

// Client side: verifies the reply to a request signed with `key` whose MAC was
// `request_mac`. A reply whose TSIG carries an error (the server refused our key, §5.2)
// is reported as that error's verdict.
Verification verify_response(std::span<const uint8_t> message, const Key& key,
                             std::span<const uint8_t> request_mac, uint64_t now);

// RFC 8945 §5.2 and §5.3.2: completes the error response to a request that failed
// verification. The first `length` octets of `buffer` are the reply already written without
// TSIG (header with RCODE NOTAUTH, the question); this appends the TSIG record: BADKEY and
// BADSIG with an empty MAC, unsigned; BADTIME (with the server's time in Other Data) and
// BADTRUNC signed with the key. Returns the new length; 0 when `request` is not one of those
// verdicts or the record does not fit. Allocates nothing.
size_t append_error_tsig(std::span<uint8_t> buffer, size_t length, const Verification& request,
                         uint64_t now);
// The same on a vector, which grows by the record; false as above.
bool append_error_tsig(std::vector<uint8_t>& response, const Verification& request, uint64_t now);

// Signs the messages of one response stream (AXFR/IXFR over TCP): the first over the
// request's MAC and all TSIG variables, each later one over the previous message's MAC and
// the timers only (RFC 8945 §5.3.1). Every message is signed, as Knot, NSD and BIND do.
// The TSIG record adds exactly record_size(key) octets. It keeps its own copy of the key, as
// a stream outlives the snapshot it started from.
class StreamSigner {
  public:
    StreamSigner(Key key, std::span<const uint8_t> request_mac, uint16_t fudge = kDefaultFudge);
    // Signs the `length` octets at the start of `buffer` in place; returns the new length, 0
    // when it cannot be signed (or does not fit).
    size_t sign_next(std::span<uint8_t> buffer, size_t length);
    // The signed form of the next message; nullopt when it cannot be signed.
    std::optional<std::vector<uint8_t>> sign_next(std::span<const uint8_t> message);

  private:
    Key key_;
    Mac previous_mac_;
    bool is_first_ = true;
    uint16_t fudge_;
};

// Verifies the messages of a response stream to a request signed with `key`. RFC 8945
// §5.3.1 lets a server leave up to 99 messages unsigned between signed ones; here every
// message must be signed (Knot, NSD and BIND sign each).
class StreamVerifier {
  public:
    StreamVerifier(Key key, std::span<const uint8_t> request_mac);
    Verification verify_next(std::span<const uint8_t> message, uint64_t now);

  private:
    Key key_;
    Mac previous_mac_;
    bool is_first_ = true;
};

// The size of the TSIG record sign() appends with `key` (no error, no Other Data), so a
// caller can keep room for it; the size of an error record for a request is at most that of
// the key it named plus 6 (BADTIME's Other Data).
size_t record_size(const Key& key);

// Seconds since the epoch, the `now` the functions above take.
uint64_t current_time();

// The TSIG record of a message as read by our own reader (RFC 8945 §4.2, §5.1): exactly one,
// the last record of the additional section, every length inside the message and the RDATA.
struct Record {
    size_t offset = 0;  // where the record starts: the length of the message without it
    wire::Name key_name;
    wire::Name algorithm;
    uint64_t time_signed = 0;
    uint16_t fudge = 0;
    std::span<const uint8_t> mac;  // into the message
    uint16_t original_id = 0;
    uint16_t error = 0;
    std::span<const uint8_t> other;  // into the message
};

enum class RecordStatus { absent, present, malformed };

// Reads the TSIG record of `message` into `record` (names lowercased). Malformed: a TSIG
// anywhere but last, two of them, a length that lies, octets after the last record, a class
// other than ANY, or a message that cannot be walked. Allocates nothing.
RecordStatus read_record(std::span<const uint8_t> message, Record& record);

}  // namespace meridian::server::tsig
