// The answer path on byte buffers: parse, apply the protocol rules (opcode, question count,
// EDNS version and payload size), choose the zone or the CHAOS names, and write the response.
#include "zones/responder.hpp"

#include <algorithm>
#include <cstring>

#include "wire/bytes.hpp"
#include "wire/constants.hpp"
#include "wire/name.hpp"
#include "wire/query.hpp"
#include "wire/writer.hpp"
#include "zones/zone_answer.hpp"
#include "zones/zone_diff.hpp"

namespace meridian::zones {

namespace {

using wire::read16;
using wire::Section;

// The EDNS options we send back, encoded into a small stack buffer.
struct ResponseOptions {
    uint8_t bytes[4 + 255 + 4 + 4 + 16];
    size_t length = 0;
    size_t scope_at = 0;  // where the ECS SCOPE PREFIX-LENGTH sits; 0 without ECS

    // The scope is known only after answering; the option's size does not depend on it.
    void set_scope(uint8_t scope) {
        if (scope_at != 0) bytes[scope_at] = scope;
    }

    void add(uint16_t code, std::span<const uint8_t> data) {
        bytes[length++] = static_cast<uint8_t>(code >> 8);
        bytes[length++] = static_cast<uint8_t>(code);
        bytes[length++] = static_cast<uint8_t>(data.size() >> 8);
        bytes[length++] = static_cast<uint8_t>(data.size());
        std::memcpy(bytes + length, data.data(), data.size());
        length += data.size();
    }
    std::span<const uint8_t> view() const { return {bytes, length}; }
};

// The options with an ECS scope of 0; ResponseOptions::set_scope sets the real one.
ResponseOptions build_options(const wire::Query& query, const ResponderSettings& settings) {
    ResponseOptions options;
    const auto& edns = query.edns;
    // RFC 5001 §2.3: the NSID payload is the server's identity, at most what fits here.
    if (edns.nsid_requested && !settings.identity.empty()) {
        const size_t length = std::min<size_t>(settings.identity.size(), 255);
        options.add(wire::edns::kNsid,
                    {reinterpret_cast<const uint8_t*>(settings.identity.data()), length});
    }
    // RFC 7871 §7.2.1: echo family, source prefix and address; the scope says over which
    // network the answer holds.
    if (edns.has_client_subnet) {
        const auto& subnet = edns.client_subnet;
        uint8_t data[4 + 16];
        data[0] = static_cast<uint8_t>(subnet.family >> 8);
        data[1] = static_cast<uint8_t>(subnet.family);
        data[2] = subnet.source_prefix;
        data[3] = 0;
        const size_t address_length = (size_t(subnet.source_prefix) + 7) / 8;
        std::memcpy(data + 4, subnet.address, address_length);
        options.scope_at = options.length + 4 + 3;
        options.add(wire::edns::kClientSubnet, {data, 4 + address_length});
    }
    return options;
}

// `wire_name` is a lowercase name in wire form as a string literal, whose terminating NUL
// is the root label.
template <size_t N>
bool is_chaos_name(const wire::Query& query, const char (&wire_name)[N]) {
    return query.qname_lower.as_key() == std::string_view(wire_name, N);
}

// CHAOS TXT id.server / hostname.bind (RFC 4892) and version.bind / version.server.
void answer_chaos(const wire::Query& query, const ResponderSettings& settings,
                  wire::MessageWriter& writer) {
    const std::string* text = nullptr;
    if (is_chaos_name(query, "\2id\6server") || is_chaos_name(query, "\10hostname\4bind")) {
        if (!settings.identity.empty()) text = &settings.identity;
    } else if (is_chaos_name(query, "\7version\4bind") ||
               is_chaos_name(query, "\7version\6server")) {
        if (settings.version) text = &*settings.version;
    }
    if (!text || (query.qtype != wire::type::kTXT && query.qtype != wire::type::kANY)) {
        writer.set_rcode(wire::rcode::kRefused);
        return;
    }
    uint8_t rdata[256];
    const size_t length = std::min<size_t>(text->size(), 255);
    rdata[0] = static_cast<uint8_t>(length);
    std::memcpy(rdata + 1, text->data(), length);
    writer.set_authoritative(true);
    if (!writer.add_record(Section::answer, query.qname.view(), wire::type::kTXT, wire::klass::kCH,
                           0, {rdata, length + 1}))
        writer.set_truncated();
}

// AXFR and IXFR questions, everything but the stream itself: refusals cost what a plain
// answer costs (no allocation, no log line; the caller counts summary.incident), and only a
// transfer the ACL allows over TCP is deferred to the server's transfer path.
void answer_transfer(const Snapshot& snapshot, std::span<const uint8_t> message,
                     const wire::Query& query, const QueryOrigin& origin,
                     wire::MessageWriter& writer, AnswerSummary& summary, Deferral* deferred) {
    const auto refuse = [&](uint16_t rcode) {
        writer.set_rcode(rcode);
        summary.incident = Incident::transfer_refused;
    };
    const bool is_udp = origin.transport == Transport::udp;
    // RFC 5936 §4.2: AXFR is defined over TCP only; over UDP it is refused before anything
    // else is looked at, so a spoofed flood of them costs a header and a question each.
    if (is_udp && query.qtype == wire::type::kAXFR) return refuse(wire::rcode::kRefused);
    const Zone* zone = snapshot.catalog.find_zone(query.qname_lower.view());
    // RFC 5936 §2.2.1: a zone we do not serve at exactly this apex is NotAuth.
    if (!zone || zone->origin() != query.qname_lower.as_key() || query.qclass != wire::klass::kIN)
        return refuse(wire::rcode::kNotAuth);
    const ZoneTransferPolicy* policy = snapshot.transfers.find(zone->origin());
    const std::string_view key = origin.signature ? origin.signature->key_name : "";
    if (!policy || !is_transfer_allowed(*policy, origin.client, key))
        return refuse(wire::rcode::kRefused);
    const auto answer_with_soa = [&] {
        writer.set_authoritative(true);
        const RRset& soa = zone->soa();
        if (!writer.add_record(Section::answer, wire::bytes_of(zone->origin()), wire::type::kSOA,
                               wire::klass::kIN, soa.ttl, wire::bytes_of(soa.rdatas.front())))
            writer.set_truncated();
    };
    // RFC 1995 §2: over UDP the current SOA alone tells a client that is behind to come back
    // over TCP.
    if (is_udp) return answer_with_soa();
    if (query.qtype == wire::type::kIXFR) {
        const std::optional<uint32_t> client_serial = ixfr_client_serial(message);
        if (!client_serial) {
            writer.set_rcode(wire::rcode::kFormErr);  // RFC 1995 §3: the client's SOA is required
            return;
        }
        // RFC 1995 §2: a client as new as we are gets the SOA alone.
        if (!serial_is_before(*client_serial, zone->serial())) return answer_with_soa();
    }
    if (deferred)
        *deferred = Deferral::transfer;
    else
        writer.set_rcode(wire::rcode::kRefused);  // no stream to answer with
}

// Picks what answers the question (a transfer, CHAOS, a refusal, or the most specific zone,
// with steering when GeoDNS is configured) and has it written; returns the ECS scope the
// answer carries.
uint8_t pick_zone_and_answer(const Snapshot& snapshot, std::span<const uint8_t> message,
                             const wire::Query& query, const QueryOrigin& origin,
                             wire::MessageWriter& writer, AnswerSummary& summary,
                             Deferral* deferred) {
    if (query.qtype == wire::type::kAXFR || query.qtype == wire::type::kIXFR) {
        answer_transfer(snapshot, message, query, origin, writer, summary, deferred);
        return 0;
    }
    if (query.qclass == wire::klass::kCH) {
        answer_chaos(query, snapshot.settings, writer);
        return 0;
    }
    if (query.qtype == wire::type::kOPT) {
        writer.set_rcode(wire::rcode::kFormErr);  // RFC 6891 §6.1.1: OPT is not a question
        return 0;
    }
    if (query.qtype == wire::type::kMAILA || query.qtype == wire::type::kMAILB) {
        writer.set_rcode(wire::rcode::kNotImp);
        return 0;
    }
    if (query.qclass != wire::klass::kIN) {
        writer.set_rcode(wire::rcode::kRefused);
        return 0;
    }
    const auto qname = query.qname_lower.view();
    const Zone* zone = nullptr;
    bool is_unavailable = false;
    if (query.qtype == wire::type::kDS)
        zone = snapshot.catalog.find_zone(qname, true, &is_unavailable);
    if (!zone && !is_unavailable) zone = snapshot.catalog.find_zone(qname, false, &is_unavailable);
    if (!zone) {
        // A secondary zone without data (not transferred yet, or expired): ours, but
        // nothing to answer with (RFC 1035 §3.3.13: an expired zone is no longer served).
        // Otherwise not ours: no answer, no referral.
        writer.set_rcode(is_unavailable ? wire::rcode::kServFail : wire::rcode::kRefused);
        return 0;
    }
    if (snapshot.steering.empty()) {
        write_zone_answer(*zone, query, writer);
        return 0;
    }
    bool from_ecs = false;
    const ClientAddress client =
        deciding_address(query, origin.client, snapshot.steering, from_ecs);
    SteeringOutcome outcome;
    const SteeringContext steering{snapshot.steering, client, outcome};
    write_zone_answer(*zone, query, writer, &steering);
    summary.steering = outcome.source;
    summary.pool_slot = outcome.pool_slot;
    // RFC 7871 §7.2.1: scope 0 for answers that do not depend on the client, and for those
    // decided by the resolver's own address rather than the subnet it sent.
    return from_ecs && outcome.depends_on_client ? outcome.scope : 0;
}

// The largest answer the transport allows.
size_t answer_limit(const QueryOrigin& origin, wire::ParseStatus status, const wire::Query& query,
                    const ResponderSettings& settings) {
    if (origin.transport != Transport::udp) return wire::kMaxMessageSize;
    // RFC 6891 §6.2.5: requester sizes below 512 are taken as 512.
    if (status == wire::ParseStatus::ok && query.edns.present)
        return std::clamp<size_t>(query.edns.udp_size, wire::kClassicUdpLimit,
                                  std::max<size_t>(settings.udp_payload, 512));
    return wire::kClassicUdpLimit;
}

size_t finish_answer(wire::MessageWriter& writer, AnswerSummary& summary) {
    const size_t length = writer.finish();
    summary.is_answered = length > 0;
    summary.rcode = writer.rcode();
    summary.is_truncated = writer.is_truncated();
    return length;
}

}  // namespace

size_t respond(const Snapshot& snapshot, std::span<const uint8_t> message,
               std::span<uint8_t> response, const QueryOrigin& origin, AnswerSummary& summary,
               Deferral* deferred) {
    summary = {};
    wire::Query query;
    const wire::ParseStatus status = wire::parse_query(message, query);
    if (status == wire::ParseStatus::drop) return 0;
    summary.qtype = query.qtype;
    summary.has_client_subnet = query.edns.has_client_subnet;
    if (deferred) {
        *deferred = Deferral::none;
        // RFC 8945 §5.2: a signed message is verified before anything else is looked at.
        if (status == wire::ParseStatus::ok && query.qdcount == 1 && query.has_tsig &&
            !origin.signature) {
            *deferred = Deferral::signed_message;
            return 0;
        }
    }

    const ResponderSettings& settings = snapshot.settings;
    wire::MessageWriter writer(response, answer_limit(origin, status, query, settings));
    if (origin.signature) writer.reserve(origin.signature->record_size);
    if (!writer.begin_response(query)) return 0;
    const auto finish = [&] { return finish_answer(writer, summary); };

    // A message we could not read has no OPT we could trust: FORMERR alone.
    if (status == wire::ParseStatus::formerr) {
        writer.set_rcode(wire::rcode::kFormErr);
        return finish();
    }
    // RFC 6891 §7: every response to a query with a parseable OPT carries one, errors
    // included; an error carries no options, and of the flags only DO is echoed.
    const auto answer_error = [&](uint16_t rcode) {
        writer.set_rcode(rcode);
        if (query.edns.present) {
            writer.reserve(11);  // add_opt takes its room from what is reserved
            writer.add_opt(settings.udp_payload, query.edns.dnssec_ok, {});
        }
        return finish();
    };
    if (query.opcode != wire::opcode::kQuery) return answer_error(wire::rcode::kNotImp);
    if (query.qdcount != 1) return answer_error(wire::rcode::kFormErr);
    const auto is_deferred = [&] { return deferred && *deferred != Deferral::none; };
    if (!query.edns.present) {
        pick_zone_and_answer(snapshot, message, query, origin, writer, summary, deferred);
        return is_deferred() ? 0 : finish();
    }
    // RFC 6891 §6.1.3: a version we do not speak gets BADVERS and our version, 0.
    if (query.edns.version > 0) return answer_error(wire::rcode::kBadVers);
    // The OPT record always goes out (RFC 6891 §7): keep room for it while answering.
    ResponseOptions options = build_options(query, settings);
    writer.reserve(11 + options.length);
    options.set_scope(
        pick_zone_and_answer(snapshot, message, query, origin, writer, summary, deferred));
    if (is_deferred()) return 0;
    writer.add_opt(settings.udp_payload, query.edns.dnssec_ok, options.view());
    return finish();
}

size_t respond_with_error(const Snapshot& snapshot, std::span<const uint8_t> message,
                          std::span<uint8_t> response, const QueryOrigin& origin, uint16_t rcode,
                          size_t reserved, AnswerSummary& summary) {
    summary = {};
    wire::Query query;
    const wire::ParseStatus status = wire::parse_query(message, query);
    if (status == wire::ParseStatus::drop) return 0;
    summary.qtype = query.qtype;
    summary.has_client_subnet = query.edns.has_client_subnet;
    const ResponderSettings& settings = snapshot.settings;
    wire::MessageWriter writer(response, answer_limit(origin, status, query, settings));
    writer.reserve(reserved);
    if (!writer.begin_response(query)) return 0;
    writer.set_rcode(rcode);
    // RFC 6891 §7: the OPT goes out whenever the query had a readable one.
    if (status == wire::ParseStatus::ok && query.edns.present) {
        writer.reserve(11);
        writer.add_opt(settings.udp_payload, query.edns.dnssec_ok, {});
    }
    return finish_answer(writer, summary);
}

std::optional<uint32_t> ixfr_client_serial(std::span<const uint8_t> m) {
    if (m.size() < wire::kHeaderSize || read16(m, 8) == 0) return std::nullopt;
    size_t pos = wire::kHeaderSize;
    // Each question takes at least 5 octets and each record 11: the size bounds the loops.
    for (size_t i = 0, n = read16(m, 4); i < n; ++i) {
        if (!wire::skip_name(m, pos) || m.size() - pos < 4) return std::nullopt;
        pos += 4;
    }
    for (size_t i = 0, n = size_t(read16(m, 6)) + 1; i < n; ++i) {  // the answers, then ours
        if (!wire::skip_name(m, pos) || m.size() - pos < 10) return std::nullopt;
        const uint16_t type = read16(m, pos);
        const size_t rdlength = read16(m, pos + 8);
        pos += 10;
        if (m.size() - pos < rdlength) return std::nullopt;
        if (i + 1 < n) {
            pos += rdlength;
            continue;
        }
        // The first authority record: SOA MNAME RNAME SERIAL ... (RFC 1035 §3.3.13).
        if (type != wire::type::kSOA) return std::nullopt;
        const auto rdata = m.first(pos + rdlength);
        if (!wire::skip_name(rdata, pos) || !wire::skip_name(rdata, pos) || rdata.size() - pos < 4)
            return std::nullopt;
        return (uint32_t(read16(m, pos)) << 16) | read16(m, pos + 2);
    }
    return std::nullopt;
}

size_t respond(const Snapshot& snapshot, std::span<const uint8_t> query,
               std::span<uint8_t> response, const QueryOrigin& origin, Deferral* deferred) {
    AnswerSummary summary;
    return respond(snapshot, query, response, origin, summary, deferred);
}

}  // namespace meridian::zones
