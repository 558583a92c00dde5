// The one exception type GeoDNS code throws at load time (never on the query path).
#pragma once

#include <stdexcept>

namespace meridian::geoip {

// A load-time failure an operator can cause and fix: a missing or corrupt database, a policy
// naming an unknown pool. The message names the file or object and the cause.
class GeoipError : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

}  // namespace meridian::geoip
