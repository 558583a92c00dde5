// The transfer client: SOA query, IXFR, AXFR, each message parsed by ldns and checked before
// any of it is used. Nothing here changes what is served: the caller publishes the result.
#include "server/secondary/zone_fetch.hpp"

#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <optional>

#include "server/system/socket_address.hpp"
#include "wire/constants.hpp"
#include "wire/name.hpp"
#include "zones/ixfr_apply.hpp"
#include "zones/ldns.hpp"
#include "zones/zone_file_writer.hpp"

namespace meridian::server {

namespace {

using Clock = std::chrono::steady_clock;
using zones::ZoneRecord;

using PacketPtr = ldns::Packet;

// A problem with one primary: the message for the log. Over a limit, IXFR does not fall
// back to AXFR: the whole zone would be larger still.
struct FetchError {
    std::string message;
    bool is_over_limit = false;
};

class Descriptor {
  public:
    explicit Descriptor(int fd) : fd_(fd) {}
    ~Descriptor() {
        if (fd_ >= 0) ::close(fd_);
    }
    Descriptor(const Descriptor&) = delete;
    Descriptor& operator=(const Descriptor&) = delete;
    int get() const { return fd_; }

  private:
    int fd_;
};

int remaining_ms(Clock::time_point deadline) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    return left > 0 ? static_cast<int>(left) : 0;
}

// Waits for `events` on `fd` until `deadline`; false on timeout.
bool wait_for(int fd, short events, Clock::time_point deadline) {
    for (;;) {
        pollfd p{fd, events, 0};
        const int rc = ::poll(&p, 1, remaining_ms(deadline));
        if (rc > 0) return true;
        if (rc == 0) return false;
        if (errno != EINTR) return false;
    }
}

std::string lowercase_wire(const ldns_rdf* name) {
    std::string wire(reinterpret_cast<const char*>(ldns_rdf_data(name)), ldns_rdf_size(name));
    wire::to_lower({reinterpret_cast<const uint8_t*>(wire.data()), wire.size()},
                   reinterpret_cast<uint8_t*>(wire.data()));
    return wire;
}

// A record of a response as the zone model keeps it (names in RDATA uncompressed).
ZoneRecord to_zone_record(const ldns_rr* rr, ldns_buffer* buffer) {
    ZoneRecord record;
    record.owner = lowercase_wire(ldns_rr_owner(rr));
    record.type = static_cast<uint16_t>(ldns_rr_get_type(rr));
    record.ttl = ldns_rr_ttl(rr);
    ldns_buffer_clear(buffer);
    if (ldns_rr_rdata2buffer_wire(buffer, rr) != LDNS_STATUS_OK)
        throw FetchError{"cannot encode the data of a received record"};
    record.rdata.assign(reinterpret_cast<const char*>(ldns_buffer_begin(buffer)),
                        ldns_buffer_position(buffer));
    return record;
}

// The zone's SOA as an ldns record, for the authority section of an IXFR query (RFC 1995
// §3: it says which version we have).
ldns::Record soa_rr(const zones::Zone& zone) {
    const zones::RRset& soa = zone.soa();
    ldns::Record rr =
        zones::record_to_ldns(zone.origin(), wire::type::kSOA, soa.ttl, soa.rdatas.front());
    if (!rr) throw FetchError{"cannot encode our SOA"};
    return rr;
}

std::string to_wire(ldns_pkt* pkt) {
    const auto wire = ldns::to_wire(pkt);
    if (!wire) throw FetchError{"cannot encode the query"};
    return std::string(wire->begin(), wire->end());
}

PacketPtr make_query(const std::string& origin, ldns_rr_type type) {
    ldns_rdf* name = ldns_rdf_new_frm_data(LDNS_RDF_TYPE_DNAME, origin.size(), origin.data());
    ldns_pkt* pkt = ldns_pkt_query_new(name, type, LDNS_RR_CLASS_IN, 0);
    if (!pkt) throw FetchError{"cannot build the query"};
    ldns_pkt_set_random_id(pkt);
    return PacketPtr(pkt);
}

const char* verdict_text(tsig::Verdict verdict) {
    switch (verdict) {
        case tsig::Verdict::unsigned_message:
            return "unsigned (the zone's key requires a signature)";
        case tsig::Verdict::valid:
            return "valid";
        case tsig::Verdict::bad_key:
            return "BADKEY (the primary does not know our key, or we not its)";
        case tsig::Verdict::bad_sig:
            return "BADSIG (the signature does not verify: a different secret?)";
        case tsig::Verdict::bad_time:
            return "BADTIME (the clocks differ by more than the fudge)";
        case tsig::Verdict::bad_trunc:
            return "BADTRUNC (a truncated MAC, which we do not accept)";
        case tsig::Verdict::malformed:
            return "malformed";
    }
    return "unknown";
}

// A query on the wire, signed with the zone's key when it has one; `mac` receives the MAC
// the replies are verified against.
std::string signed_query(ldns_pkt* query, const FetchRequest& request, std::vector<uint8_t>& mac) {
    std::string wire = to_wire(query);
    if (!request.key) return wire;
    const auto bytes = std::span(reinterpret_cast<const uint8_t*>(wire.data()), wire.size());
    auto signed_message = tsig::sign(bytes, *request.key);
    if (!signed_message)
        throw FetchError{"cannot sign the query with TSIG key " + request.key->name};
    mac = std::move(signed_message->mac);
    return std::string(signed_message->message.begin(), signed_message->message.end());
}

void check_signature(const tsig::Verification& verification, const char* what) {
    if (verification.verdict != tsig::Verdict::valid)
        throw FetchError{std::string(what) + ": TSIG " + verdict_text(verification.verdict)};
}

const char* rcode_name(ldns_pkt_rcode rcode) {
    const ldns_lookup_table* entry = ldns_lookup_by_id(ldns_rcodes, rcode);
    return entry ? entry->name : "an unknown rcode";
}

// A response to `query` as far as the header and question go; throws what is wrong.
PacketPtr parse_response(const uint8_t* data, size_t size, const ldns_pkt* query,
                         bool needs_question) {
    // ldns keeps part of a message with two TSIG records that then fails to parse, and never
    // frees it; anyone can send such a reply, so our own reader turns every malformed TSIG
    // record away before ldns sees the message.
    tsig::Record record;
    if (tsig::read_record({data, size}, record) == tsig::RecordStatus::malformed)
        throw FetchError{"response with a malformed TSIG record"};
    ldns_pkt* parsed = nullptr;
    if (ldns_wire2pkt(&parsed, data, size) != LDNS_STATUS_OK)
        throw FetchError{"malformed response"};
    PacketPtr response(parsed);
    if (ldns_pkt_id(parsed) != ldns_pkt_id(query) || !ldns_pkt_qr(parsed))
        throw FetchError{"response with a wrong ID or without QR"};
    if (ldns_pkt_get_opcode(parsed) != LDNS_PACKET_QUERY)
        throw FetchError{"response with a wrong opcode"};
    const ldns_rr_list* question = ldns_pkt_question(parsed);
    // RFC 5936 §2.2.1: messages after the first may leave the question out.
    if (needs_question || ldns_rr_list_rr_count(question) > 0) {
        const ldns_rr_list* asked = ldns_pkt_question(query);
        if (ldns_rr_list_rr_count(question) != 1 ||
            ldns_dname_compare(ldns_rr_owner(ldns_rr_list_rr(question, 0)),
                               ldns_rr_owner(ldns_rr_list_rr(asked, 0))) != 0 ||
            ldns_rr_get_type(ldns_rr_list_rr(question, 0)) !=
                ldns_rr_get_type(ldns_rr_list_rr(asked, 0)))
            throw FetchError{"response to another question"};
    }
    return response;
}

// The primary's serial, from an SOA query over UDP (two tries). Anyone can send a datagram
// that claims to come from the primary, so a reply that is not the answer to our query is
// ignored, not taken as the primary's word, and the wait goes on (RFC 5452 §9.1 asks the
// same of resolvers): one from another address or port, with another ID or question, and
// with a key configured one that does not verify (RFC 8945 §5.3: unsigned, or signed
// otherwise). What was ignored is the failure's cause if no answer comes.
uint32_t query_serial(const FetchRequest& request, const ListenAddress& primary) {
    PacketPtr query = make_query(request.origin, LDNS_RR_TYPE_SOA);
    std::vector<uint8_t> mac;
    const std::string wire = signed_query(query.get(), request, mac);
    const std::string timeouts =
        " (2 tries of " + std::to_string(request.query_timeout_ms) + " ms)";
    std::string last_problem = "no answer to the SOA query" + timeouts;
    const auto ignore = [&](const std::string& what) {
        last_problem = "no answer to the SOA query" + timeouts + "; ignored " + what;
    };
    for (int attempt = 0; attempt < 2; ++attempt) {
        const SocketAddress to = to_socket_address(primary.address);
        Descriptor fd(::socket(to.storage.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0));
        if (fd.get() < 0) throw FetchError{std::string("socket: ") + std::strerror(errno)};
        if (::sendto(fd.get(), wire.data(), wire.size(), 0, to.get(), to.length) < 0)
            throw FetchError{std::string("cannot send the SOA query: ") + std::strerror(errno)};
        const auto deadline = Clock::now() + std::chrono::milliseconds(request.query_timeout_ms);
        uint8_t buffer[65535];
        while (wait_for(fd.get(), POLLIN, deadline)) {
            sockaddr_storage from{};
            socklen_t from_length = sizeof from;
            const ssize_t n = ::recvfrom(fd.get(), buffer, sizeof buffer, 0,
                                         reinterpret_cast<sockaddr*>(&from), &from_length);
            if (n < 0) {
                last_problem = std::string("SOA query: ") + std::strerror(errno);
                break;  // e.g. ECONNREFUSED: nobody listens there
            }
            const auto source = from_socket_address(reinterpret_cast<const sockaddr*>(&from));
            if (source != primary.address) {
                ignore("a reply from " + (source ? geoip::to_string(*source) : "?") +
                       ", not the primary");
                continue;
            }
            // With a key, the signature first: it covers the ID and the question too, and a
            // forged reply then never reaches the general parser.
            if (request.key) {
                const tsig::Verification signature = tsig::verify_response(
                    {buffer, size_t(n)}, *request.key, mac, tsig::current_time());
                if (signature.verdict != tsig::Verdict::valid) {
                    ignore(std::string("a reply whose TSIG is ") + verdict_text(signature.verdict));
                    continue;
                }
            }
            PacketPtr response;
            try {
                response = parse_response(buffer, size_t(n), query.get(), true);
            } catch (const FetchError& e) {
                ignore("a " + e.message);
                continue;
            }
            if (ldns_pkt_get_rcode(response.get()) != LDNS_RCODE_NOERROR)
                throw FetchError{std::string("SOA query answered ") +
                                 rcode_name(ldns_pkt_get_rcode(response.get()))};
            const ldns_rr_list* answer = ldns_pkt_answer(response.get());
            for (size_t i = 0; i < ldns_rr_list_rr_count(answer); ++i) {
                const ldns_rr* rr = ldns_rr_list_rr(answer, i);
                if (ldns_rr_get_type(rr) == LDNS_RR_TYPE_SOA && ldns_rr_rd_count(rr) == 7)
                    return ldns_rdf2native_int32(ldns_rr_rdf(rr, 2));
            }
            throw FetchError{"SOA query answered without an SOA"};
        }
    }
    throw FetchError{last_problem};
}

// A TCP connection to one primary, reading length-prefixed messages (RFC 1035 §4.2.2).
class TcpExchange {
  public:
    TcpExchange(const ListenAddress& primary, const FetchRequest& request)
        : TcpExchange(to_socket_address(primary.address), request) {}
    TcpExchange(const SocketAddress& primary, const FetchRequest& request)
        : fd_(::socket(primary.storage.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0)),
          idle_ms_(request.query_timeout_ms),
          deadline_(Clock::now() + std::chrono::milliseconds(request.transfer_timeout_ms)) {
        if (fd_.get() < 0) throw FetchError{std::string("socket: ") + std::strerror(errno)};
        if (::connect(fd_.get(), primary.get(), primary.length) != 0 && errno != EINPROGRESS)
            throw FetchError{std::string("cannot connect: ") + std::strerror(errno)};
        if (!wait_for(fd_.get(), POLLOUT, next_deadline()))
            throw FetchError{"TCP connection timed out"};
        int error = 0;
        socklen_t length = sizeof error;
        ::getsockopt(fd_.get(), SOL_SOCKET, SO_ERROR, &error, &length);
        if (error != 0) throw FetchError{std::string("cannot connect: ") + std::strerror(error)};
    }

