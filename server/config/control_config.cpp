// Reading [control]. Defaults are in ControlSettings; README.md "Running a fleet" explains them.
#include "server/config/control_config.hpp"

namespace meridian::server {

void read_control_table(TomlReader& reader, const toml::key& key, const toml::node& node,
                        ControlSettings& control) {
    const auto* table = node.as_table();
    if (!table) {
        reader.error(place_of(key.source()), "'control' must be a table: [control]");
        return;
    }
    control.is_enabled = true;
    for (auto&& [field, value] : *table) {
        const std::string_view name = field.str();
        if (name == "http") {
            auto text = reader.read_string(field, value);
            if (!text) continue;
            control.http = parse_listen_address(*text);
            if (!control.http)
                reader.error(place_of(value.source()),
                             "bad http address '" + *text +
                                 "' (expected \"127.0.0.1:8053\" or \"[::1]:8053\")");
        } else if (name == "socket") {
            // An empty string turns `meridian ctl` off; read_path refuses empty paths.
            const auto* text = value.as_string();
            if (text && text->get().empty())
                control.socket.clear();
            else if (auto path = reader.read_path(field, value))
                control.socket = *path;
        } else if (name == "state") {
            control.state = reader.read_path(field, value);
        } else if (name == "drain_seconds") {
            if (auto v = reader.read_integer(field, value, 0, 3600)) control.drain_seconds = *v;
        } else if (name == "check_interval") {
            if (auto v = reader.read_milliseconds(field, value, 0.05, 60))
                control.check_interval_ms = *v;
        } else if (name == "hold_down") {
            if (auto v = reader.read_milliseconds(field, value, 0, 3600)) control.hold_down_ms = *v;
        } else if (name == "rise") {
            if (auto v = reader.read_integer(field, value, 1, 100)) control.rise = *v;
        } else if (name == "fall") {
            if (auto v = reader.read_integer(field, value, 1, 100)) control.fall = *v;
        } else {
            reader.unknown_key(field, "[control]");
        }
    }
}

}  // namespace meridian::server
