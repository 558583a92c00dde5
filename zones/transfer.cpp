// AXFR out: walking an immutable zone record by record across messages.
#include "zones/transfer.hpp"

#include "wire/bytes.hpp"
#include "wire/constants.hpp"
#include "wire/writer.hpp"

namespace meridian::zones {

using wire::bytes_of;

namespace {

// The RRset at place `at` of a node as AxfrStream counts them (see rrset_).
RRset stored_rrset(const Node& node, size_t at) {
    const RRset& rrset = node.rrsets[at / 2];
    return at % 2 == 0 ? rrset : rrset.signature_rrset();
}

}  // namespace

AxfrStream::AxfrStream(std::shared_ptr<const Zone> zone, const wire::Query& query)
    : zone_(std::move(zone)), query_(query), node_(zone_->nodes().begin()) {
    enter_rrset();
}

void AxfrStream::enter_rrset() {
    if (node_ == zone_->nodes().end()) return;
    const Node& node = node_->second;
    rdata_ = rrset_ < 2 * node.rrsets.size() ? stored_rrset(node, rrset_).rdatas.begin()
                                             : RdataList::iterator();
}

void AxfrStream::advance() {
    // Past the current record: next record of the RRset, next RRset, next node. The apex
    // SOA is skipped here, as it opens and closes the stream.
    while (node_ != zone_->nodes().end()) {
        const Node& node = node_->second;
        if (rrset_ < 2 * node.rrsets.size()) {
            const RRset rrset = stored_rrset(node, rrset_);
            const bool is_soa = rrset.type == wire::type::kSOA && &node == &zone_->apex();
            if (!is_soa && rdata_ != rrset.rdatas.end()) return;
            ++rrset_;
            enter_rrset();
            continue;
        }
        ++node_;
        rrset_ = 0;
        enter_rrset();
    }
    stage_ = Stage::last_soa;
}

bool AxfrStream::write_current(wire::MessageWriter& writer) {
    const auto section = wire::Section::answer;
    if (stage_ == Stage::first_soa || stage_ == Stage::last_soa) {
        const RRset& soa = zone_->soa();
        return writer.add_record(section, bytes_of(zone_->origin()), soa.type, wire::klass::kIN,
                                 soa.ttl, bytes_of(soa.rdatas.front()));
    }
    const Node& node = node_->second;
    const RRset rrset = stored_rrset(node, rrset_);
    return writer.add_record(section, bytes_of(node.name), rrset.type, wire::klass::kIN, rrset.ttl,
                             bytes_of(*rdata_));
}

wire::Query begin_stream_message(wire::MessageWriter& writer, const wire::Query& query,
                                 bool& is_first) {
    wire::Query header = query;
    header.has_question = is_first;
    writer.begin_response(header);
    writer.set_authoritative(true);
    is_first = false;
    return header;
}

size_t AxfrStream::next(std::span<uint8_t> buffer, size_t limit) {
    if (stage_ == Stage::done) return 0;
    wire::MessageWriter writer(buffer, limit);
    const wire::Query header = begin_stream_message(writer, query_, is_first_message_);
    while (stage_ != Stage::done) {
        if (!write_current(writer)) {
            if (writer.count(wire::Section::answer) > 0) break;  // continue in the next message
            // Not even alone in a message: no transfer can carry this zone.
            stage_ = Stage::done;
            wire::MessageWriter failure(buffer, limit);
            failure.begin_response(header);
            failure.set_rcode(wire::rcode::kServFail);
            return failure.finish();
        }
        switch (stage_) {
            case Stage::first_soa:
                stage_ = Stage::records;
                advance();  // onto the first record, or straight to the closing SOA
                break;
            case Stage::records:
                ++rdata_;
                advance();
                break;
            case Stage::last_soa:
                stage_ = Stage::done;
                break;
            case Stage::done:
                break;
        }
    }
    return writer.finish();
}

}  // namespace meridian::zones
