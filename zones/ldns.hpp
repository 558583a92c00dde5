// The one adapter for ldns: includes it safely, and owns what it allocates, so the rest of
// the code never frees an ldns object by hand.
#pragma once

#include <stdbool.h>  // NOLINT: must precede ldns: its common.h defines `bool`, `true` and
                      // `false` as macros otherwise, which breaks standard headers after it

#include <ldns/ldns.h>

#include <cstdint>
#include <cstdlib>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace meridian::ldns {

// The matching ldns destructor for each object type. Lists are freed deep (with their
// records): a list whose records were handed on belongs in a ShallowRRList.
struct Free {
    void operator()(ldns_pkt* packet) const { ldns_pkt_free(packet); }
    void operator()(ldns_rr* record) const { ldns_rr_free(record); }
    void operator()(ldns_rdf* field) const { ldns_rdf_deep_free(field); }
    void operator()(ldns_rr_list* list) const { ldns_rr_list_deep_free(list); }
    void operator()(ldns_buffer* buffer) const { ldns_buffer_free(buffer); }
    void operator()(char* text) const { std::free(text); }     // ldns_*2str results
    void operator()(uint8_t* wire) const { std::free(wire); }  // ldns_pkt2wire results
};

struct FreeListOnly {
    void operator()(ldns_rr_list* list) const { ldns_rr_list_free(list); }
};

using Packet = std::unique_ptr<ldns_pkt, Free>;
using Record = std::unique_ptr<ldns_rr, Free>;
using Rdf = std::unique_ptr<ldns_rdf, Free>;
using RRList = std::unique_ptr<ldns_rr_list, Free>;
using ShallowRRList = std::unique_ptr<ldns_rr_list, FreeListOnly>;
using Buffer = std::unique_ptr<ldns_buffer, Free>;
using Text = std::unique_ptr<char, Free>;

// The text of an ldns_*2str result, which it frees; empty for null.
inline std::string take_text(char* text) {
    const Text owned(text);
    return owned ? std::string(owned.get()) : std::string();
}

// A packet in wire form; nullopt when ldns cannot write it.
inline std::optional<std::vector<uint8_t>> to_wire(const ldns_pkt* packet) {
    uint8_t* data = nullptr;
    size_t size = 0;
    if (ldns_pkt2wire(&data, packet, &size) != LDNS_STATUS_OK) return std::nullopt;
    const std::unique_ptr<uint8_t, Free> owned(data);
    return std::vector<uint8_t>(data, data + size);
}

// Parses a message; null when ldns cannot read it.
inline Packet parse_packet(const uint8_t* data, size_t size) {
    ldns_pkt* packet = nullptr;
    if (ldns_wire2pkt(&packet, data, size) != LDNS_STATUS_OK) return nullptr;
    return Packet(packet);
}

// The ECS SCOPE PREFIX-LENGTH of a parsed response (RFC 7871 §6), or -1 when it carries no
// ECS option: what `meridian explain` shows and the tests read back.
inline int ecs_scope(const ldns_pkt* packet) {
    const ldns_rdf* data = ldns_pkt_edns_data(packet);
    if (!data) return -1;
    const uint8_t* bytes = ldns_rdf_data(data);
    const size_t size = ldns_rdf_size(data);
    for (size_t at = 0; at + 4 <= size;) {
        const unsigned code = (bytes[at] << 8) | bytes[at + 1];
        const unsigned length = (bytes[at + 2] << 8) | bytes[at + 3];
        if (code == 8 && length >= 4 && at + 4 + length <= size) return bytes[at + 7];
        at += 4 + length;
    }
    return -1;
}

}  // namespace meridian::ldns
