// Matching a client against a zone's transfer ACL.
#include "zones/transfer_policy.hpp"

#include <netinet/in.h>

#include <cstring>

namespace meridian::zones {

namespace {

bool contains(const geoip::Prefix& network, geoip::Family family, const uint8_t* address) {
    if (network.family != family) return false;
    for (unsigned bit = 0; bit < network.length; ++bit)
        if (geoip::address_bit(network.address.data(), bit) != geoip::address_bit(address, bit))
            return false;
    return true;
}

}  // namespace

bool is_transfer_allowed(const ZoneTransferPolicy& policy, const sockaddr* client,
                         std::string_view key_name) {
    if (!client) return false;
    uint8_t address[16] = {};
    geoip::Family family;
    if (client->sa_family == AF_INET) {
        std::memcpy(address, &reinterpret_cast<const sockaddr_in*>(client)->sin_addr, 4);
        family = geoip::Family::v4;
    } else if (client->sa_family == AF_INET6) {
        const auto& in6 = reinterpret_cast<const sockaddr_in6*>(client)->sin6_addr;
        if (IN6_IS_ADDR_V4MAPPED(&in6)) {
            std::memcpy(address, in6.s6_addr + 12, 4);
            family = geoip::Family::v4;
        } else {
            std::memcpy(address, in6.s6_addr, 16);
            family = geoip::Family::v6;
        }
    } else {
        return false;
    }
    for (const TransferAclEntry& entry : policy.allow)
        if (contains(entry.network, family, address) &&
            (entry.key.empty() || entry.key == key_name))
            return true;
    return false;
}

}  // namespace meridian::zones