    void send(const std::string& message) {
        std::string framed;
        framed.push_back(char(message.size() >> 8));
        framed.push_back(char(message.size()));
        framed += message;
        size_t sent = 0;
        while (sent < framed.size()) {
            const ssize_t n =
                ::send(fd_.get(), framed.data() + sent, framed.size() - sent, MSG_NOSIGNAL);
            if (n > 0) {
                sent += size_t(n);
            } else if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
                if (!wait_for(fd_.get(), POLLOUT, next_deadline()))
                    throw FetchError{"sending the query timed out"};
            } else {
                throw FetchError{std::string("cannot send the query: ") + std::strerror(errno)};
            }
        }
    }

    // The next message; throws on timeout or a closed connection.
    std::vector<uint8_t> receive() {
        uint8_t length[2];
        read_exactly(length, 2);
        std::vector<uint8_t> message(size_t(length[0]) << 8 | length[1]);
        read_exactly(message.data(), message.size());
        return message;
    }

  private:
    Clock::time_point next_deadline() const {
        return std::min(deadline_, Clock::now() + std::chrono::milliseconds(idle_ms_));
    }

    void read_exactly(uint8_t* out, size_t size) {
        size_t got = 0;
        while (got < size) {
            const ssize_t n = ::recv(fd_.get(), out + got, size - got, 0);
            if (n > 0) {
                got += size_t(n);
            } else if (n == 0) {
                throw FetchError{"the primary closed the connection mid-transfer"};
            } else if (errno == EAGAIN || errno == EINTR) {
                if (!wait_for(fd_.get(), POLLIN, next_deadline()))
                    throw FetchError{Clock::now() >= deadline_ ? "the transfer took too long"
                                                               : "the primary went silent"};
            } else {
                throw FetchError{std::string("receive: ") + std::strerror(errno)};
            }
        }
    }

