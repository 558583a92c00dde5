// Files replaced whole or not at all: the kept copies of secondary zones, the drain and
// forced-pool state files.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

namespace meridian::server {

// Replaces `path` with `content` so that a reader (or a crash) sees the old file or the new
// one, never a mixture: a temporary file in the same folder, fsync, rename over `path`, then
// fsync of the folder so the rename itself survives a power cut. The folder is created when
// missing. Returns false with the cause in `error`; the old file is then untouched.
bool write_file_atomically(const std::filesystem::path& path, std::string_view content,
                           std::string& error);

}  // namespace meridian::server
