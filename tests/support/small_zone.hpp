// A minimal valid zone for tests that need one to load but do not test its answers.
#pragma once

namespace meridian::testing {

inline constexpr const char* kSmallExampleZone = R"($ORIGIN example.com.
$TTL 3600
@   SOA ns1 hostmaster 1 7200 3600 1209600 300
    NS  ns1
ns1 A   192.0.2.1
www A   192.0.2.10
)";

}  // namespace meridian::testing
