// The response writer: compression, rollback at RRset boundaries, OPT and extended rcodes.
#include <doctest/doctest.h>

#include <vector>

#include "wire/constants.hpp"
#include "wire/name.hpp"
#include "wire/writer.hpp"

using namespace meridian::wire;

namespace {
std::span<const uint8_t> span_of(const std::string& s) {
    return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

Query question(const char* name) {
    Query q;
    q.id = 0xBEEF;
    q.has_question = true;
    from_text(name, q.qname);
    q.qname_lower = q.qname;
    to_lower(q.qname_lower);
    q.qtype = type::kA;
    q.qclass = klass::kIN;
    return q;
}
}  // namespace

TEST_CASE("owner_equal_to_question_is_one_pointer") {
    std::vector<uint8_t> buffer(512);
    MessageWriter w(buffer, 512);
    REQUIRE(w.begin_response(question("WWW.example.com.")));
    const size_t after_question = w.size();
    const uint8_t rdata[] = {192, 0, 2, 1};
    REQUIRE(w.add_record(Section::answer, span_of(wire_from_text("www.example.com.")), type::kA,
                         klass::kIN, 60, rdata));
    // pointer (2) + type, class, ttl, rdlength (10) + rdata (4)
    CHECK(w.size() - after_question == 16);
    CHECK(buffer[after_question] == 0xC0);
    CHECK(buffer[after_question + 1] == 12);
}

TEST_CASE("names_inside_rdata_of_rfc1035_types_are_compressed") {
    std::vector<uint8_t> buffer(512);
    MessageWriter w(buffer, 512);
    REQUIRE(w.begin_response(question("example.com.")));
    const std::string target = wire_from_text("ns1.example.com.");
    const size_t before = w.size();
    REQUIRE(w.add_record(Section::answer, span_of(wire_from_text("example.com.")), type::kNS,
                         klass::kIN, 60, span_of(target)));
    // owner pointer 2 + 10 fixed + "ns1" label (4) + pointer (2)
    CHECK(w.size() - before == 18);
    const size_t srv_before = w.size();
    std::string srv = std::string("\0\1\0\1\0\x35", 6) + target;
    REQUIRE(w.add_record(Section::answer, span_of(wire_from_text("example.com.")), type::kSRV,
                         klass::kIN, 60, span_of(srv)));
    // RFC 3597 §4: SRV's target is not compressed.
    CHECK(w.size() - srv_before == 2 + 10 + srv.size());
}

TEST_CASE("record_that_does_not_fit_is_rolled_back") {
    std::vector<uint8_t> buffer(65535);
    MessageWriter w(buffer, 60);
    REQUIRE(w.begin_response(question("example.com.")));
    const auto mark = w.mark();
    const std::string big(40, 'x');
    CHECK_FALSE(w.add_record(Section::answer, span_of(wire_from_text("example.com.")), type::kTXT,
                             klass::kIN, 60, span_of(big)));
    CHECK(w.size() == mark.size);
    CHECK(w.count(Section::answer) == 0);
}

TEST_CASE("reserved_room_keeps_space_for_opt") {
    std::vector<uint8_t> buffer(65535);
    MessageWriter w(buffer, 64);
    REQUIRE(w.begin_response(question("example.com.")));  // 12 + 17
    w.reserve(11);
    const uint8_t rdata[] = {1, 2, 3, 4};
    CHECK(w.add_record(Section::answer, span_of(wire_from_text("example.com.")), type::kA,
                       klass::kIN, 60, rdata));  // 29 + 16 = 45, + 11 = 56
    CHECK_FALSE(w.add_record(Section::answer, span_of(wire_from_text("example.com.")), type::kA,
                             klass::kIN, 60, rdata));
    CHECK(w.add_opt(1232, false, {}));
    CHECK(w.finish() == 56);
}

TEST_CASE("extended_rcode_goes_to_opt") {
    std::vector<uint8_t> buffer(512);
    MessageWriter w(buffer, 512);
    REQUIRE(w.begin_response(question("example.com.")));
    w.set_rcode(rcode::kBadVers);
    REQUIRE(w.add_opt(1232, true, {}));
    const size_t length = w.finish();
    CHECK((buffer[3] & 0x0F) == 0);
    // OPT: root(1) type(2) class(2) then TTL: extended rcode, version, flags.
    CHECK(buffer[length - 6] == 1);
    CHECK(buffer[length - 5] == 0);
    CHECK(buffer[length - 4] == 0x80);  // DO copied
}

TEST_CASE("records_of_one_owner_point_at_its_first_occurrence") {
    // An RRset's records and its RRSIGs repeat one owner: each after the first is a pointer
    // to where the first wrote it, also when that first one was itself partly compressed.
    std::vector<uint8_t> buffer(512);
    MessageWriter w(buffer, 512);
    REQUIRE(w.begin_response(question("example.com.")));
    const std::string owner = wire_from_text("abc.example.com.");
    const uint8_t rdata[] = {192, 0, 2, 1};
    const size_t first_at = w.size();
    REQUIRE(w.add_record(Section::answer, span_of(owner), type::kA, klass::kIN, 60, rdata));
    // "abc" then a pointer to example.com. in the question.
    CHECK(buffer[first_at] == 3);
    for (int i = 0; i < 2; ++i) {
        const size_t at = w.size();
        REQUIRE(w.add_record(Section::answer, span_of(owner), type::kA, klass::kIN, 60, rdata));
        CHECK(buffer[at] == (0xC0 | (first_at >> 8)));
        CHECK(buffer[at + 1] == (first_at & 0xFF));
    }
    // After a rollback the remembered owner may point at octets that are gone: the next
    // record writes its owner again rather than point there.
    const auto mark = w.mark();
    const size_t rolled_at = w.size();
    REQUIRE(w.add_record(Section::answer, span_of(wire_from_text("zzz.example.com.")), type::kA,
                         klass::kIN, 60, rdata));
    w.rollback(mark);
    const std::string other = wire_from_text("other.example.net.");
    REQUIRE(w.add_record(Section::answer, span_of(other), type::kA, klass::kIN, 60, rdata));
    CHECK(buffer[rolled_at] == 5);  // "other" written out, not a pointer
    const size_t next_at = w.size();
    REQUIRE(w.add_record(Section::answer, span_of(other), type::kA, klass::kIN, 60, rdata));
    CHECK(buffer[next_at] == (0xC0 | (rolled_at >> 8)));
    CHECK(buffer[next_at + 1] == (rolled_at & 0xFF));
}