    Descriptor fd_;
    unsigned idle_ms_;
    Clock::time_point deadline_;
};

// What a transfer brought: a whole zone, the differences from ours, or word that ours is
// current.
struct Transfer {
    enum class Kind { up_to_date, full, incremental, refused };
    Kind kind = Kind::full;
    std::vector<ZoneRecord> records;                 // full
    std::vector<zones::ZoneDifference> differences;  // incremental
    uint32_t serial = 0;
    std::string refusal;  // the rcode, when refused
};

// Reads a response stream (RFC 1995 §4, RFC 5936 §2.2) record by record: the first SOA
// gives the new serial; an SOA second means differences follow; the stream ends with the
// SOA of the new serial in the place of a next sequence (IXFR) or after the records (AXFR).
class StreamReader {
  public:
    StreamReader(uint32_t our_serial, bool is_ixfr, uint64_t max_records)
        : our_serial_(our_serial), is_ixfr_(is_ixfr), max_records_(max_records) {}

    // Consumes one record; true once the stream is complete.
    bool add(ZoneRecord record) {
        if (is_done_) throw FetchError{"records after the end of the transfer"};
        const bool is_soa = record.type == wire::type::kSOA;
        const uint32_t serial = is_soa ? zones::soa_serial(record.rdata) : 0;
        ++count_;
        if (count_ == 1) {
            if (!is_soa) throw FetchError{"the transfer does not start with an SOA"};
            result_.serial = serial;
            first_soa_ = std::move(record);
            return false;
        }
        if (count_ == 2) {
            // An SOA second, of a serial other than the new one, opens a difference sequence;
            // AXFR's closing SOA has the new serial.
            if (is_ixfr_ && is_soa && serial != result_.serial) {
                result_.kind = Transfer::Kind::incremental;
                if (serial != our_serial_)
                    throw FetchError{"IXFR differences start at serial " + std::to_string(serial) +
                                     ", ours is " + std::to_string(our_serial_)};
            } else {
                result_.kind = Transfer::Kind::full;
                result_.records.push_back(first_soa_);
            }
        }
        if (result_.kind == Transfer::Kind::full) {
            if (is_soa) {
                if (serial != result_.serial)
                    throw FetchError{"an SOA of another serial inside the zone"};
                return is_done_ = true;
            }
            // Refused as the record beyond the limit arrives, before the rest is held.
            if (result_.records.size() >= max_records_)
                throw FetchError{"the zone has more records than max_zone_records (" +
                                     std::to_string(max_records_) + ")",
                                 true};
            result_.records.push_back(std::move(record));
            return false;
        }
        return add_difference(std::move(record), is_soa, serial);
    }

