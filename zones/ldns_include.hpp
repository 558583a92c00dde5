// ldns for C++: its common.h defines `bool`, `true` and `false` as macros unless
// stdbool.h came first, which breaks standard headers included after it.
#pragma once

#include <stdbool.h>  // NOLINT: must precede ldns

#include <ldns/ldns.h>
