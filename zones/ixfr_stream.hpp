// An incremental zone transfer (RFC 1995 §4) as a stream of response messages: the current
// SOA, then for each difference the old SOA, the records removed, the new SOA, the records
// added, and the current SOA again. Like AxfrStream, one message at a time into one buffer.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "wire/query.hpp"
#include "zones/zone_diff.hpp"

namespace meridian::zones {

class IxfrStream {
  public:
    // `diffs` lead from the client's version to the current one, in order (non-empty).
    IxfrStream(std::vector<std::shared_ptr<const ZoneDiff>> diffs, const wire::Query& query);

    // Writes the next message (at most `limit` octets); returns its length, or 0 once the
    // closing SOA has been sent. Only the first message carries the question. A record too
    // large for any message ends the stream with one SERVFAIL message.
    size_t next(std::span<uint8_t> buffer, size_t limit = 65535);
    bool is_done() const { return position_ >= records_.size(); }

  private:
    std::vector<std::shared_ptr<const ZoneDiff>> diffs_;  // keeps records_ valid
    std::vector<const DiffRecord*> records_;              // the whole answer, in order
    wire::Query query_;
    size_t position_ = 0;
    bool is_first_message_ = true;
};

}  // namespace meridian::zones
