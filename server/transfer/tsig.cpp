// TSIG without ldns: our own reader of the TSIG record, the digest input of RFC 8945 §4.3,
// HMAC (RFC 2104) over OpenSSL's digest primitives, and MACs compared with CRYPTO_memcmp.
//
// Why the low-level digest functions (deprecated in OpenSSL 3, still part of its API): their
// state is a plain struct on the stack, so a MAC costs no allocation. OpenSSL 3.0's HMAC(),
// HMAC_CTX and EVP_MAC allocate a context (and fetch the digest) on every initialisation,
// which the server would pay for every signed packet, hostile ones included.
#define OPENSSL_SUPPRESS_DEPRECATED
#include "server/transfer/tsig.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/md5.h>
#include <openssl/sha.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <ctime>

#include "wire/bytes.hpp"
#include "wire/constants.hpp"

namespace meridian::server::tsig {

using wire::read16;

namespace {

// ---- HMAC over the digest primitives ------------------------------------------------------

enum class Digest : uint8_t { md5, sha1, sha224, sha256, sha384, sha512 };

struct Algorithm {
    Digest digest;
    const char* text;    // the wire algorithm name, in presentation form
    size_t block_size;   // the digest's input block (RFC 2104's B)
    size_t output_size;  // the digest's output (RFC 2104's L), the full MAC size
};

// RFC 8945 §6. hmac-md5's name is the one RFC 2845 gave it.
constexpr Algorithm kAlgorithms[] = {
    {Digest::md5, "hmac-md5.sig-alg.reg.int.", 64, 16}, {Digest::sha1, "hmac-sha1.", 64, 20},
    {Digest::sha224, "hmac-sha224.", 64, 28},           {Digest::sha256, "hmac-sha256.", 64, 32},
    {Digest::sha384, "hmac-sha384.", 128, 48},          {Digest::sha512, "hmac-sha512.", 128, 64},
};

// The algorithm of a wire name (any case); null when unknown.
const Algorithm* find_algorithm(const wire::Name& name) {
    for (const Algorithm& algorithm : kAlgorithms) {
        wire::Name known;
        if (wire::from_text(algorithm.text, known) &&
            wire::equal_ignoring_case(known.view(), name.view()))
            return &algorithm;
    }
    return nullptr;
}

// One digest computation; which member is live follows the algorithm.
union DigestState {
    MD5_CTX md5;
    SHA_CTX sha1;
    SHA256_CTX sha256;  // SHA-224 too
    SHA512_CTX sha512;  // SHA-384 too
};

void digest_init(Digest digest, DigestState& state) {
    switch (digest) {
        case Digest::md5:
            MD5_Init(&state.md5);
            break;
        case Digest::sha1:
            SHA1_Init(&state.sha1);
            break;
        case Digest::sha224:
            SHA224_Init(&state.sha256);
            break;
        case Digest::sha256:
            SHA256_Init(&state.sha256);
            break;
        case Digest::sha384:
            SHA384_Init(&state.sha512);
            break;
        case Digest::sha512:
            SHA512_Init(&state.sha512);
            break;
    }
}

void digest_update(Digest digest, DigestState& state, const uint8_t* data, size_t size) {
    if (size == 0) return;
    switch (digest) {
        case Digest::md5:
            MD5_Update(&state.md5, data, size);
            break;
        case Digest::sha1:
            SHA1_Update(&state.sha1, data, size);
            break;
        case Digest::sha224:
            SHA224_Update(&state.sha256, data, size);
            break;
        case Digest::sha256:
            SHA256_Update(&state.sha256, data, size);
            break;
        case Digest::sha384:
            SHA384_Update(&state.sha512, data, size);
            break;
        case Digest::sha512:
            SHA512_Update(&state.sha512, data, size);
            break;
    }
}

void digest_final(Digest digest, DigestState& state, uint8_t* out) {
    switch (digest) {
        case Digest::md5:
            MD5_Final(out, &state.md5);
            break;
        case Digest::sha1:
            SHA1_Final(out, &state.sha1);
            break;
        case Digest::sha224:
            SHA224_Final(out, &state.sha256);
            break;
        case Digest::sha256:
            SHA256_Final(out, &state.sha256);
            break;
        case Digest::sha384:
            SHA384_Final(out, &state.sha512);
            break;
        case Digest::sha512:
            SHA512_Final(out, &state.sha512);
            break;
    }
}

// Decodes padded base64 into `out` (kMaxSecretSize octets); returns the length, 0 when it is
// not valid base64 or too long.
size_t decode_secret(std::string_view base64, uint8_t* out) {
    if (base64.empty() || base64.size() % 4 != 0 || base64.size() / 4 * 3 > kMaxSecretSize)
        return 0;
    const int decoded = EVP_DecodeBlock(out, reinterpret_cast<const unsigned char*>(base64.data()),
                                        static_cast<int>(base64.size()));
    if (decoded <= 0) return 0;
    // EVP_DecodeBlock counts the padding as zero octets.
    size_t padding = 0;
    for (size_t i = base64.size(); i > 0 && base64[i - 1] == '=' && padding < 2; --i) ++padding;
    return static_cast<size_t>(decoded) > padding ? static_cast<size_t>(decoded) - padding : 0;
}

// HMAC (RFC 2104) of one message, fed in pieces.
class Hmac {
  public:
    // False when the key's secret cannot be decoded.
    bool start(const Algorithm& algorithm, const Key& key) {
        algorithm_ = &algorithm;
        uint8_t secret[kMaxSecretSize];
        size_t secret_size = decode_secret(key.secret, secret);
        if (secret_size == 0) return false;
        // A key longer than the block is replaced by its digest.
        if (secret_size > algorithm.block_size) {
            DigestState hashed;
            digest_init(algorithm.digest, hashed);
            digest_update(algorithm.digest, hashed, secret, secret_size);
            digest_final(algorithm.digest, hashed, secret);
            secret_size = algorithm.output_size;
        }
        uint8_t pad[128];
        for (const auto& [state, mask] : {std::pair{&inner_, 0x36}, std::pair{&outer_, 0x5c}}) {
            std::memset(pad, mask, algorithm.block_size);
            for (size_t i = 0; i < secret_size; ++i) pad[i] ^= secret[i];
            digest_init(algorithm.digest, *state);
            digest_update(algorithm.digest, *state, pad, algorithm.block_size);
        }
        OPENSSL_cleanse(secret, sizeof secret);
        OPENSSL_cleanse(pad, sizeof pad);
        return true;
    }
    void update(std::span<const uint8_t> data) {
        digest_update(algorithm_->digest, inner_, data.data(), data.size());
    }
    void update16(uint16_t value) {
        const uint8_t octets[2] = {static_cast<uint8_t>(value >> 8), static_cast<uint8_t>(value)};
        update(octets);
    }
    void update48(uint64_t value) {
        uint8_t octets[6];
        for (int i = 0; i < 6; ++i) octets[i] = static_cast<uint8_t>(value >> (40 - 8 * i));
        update(octets);
    }
    // The whole MAC, algorithm.output_size octets.
    void finish(Mac& mac) {
        uint8_t inner[kMaxMacSize];
        digest_final(algorithm_->digest, inner_, inner);
        digest_update(algorithm_->digest, outer_, inner, algorithm_->output_size);
        digest_final(algorithm_->digest, outer_, mac.octets.data());
        mac.size = static_cast<uint16_t>(algorithm_->output_size);
    }
    ~Hmac() {
        OPENSSL_cleanse(&inner_, sizeof inner_);
        OPENSSL_cleanse(&outer_, sizeof outer_);
    }

