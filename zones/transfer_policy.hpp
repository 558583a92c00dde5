// Who may transfer each zone out, whom to NOTIFY when it changes, the TSIG keys involved, and
// the history IXFR answers from: the per-zone transfer settings a snapshot carries, so a
// reload changes them together with the zones they are about.
#pragma once

#include <cstddef>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "geoip/network.hpp"
#include "zones/zone_diff.hpp"

namespace meridian::zones {

// A TSIG key (RFC 8945) as data; server/transfer/tsig.hpp signs and verifies with it.
struct TsigKey {
    std::string name;       // absolute, lowercase: "transfer-key."
    std::string algorithm;  // the wire algorithm name, absolute: "hmac-sha256."
    std::string secret;     // base64, as configured
};

// One allow_transfer entry: clients inside `network`, signing with `key` when one is named.
struct TransferAclEntry {
    geoip::Prefix network;
    std::string key;  // canonical key name; empty: no key required
};

// One secondary to NOTIFY (RFC 1996) when the zone's serial changes.
struct NotifyTarget {
    geoip::Address address;
    std::string text;  // as configured, for logs
    std::string key;   // canonical key name; empty: unsigned
};

struct ZoneTransferPolicy {
    std::vector<TransferAclEntry> allow;  // empty: nobody may transfer the zone
    std::vector<NotifyTarget> notify;
    size_t history_depth = 16;                   // differences kept for IXFR; 0: AXFR only
    std::shared_ptr<const ZoneHistory> history;  // null until the serial first changes
};

struct TransferSettings {
    std::vector<TsigKey> keys;
    std::map<std::string, ZoneTransferPolicy, std::less<>> zones;  // by origin, wire form

    const ZoneTransferPolicy* find(std::string_view origin) const {
        auto it = zones.find(origin);
        return it == zones.end() ? nullptr : &it->second;
    }
};

// True when some entry of `policy.allow` contains the client's address and names either no
// key or `key_name` (the canonical name of the key that verified the request; empty when
// it was not signed). IPv4-mapped IPv6 clients match IPv4 entries.
bool is_transfer_allowed(const ZoneTransferPolicy& policy, const geoip::Address* client,
                         std::string_view key_name);

}  // namespace meridian::zones
