// What the metrics need to know about one query and its answer (the question's type, the
// rcode, ECS, TC), read from the bytes the worker already holds.
//
// Why not from the responder: zones::respond returns bytes only, and keeping the answer path
// free of metrics keeps it callable on a byte buffer alone. This reads the header, the
// question and, when it follows the question directly, the OPT record: a few bounded steps
// over bytes already in cache. It never allocates and never reads past either buffer.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace meridian::server {

struct ExchangeSummary {
    uint16_t qtype = 0;              // 0 when the question could not be read
    uint16_t rcode = 0;              // the full rcode: BADVERS (16) from the query's EDNS version
    bool is_answered = false;        // false: dropped without an answer
    bool has_client_subnet = false;  // the query carried an ECS option (RFC 7871)
    bool is_truncated = false;       // the answer has TC set
};

// `response` is empty when the query was dropped.
ExchangeSummary summarize_exchange(std::span<const uint8_t> query,
                                   std::span<const uint8_t> response);

}  // namespace meridian::server
