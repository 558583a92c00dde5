// Timers, NOTIFY and transfers of the secondary zones: see secondary_zones.hpp.
#include "server/secondary/secondary_zones.hpp"

#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <cstring>
#include <unordered_map>

#include "server/system/atomic_file.hpp"
#include "server/system/log.hpp"
#include "server/system/socket_address.hpp"
#include "wire/name.hpp"
#include "zones/ldns.hpp"
#include "zones/zone_file_writer.hpp"

namespace meridian::server {

namespace {

using Seconds = std::chrono::seconds;

// Knot's bounds for SOA timers (refresh-min-interval 2 s, refresh-max-interval one day),
// so a zero REFRESH cannot make us hammer the primary, nor a huge one forget it.
constexpr uint32_t kMinInterval = 2;
constexpr uint32_t kMaxInterval = 86400;
// Before the first transfer there is no SOA to read RETRY from: retry soon, then back off.
constexpr uint32_t kFirstRetry = 5;
constexpr uint32_t kMaxBootstrapRetry = 300;

Seconds bounded(uint32_t seconds) {
    return Seconds(std::clamp(seconds, kMinInterval, kMaxInterval));
}

std::string text_of(const std::string& wire_name) {
    return wire::to_text({reinterpret_cast<const uint8_t*>(wire_name.data()), wire_name.size()});
}

// RFC 1996 §3.10: a NOTIFY counts only from a primary; its source port is any.
bool is_from(const std::optional<geoip::Address>& client, const ListenAddress& primary) {
    if (!client) return false;
    const geoip::Address a = geoip::unmapped(*client), b = geoip::unmapped(primary.address);
    return a.family == b.family && a.bytes == b.bytes;
}

bool same_primaries(const std::vector<ListenAddress>& a, const std::vector<ListenAddress>& b) {
    if (a.size() != b.size()) return false;
    for (size_t i = 0; i < a.size(); ++i)
        if (a[i].address != b[i].address) return false;
    return true;
}

std::optional<tsig::Key> key_of(const ZoneEntry& entry, const tsig::Keyring& keyring) {
    const tsig::Key* key = entry.tsig.empty() ? nullptr : keyring.find(entry.tsig);
    return key ? std::optional<tsig::Key>(*key) : std::nullopt;
}

bool same_key(const std::optional<tsig::Key>& a, const std::optional<tsig::Key>& b) {
    if (a.has_value() != b.has_value()) return false;
    return !a || (a->name == b->name && a->algorithm == b->algorithm && a->secret == b->secret);
}

using PacketPtr = ldns::Packet;

}  // namespace

struct SecondaryZones::ZoneState {
    SecondaryZones* owner = nullptr;
    ZoneEntry entry;               // the config's, read on the loop only: a reload may replace it
    std::string origin;            // lowercase wire form
    std::string name;              // text, for the log
    std::optional<tsig::Key> key;  // signs transfers, and every NOTIFY must carry it
    uv_timer_t timer;
    uv_work_t work;
    bool is_fetching = false;          // a transfer, or the write of its result, is on the pool
    bool is_wanted_again = false;      // a NOTIFY or a reload arrived while fetching
    bool is_writing = false;           // ... and it is at the write
    bool is_stale = false;             // a reload changed the primaries or key meanwhile
    bool is_expiry_announced = false;  // the reload that stops serving it was asked for
    bool is_retired = false;           // a reload removed it
    bool is_timer_closed = false;
    WallClock::time_point next_refresh;
    uint32_t bootstrap_retry = kFirstRetry;
    // The fetch in progress: filled on the loop, run on the pool, read back on the loop.
    FetchRequest request;
    FetchResult result;
    std::filesystem::path write_path;  // the file being written, chosen on the loop
    std::string write_error;
    std::chrono::steady_clock::time_point started;
    std::string reason;       // what started it, for the log
    std::string next_reason;  // why it is wanted again, when not for a NOTIFY
};

SecondaryZones::SecondaryZones(uv_loop_t* loop, const Config& config, SecondaryStore& store,
                               std::function<void()> publish)
    : loop_(loop), store_(store), publish_(std::move(publish)) {
    const tsig::Keyring keyring = config.keyring();
    for (const auto& entry : config.zones)
        if (entry.is_secondary()) zones_.push_back(make_zone(entry, keyring));
    notify_ = std::make_unique<MessageQueue>(
        loop, [this](const QueuedMessage& notify) { answer_notify(notify); });
    notify_->set_accepting(!zones_.empty());
}

SecondaryZones::~SecondaryZones() = default;

std::unique_ptr<SecondaryZones::ZoneState> SecondaryZones::make_zone(const ZoneEntry& entry,
                                                                     const tsig::Keyring& keyring) {
    auto zone = std::make_unique<ZoneState>();
    zone->owner = this;
    zone->entry = entry;
    zone->origin = wire::wire_from_text(entry.origin);
    wire::to_lower({reinterpret_cast<const uint8_t*>(zone->origin.data()), zone->origin.size()},
                   reinterpret_cast<uint8_t*>(zone->origin.data()));
    zone->name = text_of(zone->origin);
    zone->key = key_of(entry, keyring);
    uv_timer_init(loop_, &zone->timer);
    zone->timer.data = zone.get();
    zone->work.data = zone.get();
    return zone;
}

void SecondaryZones::start() {
    for (auto& zone : zones_) begin(*zone, "start");
}

// The first refresh of a zone, at start or when a reload adds it: served from its file
// meanwhile if the snapshot build could read one.
void SecondaryZones::begin(ZoneState& zone, std::string reason) {
    // A copy already past its expiry was left out of the snapshot.
    const auto version = store_.find(zone.origin);
    zone.is_expiry_announced = version && version->is_expired(WallClock::now());
    zone.reason = version ? reason + ", serial " + std::to_string(version->zone->serial()) +
                                " from " + zone.entry.file.string()
                          : reason + ", no copy yet";
    refresh(zone);
}

void SecondaryZones::close() {
    is_closed_ = true;
    for (auto* zones : {&zones_, &retired_})
        for (auto& zone : *zones) {
            auto* handle = reinterpret_cast<uv_handle_t*>(&zone->timer);
            if (!uv_is_closing(handle)) uv_close(handle, nullptr);
        }
    notify_->close();
}

void SecondaryZones::reconcile(const Config& config) {
    if (is_closed_) return;
    const tsig::Keyring keyring = config.keyring();
    std::unordered_map<std::string, std::unique_ptr<ZoneState>*> running;
    for (auto& zone : zones_) running[zone->origin] = &zone;
    std::vector<std::unique_ptr<ZoneState>> kept;
    std::vector<ZoneState*> added;
    for (const auto& entry : config.zones) {
        if (!entry.is_secondary()) continue;
        std::string origin = wire::wire_from_text(entry.origin);
        wire::to_lower({reinterpret_cast<const uint8_t*>(origin.data()), origin.size()},
                       reinterpret_cast<uint8_t*>(origin.data()));
        const auto it = running.find(origin);
        if (it == running.end() || !*it->second) {
            kept.push_back(make_zone(entry, keyring));
            added.push_back(kept.back().get());
            log_event("secondary " + added.back()->name + ": added by reload");
            continue;
        }
        std::unique_ptr<ZoneState> zone = std::move(*it->second);
        const std::optional<tsig::Key> key = key_of(entry, keyring);
        std::string changed;
        const auto note = [&](const std::string& what) {
            changed += (changed.empty() ? "" : ", ") + what;
        };
        if (!same_primaries(zone->entry.primaries, entry.primaries)) note("primaries");
        if (!same_key(zone->key, key)) note("tsig key");
        const bool is_new_source = !changed.empty();
        if (zone->entry.file != entry.file) note("file (now " + entry.file.string() + ")");
        zone->entry = entry;
        zone->key = key;
        if (!changed.empty()) {
            log_event("secondary " + zone->name + ": reload changed its " + changed +
                      "; refreshing now");
            if (zone->is_fetching) {
                // A transfer from the previous primaries or with the previous key is dropped
                // when it comes back, and the refresh runs again with the new ones.
                // One already being written is kept: it is a version the primary served.
                zone->is_stale = zone->is_stale || (is_new_source && !zone->is_writing);
                zone->next_reason = "reload changed its " + changed;
            } else {
                zone->reason = "reload changed its " + changed;
            }
            refresh(*zone);
        }
        kept.push_back(std::move(zone));
    }
    for (auto& zone : zones_) {
        if (!zone) continue;
        log_event("secondary " + zone->name + ": removed by reload" +
                  (zone->is_fetching ? "; the transfer in progress will be dropped" : ""));
        store_.forget(zone->origin);
        retire(std::move(zone));
    }
    zones_ = std::move(kept);
    notify_->set_accepting(!zones_.empty());
    for (ZoneState* zone : added) begin(*zone, "added by reload");
}

// Stops a zone for good: its timer closes, it leaves the queue, and a transfer in progress
// comes back to a zone that keeps nothing and publishes nothing.
void SecondaryZones::retire(std::unique_ptr<ZoneState> zone) {
    zone->is_retired = true;
    waiting_.erase(std::remove(waiting_.begin(), waiting_.end(), zone.get()), waiting_.end());
    auto* handle = reinterpret_cast<uv_handle_t*>(&zone->timer);
    uv_close(handle, on_timer_closed);
    retired_.push_back(std::move(zone));
}

void SecondaryZones::on_timer_closed(uv_handle_t* handle) {
    auto& zone = *static_cast<ZoneState*>(handle->data);
    zone.is_timer_closed = true;
    zone.owner->collect(zone);
}

void SecondaryZones::collect(ZoneState& zone) {
    if (!zone.is_retired || !zone.is_timer_closed || zone.is_fetching) return;
    std::erase_if(retired_, [&](const auto& retired) { return retired.get() == &zone; });
}

void SecondaryZones::refresh(ZoneState& zone) {
    if (is_closed_ || zone.is_retired) return;
    if (zone.is_fetching) {
        zone.is_wanted_again = true;
        return;
    }
    uv_timer_stop(&zone.timer);
    if (fetches_ >= kMaxFetches) {
        if (std::find(waiting_.begin(), waiting_.end(), &zone) == waiting_.end())
            waiting_.push_back(&zone);
        return;
    }
    ++fetches_;
    const auto version = store_.find(zone.origin);
    zone.request = FetchRequest{};
    zone.request.origin = zone.origin;
    zone.request.primaries = zone.entry.primaries;
    zone.request.current = version ? version->zone : nullptr;
    zone.request.source = zone.entry.file.string();
    zone.request.key = zone.key;
    zone.request.max_records = zone.entry.max_zone_records;
    zone.request.max_bytes = zone.entry.max_transfer_bytes;
    zone.result = FetchResult{};
    zone.write_error.clear();
    zone.started = std::chrono::steady_clock::now();
    zone.is_fetching = true;
    zone.is_stale = false;
    uv_queue_work(loop_, &zone.work, run_fetch, fetched);
}

void SecondaryZones::run_fetch(uv_work_t* work) {
    auto& zone = *static_cast<ZoneState*>(work->data);
    zone.result = fetch_zone(zone.request);
}

void SecondaryZones::fetched(uv_work_t* work, int) {
    auto& zone = *static_cast<ZoneState*>(work->data);
    SecondaryZones& self = *zone.owner;
    if (!self.is_closed_ && !zone.is_retired && !zone.is_stale &&
        zone.result.status == FetchResult::Status::transferred) {
        self.start_write(zone);
        return;
    }
    self.finish_fetch(zone);
}

// Written before it is served, so what a restart reads is never older than what was answered;
// the path is the one configured when the write starts, so a reload that moved the file
// does not get the old one written.
void SecondaryZones::start_write(ZoneState& zone) {
    zone.write_path = zone.entry.file;
    zone.write_error.clear();
    zone.is_writing = true;
    uv_queue_work(loop_, &zone.work, run_write, written);
}

void SecondaryZones::run_write(uv_work_t* work) {
    auto& zone = *static_cast<ZoneState*>(work->data);
    // A file that cannot be written does not stop the new version being served: refusing it
    // would leave the zone answering older data for a fault of the local disk. It is an
    // error all the same (finish_refresh), since a restart would serve the older copy.
    if (!write_file_atomically(zone.write_path, zones::zone_to_text(*zone.result.zone),
                               zone.write_error) &&
        zone.write_error.empty())
        zone.write_error = "cannot write " + zone.write_path.string();
}

void SecondaryZones::written(uv_work_t* work, int) {
    auto& zone = *static_cast<ZoneState*>(work->data);
    SecondaryZones& self = *zone.owner;
    // A reload moved the file during the write: the new path gets it too.
    if (!self.is_closed_ && !zone.is_retired && zone.write_path != zone.entry.file) {
        self.start_write(zone);
        return;
    }
    self.finish_fetch(zone);
}

void SecondaryZones::finish_fetch(ZoneState& zone) {
    zone.is_fetching = false;
    zone.is_writing = false;
    --fetches_;
    if (is_closed_) return;
    const bool is_retired = zone.is_retired;
    if (is_retired) {
        collect(zone);  // nothing kept, nothing published: the zone is no longer ours
    } else if (zone.is_stale) {
        log_event("secondary " + zone.name + " (" + zone.reason +
                  "): dropped, a reload changed the zone's primaries or key meanwhile");
        zone.is_wanted_again = true;
    } else {
        finish_refresh(zone);
    }
    if (!waiting_.empty()) {
        ZoneState* next = waiting_.front();
        waiting_.pop_front();
        refresh(*next);
    }
    if (is_retired) return;  // `zone` may be gone
    if (zone.is_wanted_again) {
        zone.is_wanted_again = false;
        zone.reason = zone.next_reason.empty() ? "NOTIFY during the previous refresh"
                                               : std::move(zone.next_reason);
        zone.next_reason.clear();
        refresh(zone);
    }
}

void SecondaryZones::finish_refresh(ZoneState& zone) {
    const auto now = WallClock::now();
    const FetchResult& result = zone.result;
    const long long ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                             std::chrono::steady_clock::now() - zone.started)
                             .count();
    const auto& current = zone.request.current;
    const std::string prefix = "secondary " + zone.name + " (" + zone.reason + "): ";
    switch (result.status) {
        case FetchResult::Status::transferred: {
            store_.keep(zone.origin, SecondaryVersion{result.zone, now});
            std::string line = prefix + result.method + " from " + result.primary + ", serial " +
                               (current ? std::to_string(current->serial()) + " -> " : "") +
                               std::to_string(result.zone->serial()) + ", " +
                               std::to_string(result.zone->record_count()) + " records in " +
                               std::to_string(ms) + " ms";
            if (!result.detail.empty()) line += " (" + result.detail + ")";
            log_event(line + "; publishing");
            store_.record_copy_write(zone.origin, zone.name, zone.write_error);
            if (!zone.write_error.empty())
                log_event(prefix + "ERROR: the copy was not kept on disk (" + zone.write_error +
                          "): serial " + std::to_string(result.zone->serial()) +
                          " is served, but a restart would serve the previous copy or none "
                          "(meridian_secondary_copy_write_failures_total, `meridian ctl "
                          "status`; the folder must be writable, README \"Secondary zones\")");
            zone.is_expiry_announced = false;
            zone.bootstrap_retry = kFirstRetry;
            publish_();
            schedule(zone, bounded(soa_timers(*result.zone).refresh));
            break;
        }
        case FetchResult::Status::up_to_date: {
            store_.confirm(zone.origin, now);
            // The file's modification time is the time of the last refresh after a restart
            // (RFC 1035 §3.3.13 counts EXPIRE from it), so a confirmation moves it on.
            std::error_code ignored;
            std::filesystem::last_write_time(
                zone.entry.file, std::filesystem::file_time_type::clock::now(), ignored);
            log_event(prefix + "serial " + std::to_string(current->serial()) + " is current at " +
                      result.primary + (result.detail.empty() ? "" : " (" + result.detail + ")"));
            if (zone.is_expiry_announced) {
                zone.is_expiry_announced = false;
                publish_();  // serve it again
            }
            schedule(zone, bounded(soa_timers(*current).refresh));
            break;
        }
        case FetchResult::Status::failed: {
            Seconds retry(zone.bootstrap_retry);
            if (current) {
                retry = bounded(soa_timers(*current).retry);
            } else {
                zone.bootstrap_retry = std::min(zone.bootstrap_retry * 2, kMaxBootstrapRetry);
            }
            log_event(prefix + "refresh failed, nothing changed (" + result.detail +
                      "); retrying in " + std::to_string(retry.count()) + " s");
            schedule(zone, retry);
            break;
        }
    }
}

