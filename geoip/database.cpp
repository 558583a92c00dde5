// Opening, validating and reading a MaxMind-format database through libmaxminddb.
#include "geoip/database.hpp"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>

#include "geoip/error.hpp"

namespace meridian::geoip {

namespace {

// MaxMind DB spec ("Database Metadata"): the data section starts after a 16-byte separator of
// zeros, and a record value v > node_count points at data offset v - node_count - 16. Values
// inside the separator point at nothing and mean the file is corrupt.
constexpr uint64_t kDataSeparatorSize = 16;

// 9999-12-31T23:59:59Z: a build epoch past it is not a date, whatever else the file says.
constexpr uint64_t kLatestPlausibleEpoch = 253402300799ull;

struct EntryList {
    MMDB_entry_data_list_s* head = nullptr;
    ~EntryList() { MMDB_free_entry_data_list(head); }
};

}  // namespace

void Database::fail(const std::string& cause) const {
    throw GeoipError(path_ + ": " + cause);
}

std::shared_ptr<const Database> Database::open(const std::string& path,
                                               const LocationPaths& paths) {
    std::shared_ptr<Database> database(new Database());
    database->path_ = path;
    database->paths_ = paths;
    errno = 0;
    const int status = MMDB_open(path.c_str(), MMDB_MODE_MMAP, &database->mmdb_);
    if (status != MMDB_SUCCESS) {
        std::string cause = MMDB_strerror(status);
        if (status == MMDB_FILE_OPEN_ERROR || status == MMDB_IO_ERROR) {
            cause += std::string(" (") + std::strerror(errno) + ")";
        }
        throw GeoipError(path + ": cannot open database: " + cause);
    }
    database->is_open_ = true;
    database->validate_metadata();
    database->validate_tree();
    return database;
}

Database::~Database() {
    if (is_open_) MMDB_close(&mmdb_);
}

void Database::validate_metadata() {
    // libmaxminddb parses only the metadata fields it needs at open; decoding the whole map
    // catches the corrupt remainder (oversized or truncated containers).
    EntryList metadata;
    const int status = MMDB_get_metadata_as_entry_data_list(&mmdb_, &metadata.head);
    if (status != MMDB_SUCCESS) fail(std::string("corrupt metadata: ") + MMDB_strerror(status));

    const MMDB_metadata_s& meta = mmdb_.metadata;
    if (meta.ip_version != 4 && meta.ip_version != 6) {
        fail("metadata ip_version " + std::to_string(meta.ip_version) + " is neither 4 nor 6");
    }
    if (meta.record_size != 24 && meta.record_size != 28 && meta.record_size != 32) {
        fail("metadata record_size " + std::to_string(meta.record_size) + " is not 24, 28 or 32");
    }
    if (meta.node_count == 0) fail("metadata node_count is 0: the search tree is empty");
    if (meta.build_epoch > kLatestPlausibleEpoch) {
        fail("metadata build_epoch " + std::to_string(meta.build_epoch) +
             " is past the year 9999: the metadata is corrupt");
    }
    has_ipv6_ = meta.ip_version == 6;
    if (meta.database_type != nullptr) database_type_ = meta.database_type;
}

TreeRecord Database::classify(uint64_t record) const {
    const uint64_t nodes = mmdb_.metadata.node_count;
    if (record < nodes) return {TreeRecord::Kind::node, static_cast<uint32_t>(record)};
    if (record == nodes) return {TreeRecord::Kind::empty, 0};
    if (record < nodes + kDataSeparatorSize) {
        fail("search tree record " + std::to_string(record) +
             " points into the data section separator");
    }
    const uint64_t offset = record - nodes - kDataSeparatorSize;
    if (offset >= mmdb_.data_section_size) {
        fail("search tree record " + std::to_string(record) + " points past the data section");
    }
    return {TreeRecord::Kind::location, static_cast<uint32_t>(offset)};
}

std::array<TreeRecord, 2> Database::children(uint32_t node) const {
    MMDB_search_node_s raw;
    const int status = MMDB_read_node(&mmdb_, node, &raw);
    if (status != MMDB_SUCCESS) fail(std::string("cannot read node: ") + MMDB_strerror(status));
    std::array<TreeRecord, 2> records{classify(raw.left_record), classify(raw.right_record)};
    for (TreeRecord& record : records) {
        if (record.kind != TreeRecord::Kind::location) continue;
        // validate_tree() decoded every reachable record; an unreachable node's record may be
        // unknown, and reads as empty rather than as someone else's location.
        auto found = location_by_offset_.find(record.value);
        if (found == location_by_offset_.end()) {
            record = {TreeRecord::Kind::empty, 0};
        } else {
            record.value = found->second;
        }
    }
    return records;
}

uint32_t Database::decode_location(uint32_t data_offset) {
    auto found = location_by_offset_.find(data_offset);
    if (found != location_by_offset_.end()) return found->second;

    MMDB_entry_s entry{&mmdb_, data_offset};
    // Decoding the whole record proves it well-formed (libmaxminddb bounds nesting depth and
    // container sizes here), so the path lookups below cannot walk off the data.
    EntryList full;
    int status = MMDB_get_entry_data_list(&entry, &full.head);
    if (status != MMDB_SUCCESS) {
        fail("corrupt data record at offset " + std::to_string(data_offset) + ": " +
             MMDB_strerror(status));
    }

    auto lookup = [&](const std::vector<LookupPath>& candidates, auto&& accept) -> bool {
        for (const LookupPath& path : candidates) {
            std::vector<const char*> keys;
            for (const std::string& key : path) keys.push_back(key.c_str());
            keys.push_back(nullptr);
            MMDB_entry_data_s data{};
            const int rc = MMDB_aget_value(&entry, &data, keys.data());
            if (rc == MMDB_LOOKUP_PATH_DOES_NOT_MATCH_DATA_ERROR ||
                rc == MMDB_INVALID_LOOKUP_PATH_ERROR) {
                continue;
            }
            if (rc != MMDB_SUCCESS) {
                fail("corrupt data record at offset " + std::to_string(data_offset) + ": " +
                     MMDB_strerror(rc));
            }
            if (data.has_data && accept(data)) return true;
        }
        return false;
    };
    auto read_string = [&](const std::vector<LookupPath>& candidates, std::string& out) {
        lookup(candidates, [&](const MMDB_entry_data_s& data) {
            if (data.type != MMDB_DATA_TYPE_UTF8_STRING) return false;
            out.assign(data.utf8_string, data.data_size);
            return true;
        });
    };
    auto read_degrees = [&](const std::vector<LookupPath>& candidates) -> std::optional<double> {
        std::optional<double> value;
        lookup(candidates, [&](const MMDB_entry_data_s& data) {
            if (data.type == MMDB_DATA_TYPE_DOUBLE) value = data.double_value;
            if (data.type == MMDB_DATA_TYPE_FLOAT) value = data.float_value;
            return value.has_value();
        });
        return value;
    };

    Location location;
    read_string(paths_.country, location.country);
    read_string(paths_.subdivision, location.subdivision);
    read_string(paths_.continent, location.continent);
    const auto latitude = read_degrees(paths_.latitude);
    const auto longitude = read_degrees(paths_.longitude);
    // Out-of-range or NaN coordinates are treated as absent rather than refusing the whole
    // database: one bad record should only lose "nearest" for that network.
    if (latitude && longitude && std::isfinite(*latitude) && std::isfinite(*longitude) &&
        std::fabs(*latitude) <= 90 && std::fabs(*longitude) <= 180) {
        location.coordinates = Coordinates{*latitude, *longitude};
    }
    complete_location(location);

    const auto index = static_cast<uint32_t>(locations_.size());
    locations_.push_back(std::move(location));
    location_by_offset_.emplace(data_offset, index);
    return index;
}

void Database::validate_tree() {
    const uint32_t nodes = mmdb_.metadata.node_count;
    std::vector<bool> visited(nodes, false);

    auto raw_children = [&](uint32_t node) {
        MMDB_search_node_s raw;
        const int status = MMDB_read_node(&mmdb_, node, &raw);
        if (status != MMDB_SUCCESS) {
            fail("cannot read search tree node " + std::to_string(node) + ": " +
                 MMDB_strerror(status));
        }
        return std::array<uint64_t, 2>{raw.left_record, raw.right_record};
    };
    auto check_record = [&](uint64_t record) {
        TreeRecord checked = classify(record);  // throws on separator / out-of-range records
        if (checked.kind == TreeRecord::Kind::location) {
            checked.value = decode_location(checked.value);
        }
        return checked;
    };

    // Walks one tree from `start`, at most `max_depth` bits deep, visiting each node once:
    // a node reached twice means the "tree" has a cycle or shared branch that a writer
    // never produces, and the bounded walk would otherwise blow up.
    struct Pending {
        uint32_t node;
        unsigned depth;
    };
    unsigned deepest = 0;
    unsigned ipv4_depth = 0;
    auto walk = [&](uint32_t start, unsigned max_depth, bool stop_at_ipv4) {
        std::vector<Pending> stack{{start, 0}};
        while (!stack.empty()) {
            const Pending at = stack.back();
            stack.pop_back();
            if (visited[at.node]) {
                fail("search tree node " + std::to_string(at.node) +
                     " is reachable twice: the search tree is corrupt");
            }
            visited[at.node] = true;
            if (at.depth >= max_depth) {
                fail("search tree is deeper than " + std::to_string(max_depth) +
                     " bits: the search tree is corrupt");
            }
            for (uint64_t record : raw_children(at.node)) {
                const TreeRecord child = check_record(record);
                if (child.kind != TreeRecord::Kind::node) {
                    deepest = std::max(deepest, at.depth + 1);
                    continue;
                }
                if (stop_at_ipv4 && is_ipv4_alias(child.value)) {
                    // An alias grafts the IPv4 tree here; together they must still fit 128 bits.
                    if (at.depth + 1 + ipv4_depth > 128) {
                        fail("IPv4 alias at depth " + std::to_string(at.depth + 1) +
                             " makes the search tree deeper than 128 bits");
                    }
                    continue;
                }
                stack.push_back({child.value, at.depth + 1});
            }
        }
    };

    if (!has_ipv6_) {
        ipv4_root_ = {TreeRecord::Kind::node, 0};
        walk(0, 32, false);
    } else {
        find_ipv4_root();
        if (ipv4_root_.kind == TreeRecord::Kind::node) {
            walk(ipv4_root_.value, 32, false);
            ipv4_depth = deepest;
        }
        // The IPv6 walk stops at every pointer to the IPv4 root (aliases included), which
        // the IPv4 walk has already covered.
        walk(0, 128, true);
    }

    // Writers number exactly the nodes they link, so an unreachable node means node_count
    // or the tree is wrong (and MMDB_read_node on it would read garbage).
    const auto reached = static_cast<size_t>(std::count(visited.begin(), visited.end(), true));
    if (reached != nodes) {
        fail("metadata node_count is " + std::to_string(nodes) + " but the search tree links " +
             std::to_string(reached) + " nodes: the search tree is corrupt");
    }
    // A database none of whose records has a location under the configured paths cannot
    // steer anything: the wrong database (an ASN one, say) or the wrong lookup paths.
    const bool locates_anything = std::any_of(locations_.begin(), locations_.end(),
                                              [](const Location& l) { return !l.is_unknown(); });
    if (!locates_anything) {
        fail(
            "no record has a country, continent or coordinates at the configured lookup paths"
            " (database type \"" +
            database_type_ + "\"): wrong database or paths?");
    }
}

void Database::find_ipv4_root() {
    // libmaxminddb looks IPv4 up in an IPv6 tree from the node at ::/96 (or the data record
    // met before it); find it the same way so our lookups agree with MMDB_lookup_*.
    TreeRecord at{TreeRecord::Kind::node, 0};
    ipv4_root_depth_ = 0;
    while (ipv4_root_depth_ < 96 && at.kind == TreeRecord::Kind::node) {
        MMDB_search_node_s raw;
        const int status = MMDB_read_node(&mmdb_, at.value, &raw);
        if (status != MMDB_SUCCESS) {
            fail("cannot read search tree node " + std::to_string(at.value) + ": " +
                 MMDB_strerror(status));
        }
        at = classify(raw.left_record);
        ++ipv4_root_depth_;
    }
    ipv4_root_ = at;
    if (at.kind == TreeRecord::Kind::location) ipv4_root_.value = decode_location(at.value);
}

Database::Match Database::find(Family family, const uint8_t* address) const {
    Match match;
    TreeRecord at = root(family);
    unsigned depth = 0;
    const unsigned bits = address_bits(family);
    while (at.kind == TreeRecord::Kind::node && depth < bits) {
        at = children(at.value)[address_bit(address, depth)];
        ++depth;
    }
    match.network = make_prefix(family, address, depth);
    if (at.kind == TreeRecord::Kind::location) match.location = &locations_[at.value];
    return match;
}

TreeRecord Database::root(Family family) const {
    if (family == Family::v4) return ipv4_root_;
    if (!has_ipv6_) return {TreeRecord::Kind::empty, 0};
    return {TreeRecord::Kind::node, 0};
}

}  // namespace meridian::geoip
