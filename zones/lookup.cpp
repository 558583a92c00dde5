// The walk from the apex towards a name, one label at a time.
#include "zones/lookup.hpp"

#include <cstring>

#include "wire/bytes.hpp"
#include "wire/constants.hpp"
#include "wire/name.hpp"

namespace meridian::zones {

namespace {

std::string_view key_of(std::span<const uint8_t> name) {
    return {reinterpret_cast<const char*>(name.data()), name.size()};
}

}  // namespace

// Walks down one label at a time, so that a zone cut or a DNAME above the name is found
// before the name itself (RFC 1034 §4.3.2 step 3, RFC 6672 §3.2).
Lookup look_up(const Zone& zone, std::span<const uint8_t> name, uint16_t qtype) {
    const size_t origin_labels = wire::count_labels(wire::bytes_of(zone.origin()));
    const size_t total = wire::count_labels(name);
    const Node* encloser = &zone.apex();
    for (size_t depth = origin_labels; depth <= total; ++depth) {
        const Node* node = encloser;
        if (depth > origin_labels) {
            node = zone.find_node(key_of(name.subspan(wire::suffix_offset(name, depth))));
            if (!node) break;
        }
        encloser = node;
        const bool is_name = depth == total;
        // The parent side of a cut answers DS (RFC 4035 §3.1.4.1); every other type is referred.
        if (depth > origin_labels && node->find(wire::type::kNS) &&
            !(is_name && qtype == wire::type::kDS))
            return {LookupOutcome::delegation, node};
        if (is_name) {
            if (node->is_empty_non_terminal()) return {LookupOutcome::empty_non_terminal, node};
            if (node->find(wire::type::kCNAME)) return {LookupOutcome::cname, node};
            return {LookupOutcome::exact, node};
        }
        if (node->find(wire::type::kDNAME)) return {LookupOutcome::dname, node};
    }
    // RFC 4592 §3.3.1: only the wildcard directly below the closest encloser applies, so an
    // empty non-terminal between them blocks it.
    uint8_t buffer[wire::kMaxNameLength];
    const auto wildcard = wire::wildcard_of(wire::bytes_of(encloser->name), buffer);
    if (!wildcard.empty()) {
        const Node* node = zone.find_node(key_of(wildcard));
        if (node) return {LookupOutcome::wildcard, node};
    }
    return {LookupOutcome::nxdomain, encloser};
}

}  // namespace meridian::zones
