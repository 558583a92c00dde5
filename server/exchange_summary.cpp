// Reading the few fields the metrics count out of a query and its response.
#include "server/exchange_summary.hpp"

#include "wire/constants.hpp"
#include "wire/name.hpp"

namespace meridian::server {

namespace {

uint16_t read16(const uint8_t* p) {
    return static_cast<uint16_t>(p[0] << 8 | p[1]);
}

// wire::skip_name with this file's convention: the offset after the name, or 0 when the
// name is malformed or runs past the message.
size_t skip_name(const uint8_t* message, size_t size, size_t at) {
    return wire::skip_name({message, size}, at) ? at : 0;
}

// Looks for the OPT record among the first few additional records after the question (a
// query has no answer or authority records); sets the ECS flag and returns the EDNS version,
// or -1 without OPT.
int read_edns(const uint8_t* message, size_t size, size_t at, uint16_t additional,
              bool& has_client_subnet) {
    constexpr uint16_t kMaxRecords = 4;  // OPT and perhaps TSIG; more is not worth reading
    for (uint16_t record = 0; record < additional && record < kMaxRecords; ++record) {
        at = skip_name(message, size, at);
        if (at == 0 || at + 10 > size) return -1;
        const uint16_t type = read16(message + at);
        const uint8_t version = message[at + 5];
        const size_t data_length = read16(message + at + 8);
        const size_t data = at + 10;
        if (data + data_length > size) return -1;
        if (type == wire::type::kOPT) {
            // Options are (code, length, data); bounded by the record's own length.
            for (size_t option = data; option + 4 <= data + data_length;) {
                if (read16(message + option) == wire::edns::kClientSubnet) has_client_subnet = true;
                option += 4 + read16(message + option + 2);
            }
            return version;
        }
        at = data + data_length;
    }
    return -1;
}

}  // namespace

ExchangeSummary summarize_exchange(std::span<const uint8_t> query,
                                   std::span<const uint8_t> response) {
    ExchangeSummary summary;
    const uint8_t* message = query.data();
    const size_t size = query.size();
    int edns_version = -1;
    if (size >= wire::kHeaderSize && read16(message + 4) == 1) {
        const size_t after_name = skip_name(message, size, wire::kHeaderSize);
        if (after_name != 0 && after_name + 4 <= size) {
            summary.qtype = read16(message + after_name);
            const bool is_plain = read16(message + 6) == 0 && read16(message + 8) == 0;
            if (is_plain)
                edns_version = read_edns(message, size, after_name + 4, read16(message + 10),
                                         summary.has_client_subnet);
        }
    }
    if (response.size() >= wire::kHeaderSize) {
        summary.is_answered = true;
        summary.rcode = response[3] & 0x0F;
        summary.is_truncated = (response[2] & 0x02) != 0;
        // RFC 6891 §6.1.3: the only extended rcode we send is BADVERS, to a version above 0;
        // its low four bits are 0 in the header.
        if (summary.rcode == 0 && edns_version > 0) summary.rcode = wire::rcode::kBadVers;
    }
    return summary;
}

}  // namespace meridian::server
