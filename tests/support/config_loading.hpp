// Loading a config written to a temporary folder, and checking the errors it names, for the
// tests of every library that reads a server::Config.
#pragma once

#include <doctest/doctest.h>

#include <initializer_list>
#include <optional>
#include <string>

#include "server/config/config.hpp"
#include "support/diagnostics.hpp"
#include "support/temp_folder.hpp"

namespace meridian::testing {

// The smallest [server] table: one listen address.
inline constexpr const char* kListenOnly = "[server]\nlisten = [\"127.0.0.1:5300\"]\n";

// Writes `text` to `name` in `folder` and loads it.
inline std::optional<server::Config> load_config_text(TempFolder& folder, const std::string& text,
                                                      Diagnostics& diagnostics,
                                                      const std::string& name = "meridian.toml") {
    return server::load_config(folder.write(name, text), diagnostics);
}

// An error expected at a line, with text its message contains.
struct ErrorAt {
    int line;
    std::string text;
};

// Checks, one CHECK each, that `diagnostics` has every error of `expected`.
inline void check_errors_at(const Diagnostics& diagnostics,
                            std::initializer_list<ErrorAt> expected) {
    for (const auto& e : expected) {
        const std::string why =
            "line " + std::to_string(e.line) + ": " + e.text + "\n" + diagnostics_text(diagnostics);
        CHECK_MESSAGE(has_error_at(diagnostics, e.line, e.text), why);
    }
}

// Loads `text` (written to `name` in `folder`), checks that it fails, and checks each error.
inline void check_config_errors(TempFolder& folder, const std::string& text,
                                std::initializer_list<ErrorAt> expected,
                                const std::string& name = "meridian.toml") {
    Diagnostics diagnostics;
    CHECK_FALSE(load_config_text(folder, text, diagnostics, name));
    check_errors_at(diagnostics, expected);
}

}  // namespace meridian::testing
