// A zone as a stream of AXFR response messages (RFC 5936 §2.2): the SOA, every other record,
// the SOA again, packed into as few messages as the size limit allows. Transport-neutral:
// the TCP layer asks for one message at a time and writes it out before asking again, so a
// transfer of any size needs one message buffer, and a slow client never piles up memory.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>

#include "wire/query.hpp"
#include "wire/writer.hpp"
#include "zones/zone.hpp"

namespace meridian::zones {

// Starts one message of a transfer stream (AXFR or IXFR): an authoritative response whose
// question appears in the first message only (RFC 5936 §2.2.1). Clears `is_first`; returns
// the header written, for an error message that replaces this one.
wire::Query begin_stream_message(wire::MessageWriter& writer, const wire::Query& query,
                                 bool& is_first);

class AxfrStream {
  public:
    // Holds `zone` for the whole transfer, so a reload that replaces it meanwhile does not
    // change what this client receives (RFC 5936 §6: one consistent version).
    AxfrStream(std::shared_ptr<const Zone> zone, const wire::Query& query);

    // Writes the next message into `buffer` (at most `limit` octets, 65535 for TCP); returns
    // its length, or 0 once the closing SOA has been sent. Only the first message repeats
    // the question (§2.2.1). A record too large for any message ends the stream with one
    // SERVFAIL message (§2.2.1: the transfer must then be abandoned).
    size_t next(std::span<uint8_t> buffer, size_t limit = 65535);
    bool is_done() const { return stage_ == Stage::done; }

  private:
    enum class Stage { first_soa, records, last_soa, done };
    // Writes the record under the cursor; false when it did not fit.
    bool write_current(wire::MessageWriter& writer);
    void advance();
    // Puts the record cursor on the first record of the RRset under rrset_, if any.
    void enter_rrset();

    std::shared_ptr<const Zone> zone_;
    wire::Query query_;
    bool is_first_message_ = true;
    Stage stage_ = Stage::first_soa;
    using NodeIterator = decltype(std::declval<const Zone&>().nodes().begin());
    NodeIterator node_;
    // Counts two places per RRset: 2k is the node's RRset k, 2k + 1 its RRSIGs (none when
    // unsigned), so a signed zone's signatures go out beside what they cover.
    size_t rrset_ = 0;
    // A cursor into the RRset, kept between messages: RdataList is a packed list, and
    // indexing it walks from the first record, which made a large RRset quadratic.
    RdataList::iterator rdata_;
};

}  // namespace meridian::zones
