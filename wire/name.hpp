// Domain names in uncompressed wire form: reading from a message (with decompression),
// case folding, comparison, and conversion to and from presentation text.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace meridian::wire {

inline constexpr size_t kMaxNameLength = 255;  // RFC 1035 §2.3.4, including length octets
inline constexpr size_t kMaxLabelLength = 63;

// A name in uncompressed wire form in a fixed buffer, so the query path never allocates.
struct Name {
    uint8_t bytes[kMaxNameLength];
    uint8_t length = 0;  // total octets, including the final root label; 0 means unset

    std::span<const uint8_t> view() const { return {bytes, length}; }
    std::string_view as_key() const { return {reinterpret_cast<const char*>(bytes), length}; }
};

// Reads a possibly compressed name starting at `pos` of a DNS message (header included).
// On success `out` holds the uncompressed name and `pos` points just past the name's
// in-place octets (a pointer counts two octets). Refuses names longer than 255 octets, labels
// with reserved type bits, pointers that do not point strictly backwards (which also makes
// loops impossible) or point into the header, and reads past the end.
bool read_name(std::span<const uint8_t> message, size_t& pos, Name& out);

// Skips a possibly compressed name without copying it, under read_name's checks: pointers
// are followed, so one leading forward, out of bounds or to a malformed name is refused.
bool skip_name(std::span<const uint8_t> message, size_t& pos);

// ASCII lowercasing of every label octet (RFC 4343: only A-Z fold).
void to_lower(std::span<const uint8_t> name, uint8_t* out);
void to_lower(Name& name);

// Number of labels, not counting the root: "www.example.com." has 3.
size_t count_labels(std::span<const uint8_t> name);

// Offset of the suffix that keeps the last `labels` labels (not counting root).
size_t suffix_offset(std::span<const uint8_t> name, size_t labels);

// True when `name` equals `ancestor` or lies below it. Both must already be lowercase.
bool is_subdomain(std::span<const uint8_t> name, std::span<const uint8_t> ancestor);

// The canonical order of RFC 4034 §6.1 (labels compared from the rightmost, each as
// unsigned octets, a shorter label first): <0, 0 or >0. Both must already be lowercase.
// No allocation: NSEC proofs search a zone's names in this order per query.
int canonical_compare(std::span<const uint8_t> a, std::span<const uint8_t> b);

// The wildcard "*.<name>" (RFC 4592 §2.1.1) written into `out`; empty when it would be longer
// than a name may be.
std::span<const uint8_t> wildcard_of(std::span<const uint8_t> name, uint8_t (&out)[kMaxNameLength]);

// Case-insensitive equality of two uncompressed names.
bool equal_ignoring_case(std::span<const uint8_t> a, std::span<const uint8_t> b);

// Presentation form with a trailing dot, escaping per RFC 1035 §5.1 ("." for the root).
std::string to_text(std::span<const uint8_t> name);

// Parses an absolute presentation name ("example.com." or "example.com"; "\." and "\DDD"
// escapes). Returns false on malformed or over-long names.
bool from_text(std::string_view text, Name& out);

// Convenience for tests and load-time code: wire form as a std::string (no validation
// beyond from_text's); empty on error.
std::string wire_from_text(std::string_view text);

}  // namespace meridian::wire
