// `meridian explain`: builds the snapshot exactly as `serve` would, answers one query through
// the real responder, and retraces the steering decision step by step with the slow path,
// so what it prints is what a resolver at that address would get. Pool states (checks,
// forced) live in the running server: explain asks it over the control socket, and without
// an answer says so and takes every pool as up, as a server does before its checks conclude.
#include "server/cli/explain_command.hpp"

#include <netinet/in.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "geoip/explain.hpp"
#include "server/cli/ctl_command.hpp"
#include "server/config/config.hpp"
#include "server/reload/snapshot_builder.hpp"
#include "wire/name.hpp"
#include "zones/ldns.hpp"
#include "zones/responder.hpp"

namespace meridian::server {

namespace {

constexpr const char* kUsage =
    "usage: meridian explain --config FILE... NAME [TYPE] [--client IP] [--ecs PREFIX]\n"
    "  --config F  a config file; several are merged in order (later files override)\n"
    "  TYPE        the query type (default A)\n"
    "  --client IP the resolver's address, as seen by the server (default 127.0.0.1)\n"
    "  --ecs P     an EDNS Client Subnet the resolver sends, like 198.51.100.0/24\n";

struct Arguments {
    std::vector<std::filesystem::path> configs;
    std::string name;
    std::string type = "A";
    std::string client = "127.0.0.1";
    bool client_given = false;
    std::optional<geoip::Prefix> ecs;
};

std::optional<Arguments> parse_arguments(int argc, char** argv) {
    Arguments arguments;
    std::vector<std::string> positional;
    for (int i = 0; i < argc; ++i) {
        const std::string argument = argv[i];
        auto value = [&]() -> std::optional<std::string> {
            if (i + 1 < argc) return std::string(argv[++i]);
            std::fprintf(stderr, "meridian: %s needs a value\n", argument.c_str());
            return std::nullopt;
        };
        if (argument == "--config" || argument == "-c") {
            auto v = value();
            if (!v) return std::nullopt;
            arguments.configs.emplace_back(*v);
        } else if (argument == "--client") {
            auto v = value();
            if (!v) return std::nullopt;
            arguments.client = *v;
            arguments.client_given = true;
        } else if (argument == "--ecs") {
            auto v = value();
            if (!v) return std::nullopt;
            std::string error;
            // Host bits are the one mistake worth forgiving here: resolvers never send them
            // (that is FORMERR), but an operator pasting a client's address means its subnet.
            std::string text = *v;
            const auto slash = text.find('/');
            auto parsed = geoip::parse_prefix(text.substr(0, slash), error);
            unsigned length = parsed ? geoip::address_bits(parsed->family) : 0;
            if (parsed && slash != std::string::npos) {
                char* end = nullptr;
                length = std::strtoul(text.c_str() + slash + 1, &end, 10);
                if (*end != '\0' || length > geoip::address_bits(parsed->family)) parsed.reset();
            }
            if (!parsed) {
                std::fprintf(stderr, "meridian: --ecs '%s' is not a prefix like 198.51.100.0/24\n",
                             text.c_str());
                return std::nullopt;
            }
            arguments.ecs = geoip::make_prefix(parsed->family, parsed->address.data(), length);
        } else if (argument.starts_with("-")) {
            std::fprintf(stderr, "meridian: unexpected argument '%s'\n", argument.c_str());
            return std::nullopt;
        } else {
            positional.push_back(argument);
        }
    }
    if (arguments.configs.empty() || positional.empty() || positional.size() > 2)
        return std::nullopt;
    arguments.name = positional[0];
    if (positional.size() == 2) arguments.type = positional[1];
    return arguments;
}

void put16(std::vector<uint8_t>& out, unsigned value) {
    out.push_back(static_cast<uint8_t>(value >> 8));
    out.push_back(static_cast<uint8_t>(value));
}

// The query a resolver would send: RD clear, EDNS with a 4096-octet payload, and the ECS
// option when one is asked for.
std::vector<uint8_t> make_query(const wire::Name& name, uint16_t type,
                                const std::optional<geoip::Prefix>& ecs) {
    std::vector<uint8_t> query = {0x12, 0x34, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1};
    query.insert(query.end(), name.bytes, name.bytes + name.length);
    put16(query, type);
    put16(query, 1);  // IN
    query.push_back(0);
    put16(query, 41);  // OPT
    put16(query, 4096);
    query.insert(query.end(), {0, 0, 0, 0});
    if (!ecs) {
        put16(query, 0);
        return query;
    }
    const unsigned address_octets = (ecs->length + 7) / 8;
    put16(query, 4 + 4 + address_octets);
    put16(query, 8);  // RFC 7871 option code
    put16(query, 4 + address_octets);
    put16(query, ecs->family == geoip::Family::v4 ? 1 : 2);
    query.push_back(ecs->length);
    query.push_back(0);
    query.insert(query.end(), ecs->address.begin(), ecs->address.begin() + address_octets);
    return query;
}

std::string describe(const geoip::Location& location) {
    std::string text;
    auto add = [&](const std::string& label, const std::string& value) {
        if (value.empty()) return;
        text += (text.empty() ? "" : ", ") + label + " " + value;
    };
    add("country", location.country);
    add("subdivision", location.subdivision);
    add("continent", location.continent);
    if (location.coordinates) {
        char where[64];
        std::snprintf(where, sizeof where, "%.4f, %.4f", location.coordinates->latitude,
                      location.coordinates->longitude);
        add("at", where);
    }
    return text.empty() ? "no location fields" : text;
}

void row(const char* label, const std::string& text) {
    std::printf("%-11s %s\n", label, text.c_str());
}

std::vector<std::string> records(const ldns_rr_list* list) {
    std::vector<std::string> lines;
    for (size_t i = 0; i < ldns_rr_list_rr_count(list); ++i) {
        std::string line = ldns::take_text(ldns_rr2str(ldns_rr_list_rr(list, i)));
        while (!line.empty() && line.back() == '\n') line.pop_back();
        lines.push_back(line);
    }
    return lines;
}

// Where the pool states came from, and each pool's as the running server reported it.
struct PoolStates {
    std::string source;                        // for the "pool states" row
    std::map<std::string, std::string> notes;  // pool name -> "down (forced)", ...
};

geoip::CheckedState checked_from(std::string_view word) {
    return word == "up"     ? geoip::CheckedState::up
           : word == "down" ? geoip::CheckedState::down
                            : geoip::CheckedState::unknown;
}

// Asks the running server for its pool states (`meridian ctl pools`) and sets them in the
// snapshot, so the responder skips the pools the server skips.
PoolStates fetch_pool_states(const Config& config, const zones::Snapshot& snapshot) {
    PoolStates states;
    if (config.pools.empty()) return states;
    if (!config.control.is_enabled || config.control.socket.empty()) {
        states.source =
            "unknown: the config has no [control] socket to ask the running "
            "server; every pool is taken as up";
        return states;
    }
    std::string error;
    const auto reply =
        ask_server(config.control.socket, "pools", std::chrono::milliseconds(2000), error);
    if (!reply || !reply->starts_with("ok")) {
        states.source = "unknown (" + (reply ? reply->substr(0, reply->find('\n')) : error) +
                        "); every pool is taken as up";
        return states;
    }
    states.source = "from the running server at " + config.control.socket.string();
    size_t at = reply->find('\n');
    while (at != std::string::npos && at + 1 < reply->size()) {
        const size_t end = reply->find('\n', at + 1);
        const std::string line = reply->substr(at + 1, end - at - 1);
        at = end;
        // "fra down checked=up forced=down transitions=1 ..."
        std::vector<std::string> words;
        for (size_t start = 0; start < line.size();) {
            size_t space = line.find(' ', start);
            if (space == std::string::npos) space = line.size();
            words.push_back(line.substr(start, space - start));
            start = space + 1;
        }
        if (words.size() < 4 || !words[2].starts_with("checked=") ||
            !words[3].starts_with("forced="))
            continue;
        const std::string checked = words[2].substr(8), forced = words[3].substr(7);
        for (size_t i = 0; i < config.pools.size() && i < snapshot.steering.pool_states.size();
             ++i) {
            if (config.pools[i].pool.name != words[0]) continue;
            geoip::PoolState& state = *snapshot.steering.pool_states[i];
            state.set_checked(checked_from(checked));
            state.set_forced(forced == "up"     ? geoip::ForcedState::up
                             : forced == "down" ? geoip::ForcedState::down
                                                : geoip::ForcedState::none);
            std::string note = words[1];
            if (forced != "none")
                note += " (forced " + forced + ")";
            else if (checked == "unchecked")
                note += " (no check)";
            else
                note += " (its check says " + checked + ")";
            states.notes[words[0]] = note;
        }
    }
    return states;
}

class Explainer {
  public:
    Explainer(const Config& config, const zones::Snapshot& snapshot,
              std::shared_ptr<const geoip::Database> database, PoolStates states)
        : config_(config),
          snapshot_(snapshot),
          database_(std::move(database)),
          states_(std::move(states)),
          pools_(config.geoip_pools()),
          nets_(config.geoip.nets) {
        for (const auto& entry : config.geo) {
            wire::Name name;
            if (!wire::from_text(entry.policy.name, name)) continue;
            wire::to_lower(name);
            policies_.emplace(std::string(name.as_key()), &entry);
        }
    }

