// Zone transfers out: the stream of messages of an AXFR (RFC 5936) or IXFR (RFC 1995) that
// the plain answer path found allowed (zones::Deferral::transfer, over TCP only), each
// message signed when the request was (RFC 8945 §5.3.1). Refusals never get here: respond()
// answers them without allocating.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>

#include "server/transfer/exchange.hpp"
#include "server/transfer/tsig.hpp"
#include "zones/ixfr_stream.hpp"
#include "zones/responder.hpp"
#include "zones/snapshot.hpp"
#include "zones/transfer.hpp"

namespace meridian::server {

// The messages of one transfer, produced one at a time as the transport can take them. It
// holds the zone version (and the differences) it answers from, so a reload meanwhile does
// not change what the client receives (RFC 5936 §6), and the snapshot itself is not held.
class ResponseStream final : public MessageStream {
  public:
    // Writes the next message into `buffer` (up to 65535 octets); returns its length, or 0
    // once every message has been written (or one could not be signed).
    size_t next(std::span<uint8_t> buffer) override;

    void set_axfr(std::unique_ptr<zones::AxfrStream> axfr) { axfr_ = std::move(axfr); }
    void set_ixfr(std::unique_ptr<zones::IxfrStream> ixfr) { ixfr_ = std::move(ixfr); }
    void set_signer(tsig::StreamSigner signer, size_t record_size) {
        signer_.emplace(std::move(signer));
        tsig_room_ = record_size;
    }

  private:
    std::unique_ptr<zones::AxfrStream> axfr_;
    std::unique_ptr<zones::IxfrStream> ixfr_;
    std::optional<tsig::StreamSigner> signer_;
    size_t tsig_room_ = 0;
    bool has_failed_ = false;
};

// The stream answering `message`, a transfer respond() deferred: the differences since the
// client's serial (IXFR, when the history has them) or the whole zone. `signature` is the
// request's verified TSIG, or null when it was unsigned. Null when the zone is gone. Logs one
// line per transfer, through the log's background writer.
std::unique_ptr<ResponseStream> start_transfer(const zones::Snapshot& snapshot,
                                               std::span<const uint8_t> message,
                                               const zones::QueryOrigin& origin,
                                               const tsig::Verification* signature);

}  // namespace meridian::server
