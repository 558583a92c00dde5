// Loading the zones and compiling the geo policies into one Snapshot, reporting every
// problem with the file and line an operator has to edit.
#include "server/reload/snapshot_builder.hpp"

#include <unistd.h>

#include <chrono>
#include <ctime>
#include <map>
#include <set>

#include "geoip/compile.hpp"
#include "geoip/error.hpp"
#include "wire/bytes.hpp"
#include "wire/constants.hpp"
#include "wire/name.hpp"
#include "zones/lookup.hpp"
#include "zones/zone_loader.hpp"

namespace meridian::server {

using wire::bytes_of;

namespace {

std::string text_of(std::string_view wire) {
    return wire::to_text(bytes_of(wire));
}

// A policy's owner name, checked against the zones, with what its answers are built from.
struct PlacedPolicy {
    const GeoEntry* entry = nullptr;
    std::string owner;  // lowercase wire form
    const zones::Zone* zone = nullptr;
};

class SnapshotBuilder {
  public:
    SnapshotBuilder(const Config& config, Diagnostics& diagnostics, BuildContext& context)
        : config_(config), diagnostics_(diagnostics), context_(context) {}

    std::unique_ptr<zones::Snapshot> build() {
        auto snapshot = std::make_unique<zones::Snapshot>();
        std::vector<std::shared_ptr<const zones::Zone>> zones = load_zones();
        // Policies are placed against the zones as loaded; the names they bring into
        // existence are added afterwards, zone by zone.
        zones::Catalog loaded;
        for (const auto& zone : zones) loaded.add(zone);
        open_database();
        const std::vector<PlacedPolicy> placed = place_policies(loaded);
        check_pools();

        std::map<const zones::Zone*, std::vector<std::string>> names_by_zone;
        for (const auto& policy : placed) names_by_zone[policy.zone].push_back(policy.owner);
        for (auto& zone : zones) {
            auto names = names_by_zone.find(zone.get());
            if (names != names_by_zone.end()) zone = zones::with_empty_nodes(zone, names->second);
            snapshot->catalog.add(zone);
        }
        for (auto& origin : unavailable_) snapshot->catalog.add_unavailable(std::move(origin));

        compile_policies(placed, snapshot->steering);
        settings(snapshot->settings);
        for (const auto& entry : config_.tsig_keys) snapshot->transfers.keys.push_back(entry.key);
        snapshot->transfers.zones = std::move(transfer_policies_);
        context_.database = database_;
        if (has_error_) return nullptr;
        return snapshot;
    }

  private:
    // A place without a file is the config as a whole, reported against its first file.
    void error(const ConfigPlace& place, std::string message) {
        diagnostics_.push_back({place.file ? *place.file : config_.path.string(), place.line,
                                std::move(message), true});
        has_error_ = true;
    }
    void warn(const ConfigPlace& place, std::string message) {
        diagnostics_.push_back({place.file ? *place.file : config_.path.string(), place.line,
                                std::move(message), false});
    }