    int run(const Arguments& arguments) {
        wire::Name name;
        if (!wire::from_text(arguments.name, name)) {
            std::fprintf(stderr, "meridian: '%s' is not a domain name\n", arguments.name.c_str());
            return 2;
        }
        const ldns_rr_type type = ldns_get_rr_type_by_name(arguments.type.c_str());
        if (type == 0) {
            std::fprintf(stderr, "meridian: '%s' is not a record type\n", arguments.type.c_str());
            return 2;
        }
        const auto client = geoip::parse_address(arguments.client);
        if (!client) {
            std::fprintf(stderr, "meridian: --client '%s' is not an IP address\n",
                         arguments.client.c_str());
            return 2;
        }
        const auto query_bytes = make_query(name, type, arguments.ecs);
        // TCP: no truncation, so the whole answer shows.
        const zones::QueryOrigin origin{zones::Transport::tcp, &*client};
        std::vector<uint8_t> response(65535);
        response.resize(zones::respond(snapshot_, query_bytes, response, origin));

        row("question",
            wire::to_text(name.view()) + " IN " + ldns::take_text(ldns_rr_type2str(type)));
        std::string asker = "resolver " + arguments.client;
        if (!arguments.client_given) asker += " (the default; pass --client)";
        if (arguments.ecs) asker += ", ECS " + geoip::to_string(*arguments.ecs);
        row("client", asker);

        wire::Query query;
        wire::parse_query(query_bytes, query);
        bool from_ecs = false;
        const zones::ClientAddress deciding =
            zones::deciding_address(query, origin.client, snapshot_.steering, from_ecs);
        const ldns::Packet owned = ldns::parse_packet(response.data(), response.size());
        if (response.empty() || !owned) {
            row("answer", "none (the query would be dropped)");
            return 0;
        }
        ldns_pkt* packet = owned.get();
        explain_steering(packet, name, type, deciding, from_ecs, arguments);

        row("rcode", ldns::take_text(ldns_pkt_rcode2str(ldns_pkt_get_rcode(packet))) +
                         (ldns_pkt_aa(packet) ? ", authoritative" : ""));
        print_section("answer", ldns_pkt_answer(packet));
        print_section("authority", ldns_pkt_authority(packet));
        print_section("additional", ldns_pkt_additional(packet));
        if (arguments.ecs) {
            const int scope = ldns::ecs_scope(packet);
            std::string text = "/" + std::to_string(scope);
            if (scope == 0)
                text += ": the answer does not depend on the client; resolvers cache it for all";
            else if (scope > 0)
                text += ": resolvers cache this answer for " +
                        geoip::to_string(geoip::make_prefix(arguments.ecs->family,
                                                            arguments.ecs->address.data(),
                                                            static_cast<unsigned>(scope)));
            row("ecs scope", text);
        }
        return 0;
    }

