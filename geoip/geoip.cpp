// Client locations and steering decisions for GeoDNS.
#include "geoip/geoip.hpp"

#include <maxminddb.h>

namespace meridian::geoip {

const char* maxminddb_version() {
    return MMDB_lib_version();
}

}  // namespace meridian::geoip
