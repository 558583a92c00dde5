// The whole answer path on byte buffers: query bytes in, response bytes out. This is what
// the server's workers call and what the unit tests and fuzzers drive directly.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "wire/query.hpp"
#include "zones/snapshot.hpp"

namespace meridian::zones {

enum class Transport : uint8_t { udp, tcp };

// Who asked and how; the client address is what GeoDNS steers on when no ECS is present.
struct QueryOrigin {
    Transport transport = Transport::udp;
    const geoip::Address* client = nullptr;  // may be null (tests)
};

// Messages respond() leaves to its caller when asked to: zone transfers (AXFR, IXFR) and
// TSIG-signed messages, which need keys, ACLs and multi-message streams
// (server/transfer/transfer_out).
enum class Deferral : uint8_t { none, transfer, signed_message };

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
};

// Writes the response into `response` (which must hold 65535 octets for TCP, and at least
// the configured UDP payload for UDP). Returns its length, or 0 when the query must be
// dropped without an answer. Never throws, never allocates. With `deferred`, a transfer or
// signed message is not answered (0) and `*deferred` says which; without it, transfers
// are REFUSED and signed queries answered unsigned.
size_t respond(const Snapshot& snapshot, std::span<const uint8_t> query,
               std::span<uint8_t> response, const QueryOrigin& origin, AnswerSummary& summary,
               Deferral* deferred = nullptr);
size_t respond(const Snapshot& snapshot, std::span<const uint8_t> query,
               std::span<uint8_t> response, const QueryOrigin& origin,
               Deferral* deferred = nullptr);

}  // namespace meridian::zones
