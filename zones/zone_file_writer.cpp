// Master-file text of a zone (ldns renders each record) and the atomic replacement of a file.
#include "zones/zone_file_writer.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>
#include <vector>

#include "wire/constants.hpp"
#include "wire/name.hpp"
#include "zones/ldns_include.hpp"

namespace meridian::zones {

namespace {

// One record as a line of text: ldns reads the record from its wire form and prints it,
// which is the inverse of what the zone loader does.
std::string record_line(const std::string& owner, uint16_t type, uint32_t ttl,
                        const std::string& rdata) {
    std::unique_ptr<ldns_rr, decltype(&ldns_rr_free)> owned(record_to_ldns(owner, type, ttl, rdata),
                                                            ldns_rr_free);
    if (!owned) return {};
    char* text = ldns_rr2str(owned.get());
    if (!text) return {};
    std::string line(text);
    free(text);
    while (!line.empty() && (line.back() == '\n' || line.back() == ' ')) line.pop_back();
    return line;
}

bool sync_folder(const std::filesystem::path& folder) {
    const int fd = ::open(folder.empty() ? "." : folder.c_str(), O_RDONLY | O_DIRECTORY);
    if (fd < 0) return false;
    const bool ok = ::fsync(fd) == 0;
    ::close(fd);
    return ok;
}

}  // namespace

ldns_rr* record_to_ldns(std::string_view owner, uint16_t type, uint32_t ttl,
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
        return nullptr;
    return rr;
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
        for (const auto& rrset : node->rrsets) {
            if (node == &zone.apex() && rrset.type == wire::type::kSOA) continue;
            for (const auto& rdata : rrset.rdatas)
                text += record_line(node->name, rrset.type, rrset.ttl, rdata) + "\n";
        }
    return text;
}

bool write_file_atomically(const std::filesystem::path& path, std::string_view content,
                           std::string& error) {
    const std::filesystem::path folder = path.parent_path();
    std::error_code ec;
    if (!folder.empty()) std::filesystem::create_directories(folder, ec);
    if (ec) {
        error = "cannot create " + folder.string() + ": " + ec.message();
        return false;
    }
    // mkstemp: a name nobody else uses, in the same folder so rename() stays on one file
    // system and is atomic.
    std::string temp = path.string() + ".XXXXXX";
    const int fd = ::mkstemp(temp.data());
    if (fd < 0) {
        error =
            "cannot create a temporary file beside " + path.string() + ": " + std::strerror(errno);
        return false;
    }
    const auto give_up = [&](const std::string& what) {
        error = what + " " + temp + ": " + std::strerror(errno);
        ::close(fd);
        ::unlink(temp.c_str());
        return false;
    };
    size_t written = 0;
    while (written < content.size()) {
        const ssize_t n = ::write(fd, content.data() + written, content.size() - written);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return give_up("cannot write");
        written += static_cast<size_t>(n);
    }
    if (::fchmod(fd, 0644) != 0) return give_up("cannot set the mode of");
    if (::fsync(fd) != 0) return give_up("cannot fsync");
    if (::close(fd) != 0) {
        error = "cannot close " + temp + ": " + std::strerror(errno);
        ::unlink(temp.c_str());
        return false;
    }
    if (::rename(temp.c_str(), path.c_str()) != 0) {
        error = "cannot rename " + temp + " to " + path.string() + ": " + std::strerror(errno);
        ::unlink(temp.c_str());
        return false;
    }
    if (!sync_folder(folder)) {
        error = "cannot fsync the folder of " + path.string() + ": " + std::strerror(errno);
        return false;
    }
    return true;
}

}  // namespace meridian::zones