    // The first message held one SOA and nothing followed it: the reply to an IXFR whose
    // version is not newer than ours (RFC 1995 §4).
    bool is_single_soa() const { return count_ == 1; }
    Transfer take() { return std::move(result_); }

  private:
    bool add_difference(ZoneRecord record, bool is_soa, uint32_t serial) {
        switch (stage_) {
            case Stage::old_soa:
                if (!is_soa) throw FetchError{"IXFR sequence without its starting SOA"};
                if (serial == result_.serial) return is_done_ = true;
                result_.differences.emplace_back();
                result_.differences.back().old_soa = std::move(record);
                stage_ = Stage::deleted;
                return false;
            case Stage::deleted:
                if (is_soa) {
                    result_.differences.back().new_soa = std::move(record);
                    stage_ = Stage::added;
                } else {
                    result_.differences.back().deleted.push_back(std::move(record));
                }
                return false;
            case Stage::added:
                if (!is_soa) {
                    result_.differences.back().added.push_back(std::move(record));
                    return false;
                }
                stage_ = Stage::old_soa;
                return add_difference(std::move(record), true, serial);
        }
        return false;
    }

    enum class Stage { old_soa, deleted, added };
    uint32_t our_serial_;
    bool is_ixfr_;
    uint64_t max_records_;
    size_t count_ = 0;
    bool is_done_ = false;
    Stage stage_ = Stage::old_soa;
    ZoneRecord first_soa_;
    Transfer result_;
};