  private:
    static void print_section(const char* label, const ldns_rr_list* list) {
        const auto lines = records(list);
        if (lines.empty() && std::strcmp(label, "answer") != 0) return;
        if (lines.empty()) row(label, "(empty)");
        for (size_t i = 0; i < lines.size(); ++i) row(i == 0 ? label : "", lines[i]);
    }

    // The steered names this answer passed through: the question's name and each CNAME
    // target in the answer.
    std::vector<std::string> steered_owners(ldns_pkt* packet, const wire::Name& qname) const {
        std::vector<std::string> owners;
        wire::Name lower = qname;
        wire::to_lower(lower);
        auto consider = [&](const std::string& owner) {
            if (policies_.count(owner) &&
                std::find(owners.begin(), owners.end(), owner) == owners.end())
                owners.push_back(owner);
        };
        consider(std::string(lower.as_key()));
        const ldns_rr_list* answer = ldns_pkt_answer(packet);
        for (size_t i = 0; i < ldns_rr_list_rr_count(answer); ++i) {
            const ldns_rr* rr = ldns_rr_list_rr(answer, i);
            if (ldns_rr_get_type(rr) != LDNS_RR_TYPE_CNAME) continue;
            const ldns_rdf* target = ldns_rr_rdf(rr, 0);
            std::string wire(reinterpret_cast<const char*>(ldns_rdf_data(target)),
                             ldns_rdf_size(target));
            for (char& c : wire)
                if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
            consider(wire);
        }
        return owners;
    }

