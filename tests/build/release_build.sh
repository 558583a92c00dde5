#!/usr/bin/env bash
# Packagers build with -DCMAKE_BUILD_TYPE=Release: configure and build the `meridian` target
# that way, warnings as errors, in a temporary tree, so an -O3-only warning fails CTest.
# Usage: release_build.sh SOURCE_DIR CMAKE GENERATOR CXX_COMPILER
set -euo pipefail
source_dir=$1 cmake=$2 generator=$3 compiler=$4

build_dir=$(mktemp -d "${TMPDIR:-/tmp}/meridian-release-XXXXXX")
trap 'rm -rf "$build_dir"' EXIT

"$cmake" -S "$source_dir" -B "$build_dir" -G "$generator" -DCMAKE_CXX_COMPILER="$compiler" \
    -DCMAKE_BUILD_TYPE=Release -DMERIDIAN_TESTS=OFF -DMERIDIAN_WERROR=ON >/dev/null
"$cmake" --build "$build_dir" --target meridian -j "$(nproc)"
