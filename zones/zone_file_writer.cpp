// Master-file text of a zone; ldns renders each record.
#include "zones/zone_file_writer.hpp"

#include <algorithm>
#include <memory>
#include <vector>

#include "wire/constants.hpp"
#include "wire/name.hpp"
#include "zones/ldns.hpp"

namespace meridian::zones {

namespace {

// One record as a line of text: ldns reads the record from its wire form and prints it,
// which is the inverse of what the zone loader does.
std::string record_line(const std::string& owner, uint16_t type, uint32_t ttl,
                        const std::string& rdata) {
    const ldns::Record owned = record_to_ldns(owner, type, ttl, rdata);
    if (!owned) return {};
    std::string line = ldns::take_text(ldns_rr2str(owned.get()));
    while (!line.empty() && (line.back() == '\n' || line.back() == ' ')) line.pop_back();
    return line;
}

}  // namespace

ldns::Record record_to_ldns(std::string_view owner, uint16_t type, uint32_t ttl,
                            std::string_view rdata) {
    std::string wire(owner);
    const uint8_t fixed[10] = {
        uint8_t(type >> 8),        uint8_t(type),      0,
        uint8_t(wire::klass::kIN), uint8_t(ttl >> 24), uint8_t(ttl >> 16),
        uint8_t(ttl >> 8),         uint8_t(ttl),       uint8_t(rdata.size() >> 8),
        uint8_t(rdata.size())};
    wire.append(reinterpret_cast<const char*>(fixed), sizeof fixed);
    wire += rdata;
    ldns_rr* rr = nullptr;
    size_t position = 0;
    if (ldns_wire2rr(&rr, reinterpret_cast<const uint8_t*>(wire.data()), wire.size(), &position,
                     LDNS_SECTION_ANSWER) != LDNS_STATUS_OK)
        rr = nullptr;
    return ldns::Record(rr);
}

std::string zone_to_text(const Zone& zone) {
    std::string text;
    const RRset& soa = zone.soa();
    text += record_line(zone.origin(), soa.type, soa.ttl, soa.rdatas.front()) + "\n";
    std::vector<const Node*> nodes;
    nodes.reserve(zone.node_count());
    for (const auto& [name, node] : zone.nodes()) nodes.push_back(&node);
    std::sort(nodes.begin(), nodes.end(),
              [](const Node* a, const Node* b) { return a->name < b->name; });
    for (const Node* node : nodes)
        for_each_stored_rrset(*node, [&](const RRset& rrset) {
            if (node == &zone.apex() && rrset.type == wire::type::kSOA) return;
            for (const auto& rdata : rrset.rdatas)
                text += record_line(node->name, rrset.type, rrset.ttl, rdata) + "\n";
        });
    return text;
}

}  // namespace meridian::zones