    void explain_steering(ldns_pkt* packet, const wire::Name& qname, ldns_rr_type type,
                          const zones::ClientAddress& deciding, bool from_ecs,
                          const Arguments& arguments) const {
        const auto owners = steered_owners(packet, qname);
        if (owners.empty()) {
            row("steering", "none: no [[geo]] policy on this name; the zone answers");
            return;
        }
        std::string decider = geoip::address_text(deciding.family, deciding.bytes);
        if (from_ecs)
            decider += " (the ECS subnet, source /" + std::to_string(deciding.source_prefix) + ")";
        else if (arguments.ecs && !config_.geoip.ecs)
            decider += " (the resolver's address: [geoip] ecs = false)";
        else if (arguments.ecs && arguments.ecs->length == 0)
            decider += " (the resolver's address: ECS source /0 asks for it)";
        else if (arguments.ecs)
            decider += " (the resolver's address: it is not in [geoip] ecs_from)";
        else
            decider += " (the resolver's address; no ECS)";
        row("deciding", decider);
        if (!states_.source.empty()) row("pool states", states_.source);
        const bool is_address_type = type == LDNS_RR_TYPE_A || type == LDNS_RR_TYPE_AAAA;
        for (const auto& owner : owners) {
            const GeoEntry& entry = *policies_.at(owner);
            const char* mode = entry.policy.mode == geoip::Policy::Mode::map       ? "map"
                               : entry.policy.mode == geoip::Policy::Mode::nearest ? "nearest"
                                                                                   : "local";
            row("policy", entry.policy.name + " mode " + mode + " (" +
                              entry.place.to_string(config_.path.string()) + ")");
            if (!is_address_type) {
                row("", "only A and AAAA are steered; this type comes from the zone");
                continue;
            }
            geoip::Policy policy = entry.policy;
            policy.local_pool = config_.server.pool;
            uint8_t padded[16] = {};
            std::memcpy(padded, deciding.bytes, 16);
            // The tree reads only the source prefix's bits; so does this slow path.
            const geoip::Prefix source = geoip::make_prefix(
                deciding.family, padded,
                from_ecs ? deciding.source_prefix : geoip::address_bits(deciding.family));
            const geoip::Explanation why = geoip::explain_address(
                policy, pools_, nets_, database_.get(), deciding.family, source.address.data());
            describe_source(why, policy.mode);
            row("rule", why.rule);
            describe_pools(why, type);
        }
    }

