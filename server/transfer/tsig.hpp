// TSIG (RFC 8945): shared-secret keys, and the signing and verifying of DNS messages and of
// multi-message transfer streams, for zone transfers and NOTIFY in both directions.
//
// Built on ldns (ldns_pkt_tsig_sign / ldns_pkt_tsig_verify and their _next variants): each
// message is parsed into an ldns_pkt and written back, which allocates. That is fine here:
// transfers and NOTIFY are not the query hot path, and cost one signature per message.
//
// How to use it:
//   client (SOA/IXFR/AXFR query, NOTIFY out):
//     auto request = tsig::sign(query_bytes, key);              // send request->message
//     auto check = tsig::verify_response(reply, key, request->mac, now);   // one reply
//     tsig::StreamVerifier stream(key, request->mac);           // or a transfer stream:
//     for each message: stream.verify_next(message, now).verdict == Verdict::valid
//   server (AXFR/IXFR in, NOTIFY in):
//     auto check = tsig::verify_request(message, keyring, now);
//     unsigned_message: no TSIG; valid: check.key signed it; otherwise answer NOTAUTH and
//     tsig::append_error_tsig(response, check, now) (RFC 8945 §5.2).
//     Replies: tsig::sign(reply, *check.key, check.mac), or for a stream
//     tsig::StreamSigner signer(*check.key, check.mac); signer.sign_next(message) each.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "zones/transfer_policy.hpp"

namespace meridian::server::tsig {

// TSIG error field values (RFC 8945 §3, IANA "DNS RCODEs"); they travel in the TSIG record,
// with RCODE NOTAUTH in the header.
namespace error {
inline constexpr uint16_t kNone = 0;
inline constexpr uint16_t kBadSig = 16;
inline constexpr uint16_t kBadKey = 17;
inline constexpr uint16_t kBadTime = 18;
}  // namespace error

// RFC 8945 §10: 300 seconds is the recommended fudge.
inline constexpr uint16_t kDefaultFudge = 300;

// name (absolute, lowercase: "transfer-key."), algorithm (wire name: "hmac-sha256."),
// secret (base64). Defined with the zones' transfer settings, which snapshots carry.
using Key = zones::TsigKey;

// The wire algorithm name ("hmac-sha256.") for a configured one ("hmac-sha256", any case,
// trailing dot optional; "hmac-md5" is "hmac-md5.sig-alg.reg.int."), or nullopt when ldns
// cannot compute it. Supported: hmac-md5, hmac-sha1, hmac-sha256, hmac-sha512 (what Debian's
// ldns 1.8.3 signs correctly).
std::optional<std::string> algorithm_wire_name(std::string_view configured);

// True when `base64` decodes to at least one octet.
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
    bool empty() const { return keys_.empty(); }
    size_t size() const { return keys_.size(); }

  private:
    std::vector<Key> keys_;
};

// A signed message and the MAC its TSIG record carries, which the reply is checked against.
struct Signed {
    std::vector<uint8_t> message;
    std::vector<uint8_t> mac;  // the MAC octets, without the length prefix
};

// Signs `message` (which has no TSIG record yet) with `key`, at the current time. A request
// has an empty `request_mac`; a response passes the MAC of the request it answers
// (RFC 8945 §5.3). Nullopt when the message does not parse or ldns cannot sign it.
std::optional<Signed> sign(std::span<const uint8_t> message, const Key& key,
                           std::span<const uint8_t> request_mac = {},
                           uint16_t fudge = kDefaultFudge);

enum class Verdict {
    unsigned_message,  // no TSIG record
    valid,             // signed by `key`, within the time window
    bad_key,           // unknown key, or the algorithm does not match (§5.2.1)
    bad_sig,           // the MAC does not verify (§5.2.2)
    bad_time,          // the MAC verifies but the time is outside the fudge (§5.2.3)
    malformed,         // not a DNS message ldns can read
};

struct Verification {
    Verdict verdict = Verdict::malformed;
    const Key* key = nullptr;  // the key that signed it (valid, bad_sig, bad_time)
    std::string key_name;      // as in the TSIG record, lowercase
    std::string algorithm;     // as in the TSIG record, lowercase
    std::vector<uint8_t> mac;  // the record's MAC: a reply to this message is signed over it
    uint64_t time_signed = 0;  // seconds since the epoch, as the sender wrote it
    uint16_t fudge = 0;
    uint16_t original_id = 0;
    uint16_t error = 0;  // the error field the sender set (a server's error response)
};

// Server side: verifies a request against `keyring`; `now` is seconds since the epoch.
Verification verify_request(std::span<const uint8_t> message, const Keyring& keyring, uint64_t now);

// Client side: verifies the reply to a request signed with `key` whose MAC was
// `request_mac`. A reply whose TSIG carries an error (the server refused our key, §5.2)
// is reported as that error's verdict.
Verification verify_response(std::span<const uint8_t> message, const Key& key,
                             std::span<const uint8_t> request_mac, uint64_t now);

// RFC 8945 §5.2: completes the error response to a request that failed verification.
// `response` is the reply already written without TSIG (header with RCODE NOTAUTH, the
// question); this appends the TSIG record: BADKEY and BADSIG with an empty MAC, unsigned;
// BADTIME signed with the key, with the server's time in Other Data. False when `request`
// is not one of those verdicts or the response is malformed.
bool append_error_tsig(std::vector<uint8_t>& response, const Verification& request, uint64_t now);

// Signs the messages of one response stream (AXFR/IXFR over TCP): the first over the
// request's MAC and all TSIG variables, each later one over the previous message's MAC and
// the timers only (RFC 8945 §5.3.1). Every message is signed, as Knot, NSD and BIND do.
// The messages are signed as they are (no ldns rewrite), so the TSIG record adds exactly
// record_size(key) octets.
class StreamSigner {
  public:
    StreamSigner(Key key, std::vector<uint8_t> request_mac, uint16_t fudge = kDefaultFudge);
    // The signed form of the next message; nullopt when it cannot be signed.
    std::optional<std::vector<uint8_t>> sign_next(std::span<const uint8_t> message);

  private:
    Key key_;
    std::vector<uint8_t> previous_mac_;
    bool is_first_ = true;
    uint16_t fudge_;
};

// Verifies the messages of a response stream to a request signed with `key`. RFC 8945
// §5.3.1 lets a server leave up to 99 messages unsigned between signed ones; ldns cannot
// digest such runs, so here every message must be signed (Knot, NSD and BIND sign each).
class StreamVerifier {
  public:
    StreamVerifier(Key key, std::vector<uint8_t> request_mac);
    Verification verify_next(std::span<const uint8_t> message, uint64_t now);

  private:
    Key key_;
    std::vector<uint8_t> previous_mac_;
    bool is_first_ = true;
};

// The size of the TSIG record sign() appends with `key` (no error, no Other Data), so a
// caller can keep room for it.
size_t record_size(const Key& key);

// Seconds since the epoch, the `now` the functions above take.
uint64_t current_time();

}  // namespace meridian::server::tsig
