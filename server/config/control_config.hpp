// The [control] table: the HTTP health and metrics endpoint, the `meridian ctl` socket, the
// state folder, draining and the self-check's rise/fall, read with every problem at its line.
#pragma once

#include <toml++/toml.h>

#include "server/config/config.hpp"
#include "server/config/toml_reader.hpp"

namespace meridian::server {

void read_control_table(TomlReader& reader, const toml::key& key, const toml::node& node,
                        ControlSettings& control);

}  // namespace meridian::server
