// Test support: build a Snapshot from zone text, send it a query as bytes, and read the
// response back with ldns (an independent codec, so our writer is checked, not trusted).
#pragma once

#include <unistd.h>
#include "zones/ldns_include.hpp"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "zones/responder.hpp"
#include "zones/zone_loader.hpp"

namespace meridian::testing {

// A folder under /tmp removed when the object dies.
class TempDir {
  public:
    TempDir() {
        char pattern[] = "/tmp/meridian-test-XXXXXX";
        path_ = mkdtemp(pattern);
    }
    ~TempDir() { std::filesystem::remove_all(path_); }
    const std::filesystem::path& path() const { return path_; }
    std::filesystem::path write(const std::string& name, const std::string& content) const {
        const auto file = path_ / name;
        std::filesystem::create_directories(file.parent_path());
        std::ofstream(file) << content;
        return file;
    }

  private:
    std::filesystem::path path_;
};

struct PacketDeleter {
    void operator()(ldns_pkt* p) const { ldns_pkt_free(p); }
};
using Packet = std::unique_ptr<ldns_pkt, PacketDeleter>;

// Options for building a query.
struct QueryOptions {
    uint16_t rclass = LDNS_RR_CLASS_IN;
    bool edns = false;
    uint16_t udp_size = 1232;
    uint8_t edns_version = 0;
    bool nsid = false;
    bool dnssec_ok = false;
};

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
        if (options.nsid) {
            static const uint8_t nsid_option[] = {0, 3, 0, 0};
            ldns_rdf* data =
                ldns_rdf_new_frm_data(LDNS_RDF_TYPE_UNKNOWN, sizeof nsid_option, nsid_option);
            ldns_pkt_set_edns_data(pkt, data);
        }
        // ldns writes an OPT record only when one of these is non-default.
        if (options.udp_size == 0) ldns_pkt_set_edns_udp_size(pkt, 512);
    }
    uint8_t* wire = nullptr;
    size_t size = 0;
    ldns_pkt2wire(&wire, pkt, &size);
    std::vector<uint8_t> bytes(wire, wire + size);
    free(wire);
    ldns_pkt_free(pkt);
    return bytes;
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
        ldns_pkt* pkt = nullptr;
        if (ldns_wire2pkt(&pkt, bytes.data(), bytes.size()) != LDNS_STATUS_OK) return nullptr;
        return Packet(pkt);
    }

    std::string errors;

  private:
    TempDir dir_;
    zones::Snapshot snapshot_;
};

// Section contents as sorted presentation lines, for readable assertions.
inline std::vector<std::string> section_lines(const ldns_rr_list* list) {
    std::vector<std::string> lines;
    for (size_t i = 0; i < ldns_rr_list_rr_count(list); ++i) {
        char* text = ldns_rr2str(ldns_rr_list_rr(list, i));
        std::string line(text);
        free(text);
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

}  // namespace meridian::testing
