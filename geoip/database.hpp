// A MaxMind-format (mmdb) location database, opened through libmaxminddb and validated in
// full at load time, exposing its search tree node by node for compilation and lookup.
#pragma once

#include <maxminddb.h>

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "geoip/location.hpp"
#include "geoip/network.hpp"

namespace meridian::geoip {

// A path into a database record: map keys, or array indices written as decimal strings, as
// libmaxminddb's MMDB_aget_value takes them ({"subdivisions", "0", "iso_code"}).
using LookupPath = std::vector<std::string>;

// Where each Location field lives in a record. Each field lists paths tried in order and the
// first present one wins, so the defaults read both MaxMind's nested GeoIP2 schema and the
// common flat schemas ("country_code", "latitude"); the config may replace any list.
struct LocationPaths {
    std::vector<LookupPath> country = {{"country", "iso_code"}, {"country_code"}};
    std::vector<LookupPath> subdivision = {{"subdivisions", "0", "iso_code"}, {"subdivision_code"}};
    std::vector<LookupPath> continent = {{"continent", "code"}, {"continent_code"}};
    std::vector<LookupPath> latitude = {{"location", "latitude"}, {"latitude"}};
    std::vector<LookupPath> longitude = {{"location", "longitude"}, {"longitude"}};
};

// One record of a search-tree node: another node, nothing, or a location (an index into the
// database's table of distinct locations, decoded once at open).
struct TreeRecord {
    enum class Kind : uint8_t { node, empty, location };
    Kind kind = Kind::empty;
    uint32_t value = 0;  // node number or location index
};

class Database {
  public:
    // Opens and validates `path`: metadata, every reachable search-tree node and every data
    // record it points to, so that nothing read later can fail. Throws GeoipError naming the
    // file and the cause; a corrupt file is refused, never half-loaded.
    static std::shared_ptr<const Database> open(const std::string& path,
                                                const LocationPaths& paths = {});
    ~Database();
    Database(const Database&) = delete;
    Database& operator=(const Database&) = delete;

    const std::string& path() const { return path_; }
    const std::string& database_type() const { return database_type_; }
    bool has_ipv6() const { return has_ipv6_; }
    uint32_t node_count() const { return mmdb_.metadata.node_count; }

    // Where a walk for `family` starts. IPv4 in an IPv6 tree starts at the node reached by
    // the ::/96 path (libmaxminddb's ipv4_start_node); an IPv4-only database has no IPv6
    // tree and its IPv6 root is empty.
    TreeRecord root(Family family) const;
    std::array<TreeRecord, 2> children(uint32_t node) const;
    // True when an IPv6 walk reaching `node` has entered an alias of the IPv4 tree
    // (::/96 itself, and the aliases writers add at ::ffff:0:0/96 and 2002::/16).
    bool is_ipv4_alias(uint32_t node) const {
        return ipv4_root_.kind == TreeRecord::Kind::node && node == ipv4_root_.value && has_ipv6_;
    }

    const Location& location(uint32_t index) const { return locations_[index]; }
    size_t location_count() const { return locations_.size(); }

    // The slow path: the database network containing `address` and its location (nullptr
    // when the database has no data there). The network length is in `family`'s own bits,
    // so an IPv4 address in an IPv6 database gets an IPv4 length.
    struct Match {
        Prefix network;
        const Location* location = nullptr;
    };
    Match find(Family family, const uint8_t* address) const;

  private:
    Database() = default;
    TreeRecord classify(uint64_t record) const;
    void validate_metadata();
    void validate_tree();
    void find_ipv4_root();
    uint32_t decode_location(uint32_t data_offset);
    [[noreturn]] void fail(const std::string& cause) const;

    MMDB_s mmdb_{};
    bool is_open_ = false;
    bool has_ipv6_ = false;
    std::string path_;
    std::string database_type_;
    LocationPaths paths_;
    TreeRecord ipv4_root_;
    unsigned ipv4_root_depth_ = 0;  // bits of the IPv6 tree above the IPv4 root (96 normally)
    std::vector<Location> locations_;
    std::unordered_map<uint32_t, uint32_t> location_by_offset_;
};

}  // namespace meridian::geoip
