// Domain names in uncompressed wire form: decompression, case folding, comparison, text.
#include "wire/name.hpp"

#include <algorithm>
#include <cstdio>
#include <cstring>

#include "wire/constants.hpp"

namespace meridian::wire {

namespace {

inline uint8_t lower(uint8_t c) {
    return (c >= 'A' && c <= 'Z') ? c + ('a' - 'A') : c;
}

}  // namespace

namespace {

// The one walk over a possibly compressed name that reading and skipping share, so a record
// skipped after the question is held to the same rules as the question's name. Copies the
// uncompressed name into `out` unless it is null; sets `length` to its size and `pos` just
// past the name's octets in place (a pointer counts two).
bool walk_name(std::span<const uint8_t> message, size_t& pos, uint8_t* out, size_t& length) {
    size_t cursor = pos;
    size_t written = 0;
    bool jumped = false;
    // A pointer must point strictly before the label it is read from, so every jump moves
    // backwards and the walk ends (RFC 1035 §4.1.4 allows only "a prior occurrence"). The
    // header holds no name, so a pointer into it is malformed too, even where its octets
    // would read as one (an ID of 0x0000 is the root name).
    size_t lowest_jump_origin = cursor;
    for (;;) {
        if (cursor >= message.size()) return false;
        const uint8_t label = message[cursor];
        if ((label & 0xC0) == 0xC0) {
            if (cursor + 1 >= message.size()) return false;
            const size_t target = (size_t(label & 0x3F) << 8) | message[cursor + 1];
            if (target >= lowest_jump_origin || target < kHeaderSize) return false;
            if (!jumped) pos = cursor + 2;
            jumped = true;
            lowest_jump_origin = target;
            cursor = target;
            continue;
        }
        if (label & 0xC0) return false;  // 0x40 and 0x80: extended/reserved label types
        if (written + 1 + label > kMaxNameLength) return false;
        if (cursor + 1 + label > message.size()) return false;
        if (out) {
            out[written] = label;
            std::memcpy(out + written + 1, message.data() + cursor + 1, label);
        }
        written += 1 + size_t(label);
        cursor += 1 + size_t(label);
        if (label == 0) break;
    }
    if (!jumped) pos = cursor;
    length = written;
    return true;
}

}  // namespace

bool read_name(std::span<const uint8_t> message, size_t& pos, Name& out) {
    size_t length = 0;
    if (!walk_name(message, pos, out.bytes, length)) return false;
    out.length = static_cast<uint8_t>(length);
    return true;
}

bool skip_name(std::span<const uint8_t> message, size_t& pos) {
    size_t length = 0;
    return walk_name(message, pos, nullptr, length);
}

void to_lower(std::span<const uint8_t> name, uint8_t* out) {
    size_t i = 0;
    while (i < name.size()) {
        const uint8_t length = name[i];
        out[i] = length;
        for (size_t j = 1; j <= length && i + j < name.size(); ++j) out[i + j] = lower(name[i + j]);
        if (length == 0) break;
        i += 1 + size_t(length);
    }
}

void to_lower(Name& name) {
    to_lower(name.view(), name.bytes);
}

size_t count_labels(std::span<const uint8_t> name) {
    size_t labels = 0;
    for (size_t i = 0; i < name.size() && name[i] != 0; i += 1 + size_t(name[i])) ++labels;
    return labels;
}

namespace {

// Offsets of each label's length octet, at most kMaxNameLength / 2 of them; returns the count.
size_t label_offsets(std::span<const uint8_t> name, uint8_t* offsets) {
    size_t count = 0;
    for (size_t i = 0; i < name.size() && name[i] != 0; i += 1 + size_t(name[i]))
        offsets[count++] = static_cast<uint8_t>(i);
    return count;
}

}  // namespace

int canonical_compare(std::span<const uint8_t> a, std::span<const uint8_t> b) {
    uint8_t a_offsets[kMaxNameLength / 2 + 1], b_offsets[kMaxNameLength / 2 + 1];
    size_t a_count = label_offsets(a, a_offsets);
    size_t b_count = label_offsets(b, b_offsets);
    while (a_count > 0 && b_count > 0) {
        const uint8_t* a_label = a.data() + a_offsets[--a_count];
        const uint8_t* b_label = b.data() + b_offsets[--b_count];
        const size_t common = std::min(a_label[0], b_label[0]);
        if (const int order = std::memcmp(a_label + 1, b_label + 1, common)) return order;
        if (a_label[0] != b_label[0]) return a_label[0] < b_label[0] ? -1 : 1;
    }
    if (a_count == b_count) return 0;
    return a_count < b_count ? -1 : 1;  // the ancestor sorts first
}

std::span<const uint8_t> wildcard_of(std::span<const uint8_t> name,
                                     uint8_t (&out)[kMaxNameLength]) {
    if (name.size() + 2 > kMaxNameLength) return {};
    out[0] = 1;
    out[1] = '*';
    std::memcpy(out + 2, name.data(), name.size());
    return {out, name.size() + 2};
}

size_t suffix_offset(std::span<const uint8_t> name, size_t labels) {
    const size_t total = count_labels(name);
    size_t skip = total > labels ? total - labels : 0;
    size_t i = 0;
    while (skip-- > 0) i += 1 + size_t(name[i]);
    return i;
}

bool is_subdomain(std::span<const uint8_t> name, std::span<const uint8_t> ancestor) {
    if (ancestor.size() > name.size()) return false;
    const size_t offset = name.size() - ancestor.size();
    // The tail must start on a label boundary of `name`.
    size_t i = 0;
    while (i < offset) {
        if (name[i] == 0) return false;
        i += 1 + size_t(name[i]);
    }
    if (i != offset) return false;
    return std::memcmp(name.data() + offset, ancestor.data(), ancestor.size()) == 0;
}

bool equal_ignoring_case(std::span<const uint8_t> a, std::span<const uint8_t> b) {
    if (a.size() != b.size()) return false;
    for (size_t i = 0; i < a.size(); ++i)
        if (lower(a[i]) != lower(b[i])) return false;
    return true;
}

std::string to_text(std::span<const uint8_t> name) {
    if (name.empty() || name[0] == 0) return ".";
    std::string text;
    size_t i = 0;
    while (i < name.size() && name[i] != 0) {
        const size_t length = name[i];
        for (size_t j = 1; j <= length && i + j < name.size(); ++j) {
            const uint8_t c = name[i + j];
            if (c == '.' || c == '\\' || c == '"' || c == '(' || c == ')' || c == ';' || c == '@' ||
                c == '$') {
                text += '\\';
                text += static_cast<char>(c);
            } else if (c <= 0x20 || c >= 0x7F) {
                char escaped[5];
                std::snprintf(escaped, sizeof escaped, "\\%03u", c);
                text += escaped;
            } else {
                text += static_cast<char>(c);
            }
        }
        text += '.';
        i += 1 + length;
    }
    return text;
}

bool from_text(std::string_view text, Name& out) {
    if (text.empty()) return false;
    if (text == ".") {
        out.bytes[0] = 0;
        out.length = 1;
        return true;
    }
    size_t written = 1;  // octet 0 is the first label's length, patched when it closes
    size_t label_start = 0;
    size_t label_length = 0;
    bool label_open = true;
    for (size_t i = 0; i < text.size(); ++i) {
        const char c = text[i];
        if (c == '.') {
            if (label_length == 0 || label_length > kMaxLabelLength) return false;
            out.bytes[label_start] = static_cast<uint8_t>(label_length);
            label_open = false;
            if (i + 1 == text.size()) break;
            if (written + 1 > kMaxNameLength) return false;
            label_start = written++;
            label_length = 0;
            label_open = true;
            continue;
        }
        uint8_t octet = static_cast<uint8_t>(c);
        if (c == '\\') {
            // RFC 1035 §5.1: "\X" is X itself, "\DDD" is the octet DDD (decimal).
            if (i + 1 >= text.size()) return false;
            const auto is_digit = [&](size_t k) {
                return k < text.size() && text[k] >= '0' && text[k] <= '9';
            };
            if (is_digit(i + 1)) {
                if (!is_digit(i + 2) || !is_digit(i + 3)) return false;
                const int value =
                    (text[i + 1] - '0') * 100 + (text[i + 2] - '0') * 10 + (text[i + 3] - '0');
                if (value > 255) return false;
                octet = static_cast<uint8_t>(value);
                i += 3;
            } else {
                octet = static_cast<uint8_t>(text[++i]);
            }
        }
        if (written + 1 > kMaxNameLength) return false;
        out.bytes[written++] = octet;
        ++label_length;
    }
    if (label_open) {  // text without the final dot is taken as absolute
        if (label_length == 0 || label_length > kMaxLabelLength) return false;
        out.bytes[label_start] = static_cast<uint8_t>(label_length);
    }
    if (written + 1 > kMaxNameLength) return false;
    out.bytes[written++] = 0;
    out.length = static_cast<uint8_t>(written);
    return true;
}

std::string wire_from_text(std::string_view text) {
    Name name;
    if (!from_text(text, name)) return {};
    return std::string(name.as_key());
}

}  // namespace meridian::wire
