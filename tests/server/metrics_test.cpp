// Traffic counters: what each query and answer is counted as (question type, rcode, ECS,
// TC, dropped), sums over workers, and no allocation while recording.
#include <doctest/doctest.h>

#include "server/exchange_summary.hpp"
#include "server/metrics.hpp"
#include "support/answer_fixture.hpp"
#include "support/counting_allocator.hpp"

using meridian::server::ExchangeSummary;
using meridian::server::summarize_exchange;
using meridian::server::TrafficCounters;
using meridian::server::WorkerCounters;
using namespace meridian::testing;

namespace {

constexpr const char* kZone = R"($TTL 60
@ SOA ns h 1 1 1 1 1
@ NS ns
ns A 192.0.2.1
www A 192.0.2.3
big TXT "0123456789012345678901234567890123456789012345678901234567890123456789"
big TXT "1123456789012345678901234567890123456789012345678901234567890123456789"
big TXT "2123456789012345678901234567890123456789012345678901234567890123456789"
big TXT "3123456789012345678901234567890123456789012345678901234567890123456789"
big TXT "4123456789012345678901234567890123456789012345678901234567890123456789"
big TXT "5123456789012345678901234567890123456789012345678901234567890123456789"
big TXT "6123456789012345678901234567890123456789012345678901234567890123456789"
big TXT "7123456789012345678901234567890123456789012345678901234567890123456789"
)";

struct Exchange {
    std::vector<uint8_t> query;
    std::vector<uint8_t> response;
    ExchangeSummary summary;
};

Exchange exchange(AnswerFixture& fixture, const std::vector<uint8_t>& query) {
    Exchange result{query, fixture.respond_bytes(query), {}};
    result.summary = summarize_exchange(result.query, result.response);
    return result;
}

}  // namespace

static_assert(alignof(WorkerCounters) == 64 && sizeof(WorkerCounters) % 64 == 0,
              "each worker's counters start and end on their own cache lines");

TEST_CASE("summary_reads_the_question_type_and_the_rcode") {
    AnswerFixture f(ZoneTexts{{"example.com.", kZone}});
    REQUIRE(f.errors == "");
    auto a = exchange(f, make_query("www.example.com.", LDNS_RR_TYPE_A));
    CHECK(a.summary.is_answered);
    CHECK(a.summary.qtype == 1);
    CHECK(a.summary.rcode == 0);
    CHECK_FALSE(a.summary.has_client_subnet);
    auto missing = exchange(f, make_query("nope.example.com.", LDNS_RR_TYPE_AAAA, {.edns = true}));
    CHECK(missing.summary.qtype == 28);
    CHECK(missing.summary.rcode == 3);  // NXDOMAIN
    auto outside = exchange(f, make_query("www.example.org.", LDNS_RR_TYPE_MX));
    CHECK(outside.summary.qtype == 15);
    CHECK(outside.summary.rcode == 5);  // REFUSED
}

TEST_CASE("summary_sees_the_client_subnet_option") {
    AnswerFixture f(ZoneTexts{{"example.com.", kZone}});
    auto ecs = exchange(f, make_query("www.example.com.", LDNS_RR_TYPE_A,
                                      {.edns = true,
                                       .nsid = true,
                                       .client_subnet = client_subnet_option("198.51.100.0", 24)}));
    CHECK(ecs.summary.has_client_subnet);
    auto nsid =
        exchange(f, make_query("www.example.com.", LDNS_RR_TYPE_A, {.edns = true, .nsid = true}));
    CHECK_FALSE(nsid.summary.has_client_subnet);
}

TEST_CASE("summary_reports_badvers_for_an_edns_version_above_0") {
    AnswerFixture f(ZoneTexts{{"example.com.", kZone}});
    auto badvers = exchange(
        f, make_query("www.example.com.", LDNS_RR_TYPE_A, {.edns = true, .edns_version = 1}));
    CHECK(badvers.summary.rcode == 16);
    CHECK(meridian::server::rcode_label(badvers.summary.rcode) == "BADVERS");
}

TEST_CASE("summary_reports_truncation") {
    AnswerFixture f(ZoneTexts{{"example.com.", kZone}});
    auto big = exchange(f, make_query("big.example.com.", LDNS_RR_TYPE_TXT));  // 512 octets
    REQUIRE_FALSE(big.response.empty());
    CHECK(big.summary.is_truncated);
    auto small = exchange(f, make_query("www.example.com.", LDNS_RR_TYPE_A));
    CHECK_FALSE(small.summary.is_truncated);
}

