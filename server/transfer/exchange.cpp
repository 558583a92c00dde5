// The one exchange both transports call: the plain answer, TSIG in place, transfers.
#include "server/transfer/exchange.hpp"

#include <array>
#include <string>
#include <vector>

#include "server/system/log.hpp"
#include "server/transfer/transfer_out.hpp"
#include "server/transfer/tsig.hpp"
#include "wire/constants.hpp"

namespace meridian::server {

namespace {

// Each worker answers on its own thread, so a table per thread is a table per worker that
// only its thread touches: no lock, and nothing to allocate on the query path.
thread_local IncidentTable incidents;

constexpr std::array<IncidentTable::KindName, zones::kIncidents> kIncidentNames = {{
    {"", ""},
    {"transfer refusal", "transfer refusals"},
    {"TSIG BADKEY failure", "TSIG BADKEY failures"},
    {"TSIG BADSIG failure", "TSIG BADSIG failures"},
    {"TSIG BADTIME failure", "TSIG BADTIME failures"},
    {"TSIG BADTRUNC failure", "TSIG BADTRUNC failures"},
    {"malformed TSIG record", "malformed TSIG records"},
}};

zones::Incident incident_of(tsig::Verdict verdict) {
    switch (verdict) {
        case tsig::Verdict::bad_key:
            return zones::Incident::tsig_bad_key;
        case tsig::Verdict::bad_sig:
            return zones::Incident::tsig_bad_sig;
        case tsig::Verdict::bad_time:
            return zones::Incident::tsig_bad_time;
        case tsig::Verdict::bad_trunc:
            return zones::Incident::tsig_bad_trunc;
        case tsig::Verdict::malformed:
        case tsig::Verdict::unsigned_message:
            return zones::Incident::tsig_malformed;
        case tsig::Verdict::valid:
            break;
    }
    return zones::Incident::none;
}

// The first message of an allowed transfer; the rest stays in `rest`.
size_t start_stream(const zones::Snapshot& snapshot, std::span<const uint8_t> message,
                    std::span<uint8_t> response, const zones::QueryOrigin& origin,
                    const tsig::Verification* signature, zones::AnswerSummary& summary,
                    std::unique_ptr<MessageStream>* rest) {
    if (!rest) return 0;  // respond() defers transfers over TCP only
    std::unique_ptr<ResponseStream> stream = start_transfer(snapshot, message, origin, signature);
    const size_t written = stream ? stream->next(response) : 0;
    summary.is_answered = written >= wire::kHeaderSize;
    if (summary.is_answered) {
        summary.rcode = response[3] & 0x0F;
        summary.is_truncated = (response[2] & 0x02) != 0;
        *rest = std::move(stream);
    }
    return written;
}

// RFC 8945 §5.2: a signed message is verified before anything else; a good signature gets
// the plain answer signed in place, a bad one NOTAUTH with the TSIG error, a record that
// cannot be read FORMERR. All of it in `response`, with no allocation.
size_t answer_signed(const zones::Snapshot& snapshot, std::span<const uint8_t> message,
                     std::span<uint8_t> response, const zones::QueryOrigin& origin,
                     zones::AnswerSummary& summary, std::unique_ptr<MessageStream>* rest) {
    const uint64_t now = tsig::current_time();
    const tsig::Verification check = tsig::verify_request(message, snapshot.transfers.keys, now);
    if (check.verdict != tsig::Verdict::valid) {
        const zones::Incident incident = incident_of(check.verdict);
        size_t length = 0;
        if (incident == zones::Incident::tsig_malformed) {
            length = zones::respond_with_error(snapshot, message, response, origin,
                                               wire::rcode::kFormErr, 0, summary);
        } else {
            // The error record echoes the request's names, with at most a full MAC and six
            // octets of Other Data (BADTIME).
            const size_t room =
                check.key_name.length + check.algorithm.length + 32 + tsig::kMaxMacSize;
            length = zones::respond_with_error(snapshot, message, response, origin,
                                               wire::rcode::kNotAuth, room, summary);
            length = length ? tsig::append_error_tsig(response, length, check, now) : 0;
            summary.is_answered = length > 0;
        }
        summary.incident = incident;
        return length;
    }
    const zones::VerifiedSignature signature{check.key->name, tsig::record_size(*check.key)};
    zones::QueryOrigin signed_origin = origin;
    signed_origin.signature = &signature;
    zones::Deferral deferred = zones::Deferral::none;
    const size_t length =
        zones::respond(snapshot, message, response, signed_origin, summary, &deferred);
    if (deferred == zones::Deferral::transfer)
        return start_stream(snapshot, message, response, signed_origin, &check, summary, rest);
    if (length == 0) return 0;
    // RFC 8945 §5.3: the answer is signed over the request's MAC.
    const size_t signed_length = tsig::sign_in_place(response, length, *check.key, check.mac, now);
    summary.is_answered = signed_length > 0;
    return signed_length;
}

}  // namespace

size_t answer_message(const zones::Snapshot& snapshot, std::span<const uint8_t> message,
                      std::span<uint8_t> response, const zones::QueryOrigin& origin,
                      zones::AnswerSummary& summary, std::unique_ptr<MessageStream>* rest) {
    zones::Deferral deferred = zones::Deferral::none;
    size_t length = zones::respond(snapshot, message, response, origin, summary, &deferred);
    if (deferred == zones::Deferral::signed_message)
        length = answer_signed(snapshot, message, response, origin, summary, rest);
    else if (deferred == zones::Deferral::transfer)
        length = start_stream(snapshot, message, response, origin, nullptr, summary, rest);
    if (summary.incident != zones::Incident::none)
        incidents.add(static_cast<size_t>(summary.incident), origin.client);
    return length;
}

void log_incident_summary(unsigned seconds) {
    for (const std::string& line : incidents.take_lines(kIncidentNames, seconds))
        post_log_event(line);
}

}  // namespace meridian::server