Transfer run_transfer(const FetchRequest& request, const ListenAddress& primary, bool is_ixfr) {
    PacketPtr query = make_query(request.origin, is_ixfr ? LDNS_RR_TYPE_IXFR : LDNS_RR_TYPE_AXFR);
    if (is_ixfr)
        ldns_pkt_push_rr(query.get(), LDNS_SECTION_AUTHORITY,
                         soa_rr(*request.current).release());  // the packet owns it
    std::vector<uint8_t> mac;
    const std::string wire = signed_query(query.get(), request, mac);
    TcpExchange exchange(primary, request);
    exchange.send(wire);
    // RFC 8945 §5.3.1: each message is signed over the previous one's MAC.
    std::optional<tsig::StreamVerifier> signatures;
    if (request.key) signatures.emplace(*request.key, mac);
    StreamReader stream(request.current ? request.current->serial() : 0, is_ixfr,
                        request.max_records);
    const ldns::Buffer buffer(ldns_buffer_new(4096));
    uint64_t received = 0;
    for (bool is_first = true;; is_first = false) {
        const std::vector<uint8_t> message = exchange.receive();
        received += 2 + message.size();  // with its length prefix (RFC 1035 §4.2.2)
        if (received > request.max_bytes)
            throw FetchError{std::string(is_ixfr ? "IXFR" : "AXFR") +
                                 " stopped: more octets than max_transfer_bytes (" +
                                 std::to_string(request.max_bytes) + ")",
                             true};
        if (signatures)
            check_signature(signatures->verify_next(message, tsig::current_time()),
                            is_ixfr ? "IXFR" : "AXFR");
        PacketPtr response = parse_response(message.data(), message.size(), query.get(), is_first);
        const ldns_pkt_rcode rcode = ldns_pkt_get_rcode(response.get());
        if (rcode != LDNS_RCODE_NOERROR) {
            if (!is_first)
                throw FetchError{std::string("the transfer stopped with ") + rcode_name(rcode)};
            Transfer refused;
            refused.kind = Transfer::Kind::refused;
            refused.refusal = rcode_name(rcode);
            return refused;
        }
        const ldns_rr_list* answer = ldns_pkt_answer(response.get());
        const size_t count = ldns_rr_list_rr_count(answer);
        if (count == 0) throw FetchError{"a transfer message without records"};
        for (size_t i = 0; i < count; ++i) {
            const ldns_rr* rr = ldns_rr_list_rr(answer, i);
            if (ldns_rr_get_class(rr) != LDNS_RR_CLASS_IN)
                throw FetchError{"a record of a class other than IN"};
            if (stream.add(to_zone_record(rr, buffer.get()))) {
                if (i + 1 != count) throw FetchError{"records after the end of the transfer"};
                return stream.take();
            }
        }
        if (is_first && is_ixfr && stream.is_single_soa()) {
            Transfer current = stream.take();
            // RFC 1995 §4: one SOA alone says our version is current. With a newer serial it
            // can only mean the primary will not send differences: ask for the whole zone.
            current.kind = zones::serial_is_before(request.current->serial(), current.serial)
                               ? Transfer::Kind::refused
                               : Transfer::Kind::up_to_date;
            current.refusal = "a lone SOA of a newer serial";
            return current;
        }
    }
}

