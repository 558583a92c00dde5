// A minimal valid zone for tests that need one to load but do not test its answers.
#pragma once

#include <string>

namespace meridian::testing {

inline constexpr const char* kSmallExampleZone = R"($ORIGIN example.com.
$TTL 3600
@   SOA ns1 hostmaster 1 7200 3600 1209600 300
    NS  ns1
ns1 A   192.0.2.1
www A   192.0.2.10
)";

// example.com. (serial 7) with `hosts` TXT records host0..hostN-1, each long enough that a
// few fill a message: for transfers that need several messages.
inline std::string zone_with_hosts(int hosts) {
    std::string text =
        "$ORIGIN example.com.\n$TTL 300\n@ SOA ns1 hostmaster 7 7200 900 1209600 60\n"
        "@ NS ns1\nns1 A 192.0.2.1\n";
    for (int i = 0; i < hosts; ++i)
        text += "host" + std::to_string(i) + " TXT \"a record long enough to fill messages " +
                std::to_string(i) + "\"\n";
    return text;
}

}  // namespace meridian::testing
