// Which form an allowed transfer takes (the differences since the client's serial, or the
// whole zone), and writing its messages, signed, as the transport drains.
#include "server/transfer/transfer_out.hpp"

#include <algorithm>
#include <string>

#include "server/system/log.hpp"
#include "wire/constants.hpp"
#include "wire/name.hpp"
#include "wire/query.hpp"

namespace meridian::server {

namespace {

std::shared_ptr<const zones::Zone> shared_zone(const zones::Snapshot& snapshot,
                                               const zones::Zone* zone) {
    for (const auto& candidate : snapshot.catalog.zones())
        if (candidate.get() == zone) return candidate;
    return nullptr;
}

}  // namespace

size_t ResponseStream::next(std::span<uint8_t> buffer) {
    if (has_failed_ || (!axfr_ && !ixfr_)) return 0;
    const size_t capacity = std::min(buffer.size(), wire::kMaxMessageSize);
    if (capacity <= tsig_room_) return 0;
    // The record is appended after the message: keep its room free while writing.
    const size_t limit = capacity - tsig_room_;
    const size_t length = axfr_ ? axfr_->next(buffer, limit) : ixfr_->next(buffer, limit);
    if (length == 0 || !signer_) return length;
    const size_t signed_length = signer_->sign_next(buffer.first(capacity), length);
    if (signed_length == 0) {
        post_log_event("transfer out: could not sign a message; ending the stream");
        has_failed_ = true;
    }
    return signed_length;
}

std::unique_ptr<ResponseStream> start_transfer(const zones::Snapshot& snapshot,
                                               std::span<const uint8_t> message,
                                               const zones::QueryOrigin& origin,
                                               const tsig::Verification* signature) {
    wire::Query query;
    if (wire::parse_query(message, query) != wire::ParseStatus::ok) return nullptr;
    // respond() found the zone at this apex and the client allowed; the snapshot is the same.
    const zones::Zone* found = snapshot.catalog.find_zone(query.qname_lower.view());
    auto zone = found ? shared_zone(snapshot, found) : nullptr;
    const zones::ZoneTransferPolicy* policy =
        zone ? snapshot.transfers.find(zone->origin()) : nullptr;
    if (!zone || !policy) return nullptr;

    auto stream = std::make_unique<ResponseStream>();
    if (signature && signature->key)
        stream->set_signer(tsig::StreamSigner(*signature->key, signature->mac),
                           tsig::record_size(*signature->key));
    const std::string zone_text = wire::to_text(query.qname_lower.view());
    const std::string who = (origin.client ? geoip::address_text(*origin.client) : "?") +
                            (signature && signature->key ? " key " + signature->key->name : "");
    const uint32_t serial = zone->serial();
    if (query.qtype == wire::type::kIXFR) {
        const std::optional<uint32_t> client_serial = zones::ixfr_client_serial(message);
        if (!client_serial) return nullptr;  // respond() answered FORMERR
        auto diffs = policy->history ? policy->history->since(*client_serial)
                                     : std::vector<std::shared_ptr<const zones::ZoneDiff>>{};
        if (!diffs.empty() && diffs.back()->to_serial == serial) {
            post_log_event("IXFR " + zone_text + " to " + who + ": serial " +
                           std::to_string(*client_serial) + " -> " + std::to_string(serial) +
                           " in " + std::to_string(diffs.size()) +
                           (diffs.size() == 1 ? " difference" : " differences"));
            stream->set_ixfr(std::make_unique<zones::IxfrStream>(std::move(diffs), query));
            return stream;
        }
        // RFC 1995 §4: without the differences, the whole zone in AXFR form.
        post_log_event("IXFR " + zone_text + " to " + who + ": serial " +
                       std::to_string(*client_serial) +
                       " not in history, sending the whole zone (" + std::to_string(serial) + ")");
    } else {
        post_log_event("AXFR " + zone_text + " serial " + std::to_string(serial) + " to " + who);
    }
    stream->set_axfr(std::make_unique<zones::AxfrStream>(std::move(zone), query));
    return stream;
}

}  // namespace meridian::server
