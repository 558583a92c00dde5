// The GeoDNS part of the config: [geoip] (database, ECS, lookup paths, nets), [[pool]] and
// [[geo]], read into Config with every problem reported at its line.
#pragma once

#include <toml++/toml.h>
#include <vector>

#include "server/config/config.hpp"
#include "server/config/toml_reader.hpp"

namespace meridian::server {

void read_geoip_table(TomlReader& reader, const toml::key& key, const toml::node& node,
                      GeoipSettings& geoip);
void read_pool_tables(TomlReader& reader, const toml::key& key, const toml::node& node,
                      std::vector<PoolEntry>& pools);
void read_geo_tables(TomlReader& reader, const toml::key& key, const toml::node& node,
                     std::vector<GeoEntry>& geo);

}  // namespace meridian::server
