// Several config files read as one: a base shared by every PoP, then small per-PoP files
// (`--config base.toml --config pop.toml`), merged into one TOML document before it is read.
//
// Later files win. A key set again replaces the earlier value, scalars and arrays of values
// alike (a PoP's `listen` replaces the base's list, it does not extend it). Tables merge key by
// key ([server] in pop.toml changes only the keys it names). Arrays of tables ([[zone]],
// [[pool]], [[geo]], [[geoip.nets]]) concatenate, the later file's entries after the earlier
// ones: a PoP file can add a zone or a pool, not remove or edit one from the base. Every node
// keeps the file and line it was written at, so diagnostics point at the file to edit.
#pragma once

#include <toml++/toml.h>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "zones/diagnostic.hpp"

namespace meridian::server {

// Moves every node of `overlay` into `base` by the rules above. Nodes are moved, never
// copied: toml++ keeps a node's source region only when it moves.
void merge_config_table(toml::table& base, toml::table&& overlay);

// Parses each file in order and merges them. Nullopt after a syntax error (reported in
// `diagnostics` at its file and line; every file is parsed, so each one's first error shows).
std::optional<toml::table> read_config_files(const std::vector<std::filesystem::path>& paths,
                                             Diagnostics& diagnostics);

// The merged document as TOML text, for `meridian check --print`: keys sorted, paths as
// written (each relative to the file that set it).
std::string to_toml_text(const toml::table& table);

// Digests (SHA-256, first 64 bits in hex) of the document's TOML text with every secret
// removed (the `secret` of each [[tsig]] key): the whole of it, and all but its [server] and
// [control] tables. They are public (/metrics, `ctl status`), hence no secret goes in. Keys
// are sorted, so the order they were written in, and comments, do not change a digest.
struct ConfigHashes {
    std::string config;
    std::string policy;
};
ConfigHashes hash_config(const toml::table& table);
// The text hash_config digests for `config`: to_toml_text without the secrets.
std::string hashed_config_text(const toml::table& table);

}  // namespace meridian::server
