// A zone file written into a test's folder and loaded, for tests that need a zone rather than
// the loader's details.
#pragma once

#include <doctest/doctest.h>

#include <filesystem>
#include <memory>
#include <string_view>

#include "support/temp_folder.hpp"
#include "zones/zone_loader.hpp"

namespace meridian::testing {

// `text` written to `file_name` in `folder` and loaded at `origin`; requires it to load.
inline std::shared_ptr<const zones::Zone> load_written_zone(
    TempFolder& folder, std::string_view text, std::string_view origin = "example.com.",
    const std::filesystem::path& file_name = "example.com.zone") {
    auto loaded = zones::load_zone_file(folder.write(file_name, text), origin);
    REQUIRE(loaded.zone);
    return loaded.zone;
}

}  // namespace meridian::testing
