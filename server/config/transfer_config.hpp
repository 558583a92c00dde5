// The transfer-out keys of a [[zone]] table: allow_transfer (the ACL), notify (the
// secondaries to tell of a new serial) and ixfr_history, read with every problem at its line.
//
//   allow_transfer = [{ address = "127.0.0.2/32", key = "transfer-key" }, { address = "10.0.0.0/8"
//   }] notify = [{ address = "192.0.2.7:53", key = "transfer-key" }] ixfr_history = 16
#pragma once

#include <toml++/toml.h>

#include "server/config/config.hpp"
#include "server/config/toml_reader.hpp"

namespace meridian::server {

// Reads `key` into `entry` when it is one of the keys above and returns true; false for any
// other key, which the caller handles.
bool read_zone_transfer_key(TomlReader& reader, const toml::key& key, const toml::node& node,
                            ZoneEntry& entry);

// Every key named by a zone's allow_transfer or notify must be a [[tsig]] entry.
void check_transfer_keys(TomlReader& reader, const Config& config);

}  // namespace meridian::server
