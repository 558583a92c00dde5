// The whole answer path on byte buffers: query bytes in, response bytes out. This is what
// the server's workers call and what the unit tests and fuzzers drive directly.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

#include "wire/query.hpp"
#include "zones/snapshot.hpp"

namespace meridian::zones {

enum class Transport : uint8_t { udp, tcp };

// A query whose TSIG (RFC 8945) the server has verified (server/transfer/tsig): the key that
// signed it, which the transfer ACL matches on, and the room its answer's TSIG record takes.
struct VerifiedSignature {
    std::string_view key_name;  // canonical: "transfer-key."
    size_t record_size = 0;     // octets kept free at the end of the answer
};

// Who asked and how; the client address is what GeoDNS steers on when no ECS is present.
struct QueryOrigin {
    Transport transport = Transport::udp;
    const geoip::Address* client = nullptr;        // may be null (tests)
    const VerifiedSignature* signature = nullptr;  // null: unsigned, or not verified yet
};

// Messages respond() leaves to its caller when asked to: TSIG-signed messages not verified
// yet (keys live in server/transfer/tsig), and zone transfers the ACL allows over TCP, which
// are streams of messages (server/transfer/transfer_out). Everything else, refusals of
// transfers included, respond() answers itself.
enum class Deferral : uint8_t { none, transfer, signed_message };

// What the server counts, and summarizes in its log, instead of logging each one: a hostile
// flood of them must cost no more than answering it (server/system/log).
enum class Incident : uint8_t {
    none,
    transfer_refused,  // AXFR or IXFR answered REFUSED or NOTAUTH
    tsig_bad_key,      // RFC 8945 §5.2.1
    tsig_bad_sig,      // §5.2.2
    tsig_bad_time,     // §5.2.3
    tsig_bad_trunc,    // §5.2.4
    tsig_malformed,    // a TSIG record that cannot be read: FORMERR (§5.2)
};
inline constexpr size_t kIncidents = 7;

// What the server's metrics count about one exchange, filled in while answering so nothing
// has to parse the packets again.
struct AnswerSummary {
    uint16_t qtype = 0;                              // 0 when the question could not be read
    uint16_t rcode = 0;                              // the full rcode, BADVERS (16) included
    bool is_answered = false;                        // false: dropped without an answer
    bool has_client_subnet = false;                  // the query carried an ECS option (RFC 7871)
    bool is_truncated = false;                       // the answer has TC set
    SteeringSource steering = SteeringSource::none;  // none: no steered name was answered
    uint16_t pool_slot = 0;  // PoolState::slot() of the answering pool, unless fallback
    Incident incident = Incident::none;
};

// Writes the response into `response` (which must hold 65535 octets for TCP, and at least
// the configured UDP payload for UDP). Returns its length, or 0 when the query must be
// dropped without an answer. Never throws, never allocates. With `deferred`, a transfer to
// stream or a signed message to verify is not answered (0) and `*deferred` says which;
// without it, such transfers are REFUSED and signed queries answered unsigned. With
// `origin.signature`, the answer leaves room for its TSIG record and the ACL sees the key.
//
// Transfers (RFC 5936, RFC 1995): a zone not served at exactly that apex is NOTAUTH, a client
// the zone's allow_transfer does not name is REFUSED; over UDP, AXFR is REFUSED (§4.2) and
// IXFR gets the current SOA alone (RFC 1995 §2); over TCP, an IXFR without the client's SOA
// is FORMERR, and a client as new as we are gets the SOA alone.
size_t respond(const Snapshot& snapshot, std::span<const uint8_t> query,
               std::span<uint8_t> response, const QueryOrigin& origin, AnswerSummary& summary,
               Deferral* deferred = nullptr);
size_t respond(const Snapshot& snapshot, std::span<const uint8_t> query,
               std::span<uint8_t> response, const QueryOrigin& origin,
               Deferral* deferred = nullptr);

// An error answer with `rcode` to `query`: header and question, and an OPT when the query
// had one (RFC 6891 §7), with `reserved` octets left free within the transport's limit for a
// record the caller appends (a TSIG error record). Returns 0 when the query is to be dropped.
// Never allocates.
size_t respond_with_error(const Snapshot& snapshot, std::span<const uint8_t> query,
                          std::span<uint8_t> response, const QueryOrigin& origin, uint16_t rcode,
                          size_t reserved, AnswerSummary& summary);

// RFC 1995 §3: the serial of the SOA in the authority section of an IXFR query, the version
// the client has; nullopt when there is none or the message cannot be read. Never allocates.
std::optional<uint32_t> ixfr_client_serial(std::span<const uint8_t> query);

}  // namespace meridian::zones
