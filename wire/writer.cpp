// Writing a response: header, question, records with name compression, and the OPT record.
#include "wire/writer.hpp"

#include <cassert>
#include <cstring>

#include "wire/constants.hpp"

namespace meridian::wire {

namespace {

inline uint8_t lower(uint8_t c) {
    return (c >= 'A' && c <= 'Z') ? c + ('a' - 'A') : c;
}

// RFC 3597 §4: only the RDATA names of the RFC 1035 types may be compressed. Returns the
// number of leading names, after `skip` fixed octets, that are compressible.
struct RdataLayout {
    uint8_t fixed_prefix;  // octets before the first name
    uint8_t names;         // consecutive names after the prefix
};

RdataLayout compressible_layout(uint16_t type) {
    switch (type) {
        case type::kNS:
        case type::kCNAME:
        case type::kPTR:
        case 3:  // MD
        case 4:  // MF
        case 7:  // MB
        case 8:  // MG
        case 9:  // MR
            return {0, 1};
        case type::kSOA:
        case 14:  // MINFO
            return {0, 2};
        case type::kMX:
            return {2, 1};
        default:
            return {0, 0};
    }
}

// Length of an uncompressed name at the start of `bytes`, or 0 if it is not one.
size_t uncompressed_name_length(std::span<const uint8_t> bytes) {
    size_t i = 0;
    while (i < bytes.size()) {
        const uint8_t length = bytes[i];
        if (length & 0xC0) return 0;
        i += 1 + size_t(length);
        if (i > kMaxNameLength) return 0;
        if (length == 0) return i;
    }
    return 0;
}

}  // namespace

MessageWriter::MessageWriter(std::span<uint8_t> buffer, size_t limit)
    : buffer_(buffer.data()),
      capacity_(buffer.size()),
      limit_(limit < buffer.size() ? limit : buffer.size()) {}

void MessageWriter::put16(uint16_t value) {
    buffer_[size_++] = static_cast<uint8_t>(value >> 8);
    buffer_[size_++] = static_cast<uint8_t>(value);
}

void MessageWriter::put32(uint32_t value) {
    put16(static_cast<uint16_t>(value >> 16));
    put16(static_cast<uint16_t>(value));
}

bool MessageWriter::begin_response(const Query& query) {
    if (limit_ < kHeaderSize) return false;
    size_ = 0;
    compression_entries_ = 0;
    last_owner_length_ = 0;
    put16(query.id);
    buffer_[size_++] =
        static_cast<uint8_t>(0x80 | (query.opcode << 3) | (query.recursion_desired ? 0x01 : 0));
    // RA, AD and CD clear: RFC 4035 §3.1.6 asks an authoritative server to clear CD (it
    // validates nothing), as Knot does, and never to set AD for its own data.
    buffer_[size_++] = 0;
    std::memset(buffer_ + size_, 0, 8);
    size_ += 8;
    if (!query.has_question) return true;
    const auto qname = query.qname.view();
    if (!fits(qname.size() + 4)) return false;
    remember_name(size_, qname);
    std::memcpy(buffer_ + size_, qname.data(), qname.size());
    size_ += qname.size();
    put16(query.qtype);
    put16(query.qclass);
    buffer_[5] = 1;  // QDCOUNT
    return true;
}

void MessageWriter::set_rcode(uint16_t rcode) {
    rcode_ = rcode;
}

void MessageWriter::set_authoritative(bool aa) {
    if (aa)
        buffer_[2] |= 0x04;
    else
        buffer_[2] &= static_cast<uint8_t>(~0x04);
}

void MessageWriter::set_truncated() {
    buffer_[2] |= 0x02;
}
bool MessageWriter::is_truncated() const {
    return (buffer_[2] & 0x02) != 0;
}

void MessageWriter::reserve(size_t bytes) {
    reserved_ += bytes;
}
void MessageWriter::release(size_t bytes) {
    reserved_ = bytes > reserved_ ? 0 : reserved_ - bytes;
}

void MessageWriter::remember_name(size_t offset, std::span<const uint8_t> name) {
    // Every label start is a possible pointer target; offsets past 14 bits cannot be used.
    size_t i = 0;
    while (i < name.size() && name[i] != 0) {
        if (offset + i >= 0x4000 || compression_entries_ == kMaxCompressionEntries) return;
        compression_offsets_[compression_entries_++] = static_cast<uint16_t>(offset + i);
        i += 1 + size_t(name[i]);
    }
}

// Finds an earlier occurrence of `suffix` in the message; returns its offset or 0.
size_t MessageWriter::find_suffix(std::span<const uint8_t> suffix) const {
    for (uint16_t e = 0; e < compression_entries_; ++e) {
        size_t at = compression_offsets_[e];
        size_t i = 0;
        bool match = true;
        // Walk the stored name (following pointers, which always point backwards).
        for (size_t hops = 0; hops < 128; ++hops) {
            uint8_t length = buffer_[at];
            if ((length & 0xC0) == 0xC0) {
                at = (size_t(length & 0x3F) << 8) | buffer_[at + 1];
                continue;
            }
            if (i >= suffix.size() || suffix[i] != length) {
                match = false;
                break;
            }
            if (length == 0) break;
            for (size_t k = 1; k <= length; ++k) {
                if (lower(buffer_[at + k]) != lower(suffix[i + k])) {
                    match = false;
                    break;
                }
            }
            if (!match) break;
            at += 1 + size_t(length);
            i += 1 + size_t(length);
        }
        if (match && i + 1 == suffix.size()) return compression_offsets_[e];
    }
    return 0;
}

bool MessageWriter::write_name(std::span<const uint8_t> name, bool compress) {
    const size_t start = size_;
    size_t i = 0;
    while (i < name.size() && name[i] != 0) {
        if (compress) {
            const size_t target = find_suffix(name.subspan(i));
            if (target != 0) {
                if (!fits(i + 2)) return false;
                written_name_at_ = i == 0 ? target : start;
                std::memcpy(buffer_ + size_, name.data(), i);
                size_ += i;
                put16(static_cast<uint16_t>(0xC000 | target));
                remember_name(start, name.first(i));
                return true;
            }
        }
        i += 1 + size_t(name[i]);
    }
    if (!fits(name.size())) return false;
    std::memcpy(buffer_ + size_, name.data(), name.size());
    size_ += name.size();
    written_name_at_ = start;
    if (compress) remember_name(start, name);
    return true;
}

MessageWriter::Mark MessageWriter::mark() const {
    return {size_, {counts_[0], counts_[1], counts_[2]}, compression_entries_};
}

void MessageWriter::rollback(const Mark& mark) {
    size_ = mark.size;
    for (int s = 0; s < 3; ++s) counts_[s] = mark.counts[s];
    compression_entries_ = mark.compression_entries;
    last_owner_length_ = 0;
}

bool MessageWriter::add_record(Section section, std::span<const uint8_t> owner, uint16_t type,
                               uint16_t rclass, uint32_t ttl, std::span<const uint8_t> rdata) {
    const Mark before = mark();
    auto fail = [&] {
        rollback(before);
        return false;
    };
    if (last_owner_length_ == owner.size() &&
        std::memcmp(last_owner_, owner.data(), owner.size()) == 0) {
        if (!fits(2)) return fail();
        put16(static_cast<uint16_t>(0xC000 | last_owner_offset_));
    } else {
        if (!write_name(owner, true)) return fail();
        // RFC 1035 §4.1.4: a pointer has 14 bits of offset.
        if (written_name_at_ < 0x4000 && owner.size() > 1) {
            std::memcpy(last_owner_, owner.data(), owner.size());
            last_owner_length_ = static_cast<uint8_t>(owner.size());
            last_owner_offset_ = static_cast<uint16_t>(written_name_at_);
        }
    }
    if (!fits(10)) return fail();
    put16(type);
    put16(rclass);
    put32(ttl);
    const size_t rdlength_at = size_;
    size_ += 2;

    const RdataLayout layout = compressible_layout(type);
    size_t consumed = 0;
    if (layout.names > 0 && rdata.size() >= layout.fixed_prefix) {
        if (!fits(layout.fixed_prefix)) return fail();
        std::memcpy(buffer_ + size_, rdata.data(), layout.fixed_prefix);
        size_ += layout.fixed_prefix;
        consumed = layout.fixed_prefix;
        for (uint8_t n = 0; n < layout.names; ++n) {
            const size_t length = uncompressed_name_length(rdata.subspan(consumed));
            if (length == 0) return fail();  // zone data is validated; never expected
            if (!write_name(rdata.subspan(consumed, length), true)) return fail();
            consumed += length;
        }
    }
    const size_t rest = rdata.size() - consumed;
    if (!fits(rest)) return fail();
    std::memcpy(buffer_ + size_, rdata.data() + consumed, rest);
    size_ += rest;
    const size_t rdlength = size_ - rdlength_at - 2;
    buffer_[rdlength_at] = static_cast<uint8_t>(rdlength >> 8);
    buffer_[rdlength_at + 1] = static_cast<uint8_t>(rdlength);
    ++counts_[static_cast<int>(section)];
    return true;
}

bool MessageWriter::add_opt(uint16_t udp_payload, bool dnssec_ok,
                            std::span<const uint8_t> options) {
    const size_t needed = 11 + options.size();
    release(needed);
    if (!fits(needed)) return false;
    buffer_[size_++] = 0;  // root owner
    put16(type::kOPT);
    put16(udp_payload);
    opt_ttl_at_ = size_;
    put32(dnssec_ok ? 0x8000 : 0);  // extended rcode and version 0 patched in finish()
    put16(static_cast<uint16_t>(options.size()));
    // memcpy's source must not be null even for zero bytes (BADVERS passes no options).
    if (!options.empty()) std::memcpy(buffer_ + size_, options.data(), options.size());
    size_ += options.size();
    ++counts_[static_cast<int>(Section::additional)];
    has_opt_ = true;
    return true;
}

size_t MessageWriter::finish() {
    buffer_[3] = static_cast<uint8_t>((buffer_[3] & 0xF0) | (rcode_ & 0x0F));
    if (has_opt_) buffer_[opt_ttl_at_] = static_cast<uint8_t>(rcode_ >> 4);
    for (int s = 0; s < 3; ++s) {
        buffer_[6 + 2 * s] = static_cast<uint8_t>(counts_[s] >> 8);
        buffer_[7 + 2 * s] = static_cast<uint8_t>(counts_[s]);
    }
    return size_;
}

}  // namespace meridian::wire
