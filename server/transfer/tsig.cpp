// TSIG signing and verifying on ldns packets; the one thing ldns cannot do (a signed BADTIME
// error response, whose MAC covers the error and Other Data fields) is an HMAC of our own.
#include "server/transfer/tsig.hpp"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <cctype>
#include <ctime>
#include <memory>

#include "wire/constants.hpp"
#include "wire/name.hpp"
#include "zones/ldns.hpp"

namespace meridian::server::tsig {

namespace {

using ldns::Packet;
using ldns::Rdf;

std::string lowercase(std::string_view text) {
    std::string result(text);
    for (char& c : result) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return result;
}

Packet parse(std::span<const uint8_t> message) {
    return ldns::parse_packet(message.data(), message.size());
}

std::string rdf_text(const ldns_rdf* rdf) {
    return lowercase(ldns::take_text(ldns_rdf2str(rdf)));
}

// A MAC as ldns passes it between functions: an int16-length-prefixed data field. Null for
// an empty MAC (a request, which is signed over no earlier MAC).
Rdf mac_rdf(std::span<const uint8_t> mac) {
    if (mac.empty()) return nullptr;
    return Rdf(ldns_native2rdf_int16_data(mac.size(), const_cast<uint8_t*>(mac.data())));
}

std::vector<uint8_t> int16_data(const ldns_rdf* rdf) {
    const uint8_t* data = ldns_rdf_data(rdf);
    const size_t size = ldns_rdf_size(rdf);
    if (size < 2) return {};
    return {data + 2, data + size};
}

// Reads the TSIG record's fields into `out`; false when it has not the seven fields.
bool read_tsig(const ldns_rr* rr, Verification& out) {
    if (ldns_rr_rd_count(rr) != 7) return false;
    const ldns_rdf* time_signed = ldns_rr_rdf(rr, 1);
    if (ldns_rdf_size(time_signed) != 6 || ldns_rdf_size(ldns_rr_rdf(rr, 2)) != 2 ||
        ldns_rdf_size(ldns_rr_rdf(rr, 4)) != 2 || ldns_rdf_size(ldns_rr_rdf(rr, 5)) != 2)
        return false;
    out.key_name = rdf_text(ldns_rr_owner(rr));
    out.algorithm = rdf_text(ldns_rr_rdf(rr, 0));
    out.time_signed = 0;
    for (size_t i = 0; i < 6; ++i)
        out.time_signed = (out.time_signed << 8) | ldns_rdf_data(time_signed)[i];
    out.fudge = ldns_rdf2native_int16(ldns_rr_rdf(rr, 2));
    out.mac = int16_data(ldns_rr_rdf(rr, 3));
    out.original_id = ldns_rdf2native_int16(ldns_rr_rdf(rr, 4));
    out.error = ldns_rdf2native_int16(ldns_rr_rdf(rr, 5));
    return true;
}

bool is_in_time(const Verification& check, uint64_t now) {
    const uint64_t distance =
        now > check.time_signed ? now - check.time_signed : check.time_signed - now;
    return distance <= check.fudge;
}

// The message's TSIG record read into `result`; false, with the verdict left as it is
// (malformed) or set to unsigned, when there is no record to check.
bool read_message_tsig(const ldns_pkt* packet, Verification& result) {
    if (!packet) return false;
    const ldns_rr* rr = ldns_pkt_tsig(packet);
    if (!rr) {
        result.verdict = Verdict::unsigned_message;
        return false;
    }
    return read_tsig(rr, result);
}

// Verifies `message` as signed with `key` over `previous_mac` (all variables, or the timers
// only for a later message of a stream).
Verification verify_with(std::span<const uint8_t> message, const Key& key,
                         std::span<const uint8_t> previous_mac, bool timers_only, uint64_t now,
                         bool is_response) {
    Verification result;
    Packet packet = parse(message);
    if (!read_message_tsig(packet.get(), result)) return result;
    if (result.key_name != key.name || result.algorithm != key.algorithm) {
        result.verdict = Verdict::bad_key;
        return result;
    }
    result.key = &key;
    if (is_response && result.error == error::kBadKey) {
        result.verdict = Verdict::bad_key;
        return result;
    }
    if (is_response && result.error == error::kBadSig) {
        result.verdict = Verdict::bad_sig;
        return result;
    }
    Rdf previous = mac_rdf(previous_mac);
    if (!ldns_pkt_tsig_verify_next(packet.get(), message.data(), message.size(), key.name.c_str(),
                                   key.secret.c_str(), previous.get(), timers_only ? 1 : 0)) {
        result.verdict = Verdict::bad_sig;
        return result;
    }
    // RFC 8945 §5.2.3: the time is checked only once the MAC is known to be good; a signed
    // BADTIME reply from the server is reported as such.
    const bool is_badtime_reply = is_response && result.error == error::kBadTime;
    result.verdict =
        is_in_time(result, now) && !is_badtime_reply ? Verdict::valid : Verdict::bad_time;
    return result;
}

std::optional<std::vector<uint8_t>> to_wire(const ldns_pkt* packet) {
    return ldns::to_wire(packet);
}

std::optional<Signed> sign_with(std::span<const uint8_t> message, const Key& key,
                                std::span<const uint8_t> previous_mac, bool timers_only,
                                uint16_t fudge) {
    Packet packet = parse(message);
    if (!packet || ldns_pkt_tsig(packet.get())) return std::nullopt;
    Rdf previous = mac_rdf(previous_mac);
    if (ldns_pkt_tsig_sign_next(packet.get(), key.name.c_str(), key.secret.c_str(), fudge,
                                key.algorithm.c_str(), previous.get(),
                                timers_only ? 1 : 0) != LDNS_STATUS_OK)
        return std::nullopt;
    const ldns_rr* rr = ldns_pkt_tsig(packet.get());
    if (!rr || ldns_rr_rd_count(rr) != 7) return std::nullopt;
    auto wire = to_wire(packet.get());
    if (!wire || wire->size() > wire::kMaxMessageSize) return std::nullopt;
    return Signed{std::move(*wire), int16_data(ldns_rr_rdf(rr, 3))};
}

const EVP_MD* digest_of(std::string_view algorithm) {
    if (algorithm == "hmac-md5.sig-alg.reg.int.") return EVP_md5();
    if (algorithm == "hmac-sha1.") return EVP_sha1();
    if (algorithm == "hmac-sha256.") return EVP_sha256();
    if (algorithm == "hmac-sha512.") return EVP_sha512();
    return nullptr;
}

void put16(std::vector<uint8_t>& out, uint16_t value) {
    out.push_back(static_cast<uint8_t>(value >> 8));
    out.push_back(static_cast<uint8_t>(value));
}

void put48(std::vector<uint8_t>& out, uint64_t value) {
    for (int shift = 40; shift >= 0; shift -= 8)
        out.push_back(static_cast<uint8_t>(value >> shift));
}

}  // namespace

std::optional<std::string> algorithm_wire_name(std::string_view configured) {
    std::string name = lowercase(configured);
    if (!name.empty() && name.back() == '.') name.pop_back();
    if (name == "hmac-md5" || name == "hmac-md5.sig-alg.reg.int")
        return "hmac-md5.sig-alg.reg.int.";
    // ldns 1.8.3 misspells hmac-sha384 in its digest table and does not find hmac-sha224's,
    // so signing with either fails; they are refused here rather than at the first transfer.
    for (const char* known : {"hmac-sha1", "hmac-sha256", "hmac-sha512"})
        if (name == known) return name + ".";
    return std::nullopt;
}

bool is_valid_secret(std::string_view base64) {
    ldns_rdf* rdf = nullptr;
    const std::string text(base64);
    if (text.empty() || ldns_str2rdf_b64(&rdf, text.c_str()) != LDNS_STATUS_OK) return false;
    const Rdf owned(rdf);
    return ldns_rdf_size(rdf) > 0;
}

std::string canonical_key_name(std::string_view name) {
    std::string result = lowercase(name);
    if (result.empty() || result.back() != '.') result += '.';
    return result;
}

void Keyring::add(Key key) {
    key.name = canonical_key_name(key.name);
    for (Key& existing : keys_)
        if (existing.name == key.name) {
            existing = std::move(key);
            return;
        }
    keys_.push_back(std::move(key));
}

const Key* Keyring::find(std::string_view name) const {
    const std::string wanted = canonical_key_name(name);
    for (const Key& key : keys_)
        if (key.name == wanted) return &key;
    return nullptr;
}

std::optional<Signed> sign(std::span<const uint8_t> message, const Key& key,
                           std::span<const uint8_t> request_mac, uint16_t fudge) {
    return sign_with(message, key, request_mac, false, fudge);
}

Verification verify_request(std::span<const uint8_t> message, const Keyring& keyring,
                            uint64_t now) {
    Packet packet = parse(message);
    Verification result;
    if (!read_message_tsig(packet.get(), result)) return result;
    const Key* key = keyring.find(result.key_name);
    // RFC 8945 §5.2.1: a key we do not know, or know with another algorithm, is BADKEY.
    if (!key || key->algorithm != result.algorithm) {
        result.verdict = Verdict::bad_key;
        return result;
    }
    return verify_with(message, *key, {}, false, now, false);
}

Verification verify_response(std::span<const uint8_t> message, const Key& key,
                             std::span<const uint8_t> request_mac, uint64_t now) {
    return verify_with(message, key, request_mac, false, now, true);
}

namespace {

// The TSIG variables of RFC 8945 §4.3.3 that a MAC covers after the message.
struct TsigFields {
    std::string owner;      // key name, wire form, lowercase
    std::string algorithm;  // wire form
    uint64_t time_signed = 0;
    uint16_t fudge = 0;
    uint16_t error = 0;
    std::vector<uint8_t> other;
};

// HMAC over `data` with the key's decoded secret; empty when the key cannot be used.
std::vector<uint8_t> hmac(const Key& key, std::span<const uint8_t> data) {
    const EVP_MD* digest = digest_of(key.algorithm);
    ldns_rdf* secret = nullptr;
    if (!digest || ldns_str2rdf_b64(&secret, key.secret.c_str()) != LDNS_STATUS_OK) return {};
    const Rdf owned(secret);
    unsigned char out[EVP_MAX_MD_SIZE];
    unsigned int out_size = 0;
    const bool ok = HMAC(digest, ldns_rdf_data(secret), static_cast<int>(ldns_rdf_size(secret)),
                         data.data(), data.size(), out, &out_size) != nullptr;
    if (!ok) return {};
    return {out, out + out_size};
}

// Appends the TSIG record to `message` and counts it in ARCOUNT.
bool append_tsig_record(std::vector<uint8_t>& message, const TsigFields& fields,
                        std::span<const uint8_t> mac) {
    std::vector<uint8_t> rdata(fields.algorithm.begin(), fields.algorithm.end());
    put48(rdata, fields.time_signed);
    put16(rdata, fields.fudge);
    put16(rdata, static_cast<uint16_t>(mac.size()));
    rdata.insert(rdata.end(), mac.begin(), mac.end());
    put16(rdata, static_cast<uint16_t>((message[0] << 8) | message[1]));  // original id
    put16(rdata, fields.error);
    put16(rdata, static_cast<uint16_t>(fields.other.size()));
    rdata.insert(rdata.end(), fields.other.begin(), fields.other.end());

    message.insert(message.end(), fields.owner.begin(), fields.owner.end());
    put16(message, wire::type::kTSIG);
    put16(message, wire::klass::kANY);
    put16(message, 0);  // TTL 0, two halves
    put16(message, 0);
    put16(message, static_cast<uint16_t>(rdata.size()));
    message.insert(message.end(), rdata.begin(), rdata.end());
    const uint16_t arcount = static_cast<uint16_t>(((message[10] << 8) | message[11]) + 1);
    message[10] = static_cast<uint8_t>(arcount >> 8);
    message[11] = static_cast<uint8_t>(arcount);
    return message.size() <= wire::kMaxMessageSize;
}

// What a MAC covers (§4.3): the previous MAC, the message, then all TSIG variables, or
// (a later message of a stream, §5.3.1) only the timers.
std::vector<uint8_t> digest_input(std::span<const uint8_t> previous_mac,
                                  std::span<const uint8_t> message, const TsigFields& fields,
                                  bool timers_only) {
    std::vector<uint8_t> data;
    data.reserve(previous_mac.size() + message.size() + 64 + fields.owner.size() +
                 fields.algorithm.size());
    if (!previous_mac.empty()) {
        put16(data, static_cast<uint16_t>(previous_mac.size()));
        data.insert(data.end(), previous_mac.begin(), previous_mac.end());
    }
    data.insert(data.end(), message.begin(), message.end());
    if (!timers_only) {
        data.insert(data.end(), fields.owner.begin(), fields.owner.end());
        put16(data, wire::klass::kANY);
        put16(data, 0);
        put16(data, 0);
        data.insert(data.end(), fields.algorithm.begin(), fields.algorithm.end());
    }
    put48(data, fields.time_signed);
    put16(data, fields.fudge);
    if (!timers_only) {
        put16(data, fields.error);
        put16(data, static_cast<uint16_t>(fields.other.size()));
        data.insert(data.end(), fields.other.begin(), fields.other.end());
    }
    return data;
}

}  // namespace

bool append_error_tsig(std::vector<uint8_t>& response, const Verification& request, uint64_t now) {
    TsigFields fields;
    switch (request.verdict) {
        case Verdict::bad_key:
            fields.error = error::kBadKey;
            break;
        case Verdict::bad_sig:
            fields.error = error::kBadSig;
            break;
        case Verdict::bad_time:
            fields.error = error::kBadTime;
            break;
        default:
            return false;
    }
    if (response.size() < wire::kHeaderSize) return false;
    fields.owner = wire::wire_from_text(request.key_name);
    fields.algorithm = wire::wire_from_text(request.algorithm);
    if (fields.owner.empty() || fields.algorithm.empty()) return false;
    fields.time_signed = request.time_signed;
    fields.fudge = request.fudge;
    std::vector<uint8_t> mac;
    if (fields.error == error::kBadTime) {
        // §5.2.3: signed, over the request's MAC, with our clock in Other Data so the client
        // can see how far apart the clocks are. ldns cannot set the error field.
        if (!request.key) return false;
        put48(fields.other, now);
        mac = hmac(*request.key, digest_input(request.mac, response, fields, false));
        if (mac.empty()) return false;
    }
    return append_tsig_record(response, fields, mac);
}

StreamSigner::StreamSigner(Key key, std::vector<uint8_t> request_mac, uint16_t fudge)
    : key_(std::move(key)), previous_mac_(std::move(request_mac)), fudge_(fudge) {}

// Signed by hand with OpenSSL's HMAC over our own bytes, unlike sign(): ldns parses and
// rewrites each 64 KB message twice, which made a signed AXFR of 200,000 records about eight
// times slower than an unsigned one and held the worker's loop ~50 ms per message. The unit
// tests check every message of such streams with ldns's verifier.
std::optional<std::vector<uint8_t>> StreamSigner::sign_next(std::span<const uint8_t> message) {
    if (message.size() < wire::kHeaderSize) return std::nullopt;
    TsigFields fields;
    fields.owner = wire::wire_from_text(key_.name);
    fields.algorithm = wire::wire_from_text(key_.algorithm);
    if (fields.owner.empty() || fields.algorithm.empty()) return std::nullopt;
    fields.time_signed = current_time();
    fields.fudge = fudge_;
    std::vector<uint8_t> mac = hmac(key_, digest_input(previous_mac_, message, fields, !is_first_));
    if (mac.empty()) return std::nullopt;
    std::vector<uint8_t> signed_message(message.begin(), message.end());
    if (!append_tsig_record(signed_message, fields, mac)) return std::nullopt;
    is_first_ = false;
    previous_mac_ = std::move(mac);
    return signed_message;
}

StreamVerifier::StreamVerifier(Key key, std::vector<uint8_t> request_mac)
    : key_(std::move(key)), previous_mac_(std::move(request_mac)) {}

Verification StreamVerifier::verify_next(std::span<const uint8_t> message, uint64_t now) {
    Verification result = verify_with(message, key_, previous_mac_, !is_first_, now, true);
    if (result.verdict == Verdict::valid) {
        is_first_ = false;
        previous_mac_ = result.mac;
    }
    return result;
}

size_t record_size(const Key& key) {
    const EVP_MD* digest = digest_of(key.algorithm);
    const size_t mac = digest ? static_cast<size_t>(EVP_MD_get_size(digest)) : EVP_MAX_MD_SIZE;
    // owner, type/class/TTL/rdlength, algorithm, time 6, fudge 2, MAC size 2, MAC,
    // original id 2, error 2, other length 2.
    return wire::wire_from_text(key.name).size() + 10 + wire::wire_from_text(key.algorithm).size() +
           16 + mac;
}

uint64_t current_time() {
    return static_cast<uint64_t>(std::time(nullptr));
}

}  // namespace meridian::server::tsig