    void describe_source(const geoip::Explanation& why, geoip::Policy::Mode mode) const {
        if (mode == geoip::Policy::Mode::local) {
            row("located", "not needed: a local policy answers with this PoP's pool");
            return;
        }
        switch (why.source) {
            case geoip::Explanation::Source::net: {
                ConfigPlace place;
                for (size_t i = 0; i < config_.geoip.nets.size(); ++i)
                    if (config_.geoip.nets[i].network == why.network)
                        place = config_.geoip.net_places[i];
                std::string text = "config net " + geoip::to_string(why.network) + " (" +
                                   place.to_string(config_.path.string()) + ")";
                text += why.location.is_unknown() ? ": names pools directly"
                                                  : ": " + describe(why.location);
                row("located", text);
                break;
            }
            case geoip::Explanation::Source::database:
                row("located", "database network " + geoip::to_string(why.network) + " (" +
                                   database_->path() + "): " + describe(why.location));
                break;
            case geoip::Explanation::Source::none:
                row("located", database_ ? "nowhere: no config net, and the database has no "
                                           "location for " +
                                               geoip::to_string(why.network)
                                         : "nowhere: no config net matches and no database is "
                                           "configured");
                break;
        }
    }

    void describe_pools(const geoip::Explanation& why, ldns_rr_type type) const {
        const bool is_a = type == LDNS_RR_TYPE_A;
        const char* type_name = is_a ? "A" : "AAAA";
        bool chosen = false;
        for (const auto& name : why.pools) {
            const PoolEntry* pool = nullptr;
            const geoip::PoolState* state = nullptr;
            for (size_t i = 0; i < config_.pools.size(); ++i) {
                if (config_.pools[i].pool.name != name) continue;
                pool = &config_.pools[i];
                if (i < snapshot_.steering.pool_states.size())
                    state = snapshot_.steering.pool_states[i].get();
            }
            const size_t count = pool ? (is_a ? pool->ipv4.size() : pool->ipv6.size()) : 0;
            const auto note = states_.notes.find(name);
            std::string text = name + ": ";
            if (state && !state->is_usable())
                text += "skipped: " + (note != states_.notes.end() ? note->second : "down");
            else if (chosen)
                text += "standby (an earlier pool answers)";
            else if (count == 0)
                text += std::string("skipped: no ") + type_name + " addresses";
            else {
                text += "chosen (" + std::to_string(count) + " " + type_name +
                        (count == 1 ? " address)" : " addresses)");
                if (note != states_.notes.end()) text += ", " + note->second;
                chosen = true;
            }
            row(name == why.pools.front() ? "pools" : "", text);
        }
        if (!chosen)
            row("fallback", "the zone's own records at the name (NODATA when it has none)");
    }

    const Config& config_;
    const zones::Snapshot& snapshot_;
    std::shared_ptr<const geoip::Database> database_;
    PoolStates states_;
    std::vector<geoip::Pool> pools_;
    geoip::NetTable nets_;
    std::map<std::string, const GeoEntry*> policies_;
};

}  // namespace

int explain_command(int argc, char** argv) {
    const auto arguments = parse_arguments(argc, argv);
    if (!arguments) {
        std::fputs(kUsage, stderr);
        return 2;
    }
    Diagnostics diagnostics;
    auto config = load_config(arguments->configs, diagnostics);
    BuildContext context;
    std::unique_ptr<zones::Snapshot> snapshot;
    if (config) snapshot = build_snapshot(*config, diagnostics, &context);
    for (const auto& d : diagnostics) std::fprintf(stderr, "%s\n", d.to_string().c_str());
    if (!snapshot) {
        std::string files;
        for (const auto& path : arguments->configs)
            files += (files.empty() ? "" : " + ") + path.string();
        std::fprintf(stderr, "meridian: %s has errors\n", files.c_str());
        return 1;
    }
    PoolStates states = fetch_pool_states(*config, *snapshot);
    return Explainer(*config, *snapshot, context.database, std::move(states)).run(*arguments);
}

}  // namespace meridian::server