  private:
    const Algorithm* algorithm_ = nullptr;
    DigestState inner_;
    DigestState outer_;
};

// ---- Reading ------------------------------------------------------------------------------

void write16(uint8_t* at, uint16_t value) {
    at[0] = static_cast<uint8_t>(value >> 8);
    at[1] = static_cast<uint8_t>(value);
}

// The TSIG variables of RFC 8945 §4.3.3 that a MAC covers after the message.
struct Variables {
    const wire::Name* key_name;   // lowercase wire form (canonical, §4.3.3)
    const wire::Name* algorithm;  // lowercase wire form
    uint64_t time_signed = 0;
    uint16_t fudge = 0;
    uint16_t error = 0;
    std::span<const uint8_t> other;
};

// What a MAC covers (§4.3): the previous MAC (a response's request MAC, §4.3.1), the message
// without its TSIG with the original ID in the header and ARCOUNT not counting the TSIG,
// then all TSIG variables, or (a later message of a stream, §5.3.1) only the timers.
void hash_message(Hmac& hmac, std::span<const uint8_t> previous_mac,
                  std::span<const uint8_t> message, uint16_t original_id, uint16_t arcount,
                  const Variables& variables, bool timers_only) {
    if (!previous_mac.empty()) {
        hmac.update16(static_cast<uint16_t>(previous_mac.size()));
        hmac.update(previous_mac);
    }
    uint8_t header[wire::kHeaderSize];
    std::memcpy(header, message.data(), sizeof header);
    write16(header, original_id);
    write16(header + 10, arcount);
    hmac.update(header);
    hmac.update(message.subspan(wire::kHeaderSize));
    if (!timers_only) {
        hmac.update(variables.key_name->view());
        hmac.update16(wire::klass::kANY);
        hmac.update16(0);  // TTL, two halves
        hmac.update16(0);
        hmac.update(variables.algorithm->view());
    }
    hmac.update48(variables.time_signed);
    hmac.update16(variables.fudge);
    if (!timers_only) {
        hmac.update16(variables.error);
        hmac.update16(static_cast<uint16_t>(variables.other.size()));
        hmac.update(variables.other);
    }
}

// Reads the TSIG record's RDATA (§4.2) at [at, end) into `record`; false when a field lies.
bool read_rdata(std::span<const uint8_t> m, size_t at, size_t end, Record& record) {
    const auto inside = m.first(end);
    if (!wire::read_name(inside, at, record.algorithm)) return false;
    wire::to_lower(record.algorithm);
    if (end - at < 10) return false;
    record.time_signed = 0;
    for (size_t i = 0; i < 6; ++i) record.time_signed = (record.time_signed << 8) | m[at + i];
    record.fudge = read16(m, at + 6);
    const uint16_t mac_size = read16(m, at + 8);
    at += 10;
    if (end - at < size_t(mac_size) + 6) return false;
    record.mac = m.subspan(at, mac_size);
    at += mac_size;
    record.original_id = read16(m, at);
    record.error = read16(m, at + 2);
    const uint16_t other_size = read16(m, at + 4);
    at += 6;
    if (end - at != other_size) return false;
    record.other = m.subspan(at, other_size);
    return true;
}

bool is_in_time(uint64_t time_signed, uint16_t fudge, uint64_t now) {
    const uint64_t distance = now > time_signed ? now - time_signed : time_signed - now;
    return distance <= fudge;
}

bool name_of(std::string_view text, wire::Name& out) {
    if (!wire::from_text(text, out)) return false;
    wire::to_lower(out);
    return true;
}

void copy_mac(std::span<const uint8_t> from, Mac& to) {
    to.size = static_cast<uint16_t>(std::min(from.size(), kMaxMacSize));
    if (to.size > 0) std::memcpy(to.octets.data(), from.data(), to.size);
}

// Appends a TSIG record at `length` and counts it in ARCOUNT; returns the new length, 0 when
// it does not fit the buffer or the 65535-octet message limit.
size_t write_record(std::span<uint8_t> buffer, size_t length, const Variables& variables,
                    std::span<const uint8_t> mac, uint16_t original_id) {
    const size_t rdata_size =
        variables.algorithm->length + 10 + mac.size() + 6 + variables.other.size();
    const size_t record_size = variables.key_name->length + 10 + rdata_size;
    const size_t limit = std::min(buffer.size(), wire::kMaxMessageSize);
    if (length < wire::kHeaderSize || length > limit || limit - length < record_size) return 0;
    const uint16_t arcount = read16(buffer, 10);
    if (arcount == 0xFFFF) return 0;
    uint8_t* out = buffer.data() + length;
    const auto put = [&out](std::span<const uint8_t> bytes) {
        if (bytes.empty()) return;  // memcpy's source must not be null, even for 0 octets
        std::memcpy(out, bytes.data(), bytes.size());
        out += bytes.size();
    };
    const auto put16 = [&out](uint16_t value) {
        write16(out, value);
        out += 2;
    };
    put(variables.key_name->view());
    put16(wire::type::kTSIG);
    put16(wire::klass::kANY);
    put16(0);  // TTL 0 (§4.2), two halves
    put16(0);
    put16(static_cast<uint16_t>(rdata_size));
    put(variables.algorithm->view());
    for (int i = 0; i < 6; ++i)
        *out++ = static_cast<uint8_t>(variables.time_signed >> (40 - 8 * i));
    put16(variables.fudge);
    put16(static_cast<uint16_t>(mac.size()));
    put(mac);
    put16(original_id);
    put16(variables.error);
    put16(static_cast<uint16_t>(variables.other.size()));
    put(variables.other);
    write16(buffer.data() + 10, static_cast<uint16_t>(arcount + 1));
    return length + record_size;
}

// Signs the `length` octets of message in `buffer` with `key` (RFC 8945 §4.3; timers only
// for a later message of a stream), appending the record. 0 when it cannot.
size_t sign_with(std::span<uint8_t> buffer, size_t length, const Key& key,
                 std::span<const uint8_t> previous_mac, bool timers_only, uint64_t now,
                 uint16_t fudge, uint16_t error, std::span<const uint8_t> other, Mac* mac_out) {
    if (length < wire::kHeaderSize || length > buffer.size()) return 0;
    wire::Name key_name, algorithm_name;
    if (!name_of(key.name, key_name) || !name_of(key.algorithm, algorithm_name)) return 0;
    const Algorithm* algorithm = find_algorithm(algorithm_name);
    if (!algorithm) return 0;
    Hmac hmac;
    if (!hmac.start(*algorithm, key)) return 0;
    const Variables variables{&key_name, &algorithm_name, now, fudge, error, other};
    const std::span<const uint8_t> message = buffer.first(length);
    hash_message(hmac, previous_mac, message, read16(message, 0), read16(message, 10), variables,
                 timers_only);
    Mac mac;
    hmac.finish(mac);
    const size_t signed_length = write_record(buffer, length, variables, mac, read16(message, 0));
    if (signed_length != 0 && mac_out) *mac_out = mac;
    return signed_length;
}

// Checks `message` signed with `key` over `previous_mac` (§5.2 order: key, MAC, time,
// truncation). `result` already holds the record's fields.
void check_signature(std::span<const uint8_t> message, const Record& record, const Key& key,
                     std::span<const uint8_t> previous_mac, bool timers_only, uint64_t now,
                     bool is_response, Verification& result) {
    wire::Name key_algorithm;
    const Algorithm* algorithm = find_algorithm(record.algorithm);
    // §5.2.1: a known name with another algorithm, or one we do not implement, is BADKEY.
    if (!algorithm || !name_of(key.algorithm, key_algorithm) ||
        key_algorithm.as_key() != record.algorithm.as_key()) {
        result.verdict = Verdict::bad_key;
        return;
    }
    result.key = &key;
    // §5.3.2: a server's BADKEY and BADSIG answers are unsigned.
    if (is_response && record.error == error::kBadKey) {
        result.verdict = Verdict::bad_key;
        return;
    }
    if (is_response && record.error == error::kBadSig) {
        result.verdict = Verdict::bad_sig;
        return;
    }
    // §5.2.2.1: a MAC longer than the digest, or shorter than the larger of 10 octets and
    // half the digest, is malformed (FORMERR).
    const size_t mac_size = record.mac.size();
    if (mac_size > algorithm->output_size ||
        mac_size < std::max<size_t>(10, algorithm->output_size / 2)) {
        result.verdict = Verdict::malformed;
        return;
    }
    Hmac hmac;
    if (!hmac.start(*algorithm, key)) {
        result.verdict = Verdict::bad_key;  // a key we cannot use is as good as unknown
        return;
    }
    const Variables variables{&record.key_name, &record.algorithm, record.time_signed,
                              record.fudge,     record.error,      record.other};
    hash_message(hmac, previous_mac, message.first(record.offset), record.original_id,
                 static_cast<uint16_t>(read16(message, 10) - 1), variables, timers_only);
    Mac computed;
    hmac.finish(computed);
    // Constant time: how many leading octets match must not show in how long this takes.
    // A truncated MAC is compared over its length (§5.2.2.1 rule 4), then refused below.
    const bool is_match = CRYPTO_memcmp(computed.octets.data(), record.mac.data(), mac_size) == 0;
    OPENSSL_cleanse(computed.octets.data(), computed.octets.size());
    if (!is_match) {
        result.verdict = Verdict::bad_sig;
        return;
    }
    // §5.2.3: the time is checked only once the MAC is known to be good; a signed BADTIME
    // reply from the server is reported as such.
    if (!is_in_time(record.time_signed, record.fudge, now) ||
        (is_response && record.error == error::kBadTime)) {
        result.verdict = Verdict::bad_time;
        return;
    }
    // §5.2.4: our policy is the full MAC; a shorter one is BADTRUNC.
    if (mac_size < algorithm->output_size || (is_response && record.error == error::kBadTrunc)) {
        result.verdict = Verdict::bad_trunc;
        return;
    }
    result.verdict = Verdict::valid;
}

// Reads the record into `result`; false, with the verdict set, when there is nothing to check.
bool read_into(std::span<const uint8_t> message, Record& record, Verification& result) {
    switch (read_record(message, record)) {
        case RecordStatus::absent:
            result.verdict = Verdict::unsigned_message;
            return false;
        case RecordStatus::malformed:
            result.verdict = Verdict::malformed;
            return false;
        case RecordStatus::present:
            break;
    }
    result.key_name = record.key_name;
    result.algorithm = record.algorithm;
    copy_mac(record.mac, result.mac);
    result.time_signed = record.time_signed;
    result.fudge = record.fudge;
    result.original_id = record.original_id;
    result.error = record.error;
    // A MAC longer than any we know cannot be kept, nor be right.
    if (record.mac.size() > kMaxMacSize) {
        result.verdict = Verdict::malformed;
        return false;
    }
    return true;
}

bool is_named(const Key& key, const wire::Name& name) {
    wire::Name key_name;
    return name_of(key.name, key_name) && key_name.as_key() == name.as_key();
}

Verification verify_with(std::span<const uint8_t> message, const Key& key,
                         std::span<const uint8_t> previous_mac, bool timers_only, uint64_t now) {
    Verification result;
    Record record;
    if (!read_into(message, record, result)) return result;
    if (!is_named(key, record.key_name)) {
        result.verdict = Verdict::bad_key;
        return result;
    }
    check_signature(message, record, key, previous_mac, timers_only, now, true, result);
    return result;
}

}  // namespace

RecordStatus read_record(std::span<const uint8_t> m, Record& record) {
    if (m.size() < wire::kHeaderSize) return RecordStatus::malformed;
    const size_t questions = read16(m, 4);
    const size_t answers = read16(m, 6), authorities = read16(m, 8), additionals = read16(m, 10);
    size_t pos = wire::kHeaderSize;
    // Each question takes at least 5 octets and each record 11, so the message size bounds
    // these loops whatever the counts claim.
    for (size_t i = 0; i < questions; ++i) {
        if (!wire::skip_name(m, pos) || m.size() - pos < 4) return RecordStatus::malformed;
        pos += 4;
    }
    const size_t records = answers + authorities + additionals;
    RecordStatus status = RecordStatus::absent;
    for (size_t i = 0; i < records; ++i) {
        const size_t owner_at = pos;
        if (!wire::skip_name(m, pos) || m.size() - pos < 10) return RecordStatus::malformed;
        const uint16_t type = read16(m, pos);
        const uint16_t rclass = read16(m, pos + 2);
        const uint16_t rdlength = read16(m, pos + 8);
        pos += 10;
        if (m.size() - pos < rdlength) return RecordStatus::malformed;
        if (type == wire::type::kTSIG) {
            // §5.1: one TSIG, the last record of the additional section; CLASS ANY (§4.2).
            const bool is_last = i + 1 == records && additionals > 0;
            if (!is_last || rclass != wire::klass::kANY) return RecordStatus::malformed;
            size_t name_at = owner_at;
            if (!wire::read_name(m, name_at, record.key_name)) return RecordStatus::malformed;
            wire::to_lower(record.key_name);
            if (!read_rdata(m, pos, pos + rdlength, record)) return RecordStatus::malformed;
            record.offset = owner_at;
            status = RecordStatus::present;
        }
        pos += rdlength;
    }
    if (pos != m.size()) return RecordStatus::malformed;  // octets after the last record
    return status;
}

std::optional<std::string> algorithm_wire_name(std::string_view configured) {
    std::string name(configured);
    for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (!name.empty() && name.back() == '.') name.pop_back();
    if (name == "hmac-md5") name = "hmac-md5.sig-alg.reg.int";
    name += '.';
    for (const Algorithm& algorithm : kAlgorithms)
        if (name == algorithm.text) return name;
    return std::nullopt;
}

bool is_valid_secret(std::string_view base64) {
    uint8_t secret[kMaxSecretSize];
    const bool is_valid = decode_secret(base64, secret) > 0;
    OPENSSL_cleanse(secret, sizeof secret);
    return is_valid;
}

std::string canonical_key_name(std::string_view name) {
    std::string result(name);
    for (char& c : result) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
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

std::string Verification::key_text() const {
    return key_name.length ? wire::to_text(key_name.view()) : "?";
}

std::optional<Signed> sign(std::span<const uint8_t> message, const Key& key,
                           std::span<const uint8_t> request_mac, uint16_t fudge) {
    if (message.size() < wire::kHeaderSize || message.size() > wire::kMaxMessageSize)
        return std::nullopt;
    Signed result;
    result.message.resize(message.size() + record_size(key));
    std::memcpy(result.message.data(), message.data(), message.size());
    Mac mac;
    const size_t length = sign_in_place(result.message, message.size(), key, request_mac,
                                        current_time(), fudge, &mac);
    if (length == 0) return std::nullopt;
    result.message.resize(length);
    result.mac.assign(mac.octets.begin(), mac.octets.begin() + mac.size);
    return result;
}

size_t sign_in_place(std::span<uint8_t> buffer, size_t length, const Key& key,
                     std::span<const uint8_t> request_mac, uint64_t now, uint16_t fudge, Mac* mac) {
    return sign_with(buffer, length, key, request_mac, false, now, fudge, error::kNone, {}, mac);
}

Verification verify_request(std::span<const uint8_t> message, std::span<const Key> keys,
                            uint64_t now) {
    Verification result;
    Record record;
    if (!read_into(message, record, result)) return result;
    // §5.2.1: a key we do not know is BADKEY.
    const Key* key = nullptr;
    for (const Key& candidate : keys)
        if (is_named(candidate, record.key_name)) {
            key = &candidate;
            break;
        }
    if (!key) {
        result.verdict = Verdict::bad_key;
        return result;
    }
    check_signature(message, record, *key, {}, false, now, false, result);
    return result;
}

Verification verify_response(std::span<const uint8_t> message, const Key& key,
                             std::span<const uint8_t> request_mac, uint64_t now) {
    return verify_with(message, key, request_mac, false, now);
}

size_t append_error_tsig(std::span<uint8_t> buffer, size_t length, const Verification& request,
                         uint64_t now) {
    uint16_t error = error::kNone;
    switch (request.verdict) {
        case Verdict::bad_key:
            error = error::kBadKey;
            break;
        case Verdict::bad_sig:
            error = error::kBadSig;
            break;
        case Verdict::bad_time:
            error = error::kBadTime;
            break;
        case Verdict::bad_trunc:
            error = error::kBadTrunc;
            break;
        default:
            return 0;
    }
    if (length < wire::kHeaderSize || request.key_name.length == 0 || request.algorithm.length == 0)
        return 0;
    if (error == error::kBadKey || error == error::kBadSig) {
        // §5.3.2: an error about the key or the MAC is answered unsigned, with the request's
        // names and times and an empty MAC.
        const Variables variables{
            &request.key_name, &request.algorithm, request.time_signed, request.fudge, error, {}};
        return write_record(buffer, length, variables, {}, read16(buffer, 0));
    }
    // §5.2.3 and §5.3.2: BADTIME and BADTRUNC are signed over the request's MAC, with the
    // request's Time Signed; BADTIME carries our clock in Other Data so the client can see
    // how far apart the clocks are.
    if (!request.key) return 0;
    uint8_t clock[6];
    for (int i = 0; i < 6; ++i) clock[i] = static_cast<uint8_t>(now >> (40 - 8 * i));
    const std::span<const uint8_t> other =
        error == error::kBadTime ? std::span<const uint8_t>(clock) : std::span<const uint8_t>();
    return sign_with(buffer, length, *request.key, request.mac, false, request.time_signed,
                     request.fudge, error, other, nullptr);
}

bool append_error_tsig(std::vector<uint8_t>& response, const Verification& request, uint64_t now) {
    const size_t length = response.size();
    // The request's names, the largest MAC, six octets of Other Data.
    response.resize(length + request.key_name.length + request.algorithm.length + 32 + kMaxMacSize);
    const size_t written = append_error_tsig(response, length, request, now);
    response.resize(written ? written : length);
    return written != 0;
}

StreamSigner::StreamSigner(Key key, std::span<const uint8_t> request_mac, uint16_t fudge)
    : key_(std::move(key)), fudge_(fudge) {
    copy_mac(request_mac, previous_mac_);
}

size_t StreamSigner::sign_next(std::span<uint8_t> buffer, size_t length) {
    Mac mac;
    const size_t signed_length = sign_with(buffer, length, key_, previous_mac_, !is_first_,
                                           current_time(), fudge_, error::kNone, {}, &mac);
    if (signed_length == 0) return 0;
    is_first_ = false;
    previous_mac_ = mac;
    return signed_length;
}

std::optional<std::vector<uint8_t>> StreamSigner::sign_next(std::span<const uint8_t> message) {
    std::vector<uint8_t> buffer(message.size() + record_size(key_));
    std::copy(message.begin(), message.end(), buffer.begin());
    const size_t length = sign_next(buffer, message.size());
    if (length == 0) return std::nullopt;
    buffer.resize(length);
    return buffer;
}

StreamVerifier::StreamVerifier(Key key, std::span<const uint8_t> request_mac)
    : key_(std::move(key)) {
    copy_mac(request_mac, previous_mac_);
}

Verification StreamVerifier::verify_next(std::span<const uint8_t> message, uint64_t now) {
    Verification result = verify_with(message, key_, previous_mac_, !is_first_, now);
    if (result.verdict == Verdict::valid) {
        is_first_ = false;
        previous_mac_ = result.mac;
    }
    return result;
}

size_t record_size(const Key& key) {
    wire::Name key_name, algorithm_name;
    const bool has_names = name_of(key.name, key_name) && name_of(key.algorithm, algorithm_name);
    const Algorithm* algorithm = has_names ? find_algorithm(algorithm_name) : nullptr;
    const size_t mac = algorithm ? algorithm->output_size : kMaxMacSize;
    // owner, type/class/TTL/rdlength, algorithm, time 6, fudge 2, MAC size 2, MAC,
    // original id 2, error 2, other length 2.
    return (has_names ? key_name.length + algorithm_name.length : 2 * wire::kMaxNameLength) + 10 +
           16 + mac;
}

uint64_t current_time() {
    return static_cast<uint64_t>(std::time(nullptr));
}

}  // namespace meridian::server::tsig
