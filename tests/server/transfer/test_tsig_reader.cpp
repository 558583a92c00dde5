// Reading a message's TSIG record (RFC 8945 §4.2, §5.1) with our own reader: exactly one, the
// last record, every length checked; anything else is malformed (FORMERR) and never reaches
// a library that could leak or misread it (issue 13 defect 17).
#include <doctest/doctest.h>
#include <malloc.h>

#include <string>
#include <vector>

#include "server/transfer/tsig.hpp"
#include "wire/name.hpp"

using namespace meridian::server;

namespace {

const tsig::Key kKey{"transfer-key.", "hmac-sha256.",
                     "c2VjcmV0LXNoYXJlZC1ieS1wcmltYXJ5LWFuZC1zZWNvbmRhcnk="};

// A response for example.com. SOA (QR AA), one question, no records.
std::vector<uint8_t> reply(uint16_t flags = 0x8400) {
    std::vector<uint8_t> m = {
        0x12, 0x34, static_cast<uint8_t>(flags >> 8), static_cast<uint8_t>(flags), 0, 1, 0, 0, 0, 0,
        0,    0};
    const std::string qname = meridian::wire::wire_from_text("example.com.");
    m.insert(m.end(), qname.begin(), qname.end());
    m.insert(m.end(), {0, 6, 0, 1});
    return m;
}

// The signed reply and the request MAC it was signed over.
struct SignedReply {
    std::vector<uint8_t> request_mac;
    std::vector<uint8_t> message;
    size_t record_at = 0;  // where its TSIG record starts
};

SignedReply signed_reply() {
    const auto request = tsig::sign(reply(0), kKey);
    REQUIRE(request);
    const auto response = tsig::sign(reply(), kKey, request->mac);
    REQUIRE(response);
    return {request->mac, response->message, reply().size()};
}

void set_arcount(std::vector<uint8_t>& m, uint16_t count) {
    m[10] = static_cast<uint8_t>(count >> 8);
    m[11] = static_cast<uint8_t>(count);
}

}  // namespace

TEST_CASE("two_tsig_records_with_a_parse_error_are_malformed_and_leak_nothing") {
    // The reply with its TSIG record twice, and ARCOUNT claiming a third record that is not
    // there: what a hostile (or spoofed) primary can send a secondary.
    SignedReply good = signed_reply();
    auto hostile = good.message;
    hostile.insert(hostile.end(), good.message.begin() + static_cast<long>(good.record_at),
                   good.message.end());
    set_arcount(hostile, 3);
    const uint64_t now = tsig::current_time();
    tsig::Keyring keyring;
    keyring.add(kKey);
    CHECK(tsig::verify_response(hostile, kKey, good.request_mac, now).verdict ==
          tsig::Verdict::malformed);
    tsig::StreamVerifier stream(kKey, good.request_mac);
    CHECK(stream.verify_next(hostile, now).verdict == tsig::Verdict::malformed);
    CHECK(tsig::verify_request(hostile, keyring, now).verdict == tsig::Verdict::malformed);

    const size_t before = mallinfo2().uordblks;
    for (int i = 0; i < 10000; ++i) {
        if (tsig::verify_response(hostile, kKey, good.request_mac, now).verdict !=
            tsig::Verdict::malformed)
            FAIL("not malformed at round " << i);
        if (tsig::verify_request(hostile, keyring, now).verdict != tsig::Verdict::malformed)
            FAIL("not malformed at round " << i);
    }
    const size_t after = mallinfo2().uordblks;
    // Nothing is kept from one message to the next; 1.3 KB a message would be 26 MB here.
    CHECK(after <= before + 4096);
}

TEST_CASE("two_tsig_records_or_one_not_last_are_malformed") {
    SignedReply good = signed_reply();
    const uint64_t now = tsig::current_time();
    REQUIRE(tsig::verify_response(good.message, kKey, good.request_mac, now).verdict ==
            tsig::Verdict::valid);
    auto twice = good.message;
    twice.insert(twice.end(), good.message.begin() + static_cast<long>(good.record_at),
                 good.message.end());
    set_arcount(twice, 2);
    tsig::Record record;
    CHECK(tsig::read_record(twice, record) == tsig::RecordStatus::malformed);
    CHECK(tsig::verify_response(twice, kKey, good.request_mac, now).verdict ==
          tsig::Verdict::malformed);

    // The TSIG in the answer section: counted there, not last of the additional section.
    auto in_answer = good.message;
    in_answer[7] = 1;
    set_arcount(in_answer, 0);
    CHECK(tsig::read_record(in_answer, record) == tsig::RecordStatus::malformed);
}

TEST_CASE("tsig_record_whose_lengths_lie_is_malformed") {
    const SignedReply good = signed_reply();
    tsig::Record record;
    REQUIRE(tsig::read_record(good.message, record) == tsig::RecordStatus::present);
    CHECK(record.offset == good.record_at);
    CHECK(record.key_name.as_key() == meridian::wire::wire_from_text("transfer-key."));
    CHECK(record.mac.size() == 32);
    CHECK(record.error == 0);
    CHECK(record.other.empty());

    const size_t rdlength_at = good.record_at + 14 + 8;       // owner "transfer-key.", type..TTL
    const size_t mac_size_at = rdlength_at + 2 + 13 + 6 + 2;  // algorithm, time, fudge
    const size_t other_size_at = good.message.size() - 2;
    const auto with = [&](size_t at, uint16_t value) {
        auto m = good.message;
        m[at] = static_cast<uint8_t>(value >> 8);
        m[at + 1] = static_cast<uint8_t>(value);
        return m;
    };
    for (const auto& [what, message] : std::vector<std::pair<std::string, std::vector<uint8_t>>>{
             {"RDLENGTH one short", with(rdlength_at, 0x3c)},
             {"RDLENGTH one long", with(rdlength_at, 0x3e)},
             {"MAC size past the RDATA", with(mac_size_at, 0x0040)},
             {"MAC size one short", with(mac_size_at, 0x001f)},
             {"Other Len past the end", with(other_size_at, 1)},
             {"class IN, not ANY", with(good.record_at + 14 + 2, 1)},
         }) {
        CAPTURE(what);
        CHECK(tsig::read_record(message, record) == tsig::RecordStatus::malformed);
        CHECK(
            tsig::verify_response(message, kKey, good.request_mac, tsig::current_time()).verdict ==
            tsig::Verdict::malformed);
    }
    // Cut anywhere inside the record: never read past the end.
    for (size_t size = good.record_at + 1; size < good.message.size(); ++size) {
        const std::vector<uint8_t> cut(good.message.begin(),
                                       good.message.begin() + static_cast<long>(size));
        CHECK(tsig::read_record(cut, record) == tsig::RecordStatus::malformed);
    }
    // Octets after the record.
    auto trailing = good.message;
    trailing.push_back(0);
    CHECK(tsig::read_record(trailing, record) == tsig::RecordStatus::malformed);
    // No TSIG at all.
    CHECK(tsig::read_record(reply(), record) == tsig::RecordStatus::absent);
}
