// The transfer keys of a [[zone]] table, read with every problem at its line: transfers out
// (allow_transfer: the ACL; notify: the secondaries to tell of a new serial; ixfr_history),
// and the zone's limits (max_zone_records, max_transfer_bytes). Also where a secondary zone
// keeps its copy when its `file` is left out.
//
//   allow_transfer = [{ address = "127.0.0.2/32", key = "transfer-key" }]
//   notify = [{ address = "192.0.2.7:53", key = "transfer-key" }]
//   ixfr_history = 16
//   max_zone_records = 10000000
//   max_transfer_bytes = 1073741824
#pragma once

#include <toml++/toml.h>

#include <string>
#include <string_view>

#include "server/config/config.hpp"
#include "server/config/toml_reader.hpp"

namespace meridian::server {

// Reads `key` into `entry` when it is one of the keys above and returns true; false for any
// other key, which the caller handles.
bool read_zone_transfer_key(TomlReader& reader, const toml::key& key, const toml::node& node,
                            ZoneEntry& entry);

// Every key named by a zone's allow_transfer or notify must be a [[tsig]] entry.
void check_transfer_keys(TomlReader& reader, const Config& config);

// "example.net." -> "example.net.zone"; the root -> "root.zone". Octets other than letters,
// digits, '-' and '_' are written %XX, so that no zone name can make a path ('/', "..") or a
// hidden file; letters are lowercased, as the zone is one whatever the case.
std::string secondary_copy_name(std::string_view origin);

// Gives each secondary zone without a `file` its copy in the state directory:
// <state_directory>/secondary/<secondary_copy_name>.
void place_secondary_copies(Config& config);

}  // namespace meridian::server
