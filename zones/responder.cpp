// The answer path on byte buffers: parse, apply the protocol rules (opcode, question count,
// EDNS version and payload size), choose the zone or the CHAOS names, and write the response.
#include "zones/responder.hpp"

#include <algorithm>
#include <cstring>

#include "wire/constants.hpp"
#include "wire/name.hpp"
#include "wire/query.hpp"
#include "wire/writer.hpp"
#include "zones/zone_answer.hpp"

namespace meridian::zones {

namespace {

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

// Picks what answers the question (CHAOS, a refusal, or the most specific zone, with
// steering when GeoDNS is configured) and has it written; returns the ECS scope the answer
// carries.
uint8_t pick_zone_and_answer(const Snapshot& snapshot, const wire::Query& query,
                             const QueryOrigin& origin, wire::MessageWriter& writer,
                             AnswerSummary& summary) {
    if (query.qclass == wire::klass::kCH) {
        answer_chaos(query, snapshot.settings, writer);
        return 0;
    }
    // Zone transfers are answered by the server's transfer path (see Deferral); here, with
    // no keys or ACLs at hand, they are refused.
    if (query.qtype == wire::type::kAXFR || query.qtype == wire::type::kIXFR) {
        writer.set_rcode(wire::rcode::kRefused);
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
        if (status == wire::ParseStatus::ok && query.qdcount == 1 && query.has_tsig) {
            *deferred = Deferral::signed_message;
            return 0;
        }
        if (status == wire::ParseStatus::ok && query.opcode == wire::opcode::kQuery &&
            query.qdcount == 1 &&
            (query.qtype == wire::type::kAXFR || query.qtype == wire::type::kIXFR)) {
            *deferred = Deferral::transfer;
            return 0;
        }
    }

    const ResponderSettings& settings = snapshot.settings;
    size_t limit = wire::kMaxMessageSize;
    if (origin.transport == Transport::udp) {
        // RFC 6891 §6.2.5: requester sizes below 512 are taken as 512.
        limit = wire::kClassicUdpLimit;
        if (status == wire::ParseStatus::ok && query.edns.present)
            limit = std::clamp<size_t>(query.edns.udp_size, wire::kClassicUdpLimit,
                                       std::max<size_t>(settings.udp_payload, 512));
    }
    wire::MessageWriter writer(response, limit);
    if (!writer.begin_response(query)) return 0;
    const auto finish = [&] {
        const size_t length = writer.finish();
        summary.is_answered = length > 0;
        summary.rcode = writer.rcode();
        summary.is_truncated = writer.is_truncated();
        return length;
    };

    // A message we could not read has no OPT we could trust: FORMERR alone.
    if (status == wire::ParseStatus::formerr) {
        writer.set_rcode(wire::rcode::kFormErr);
        return finish();
    }
    // RFC 6891 §7: every response to a query with a parseable OPT carries one, errors
    // included; an error carries no options, and of the flags only DO is echoed.
    const auto answer_error = [&](uint16_t rcode) {
        writer.set_rcode(rcode);
        if (query.edns.present) writer.add_opt(settings.udp_payload, query.edns.dnssec_ok, {});
        return finish();
    };
    if (query.opcode != wire::opcode::kQuery) return answer_error(wire::rcode::kNotImp);
    if (query.qdcount != 1) return answer_error(wire::rcode::kFormErr);
    if (!query.edns.present) {
        pick_zone_and_answer(snapshot, query, origin, writer, summary);
        return finish();
    }
    // RFC 6891 §6.1.3: a version we do not speak gets BADVERS and our version, 0.
    if (query.edns.version > 0) return answer_error(wire::rcode::kBadVers);
    // The OPT record always goes out (RFC 6891 §7): keep room for it while answering.
    ResponseOptions options = build_options(query, settings);
    writer.reserve(11 + options.length);
    options.set_scope(pick_zone_and_answer(snapshot, query, origin, writer, summary));
    writer.add_opt(settings.udp_payload, query.edns.dnssec_ok, options.view());
    return finish();
}

size_t respond(const Snapshot& snapshot, std::span<const uint8_t> query,
               std::span<uint8_t> response, const QueryOrigin& origin, Deferral* deferred) {
    AnswerSummary summary;
    return respond(snapshot, query, response, origin, summary, deferred);
}

}  // namespace meridian::zones