    std::vector<std::shared_ptr<const zones::Zone>> load_zones() {
        std::vector<std::shared_ptr<const zones::Zone>> zones;
        std::set<std::string> origins;
        for (const auto& entry : config_.zones) {
            if (entry.is_secondary()) {
                if (auto zone = load_secondary(entry)) {
                    if (origins.insert(zone->origin()).second) {
                        // A secondary may pass its zone on (allow_transfer, notify) too.
                        transfer_policies_[zone->origin()] = entry.transfer;
                        zones.push_back(std::move(zone));
                    } else
                        error(entry.place,
                              "duplicate zone origin '" + text_of(zone->origin()) + "'");
                }
                continue;
            }
            auto outcome = zones::ZoneCache::Outcome::parsed;
            const auto started = std::chrono::steady_clock::now();
            auto loaded = context_.verify_signatures
                              ? zones::load_zone_file(entry.file, entry.origin,
                                                      zones::RecordParsing::direct_where_possible,
                                                      static_cast<uint32_t>(std::time(nullptr)))
                          : context_.zone_cache
                              ? context_.zone_cache->load(entry.file, entry.origin, outcome)
                              : zones::load_zone_file(entry.file, entry.origin);
            const double seconds =
                std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
            if (outcome == zones::ZoneCache::Outcome::parsed && loaded.zone)
                context_.zone_load_seconds.emplace_back(loaded.zone->origin(), seconds);
            const bool kept = outcome == zones::ZoneCache::Outcome::kept_previous;
            ++(outcome == zones::ZoneCache::Outcome::reused ? context_.zones_reused
                                                            : context_.zones_parsed);
            for (auto& d : loaded.diagnostics) {
                has_error_ = has_error_ || (d.is_error && !kept);
                diagnostics_.push_back(std::move(d));
            }
            if (kept) {
                ++context_.zones_kept;
                diagnostics_.push_back({entry.file.string(), 0,
                                        "not reloaded: still serving the previous version of " +
                                            text_of(loaded.zone->origin()) + " (serial " +
                                            std::to_string(loaded.zone->serial()) + ")",
                                        false});
            }
            if (!loaded.zone) {
                has_error_ = true;
                continue;
            }
            if (is_over_limit(entry, *loaded.zone, entry.file.string(), true)) continue;
            // `check` verifies each signature itself and says this at each RRSIG's line.
            if (!context_.verify_signatures) warn_of_expiring_signatures(entry, *loaded.zone);
            if (!origins.insert(loaded.zone->origin()).second) {
                error(entry.place,
                      "duplicate zone origin '" + text_of(loaded.zone->origin()) + "'");
                continue;
            }
            transfer_policies_[loaded.zone->origin()] = entry.transfer;
            zones.push_back(std::move(loaded.zone));
        }
        return zones;
    }

    // A signed zone whose earliest RRSIG has expired, or expires within the SOA refresh
    // (when a secondary would next look for a new version), turns bogus for validating
    // resolvers (RFC 4035 §5.3.1); said at every load, and /metrics has the time left.
    void warn_of_expiring_signatures(const ZoneEntry& entry, const zones::Zone& zone) {
        if (!zone.is_signed()) return;
        const auto now = static_cast<uint32_t>(std::time(nullptr));
        const auto left = static_cast<int32_t>(zone.earliest_signature_expiry() - now);
        const auto refresh = static_cast<int32_t>(soa_timers(zone).refresh);
        if (left >= refresh && left > 0) return;
        const zones::Node& node = zone.node_at(zone.earliest_expiring_node());
        // Appended: `"literal" + std::string` trips GCC 12's false -Wrestrict at -O3.
        std::string message = "the RRSIG over '";
        message.append(text_of(node.name))
            .append("' type ")
            .append(std::to_string(zone.earliest_expiring_type()))
            .append(" of ")
            .append(text_of(zone.origin()));
        if (left <= 0)
            message.append(" expired ")
                .append(std::to_string(-left / 3600))
                .append(" h ago: validating resolvers reject its answers; re-sign the zone");
        else
            message.append(" expires in ")
                .append(std::to_string(left / 3600))
                .append(" h, within the SOA refresh of ")
                .append(std::to_string(refresh / 3600))
                .append(" h: re-sign the zone");
        diagnostics_.push_back({entry.file.string(), 0, std::move(message), false});
    }

    // A zone of more records than its max_zone_records does not load, from a file as from a
    // transfer (zone_fetch.hpp); reported at the line that sets the limit, else at its
    // [[zone]]. True (and reported, as an error or a warning) when `zone` is over it.
    bool is_over_limit(const ZoneEntry& entry, const zones::Zone& zone, const std::string& file,
                       bool is_error) {
        if (zone.record_count() <= entry.max_zone_records) return false;
        const ConfigPlace& place =
            entry.max_zone_records_place.line > 0 ? entry.max_zone_records_place : entry.place;
        std::string message = file + " holds " + std::to_string(zone.record_count()) +
                              " records of " + text_of(zone.origin()) +
                              ", more than max_zone_records (" +
                              std::to_string(entry.max_zone_records) +
                              "); raise it in the zone's [[zone]] table if the zone is meant to "
                              "be this large";
        if (is_error)
            error(place, std::move(message));
        else
            warn(place, std::move(message));
        return true;
    }

