// Zone transfers out and TSIG-signed messages: what the plain answer path defers
// (zones::Deferral). Checks the request's TSIG (RFC 8945) and the zone's transfer ACL, then
// answers with one message or a stream of them (AXFR, RFC 5936; IXFR, RFC 1995), each signed
// when the request was. Not the hot path: this allocates, parses with ldns, and logs.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "server/transfer/exchange.hpp"
#include "server/transfer/tsig.hpp"
#include "zones/ixfr_stream.hpp"
#include "zones/responder.hpp"
#include "zones/snapshot.hpp"
#include "zones/transfer.hpp"

namespace meridian::server {

// The messages of one answer, produced one at a time as the transport can take them. It
// holds the zone version (and the differences) it answers from, so a reload meanwhile does
// not change what the client receives (RFC 5936 §6), and the snapshot itself is not held.
class ResponseStream final : public MessageStream {
  public:
    explicit ResponseStream(size_t limit) : limit_(limit) {}

    // Writes the next message into `buffer` (at least `limit` octets); returns its length,
    // or 0 once every message has been written (or one could not be signed).
    size_t next(std::span<uint8_t> buffer) override;

    // What the answer is made of; used while it is being set up.
    void add_message(std::vector<uint8_t> message, bool is_signable = true);
    void set_axfr(std::unique_ptr<zones::AxfrStream> axfr) { axfr_ = std::move(axfr); }
    void set_ixfr(std::unique_ptr<zones::IxfrStream> ixfr) { ixfr_ = std::move(ixfr); }
    void set_signer(tsig::StreamSigner signer) { signer_.emplace(std::move(signer)); }

  private:
    struct Ready {
        std::vector<uint8_t> message;
        bool is_signable;
    };
    size_t limit_;
    std::vector<Ready> ready_;
    size_t ready_sent_ = 0;
    std::unique_ptr<zones::AxfrStream> axfr_;
    std::unique_ptr<zones::IxfrStream> ixfr_;
    std::optional<tsig::StreamSigner> signer_;
    std::vector<uint8_t> scratch_;
    bool has_failed_ = false;
};

// The answer to a message respond() deferred. Over UDP only the first message is sent:
// AXFR is REFUSED there (RFC 5936 §4.2 defines AXFR over TCP only) and IXFR gets the current
// SOA alone, which tells a client that is behind to come back over TCP (RFC 1995 §2). Null
// when the message is to be dropped. `now` is seconds since the epoch, for TSIG.
std::unique_ptr<ResponseStream> answer_deferred(const zones::Snapshot& snapshot,
                                                std::span<const uint8_t> message,
                                                const zones::QueryOrigin& origin, uint64_t now);

}  // namespace meridian::server
