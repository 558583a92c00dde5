// Matching a client against a zone's transfer ACL.
#include "zones/transfer_policy.hpp"

namespace meridian::zones {

bool is_transfer_allowed(const ZoneTransferPolicy& policy, const geoip::Address* client,
                         std::string_view key_name) {
    if (!client) return false;
    for (const TransferAclEntry& entry : policy.allow)
        if (geoip::contains(entry.network, *client) && (entry.key.empty() || entry.key == key_name))
            return true;
    return false;
}

}  // namespace meridian::zones
