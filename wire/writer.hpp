// Writing a response into a caller-owned buffer: header, question, resource records with
// name compression, and the OPT record. Whole RRsets either fit or are rolled back, so the
// caller can truncate at an RRset boundary (RFC 2181 §9). No allocation.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "wire/query.hpp"

namespace meridian::wire {

enum class Section : uint8_t { answer = 0, authority = 1, additional = 2 };

class MessageWriter {
  public:
    // `limit` is the largest message the transport allows (UDP payload or 65535 for TCP).
    MessageWriter(std::span<uint8_t> buffer, size_t limit);

    // Writes the header (id, opcode and RD copied, QR set; CD and AD clear) and, when the query had
    // a parsed question, the question with the name exactly as sent (RFC 1034 §4.3.1).
    bool begin_response(const Query& query);

    void set_rcode(uint16_t rcode);  // values > 15 go to the OPT's extended bits
    uint16_t rcode() const { return rcode_; }
    void set_authoritative(bool aa);
    void set_truncated();
    bool is_truncated() const;

    // Keeps `bytes` octets free at the end for a record written later (the OPT record).
    void reserve(size_t bytes);
    void release(size_t bytes);

    // Appends one resource record; the owner and the names inside the RDATA of the types
    // RFC 3597 §4 allows are compressed. Returns false, writing nothing, when it does not fit.
    bool add_record(Section section, std::span<const uint8_t> owner, uint16_t type, uint16_t rclass,
                    uint32_t ttl, std::span<const uint8_t> rdata);

    // Position markers for rolling back a partly written RRset.
    struct Mark {
        size_t size;
        uint16_t counts[3];
        uint16_t compression_entries;
    };
    Mark mark() const;
    void rollback(const Mark& mark);

    // Appends an OPT record (RFC 6891 §6.1.2) carrying the extended rcode bits; `options` is
    // the already encoded option list. Uses reserved room first.
    bool add_opt(uint16_t udp_payload, bool dnssec_ok, std::span<const uint8_t> options);

    uint16_t count(Section section) const { return counts_[static_cast<int>(section)]; }
    size_t size() const { return size_; }
    // Patches the header counts and flags; returns the message length.
    size_t finish();

  private:
    bool write_name(std::span<const uint8_t> name, bool compress);
    bool fits(size_t bytes) const { return size_ + bytes + reserved_ <= limit_; }
    void put16(uint16_t value);
    void put32(uint32_t value);
    void remember_name(size_t offset, std::span<const uint8_t> name);
    size_t find_suffix(std::span<const uint8_t> suffix) const;

    uint8_t* buffer_;
    size_t capacity_;
    size_t limit_;
    size_t size_ = 0;
    size_t reserved_ = 0;
    uint16_t counts_[3] = {0, 0, 0};
    uint16_t rcode_ = 0;
    bool has_opt_ = false;
    size_t opt_ttl_at_ = 0;

    // Offsets of names already in the message that later names may point to. A small fixed
    // table: a response names few distinct owners, and a miss only costs a few octets.
    static constexpr size_t kMaxCompressionEntries = 48;
    uint16_t compression_offsets_[kMaxCompressionEntries];
    uint16_t compression_entries_ = 0;
    // The owner of the last record and where it can be pointed to: the records of an RRset
    // and its RRSIGs share one, which then costs a compare instead of a search of the
    // compression table. Cleared by rollback (the octets it points to may be gone).
    uint8_t last_owner_[kMaxNameLength];
    uint8_t last_owner_length_ = 0;
    uint16_t last_owner_offset_ = 0;
    // Set by write_name: where the name just written can be pointed to (not a bare pointer).
    size_t written_name_at_ = 0;
};

}  // namespace meridian::wire
