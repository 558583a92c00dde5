// Writing a zone back to an RFC 1035 master file, atomically: what a secondary keeps of the
// zones it transferred, so a restart serves them before the primary is reachable again.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

#include "zones/ldns_include.hpp"
#include "zones/zone.hpp"

namespace meridian::zones {

// The zone as master-file text: the SOA first, then every record with absolute names, one
// per line, in a stable order (names, then types). ldns writes each record's text, so every
// type it knows reads back as written and unknown types use the RFC 3597 form.
std::string zone_to_text(const Zone& zone);

// One record (owner in wire form, class IN) as an ldns record the caller frees with
// ldns_rr_free; null when ldns cannot read the RDATA as that type.
ldns_rr* record_to_ldns(std::string_view owner, uint16_t type, uint32_t ttl,
                        std::string_view rdata);

// Replaces `path` with `content` so that a reader (or a crash) sees the old file or the new
// one, never a mixture: a temporary file in the same folder, fsync, rename over `path`, then
// fsync of the folder so the rename itself survives a power cut. The folder is created when
// missing. Returns false with the cause in `error`; the old file is then untouched.
bool write_file_atomically(const std::filesystem::path& path, std::string_view content,
                           std::string& error);

}  // namespace meridian::zones
