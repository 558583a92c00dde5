// The one exchange both transports call.
#include "server/transfer/exchange.hpp"

#include "server/transfer/transfer_out.hpp"
#include "server/transfer/tsig.hpp"
#include "wire/constants.hpp"

namespace meridian::server {

namespace {

// A deferred answer was written by transfer_out, not by respond(): read what the counters
// need back from its header.
void summarize_written_answer(zones::AnswerSummary& summary, std::span<const uint8_t> response) {
    summary.is_answered = response.size() >= wire::kHeaderSize;
    if (!summary.is_answered) return;
    summary.rcode = response[3] & 0x0F;
    summary.is_truncated = (response[2] & 0x02) != 0;
}

}  // namespace

size_t answer_message(const zones::Snapshot& snapshot, std::span<const uint8_t> message,
                      std::span<uint8_t> response, const zones::QueryOrigin& origin,
                      zones::AnswerSummary& summary, std::unique_ptr<MessageStream>* rest) {
    zones::Deferral deferred = zones::Deferral::none;
    const size_t length = zones::respond(snapshot, message, response, origin, summary, &deferred);
    if (deferred == zones::Deferral::none) return length;
    // Transfers and signed messages: off the plain path. The first message now; over TCP the
    // rest as the socket drains.
    std::unique_ptr<MessageStream> stream =
        answer_deferred(snapshot, message, origin, tsig::current_time());
    const size_t written = stream ? stream->next(response) : 0;
    summarize_written_answer(summary, response.first(written));
    if (rest && written > 0) *rest = std::move(stream);
    return written;
}

}  // namespace meridian::server
