// The [[tsig]] tables: named shared-secret keys for zone transfers and NOTIFY, read with every
// problem at its line.
#pragma once

#include <toml++/toml.h>

#include <vector>

#include "server/config/toml_reader.hpp"
#include "server/transfer/tsig.hpp"

namespace meridian::server {

// [[tsig]]: name, algorithm (hmac-sha256, hmac-sha512, ...), secret (base64).
struct TsigKeyEntry {
    tsig::Key key;  // name canonical (lowercase, absolute), algorithm in wire form
    ConfigPlace place;
};

void read_tsig_tables(TomlReader& reader, const toml::key& key, const toml::node& node,
                      std::vector<TsigKeyEntry>& keys);

}  // namespace meridian::server