    // A secondary zone's version: the one kept in the store (the last transfer), else its
    // cache file, read once. Its file is not the operator's to edit: a problem with it is a
    // warning, and the zone answers SERVFAIL until a transfer brings it (as Knot does), as
    // it does once the version has expired. Null when the zone is not served.
    std::shared_ptr<const zones::Zone> load_secondary(const ZoneEntry& entry) {
        SecondaryStore& store = context_.secondaries ? *context_.secondaries : scratch_store_;
        std::string origin = wire::wire_from_text(entry.origin);
        wire::to_lower({reinterpret_cast<const uint8_t*>(origin.data()), origin.size()},
                       reinterpret_cast<uint8_t*>(origin.data()));
        std::optional<SecondaryVersion> version = store.find(origin);
        if (!version) {
            std::error_code missing;
            const auto modified = std::filesystem::last_write_time(entry.file, missing);
            if (missing) {
                warn(entry.place, "secondary zone " + entry.origin + " has no copy in " +
                                      entry.file.string() +
                                      " yet: SERVFAIL until it is transferred from its primaries");
                unavailable_.push_back(origin);
                return nullptr;
            }
            zones::ZoneLoadResult loaded = zones::load_zone_file(entry.file, entry.origin);
            for (auto& d : loaded.diagnostics) {
                d.is_error = false;
                diagnostics_.push_back(std::move(d));
            }
            if (!loaded.zone || is_over_limit(entry, *loaded.zone, entry.file.string(), false)) {
                warn(entry.place, "the copy of secondary zone " + entry.origin + " in " +
                                      entry.file.string() +
                                      " does not load: SERVFAIL until it is transferred again");
                unavailable_.push_back(origin);
                return nullptr;
            }
            ++context_.zones_parsed;
            // The file's age stands for the time of the last refresh (RFC 1035 §3.3.13), so a
            // copy older than EXPIRE is not served after a restart.
            version =
                SecondaryVersion{loaded.zone, std::chrono::time_point_cast<WallClock::duration>(
                                                  std::chrono::file_clock::to_sys(modified))};
            store.keep(origin, *version);
        } else {
            ++context_.zones_reused;
        }
        if (version->is_expired(WallClock::now())) {
            warn(entry.place, "secondary zone " + entry.origin + " (serial " +
                                  std::to_string(version->zone->serial()) +
                                  ") has expired: no refresh from its primaries for " +
                                  std::to_string(soa_timers(*version->zone).expire) +
                                  " s (SOA EXPIRE); SERVFAIL until it is transferred again");
            unavailable_.push_back(origin);
            return nullptr;
        }
        return version->zone;
    }

    void open_database() {
        const auto& geoip = config_.geoip;
        if (!geoip.database) return;
        try {
            database_ = geoip::Database::open(geoip.database->string(), geoip.paths);
        } catch (const geoip::GeoipError& e) {
            error(geoip.database_place, e.what());
        }
    }

    // Checks that each policy's owner is a name we answer for and that its A/AAAA answers
    // could actually be reached: not below a delegation or a DNAME, not a CNAME owner.
    std::vector<PlacedPolicy> place_policies(const zones::Catalog& catalog) {
        std::vector<PlacedPolicy> placed;
        std::map<std::string, ConfigPlace> seen;
        for (const auto& entry : config_.geo) {
            wire::Name name;
            if (!wire::from_text(entry.policy.name, name)) {
                error(entry.place, "bad owner name '" + entry.policy.name + "'");
                continue;
            }
            wire::to_lower(name);
            const std::string owner(name.as_key());
            if (auto [it, inserted] = seen.emplace(owner, entry.place); !inserted) {
                error(entry.place, "'" + entry.policy.name + "' already has a [[geo]] policy (" +
                                       it->second.to_string() + ")");
                continue;
            }
            const zones::Zone* zone = catalog.find_zone(name.view());
            if (!zone) {
                error(entry.place, "'" + entry.policy.name + "' is not inside any served zone");
                continue;
            }
            if (!name_is_steerable(entry, owner, *zone)) continue;
            placed.push_back({&entry, owner, zone});
        }
        return placed;
    }