void SecondaryZones::schedule(ZoneState& zone, Seconds delay) {
    zone.next_refresh = WallClock::now() + delay;
    zone.reason = "refresh timer";
    arm_timer(zone);
}

void SecondaryZones::arm_timer(ZoneState& zone) {
    if (is_closed_) return;
    auto wake = zone.next_refresh;
    if (const auto version = store_.find(zone.origin); version && !zone.is_expiry_announced)
        wake = std::min(wake, version->expires());
    const auto delay =
        std::chrono::duration_cast<std::chrono::milliseconds>(wake - WallClock::now()).count();
    uv_timer_start(&zone.timer, on_timer, delay > 0 ? uint64_t(delay) : 0, 0);
}

void SecondaryZones::on_timer(uv_timer_t* timer) {
    auto& zone = *static_cast<ZoneState*>(timer->data);
    SecondaryZones& self = *zone.owner;
    self.check_expiry(zone);
    if (WallClock::now() >= zone.next_refresh)
        self.refresh(zone);
    else
        self.arm_timer(zone);
}

void SecondaryZones::check_expiry(ZoneState& zone) {
    const auto version = store_.find(zone.origin);
    if (!version || zone.is_expiry_announced || !version->is_expired(WallClock::now())) return;
    zone.is_expiry_announced = true;
    log_event("secondary " + zone.name + " (serial " + std::to_string(version->zone->serial()) +
              ") expired: no refresh from its primaries for " +
              std::to_string(soa_timers(*version->zone).expire) +
              " s (SOA EXPIRE, RFC 1035 §3.3.13); answering SERVFAIL until a transfer succeeds");
    publish_();
}

