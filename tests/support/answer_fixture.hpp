// Test support: build a Snapshot from zone text, send it a query as bytes, and read the
// response back with ldns (an independent codec, so our writer is checked, not trusted).
#pragma once

#include <arpa/inet.h>
#include <unistd.h>
#include "zones/ldns.hpp"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "support/temp_folder.hpp"
#include "zones/responder.hpp"
#include "zones/zone_loader.hpp"

namespace meridian::testing {

using Packet = ldns::Packet;

// Options for building a query.
struct QueryOptions {
    uint16_t rclass = LDNS_RR_CLASS_IN;
    bool edns = false;
    uint16_t udp_size = 1232;
    uint8_t edns_version = 0;
    bool nsid = false;
    bool dnssec_ok = false;
    std::vector<uint8_t> client_subnet =
        {};  // RFC 7871 option body (family, source, scope, address)
};

// An ECS option body for `address` ("198.51.100.7") truncated to `source` bits.
inline std::vector<uint8_t> client_subnet_option(const std::string& address, uint8_t source) {
    uint8_t bytes[16] = {};
    const bool v6 = address.find(':') != std::string::npos;
    inet_pton(v6 ? AF_INET6 : AF_INET, address.c_str(), bytes);
    std::vector<uint8_t> body = {0, uint8_t(v6 ? 2 : 1), source, 0};
    for (size_t i = 0; i < (source + 7u) / 8; ++i) {
        uint8_t octet = bytes[i];
        if (i == source / 8u && source % 8) octet &= uint8_t(0xFF << (8 - source % 8));
        body.push_back(octet);
    }
    return body;
}

inline std::vector<uint8_t> make_query(const std::string& name, ldns_rr_type type,
                                       const QueryOptions& options = {}) {
    ldns_pkt* pkt = nullptr;
    ldns_pkt_query_new_frm_str(&pkt, name.c_str(), type, static_cast<ldns_rr_class>(options.rclass),
                               LDNS_RD);
    ldns_pkt_set_id(pkt, 0x1234);
    if (options.edns) {
        ldns_pkt_set_edns_udp_size(pkt, options.udp_size);
        ldns_pkt_set_edns_version(pkt, options.edns_version);
        if (options.dnssec_ok) ldns_pkt_set_edns_do(pkt, true);
        std::vector<uint8_t> edns_options;
        if (options.nsid) edns_options.insert(edns_options.end(), {0, 3, 0, 0});
        if (!options.client_subnet.empty()) {
            const auto& body = options.client_subnet;
            for (int octet : {0, 8, 0, int(body.size())})
                edns_options.push_back(static_cast<uint8_t>(octet));
            for (uint8_t octet : body) edns_options.push_back(octet);
        }
        if (!edns_options.empty())
            ldns_pkt_set_edns_data(pkt,
                                   ldns_rdf_new_frm_data(LDNS_RDF_TYPE_UNKNOWN, edns_options.size(),
                                                         edns_options.data()));
        // ldns writes an OPT record only when one of these is non-default.
        if (options.udp_size == 0) ldns_pkt_set_edns_udp_size(pkt, 512);
    }
    const ldns::Packet owned(pkt);
    return ldns::to_wire(pkt).value_or(std::vector<uint8_t>{});
}

// (origin, master-file text) pairs.
using ZoneTexts = std::vector<std::pair<std::string, std::string>>;

class AnswerFixture {
  public:
    // Loads each (origin, zone text) pair; a failing load fails the test loudly.
    explicit AnswerFixture(const ZoneTexts& zones) {
        int index = 0;
        for (const auto& [origin, text] : zones) {
            const auto file = dir_.write("zone" + std::to_string(index++) + ".zone", text);
            auto result = zones::load_zone_file(file, origin);
            for (const auto& d : result.diagnostics) errors += d.to_string() + "\n";
            if (result.zone) snapshot_.catalog.add(result.zone);
        }
        snapshot_.settings.identity = "test-pop";
        snapshot_.settings.version = "Meridian test";
    }

    zones::Snapshot& snapshot() { return snapshot_; }

    // Raw response bytes (empty when the query was dropped).
    std::vector<uint8_t> respond_bytes(const std::vector<uint8_t>& query,
                                       zones::Transport transport = zones::Transport::udp) {
        std::vector<uint8_t> response(65535);
        zones::QueryOrigin origin{transport, nullptr};
        const size_t length = zones::respond(snapshot_, query, response, origin);
        response.resize(length);
        return response;
    }

    Packet ask(const std::string& name, ldns_rr_type type, const QueryOptions& options = {},
               zones::Transport transport = zones::Transport::udp) {
        return parse(respond_bytes(make_query(name, type, options), transport));
    }

    static Packet parse(const std::vector<uint8_t>& bytes) {
        if (bytes.empty()) return nullptr;
        return ldns::parse_packet(bytes.data(), bytes.size());
    }

    std::string errors;

  private:
    TempFolder dir_;
    zones::Snapshot snapshot_;
};

// Section contents as sorted presentation lines, for readable assertions.
inline std::vector<std::string> section_lines(const ldns_rr_list* list) {
    std::vector<std::string> lines;
    for (size_t i = 0; i < ldns_rr_list_rr_count(list); ++i) {
        std::string line = ldns::take_text(ldns_rr2str(ldns_rr_list_rr(list, i)));
        while (!line.empty() && line.back() == '\n') line.pop_back();
        for (auto& c : line)
            if (c == '\t') c = ' ';
        lines.push_back(line);
    }
    return lines;
}

inline std::vector<std::string> answer(const Packet& p) {
    return section_lines(ldns_pkt_answer(p.get()));
}
inline std::vector<std::string> authority(const Packet& p) {
    return section_lines(ldns_pkt_authority(p.get()));
}
inline std::vector<std::string> additional(const Packet& p) {
    return section_lines(ldns_pkt_additional(p.get()));
}
inline int rcode(const Packet& p) {
    return ldns_pkt_get_rcode(p.get());
}

// The response's ECS SCOPE PREFIX-LENGTH, or -1 when it carries no ECS option.
inline int ecs_scope(const Packet& p) {
    return ldns::ecs_scope(p.get());
}

}  // namespace meridian::testing