TEST_CASE("summary_of_a_dropped_query_is_unanswered") {
    auto query = make_query("www.example.com.", LDNS_RR_TYPE_A);
    query[2] |= 0x80;  // QR
    const auto summary = summarize_exchange(query, {});
    CHECK_FALSE(summary.is_answered);
    CHECK(summary.qtype == 1);
}

TEST_CASE("summary_never_reads_past_a_cut_or_lying_message") {
    AnswerFixture f(ZoneTexts{{"example.com.", kZone}});
    const auto query =
        make_query("www.example.com.", LDNS_RR_TYPE_A,
                   {.edns = true, .client_subnet = client_subnet_option("2001:db8::", 48)});
    // Every prefix of a valid query: the summary of each is whatever it can read, and (under
    // the sanitizer build) no read goes past the end.
    for (size_t length = 0; length <= query.size(); ++length) {
        const std::vector<uint8_t> cut(query.begin(), query.begin() + length);
        const auto summary = summarize_exchange(cut, {});
        if (length < query.size()) CHECK_FALSE(summary.has_client_subnet);
    }
    // Lengths that point far past the end: the OPT's RDLENGTH, then an option's length.
    auto lying = query;
    const size_t rdlength_at = lying.size() - (4 + 4 + 6) - 2;
    lying[rdlength_at] = 0xFF;
    CHECK_FALSE(summarize_exchange(lying, {}).has_client_subnet);
    auto long_option = query;
    long_option[long_option.size() - 12] = 0xFF;                   // ECS OPTION-LENGTH, high octet
    CHECK(summarize_exchange(long_option, {}).has_client_subnet);  // the code was read
    // A question name that never ends.
    std::vector<uint8_t> endless = {0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0};
    for (int i = 0; i < 300; ++i) endless.insert(endless.end(), {1, 'a'});
    CHECK(summarize_exchange(endless, {}).qtype == 0);
}

TEST_CASE("totals_sum_every_workers_block") {
    TrafficCounters counters(3);
    const auto query = make_query("www.example.com.", LDNS_RR_TYPE_A);
    const std::vector<uint8_t> answer(query.begin(), query.end());  // rcode 0, no TC
    counters.worker(0).record(meridian::zones::Transport::udp, query, answer);
    counters.worker(2).record(meridian::zones::Transport::udp, query, answer);
    counters.worker(1).record(meridian::zones::Transport::tcp, query, answer);
    counters.worker(1).record_dropped(meridian::zones::Transport::udp);
    counters.worker(0).tcp_open.set(2);
    counters.worker(2).tcp_open.set(1);
    const auto totals = counters.sum();
    const size_t a = meridian::server::qtype_bucket(1);
    CHECK(totals.queries[0][a] == 2);
    CHECK(totals.queries[1][a] == 1);
    CHECK(totals.responses[0][0] == 2);
    CHECK(totals.dropped[0] == 1);
    CHECK(totals.tcp_open == 3);
}

TEST_CASE("recording_a_query_allocates_nothing") {
    AnswerFixture f(ZoneTexts{{"example.com.", kZone}});
    const std::vector<std::vector<uint8_t>> queries = {
        make_query("www.example.com.", LDNS_RR_TYPE_A),
        make_query("www.example.com.", LDNS_RR_TYPE_A,
                   {.edns = true,
                    .nsid = true,
                    .client_subnet = client_subnet_option("198.51.100.0", 24)}),
        make_query("big.example.com.", LDNS_RR_TYPE_TXT),
        make_query("www.example.com.", LDNS_RR_TYPE_A, {.edns = true, .edns_version = 1}),
        {0x12, 0x34, 0x81, 0x00, 0, 1, 0, 0, 0, 0, 0, 0},  // a response: dropped
    };
    std::vector<std::vector<uint8_t>> responses;
    for (const auto& query : queries) responses.push_back(f.respond_bytes(query));
    TrafficCounters counters(1);
    WorkerCounters& block = counters.worker(0);
    allocations = 0;
    counting = true;
    for (size_t i = 0; i < queries.size(); ++i) {
        block.record(meridian::zones::Transport::udp, queries[i], responses[i]);
        block.record(meridian::zones::Transport::tcp, queries[i], responses[i]);
    }
    block.record_dropped(meridian::zones::Transport::udp);
    block.tcp_open.set(1);
    counting = false;
    CHECK(allocations == 0);
    const auto totals = counters.sum();
    CHECK(totals.dropped[0] == 2);
    CHECK(totals.client_subnet_queries[1] == 1);
    CHECK(totals.truncated[0] == 1);
}
