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

}  // namespace meridian::ldns
