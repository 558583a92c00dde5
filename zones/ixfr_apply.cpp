// Applying IXFR differences to a zone version, and building a zone from AXFR records.
#include "zones/ixfr_apply.hpp"

#include <algorithm>
#include <map>
#include <tuple>
#include <utility>

#include "wire/constants.hpp"
#include "wire/name.hpp"

namespace meridian::zones {

namespace {

std::string name_text(const std::string& wire_name) {
    return wire::to_text({reinterpret_cast<const uint8_t*>(wire_name.data()), wire_name.size()});
}

// The zone's records by (owner, type, type covered), so a difference finds what it deletes
// at once. RRSIGs are grouped by the type they cover, as the zone keeps them, so each group
// keeps its own TTL.
struct RRsetContent {
    uint32_t ttl = 0;
    std::vector<std::string> rdatas;
};
using RecordKey = std::tuple<std::string, uint16_t, uint16_t>;
using RecordTable = std::map<RecordKey, RRsetContent>;

RecordKey key_of(const std::string& owner, uint16_t type, std::string_view rdata) {
    return {owner, type, type == wire::type::kRRSIG ? type_covered(rdata) : uint16_t(0)};
}

std::shared_ptr<const Zone> build_from_table(const std::string& origin, const RecordTable& table,
                                             const std::string& source, Diagnostics& diagnostics) {
    ZoneBuilder builder(origin, source);
    // The SOA first, as a zone file has it; the builder does not depend on the order.
    for (const auto& [key, content] : table)
        for (const auto& rdata : content.rdatas)
            builder.add_record(std::get<0>(key), std::get<1>(key), content.ttl, rdata, 0);
    return builder.finish(diagnostics);
}

}  // namespace

uint32_t soa_serial(const std::string& rdata) {
    // MNAME and RNAME, then SERIAL REFRESH RETRY EXPIRE MINIMUM: the serial is 20 octets
    // from the end.
    if (rdata.size() < 22) return 0;
    const size_t at = rdata.size() - 20;
    return (uint32_t(uint8_t(rdata[at])) << 24) | (uint32_t(uint8_t(rdata[at + 1])) << 16) |
           (uint32_t(uint8_t(rdata[at + 2])) << 8) | uint32_t(uint8_t(rdata[at + 3]));
}

std::vector<ZoneRecord> zone_records(const Zone& zone) {
    std::vector<ZoneRecord> records;
    records.reserve(zone.record_count());
    const RRset& soa = zone.soa();
    records.push_back({zone.origin(), soa.type, soa.ttl, soa.rdatas.front()});
    for (const auto& [name, node] : zone.nodes())
        for_each_stored_rrset(node, [&](const RRset& rrset) {
            if (&node == &zone.apex() && rrset.type == wire::type::kSOA) return;
            for (const auto& rdata : rrset.rdatas)
                records.push_back({name, rrset.type, rrset.ttl, rdata});
        });
    return records;
}

std::shared_ptr<const Zone> build_zone(const std::string& origin,
                                       const std::vector<ZoneRecord>& records,
                                       const std::string& source, Diagnostics& diagnostics) {
    ZoneBuilder builder(origin, source);
    for (const auto& record : records)
        builder.add_record(record.owner, record.type, record.ttl, record.rdata, 0);
    return builder.finish(diagnostics);
}

std::shared_ptr<const Zone> apply_differences(const Zone& zone,
                                              const std::vector<ZoneDifference>& differences,
                                              const std::string& source, Diagnostics& diagnostics) {
    const auto fail = [&](std::string message) -> std::shared_ptr<const Zone> {
        diagnostics.push_back({source, 0, std::move(message), true});
        return nullptr;
    };
    RecordTable table;
    for (const auto& [name, node] : zone.nodes())
        for_each_stored_rrset(node, [&](const RRset& rrset) {
            if (!rrset.rdatas.empty())
                table[key_of(name, rrset.type, rrset.rdatas.front())] = {rrset.ttl, rrset.rdatas};
        });

    uint32_t serial = zone.serial();
    for (const ZoneDifference& difference : differences) {
        const uint32_t from = soa_serial(difference.old_soa.rdata);
        const uint32_t to = soa_serial(difference.new_soa.rdata);
        // RFC 1995 §4: the sequences chain from our version to the newest one.
        if (from != serial)
            return fail("IXFR difference starts at serial " + std::to_string(from) +
                        ", but the zone is at serial " + std::to_string(serial));
        if (!serial_is_before(from, to))
            return fail("IXFR difference goes from serial " + std::to_string(from) + " to " +
                        std::to_string(to) + ", which is not newer (RFC 1982)");
        if (difference.old_soa.owner != zone.origin() || difference.new_soa.owner != zone.origin())
            return fail("IXFR difference with an SOA outside the zone apex");
        for (const ZoneRecord& record : difference.deleted) {
            auto rrset = table.find(key_of(record.owner, record.type, record.rdata));
            auto rdata = rrset == table.end() ? std::vector<std::string>::iterator{}
                                              : std::find(rrset->second.rdatas.begin(),
                                                          rrset->second.rdatas.end(), record.rdata);
            // Deleting what is not there means the two sides disagree about this version:
            // the result could not be the primary's zone, so nothing is applied.
            if (rrset == table.end() || rdata == rrset->second.rdatas.end())
                return fail("IXFR to serial " + std::to_string(to) + " deletes a " +
                            std::to_string(record.type) + " record at '" + name_text(record.owner) +
                            "' that the zone at serial " + std::to_string(from) + " does not have");
            rrset->second.rdatas.erase(rdata);
            if (rrset->second.rdatas.empty()) table.erase(rrset);
        }
        for (const ZoneRecord& record : difference.added) {
            RRsetContent& rrset = table[key_of(record.owner, record.type, record.rdata)];
            // RFC 2181 §5.2: one TTL per RRset; the record added last carries the new one.
            rrset.ttl = record.ttl;
            if (std::find(rrset.rdatas.begin(), rrset.rdatas.end(), record.rdata) ==
                rrset.rdatas.end())
                rrset.rdatas.push_back(record.rdata);
        }
        table[key_of(zone.origin(), wire::type::kSOA, {})] = {difference.new_soa.ttl,
                                                              {difference.new_soa.rdata}};
        serial = to;
    }
    return build_from_table(zone.origin(), table, source, diagnostics);
}

}  // namespace meridian::zones
