// libmaxminddb as the reference our own database reader and compiled trees are checked against.
#pragma once

#include <doctest/doctest.h>
#include <maxminddb.h>

namespace meridian::testing {

// libmaxminddb's lookup of the address `text` in `mmdb`; requires the lookup to work.
inline MMDB_lookup_result_s reference_lookup(MMDB_s& mmdb, const char* text) {
    int gai_error = 0, mmdb_error = 0;
    const MMDB_lookup_result_s result = MMDB_lookup_string(&mmdb, text, &gai_error, &mmdb_error);
    REQUIRE(mmdb_error == MMDB_SUCCESS);
    return result;
}

}  // namespace meridian::testing
