// IXFR out: the differences of a ZoneHistory laid out as RFC 1995 §4 wants them.
#include "zones/ixfr_stream.hpp"

#include "wire/bytes.hpp"
#include "wire/constants.hpp"
#include "wire/writer.hpp"
#include "zones/transfer.hpp"

namespace meridian::zones {

using wire::bytes_of;

namespace {}  // namespace

IxfrStream::IxfrStream(std::vector<std::shared_ptr<const ZoneDiff>> diffs, const wire::Query& query)
    : diffs_(std::move(diffs)), query_(query) {
    if (diffs_.empty()) return;
    size_t total = 2;
    for (const auto& diff : diffs_) total += diff->record_count();
    records_.reserve(total);
    records_.push_back(&diffs_.back()->to_soa);
    for (const auto& diff : diffs_) {
        records_.push_back(&diff->from_soa);
        for (const DiffRecord& record : diff->removed) records_.push_back(&record);
        records_.push_back(&diff->to_soa);
        for (const DiffRecord& record : diff->added) records_.push_back(&record);
    }
    records_.push_back(&diffs_.back()->to_soa);
}

size_t IxfrStream::next(std::span<uint8_t> buffer, size_t limit) {
    if (is_done()) return 0;
    wire::MessageWriter writer(buffer, limit);
    const wire::Query header = begin_stream_message(writer, query_, is_first_message_);
    while (!is_done()) {
        const DiffRecord& record = *records_[position_];
        if (!writer.add_record(wire::Section::answer, bytes_of(record.owner), record.type,
                               wire::klass::kIN, record.ttl, bytes_of(record.rdata))) {
            if (writer.count(wire::Section::answer) > 0) break;  // continue in the next message
            position_ = records_.size();
            wire::MessageWriter failure(buffer, limit);
            failure.begin_response(header);
            failure.set_rcode(wire::rcode::kServFail);
            return failure.finish();
        }
        ++position_;
    }
    return writer.finish();
}

}  // namespace meridian::zones
