// Reading an RFC 1035 master file into a Zone, with ldns parsing each record's text.
#pragma once

#include <filesystem>
#include <memory>
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

// `origin` may be empty: then the file's first $ORIGIN, else the SOA owner, is used.
// `$INCLUDE` paths are resolved relative to the including file's folder (as Knot does).
ZoneLoadResult load_zone_file(const std::filesystem::path& file, std::string_view origin);

}  // namespace meridian::zones