    bool name_is_steerable(const GeoEntry& entry, const std::string& owner,
                           const zones::Zone& zone) {
        const auto bytes = bytes_of(owner);
        // A zone signed elsewhere: Meridian holds no key, so a steered answer would go out
        // without an RRSIG and a validating resolver would reject it (RFC 4035 §5.3).
        if (zone.is_signed()) {
            error(entry.place, "'" + entry.policy.name + "' is in " + text_of(zone.origin()) +
                                   ", a zone signed elsewhere (" + zone.source_file() +
                                   " holds DNSKEY and RRSIG records): steered answers would "
                                   "carry no signatures and fail validation; steer names of "
                                   "unsigned zones only");
            return false;
        }
        if (bytes[0] == 1 && bytes[1] == '*') {
            error(entry.place, "'" + entry.policy.name +
                                   "' is a wildcard; steer explicit names (a wildcard's answers "
                                   "are synthesized per query name)");
            return false;
        }
        // The zone's own lookup says where an A query for the name lands.
        const zones::Lookup found = zones::look_up(zone, bytes, wire::type::kA);
        const bool is_owner = found.node && found.node->name == owner;
        switch (found.outcome) {
            case zones::LookupOutcome::delegation:
                error(entry.place, "'" + entry.policy.name + "' is " + (is_owner ? "" : "below ") +
                                       "the delegation '" + text_of(found.node->name) +
                                       "'; the child zone answers it");
                return false;
            case zones::LookupOutcome::dname:
                error(entry.place, "'" + entry.policy.name + "' is below the DNAME at '" +
                                       text_of(found.node->name) +
                                       "' and can never be queried directly");
                return false;
            case zones::LookupOutcome::cname:
                error(entry.place,
                      "'" + entry.policy.name +
                          "' has a CNAME in the zone; steer the CNAME's target "
                          "instead (a CNAME owner has no other data, RFC 1034 §3.6.2)");
                return false;
            case zones::LookupOutcome::exact:
            case zones::LookupOutcome::empty_non_terminal:
            case zones::LookupOutcome::wildcard:
            case zones::LookupOutcome::nxdomain:
                break;
        }
        return true;
    }

    void check_pools() {
        for (const auto& entry : config_.pools)
            if (!entry.pool.name.empty() && entry.ipv4.empty() && entry.ipv6.empty())
                error(entry.place, "pool '" + entry.pool.name + "' has no addresses");
        const std::string& own = config_.server.pool;
        if (!own.empty()) {
            bool found = false;
            for (const auto& entry : config_.pools) found = found || entry.pool.name == own;
            if (!found)
                error(config_.server.pool_place, "[server] pool '" + own + "' is not a [[pool]]");
        }
    }

    // The TTL of a steered RRset: the policy's, else the zone's own address TTL at the name
    // (the same type's first), else 60.
    uint32_t ttl_for(const PlacedPolicy& policy, uint16_t type) const {
        if (policy.entry->ttl) return *policy.entry->ttl;
        if (const zones::Node* node = policy.zone->find_node(policy.owner)) {
            const uint16_t other = type == wire::type::kA ? wire::type::kAAAA : wire::type::kA;
            if (const zones::RRset* same = node->find(type)) return same->ttl;
            if (const zones::RRset* sibling = node->find(other)) return sibling->ttl;
        }
        return 60;
    }

    void compile_policies(const std::vector<PlacedPolicy>& placed, zones::SteeringTable& table) {
        table.ecs_enabled = config_.geoip.ecs;
        table.ecs_from = config_.geoip.ecs_from;
        for (size_t i = 0; i < config_.pools.size(); ++i)
            table.pool_states.push_back(
                context_.pool_registry
                    ? context_.pool_registry->obtain(config_.pools[i].pool.name)
                    : std::make_shared<geoip::PoolState>(static_cast<uint16_t>(i)));
        const std::vector<geoip::Pool> pools = config_.geoip_pools();
        geoip::NetTable nets;
        try {
            nets = geoip::NetTable(config_.geoip.nets);
        } catch (const geoip::GeoipError& e) {
            error(
                config_.geoip.net_places.empty() ? ConfigPlace{} : config_.geoip.net_places.front(),
                e.what());
            return;
        }
        for (const auto& policy : placed) {
            geoip::Policy rules = policy.entry->policy;
            if (rules.mode == geoip::Policy::Mode::local) {
                if (config_.server.pool.empty()) {
                    error(policy.entry->place,
                          "mode = \"local\" needs [server] pool = \"...\", "
                          "naming this PoP's own pool");
                    continue;
                }
                rules.local_pool = config_.server.pool;
            } else if (!database_ && nets.empty()) {
                warn(policy.entry->place, "'" + rules.name +
                                              "': no [geoip] database and no [[geoip.nets]]: every "
                                              "client gets the zone's own records");
            }
            zones::SteeredName steered;
            try {
                steered.tree = geoip::compile_policy(rules, pools, nets, database_.get());
            } catch (const geoip::GeoipError& e) {
                error(policy.entry->place, e.what());
                continue;
            }
            steered.depends_on_client = rules.mode != geoip::Policy::Mode::local;
            const uint32_t ttl_a = ttl_for(policy, wire::type::kA);
            const uint32_t ttl_aaaa = ttl_for(policy, wire::type::kAAAA);
            for (size_t i = 0; i < config_.pools.size(); ++i)
                steered.pools.push_back(
                    {zones::OwnedRRset{wire::type::kA, ttl_a, config_.pools[i].ipv4},
                     zones::OwnedRRset{wire::type::kAAAA, ttl_aaaa, config_.pools[i].ipv6},
                     table.pool_states[i].get()});
            warn_about_partial_nodata(policy, steered);
            table.add(policy.owner, std::move(steered));
        }
    }

