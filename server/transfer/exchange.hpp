// One message in, its answer out, for either transport: the plain answer path
// (zones::respond) first, TSIG-signed messages verified and signed in place, and allowed
// zone transfers handed to transfer_out as streams. This is all the front end sees of
// transfers: no TSIG, no ldns.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>

#include "zones/responder.hpp"
#include "zones/snapshot.hpp"

namespace meridian::server {

// The rest of a multi-message answer (AXFR or IXFR over TCP), written as the transport can
// take it. It holds the zone version it answers from, never the snapshot.
class MessageStream {
  public:
    virtual ~MessageStream() = default;
    // Writes the next message into `buffer`; returns its length, or 0 when there is none.
    virtual size_t next(std::span<uint8_t> buffer) = 0;
};

// Answers `message` into `response` and fills `summary` for the counters; returns the
// answer's length, 0 when it is dropped. Everything but an allowed transfer stays on the
// allocation-free path: plain queries, refusals, TSIG verification and its error answers,
// signed answers. With `rest` (TCP), an answer of several messages leaves its stream there
// after the first message; without it (UDP) only one message is ever written. Incidents
// (summary.incident) are counted in this thread's incident table for the log summary.
size_t answer_message(const zones::Snapshot& snapshot, std::span<const uint8_t> message,
                      std::span<uint8_t> response, const zones::QueryOrigin& origin,
                      zones::AnswerSummary& summary, std::unique_ptr<MessageStream>* rest);

// Writes the summary of the incidents this thread's answers met in the last `seconds` to
// the log ("1,234 transfer refusals from 203.0.113.0/24 in the last 10 s"), through the
// background writer, and starts a new period. Each worker's timer calls it.
void log_incident_summary(unsigned seconds);

}  // namespace meridian::server
