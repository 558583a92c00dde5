// Reading an RFC 1035 master file into a Zone.
#pragma once

#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "zones/diagnostic.hpp"
#include "zones/zone.hpp"

namespace meridian::zones {

struct ZoneLoadResult {
    std::shared_ptr<const Zone> zone;  // null when any error was found
    Diagnostics diagnostics;           // errors and warnings, each with file and line
    std::vector<std::string> files;    // every file read: the zone file, then its $INCLUDEs
};

// How records are parsed: the direct parser for the common types with ldns for the rest
// (what serving uses), or ldns for everything (the reference the direct parser is tested
// against).
enum class RecordParsing { direct_where_possible, ldns_only };

// `origin` may be empty: then the file's first $ORIGIN, else the SOA owner, is used.
// `$INCLUDE` paths are resolved relative to the including file's folder (as Knot does).
// `verify_signatures_at` (seconds since the epoch): also verify every RRSIG of a signed zone
// as of that time, as `meridian check` does (signature_check.hpp); serving does not.
ZoneLoadResult load_zone_file(const std::filesystem::path& file, std::string_view origin,
                              RecordParsing parsing = RecordParsing::direct_where_possible,
                              std::optional<uint32_t> verify_signatures_at = std::nullopt);

}  // namespace meridian::zones