    // RFC 7871 §7.4: a resolver caches a negative answer for every client, whatever the
    // scope. A type that is NODATA in some places and answered in others therefore leaks
    // one region's NODATA to everyone.
    void warn_about_partial_nodata(const PlacedPolicy& policy, const zones::SteeredName& steered) {
        const zones::Node* node = policy.zone->find_node(policy.owner);
        for (const uint16_t type : {wire::type::kA, wire::type::kAAAA}) {
            const bool zone_has_type = node && node->find(type);
            std::set<std::string> silent;  // who gets NODATA: pools, or unlocated clients
            bool some_answered = false;
            for (const geoip::DecisionId decision : steered.tree.reachable_decisions()) {
                bool answered = zone_has_type;
                for (const geoip::PoolIndex pool : steered.tree.pools(decision))
                    answered = answered || !steered.pools[pool].for_type(type).rdatas.empty();
                some_answered = some_answered || answered;
                if (answered) continue;
                if (steered.tree.pools(decision).empty())
                    silent.insert("no pool (the unlocated, or those no rule names)");
                for (const geoip::PoolIndex pool : steered.tree.pools(decision))
                    silent.insert("'" + config_.pools[pool].pool.name + "'");
            }
            const bool some_nodata = !silent.empty();
            if (!some_nodata || !some_answered) continue;
            const char* type_name = type == wire::type::kA ? "A" : "AAAA";
            std::string who;
            for (const auto& name : silent) who += (who.empty() ? "" : ", ") + name;
            warn(policy.entry->place,
                 "'" + policy.entry->policy.name + "': " + type_name +
                     " is NODATA for clients "
                     "steered to " +
                     who + " (no " + type_name +
                     " addresses there) but answered "
                     "for others; resolvers cache NODATA for every client (RFC 7871 §7.4). Give "
                     "those pools " +
                     type_name + " addresses, or the zone a " + type_name +
                     " record at this name as fallback");
        }
    }

    void settings(zones::ResponderSettings& settings) const {
        // Like Knot and NSD, a PoP without a configured identity answers with its host name,
        // so `dig +nsid` tells PoPs apart even before anyone names them.
        settings.identity = config_.server.identity;
        if (settings.identity.empty()) {
            char host[256] = {};
            if (gethostname(host, sizeof host - 1) == 0) settings.identity = host;
        }
        settings.version = config_.server.version;
        settings.udp_payload = config_.server.udp_payload;
    }

    const Config& config_;
    Diagnostics& diagnostics_;
    BuildContext& context_;
    bool has_error_ = false;
    std::shared_ptr<const geoip::Database> database_;
    // Each zone's transfer settings by origin; reload() adds the IXFR history.
    std::map<std::string, zones::ZoneTransferPolicy, std::less<>> transfer_policies_;
    std::vector<std::string> unavailable_;  // secondary zones answered with SERVFAIL
    SecondaryStore scratch_store_;          // when the caller keeps none (`meridian check`)
};

}  // namespace

std::unique_ptr<zones::Snapshot> build_snapshot(const Config& config, Diagnostics& diagnostics,
                                                BuildContext* context) {
    BuildContext scratch;
    auto snapshot = SnapshotBuilder(config, diagnostics, context ? *context : scratch).build();
    if (context && context->zone_cache) context->zone_cache->drop_unused();
    return snapshot;
}

}  // namespace meridian::server
