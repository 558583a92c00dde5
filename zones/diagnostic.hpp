// A problem found while loading configuration or zones, with the place it was found.
#pragma once

#include <string>
#include <vector>

namespace meridian {

struct Diagnostic {
    std::string file;
    int line = 0;  // 0 when the problem belongs to the whole file
    std::string message;
    bool is_error = true;  // false: a warning, printed but not fatal

    // "file:line: message" (or "file: message"), the form editors and CI logs understand.
    std::string to_string() const {
        std::string text = file;
        if (line > 0) {
            // Two appends, not ":" + to_string(): GCC 12 warns falsely (-Wrestrict) on the
            // latter at -O3 (GCC bug 105329), and Release builds with -Werror must pass.
            text += ':';
            text += std::to_string(line);
        }
        text += is_error ? ": " : ": warning: ";
        text += message;
        return text;
    }
};

using Diagnostics = std::vector<Diagnostic>;

inline bool has_errors(const Diagnostics& diagnostics) {
    for (const auto& d : diagnostics)
        if (d.is_error) return true;
    return false;
}

}  // namespace meridian