void SecondaryZones::send_answer(const QueuedMessage& notify, std::span<const uint8_t> answer) {
    if (notify.reply_queue) {
        // TCP: the worker that owns the connection writes it. An empty answer only tells
        // the connection to stop waiting.
        QueuedMessage* reply = notify.reply_queue->claim();
        if (!reply) return;
        reply->set_message(answer);
        reply->connection = notify.connection;
        reply->generation = notify.generation;
        notify.reply_queue->commit(reply);
        return;
    }
    if (answer.empty() || notify.fd < 0) return;
    iovec iov{const_cast<uint8_t*>(answer.data()), answer.size()};
    msghdr message{};
    message.msg_name = const_cast<sockaddr_storage*>(&notify.client);
    message.msg_namelen = notify.client_length;
    message.msg_iov = &iov;
    message.msg_iovlen = 1;
    if (notify.control_length > 0) {
        message.msg_control = const_cast<uint8_t*>(notify.control);
        message.msg_controllen = notify.control_length;
    }
    // The worker's socket is non-blocking; a full buffer loses this answer, and the primary
    // sends the NOTIFY again.
    ::sendmsg(notify.fd, &message, MSG_DONTWAIT);
}

void SecondaryZones::answer_notify(const QueuedMessage& notify) {
    const PacketPtr request = ldns::parse_packet(notify.message, notify.length);
    if (!request) {
        send_answer(notify, {});  // dropped; a TCP connection stops waiting for it
        return;
    }
    const ldns_pkt* parsed = request.get();
    const auto client = from_socket_address(reinterpret_cast<const sockaddr*>(&notify.client));
    const std::string from = client ? geoip::address_text(*client) : "?";
    PacketPtr reply(ldns_pkt_new());
    ldns_pkt_set_id(reply.get(), ldns_pkt_id(parsed));
    ldns_pkt_set_qr(reply.get(), true);
    ldns_pkt_set_opcode(reply.get(), LDNS_PACKET_NOTIFY);
    ldns_rr_list* question = ldns_pkt_question(parsed);
    ZoneState* zone = nullptr;
    ldns_pkt_rcode rcode = LDNS_RCODE_NOERROR;
    if (ldns_rr_list_rr_count(question) != 1) {
        rcode = LDNS_RCODE_FORMERR;
    } else {
        const ldns_rdf* owner = ldns_rr_owner(ldns_rr_list_rr(question, 0));
        std::string name(reinterpret_cast<const char*>(ldns_rdf_data(owner)), ldns_rdf_size(owner));
        wire::to_lower({reinterpret_cast<const uint8_t*>(name.data()), name.size()},
                       reinterpret_cast<uint8_t*>(name.data()));
        for (auto& candidate : zones_)
            if (candidate->origin == name) zone = candidate.get();
        // RFC 1996 §4.7: the answer repeats the request's question; the packet takes the
        // records, not the list.
        const ldns::ShallowRRList echoed(ldns_rr_list_clone(question));
        ldns_pkt_push_rr_list(reply.get(), LDNS_SECTION_QUESTION, echoed.get());
        if (!zone) {
            log_event("NOTIFY for " + text_of(name) + " from " + from +
                      " refused: not a secondary zone here");
            rcode = LDNS_RCODE_REFUSED;
        } else {
            bool is_primary = false;
            for (const auto& primary : zone->entry.primaries)
                is_primary = is_primary || is_from(client, primary);
            if (!is_primary) {
                log_event("NOTIFY for " + zone->name + " from " + from +
                          " refused: not one of its primaries (RFC 1996 §3.10)");
                rcode = LDNS_RCODE_REFUSED;
                zone = nullptr;
            }
        }
    }
    // RFC 8945 §5.2: a zone with a key takes only NOTIFY signed with it; anything else is
    // NOTAUTH, with the TSIG error when there was a signature to find fault with.
    std::optional<tsig::Verification> signature;
    if (zone && zone->key) {
        tsig::Keyring keyring;
        keyring.add(*zone->key);
        signature =
            tsig::verify_request({notify.message, notify.length}, keyring, tsig::current_time());
        if (signature->verdict != tsig::Verdict::valid) {
            log_event("NOTIFY for " + zone->name + " from " + from + " refused: TSIG " +
                      (signature->verdict == tsig::Verdict::unsigned_message
                           ? std::string("missing (the zone's key is ") + zone->key->name + ")"
                           : "did not verify with key " + zone->key->name));
            rcode = LDNS_RCODE_NOTAUTH;
            zone = nullptr;
        }
    }
    ldns_pkt_set_rcode(reply.get(), rcode);
    // AA when the NOTIFY is for a zone we are a secondary of, as Knot and BIND answer.
    ldns_pkt_set_aa(reply.get(), rcode == LDNS_RCODE_NOERROR);
    auto encoded = ldns::to_wire(reply.get());
    if (!encoded) {
        send_answer(notify, {});
        return;
    }
    std::vector<uint8_t> wire = std::move(*encoded);
    if (signature && signature->verdict == tsig::Verdict::valid) {
        auto signed_reply = tsig::sign(wire, *zone->key, signature->mac);
        if (signed_reply) wire = std::move(signed_reply->message);
    } else if (signature && signature->verdict != tsig::Verdict::unsigned_message) {
        tsig::append_error_tsig(wire, *signature, tsig::current_time());
    }
    send_answer(notify, wire);
    if (!zone) return;
    log_event("NOTIFY for " + zone->name + " from " + from + ": refreshing now");
    if (!zone->is_fetching) zone->reason = "NOTIFY from " + from;
    refresh(*zone);
}

}  // namespace meridian::server
