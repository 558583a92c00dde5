// Client locations and steering decisions for GeoDNS. Grows with the GeoDNS work; the
// layer knows nothing of sockets or zones.
#pragma once

namespace meridian::geoip {

// libmaxminddb's version, reported by `meridian --version`.
const char* maxminddb_version();

}  // namespace meridian::geoip
