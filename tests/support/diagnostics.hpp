// Reading a Diagnostics list in tests: whether an error names a line, and the whole list as
// text for a failed check's message.
#pragma once

#include <string>

#include "zones/diagnostic.hpp"

namespace meridian::testing {

inline bool has_error_at(const Diagnostics& diagnostics, int line, const std::string& text) {
    for (const auto& d : diagnostics)
        if (d.is_error && d.line == line && d.message.find(text) != std::string::npos) return true;
    return false;
}

inline std::string diagnostics_text(const Diagnostics& diagnostics) {
    std::string text;
    for (const auto& d : diagnostics) text += d.to_string() + "\n";
    return text;
}

}  // namespace meridian::testing
