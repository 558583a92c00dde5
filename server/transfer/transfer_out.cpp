// Deciding who gets a zone, and in which form: refusal, the SOA alone, the differences
// since the client's serial, or the whole zone.
#include "server/transfer/transfer_out.hpp"

#include <netinet/in.h>

#include <algorithm>
#include <cstring>
#include <string>

#include "server/system/log.hpp"
#include "wire/bytes.hpp"
#include "wire/constants.hpp"
#include "wire/name.hpp"
#include "wire/writer.hpp"
#include "zones/ldns.hpp"

namespace meridian::server {

using wire::bytes_of;

namespace {

// Room kept free in each message of a signed stream for the TSIG record (a key name and an
// algorithm name of up to 255 octets each, a MAC of up to 64).
constexpr size_t kTsigRoom = 1024;

std::string client_text(const geoip::Address* client) {
    return client ? geoip::address_text(*client) : "?";
}

// Header and question, with `rcode`; AA when it answers for a zone.
std::vector<uint8_t> short_response(const wire::Query& query, uint16_t rcode,
                                    const zones::Zone* soa_of = nullptr) {
    std::vector<uint8_t> buffer(wire::kMaxMessageSize);
    wire::MessageWriter writer(buffer, buffer.size());
    writer.begin_response(query);
    writer.set_rcode(rcode);
    if (soa_of) {
        writer.set_authoritative(true);
        writer.add_record(wire::Section::answer, bytes_of(soa_of->origin()), wire::type::kSOA,
                          wire::klass::kIN, soa_of->soa().ttl,
                          bytes_of(soa_of->soa().rdatas.front()));
    }
    buffer.resize(writer.finish());
    return buffer;
}

// The UDP payload the client can take (RFC 6891 §6.2.5), as respond() computes it.
size_t udp_limit(const wire::Query& query, const zones::ResponderSettings& settings) {
    if (!query.edns.present) return wire::kClassicUdpLimit;
    return std::clamp<size_t>(query.edns.udp_size, wire::kClassicUdpLimit,
                              std::max<size_t>(settings.udp_payload, 512));
}

// RFC 1995 §3: the client's version is the SOA in the authority section.
std::optional<uint32_t> ixfr_client_serial(std::span<const uint8_t> message) {
    const ldns::Packet owned = ldns::parse_packet(message.data(), message.size());
    if (!owned) return std::nullopt;
    const ldns_pkt* packet = owned.get();
    std::optional<uint32_t> serial;
    const ldns_rr_list* authority = ldns_pkt_authority(packet);
    if (authority && ldns_rr_list_rr_count(authority) >= 1) {
        const ldns_rr* soa = ldns_rr_list_rr(authority, 0);
        if (ldns_rr_get_type(soa) == LDNS_RR_TYPE_SOA && ldns_rr_rd_count(soa) == 7)
            serial = ldns_rdf2native_int32(ldns_rr_rdf(soa, 2));
    }
    return serial;
}

std::shared_ptr<const zones::Zone> shared_zone(const zones::Snapshot& snapshot,
                                               const zones::Zone* zone) {
    for (const auto& candidate : snapshot.catalog.zones())
        if (candidate.get() == zone) return candidate;
    return nullptr;
}

// The transfer itself, once the TSIG (if any) has been checked.
void answer_transfer(const zones::Snapshot& snapshot, std::span<const uint8_t> message,
                     const wire::Query& query, const zones::QueryOrigin& origin,
                     const std::string& key_name, ResponseStream& stream) {
    const char* kind = query.qtype == wire::type::kAXFR ? "AXFR" : "IXFR";
    const std::string who =
        client_text(origin.client) + (key_name.empty() ? std::string() : " key " + key_name);
    const zones::Zone* found = snapshot.catalog.find_zone(query.qname_lower.view());
    // RFC 5936 §2.2.1: a zone we do not serve (at exactly this apex) is NotAuth.
    if (!found || found->origin() != query.qname_lower.as_key() ||
        query.qclass != wire::klass::kIN) {
        stream.add_message(short_response(query, wire::rcode::kNotAuth));
        return;
    }
    const std::string zone_text = wire::to_text(query.qname_lower.view());
    const zones::ZoneTransferPolicy* policy = snapshot.transfers.find(found->origin());
    if (!policy || !zones::is_transfer_allowed(*policy, origin.client, key_name)) {
        log_event(std::string("refused ") + kind + " of " + zone_text + " to " + who +
                  " (not in allow_transfer)");
        stream.add_message(short_response(query, wire::rcode::kRefused));
        return;
    }
    if (origin.transport == zones::Transport::udp) {
        if (query.qtype == wire::type::kAXFR)
            stream.add_message(short_response(query, wire::rcode::kRefused));
        else
            stream.add_message(short_response(query, wire::rcode::kNoError, found));
        return;
    }
    auto zone = shared_zone(snapshot, found);
    const uint32_t serial = zone->serial();
    if (query.qtype == wire::type::kIXFR) {
        const auto client_serial = ixfr_client_serial(message);
        if (!client_serial) {
            stream.add_message(short_response(query, wire::rcode::kFormErr));
            return;
        }
        // RFC 1995 §2: a client as new as we are gets the SOA alone.
        if (!zones::serial_is_before(*client_serial, serial)) {
            log_event("IXFR " + zone_text + " to " + who + ": serial " +
                      std::to_string(*client_serial) + " is current");
            stream.add_message(short_response(query, wire::rcode::kNoError, found));
            return;
        }
        auto diffs = policy->history ? policy->history->since(*client_serial)
                                     : std::vector<std::shared_ptr<const zones::ZoneDiff>>{};
        if (!diffs.empty() && diffs.back()->to_serial == serial) {
            log_event("IXFR " + zone_text + " to " + who + ": serial " +
                      std::to_string(*client_serial) + " -> " + std::to_string(serial) + " in " +
                      std::to_string(diffs.size()) +
                      (diffs.size() == 1 ? " difference" : " differences"));
            stream.set_ixfr(std::make_unique<zones::IxfrStream>(std::move(diffs), query));
            return;
        }
        // RFC 1995 §4: without the differences, the whole zone in AXFR form.
        log_event("IXFR " + zone_text + " to " + who + ": serial " +
                  std::to_string(*client_serial) + " not in history, sending the whole zone (" +
                  std::to_string(serial) + ")");
    } else {
        log_event("AXFR " + zone_text + " serial " + std::to_string(serial) + " to " + who);
    }
    stream.set_axfr(std::make_unique<zones::AxfrStream>(std::move(zone), query));
}

}  // namespace

void ResponseStream::add_message(std::vector<uint8_t> message, bool is_signable) {
    ready_.push_back({std::move(message), is_signable});
}

size_t ResponseStream::next(std::span<uint8_t> buffer) {
    if (has_failed_) return 0;
    std::span<const uint8_t> message;
    bool is_signable = true;
    if (ready_sent_ < ready_.size()) {
        message = ready_[ready_sent_].message;
        is_signable = ready_[ready_sent_].is_signable;
        ++ready_sent_;
    } else if (axfr_ || ixfr_) {
        scratch_.resize(wire::kMaxMessageSize);
        const size_t limit = signer_ ? limit_ - std::min(limit_ / 2, kTsigRoom) : limit_;
        const size_t length = axfr_ ? axfr_->next(scratch_, limit) : ixfr_->next(scratch_, limit);
        if (length == 0) return 0;
        message = {scratch_.data(), length};
    } else {
        return 0;
    }
    std::optional<std::vector<uint8_t>> signed_message;
    if (signer_ && is_signable) {
        signed_message = signer_->sign_next(message);
        if (!signed_message) {
            log_event("transfer out: could not sign a message; ending the stream");
            has_failed_ = true;
            return 0;
        }
        message = *signed_message;
    }
    if (message.size() > buffer.size() || message.size() > limit_) {
        has_failed_ = true;
        return 0;
    }
    std::memcpy(buffer.data(), message.data(), message.size());
    return message.size();
}

std::unique_ptr<ResponseStream> answer_deferred(const zones::Snapshot& snapshot,
                                                std::span<const uint8_t> message,
                                                const zones::QueryOrigin& origin, uint64_t now) {
    wire::Query query;
    if (wire::parse_query(message, query) != wire::ParseStatus::ok) return nullptr;
    const bool is_udp = origin.transport == zones::Transport::udp;
    const size_t limit = is_udp ? udp_limit(query, snapshot.settings) : wire::kMaxMessageSize;
    auto stream = std::make_unique<ResponseStream>(limit);

    std::string key_name;
    size_t tsig_size = 0;
    if (query.has_tsig) {
        const tsig::Keyring keyring(snapshot.transfers.keys);
        const tsig::Verification check = tsig::verify_request(message, keyring, now);
        switch (check.verdict) {
            case tsig::Verdict::valid:
                key_name = check.key->name;
                tsig_size = tsig::record_size(*check.key);
                stream->set_signer(tsig::StreamSigner(*check.key, check.mac));
                break;
            case tsig::Verdict::bad_key:
            case tsig::Verdict::bad_sig:
            case tsig::Verdict::bad_time: {
                // RFC 8945 §5.2: NOTAUTH, with the error in our own TSIG record.
                log_event("TSIG " +
                          std::string(check.verdict == tsig::Verdict::bad_key   ? "BADKEY"
                                      : check.verdict == tsig::Verdict::bad_sig ? "BADSIG"
                                                                                : "BADTIME") +
                          " from " + client_text(origin.client) + " (key " + check.key_name + ")");
                auto response = short_response(query, wire::rcode::kNotAuth);
                if (!tsig::append_error_tsig(response, check, now)) return nullptr;
                stream->add_message(std::move(response), false);
                return stream;
            }
            case tsig::Verdict::unsigned_message:
            case tsig::Verdict::malformed:
                stream->add_message(short_response(query, wire::rcode::kFormErr));
                return stream;
        }
    }
    if (query.opcode == wire::opcode::kQuery && query.qdcount == 1 &&
        (query.qtype == wire::type::kAXFR || query.qtype == wire::type::kIXFR)) {
        answer_transfer(snapshot, message, query, origin, key_name, *stream);
        return stream;
    }
    // Any other signed message (the SOA query a secondary sends before IXFR): answered as
    // usual, then signed. Should the signature make it too large for UDP, the client gets a
    // signed truncated answer and asks again over TCP.
    std::vector<uint8_t> response(wire::kMaxMessageSize);
    const size_t length = zones::respond(snapshot, message, response, origin);
    if (length == 0) return nullptr;
    response.resize(length);
    // A few octets spare: ldns writes the message again with its own name compression.
    if (is_udp && length + tsig_size + 16 > limit) {
        response = short_response(query, response[3] & 0x0f);
        response[2] |= 0x02;  // TC
    }
    stream->add_message(std::move(response));
    return stream;
}

}  // namespace meridian::server
