// Everything a query reads, bundled so it can be built off the query path and published
// as one immutable object.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "zones/catalog.hpp"
#include "zones/steering.hpp"
#include "zones/transfer_policy.hpp"

namespace meridian::zones {

struct ResponderSettings {
    std::string identity;                // NSID and CHAOS id.server / hostname.bind
    std::optional<std::string> version;  // CHAOS version.bind; unset = REFUSED
    uint16_t udp_payload = 1232;         // largest EDNS UDP response we send
};

struct Snapshot {
    Catalog catalog;
    SteeringTable steering;  // names with a geo policy; empty when GeoDNS is not configured
    ResponderSettings settings;
    TransferSettings transfers;  // zone transfers out, NOTIFY and TSIG keys; not the hot path
};

}  // namespace meridian::zones