std::shared_ptr<const zones::Zone> build_full(const FetchRequest& request,
                                              const Transfer& transfer) {
    Diagnostics diagnostics;
    auto zone = zones::build_zone(request.origin, transfer.records, request.source, diagnostics);
    if (!zone) {
        std::string causes;
        for (const auto& d : diagnostics)
            if (d.is_error) causes += (causes.empty() ? "" : "; ") + d.message;
        throw FetchError{"the transferred zone is not valid: " + causes};
    }
    return zone;
}

// The differences of an IXFR are bounded by max_transfer_bytes as they arrive; the zone they
// make is checked here, as a whole transfer's records were while they came.
void check_size(const FetchRequest& request, const zones::Zone& zone) {
    if (zone.record_count() > request.max_records)
        throw FetchError{"the zone would have " + std::to_string(zone.record_count()) +
                             " records, more than max_zone_records (" +
                             std::to_string(request.max_records) + ")",
                         true};
}

void fetch_from(const FetchRequest& request, const ListenAddress& primary, FetchResult& result) {
    const auto& current = request.current;
    if (current) {
        const uint32_t serial = query_serial(request, primary);
        result.primary_serial = serial;
        if (!zones::serial_is_before(current->serial(), serial)) {
            if (serial != current->serial())
                result.detail = "the primary's serial " + std::to_string(serial) +
                                " is older than ours, " + std::to_string(current->serial()) +
                                " (RFC 1982); keeping ours";
            result.status = FetchResult::Status::up_to_date;
            return;
        }
        Transfer transfer;
        try {
            transfer = run_transfer(request, primary, true);
        } catch (const FetchError& e) {
            if (e.is_over_limit) throw;
            // Whatever else went wrong with the differences, the whole zone may still come.
            transfer.kind = Transfer::Kind::refused;
            transfer.refusal = "unusably (" + e.message + ")";
        }
        switch (transfer.kind) {
            case Transfer::Kind::up_to_date:
                result.primary_serial = transfer.serial;
                result.status = FetchResult::Status::up_to_date;
                return;
            case Transfer::Kind::full:
                result.zone = build_full(request, transfer);
                result.method = "AXFR-style IXFR";
                break;
            case Transfer::Kind::incremental: {
                Diagnostics diagnostics;
                result.zone = zones::apply_differences(*current, transfer.differences,
                                                       request.source, diagnostics);
                if (result.zone) {
                    result.method = "IXFR";
                    break;
                }
                for (const auto& d : diagnostics)
                    if (d.is_error) result.detail += d.message + "; ";
                result.detail += "falling back to AXFR";
                break;
            }
            case Transfer::Kind::refused:
                result.detail += "IXFR answered " + transfer.refusal + ", trying AXFR";
                break;
        }
        if (result.zone) {
            check_size(request, *result.zone);
            result.primary_serial = result.zone->serial();
            result.status = FetchResult::Status::transferred;
            return;
        }
    }
    Transfer transfer = run_transfer(request, primary, false);
    if (transfer.kind == Transfer::Kind::refused)
        throw FetchError{"AXFR answered " + transfer.refusal};
    result.zone = build_full(request, transfer);
    check_size(request, *result.zone);
    result.method = "AXFR";
    result.primary_serial = result.zone->serial();
    result.status = FetchResult::Status::transferred;
}

}  // namespace

FetchResult fetch_zone(const FetchRequest& request) {
    std::string failures;  // each primary's, in the order tried
    for (const auto& primary : request.primaries) {
        FetchResult result;
        result.primary = primary.text;
        try {
            fetch_from(request, primary, result);
            return result;
        } catch (const FetchError& e) {
            failures += (failures.empty() ? "" : "; ") + primary.text + ": " + result.detail +
                        (result.detail.empty() ? "" : "; ") + e.message;
        }
    }
    FetchResult failed;
    failed.detail = failures;
    return failed;
}

}  // namespace meridian::server
