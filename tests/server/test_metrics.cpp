// Traffic counters: what zones::respond reports about each query and answer (question type,
// rcode, ECS, TC, dropped, the steered pool and what decided), sums over workers, and no
// allocation while answering and recording.
#include <doctest/doctest.h>

#include "server/metrics.hpp"
#include "support/answer_fixture.hpp"
#include "support/counting_allocator.hpp"
#include "support/steered_name.hpp"
#include "wire/name.hpp"

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

using meridian::zones::AnswerSummary;
using meridian::zones::SteeringSource;

struct Exchange {
    std::vector<uint8_t> query;
    std::vector<uint8_t> response;
    AnswerSummary summary;
};

Exchange exchange(AnswerFixture& fixture, const std::vector<uint8_t>& query,
                  const meridian::geoip::Address* client = nullptr) {
    Exchange result{query, std::vector<uint8_t>(65535), {}};
    const meridian::zones::QueryOrigin origin{meridian::zones::Transport::udp, client};
    result.response.resize(meridian::zones::respond(fixture.snapshot(), query, result.response,
                                                    origin, result.summary));
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
    AnswerFixture f(ZoneTexts{{"example.com.", kZone}});
    auto query = make_query("www.example.com.", LDNS_RR_TYPE_A);
    query[2] |= 0x80;  // QR
    const auto dropped = exchange(f, query);
    CHECK(dropped.response.empty());
    CHECK_FALSE(dropped.summary.is_answered);
}

TEST_CASE("summary_says_which_pool_answered_and_what_decided") {
    AnswerFixture f(ZoneTexts{{"example.com.", kZone}});
    f.snapshot().steering.add(meridian::wire::wire_from_text("www.example.com."),
                              steered(meridian::geoip::Policy::Mode::map));
    const auto ecs = [](const char* address, uint8_t source) {
        return QueryOptions{.edns = true, .client_subnet = client_subnet_option(address, source)};
    };
    // 198.51.100.0/24 is a net naming fra (index 0) directly.
    auto net = exchange(f, make_query("www.example.com.", LDNS_RR_TYPE_A, ecs("198.51.100.0", 24)));
    CHECK(net.summary.steering == SteeringSource::net);
    CHECK(net.summary.pool_slot == 0);
    // Unlocated: fallback to the zone's record.
    auto unlocated =
        exchange(f, make_query("www.example.com.", LDNS_RR_TYPE_A, ecs("100.64.0.0", 10)));
    CHECK(unlocated.summary.steering == SteeringSource::fallback);
    // Not a steered name: no steering at all.
    auto plain = exchange(f, make_query("ns.example.com.", LDNS_RR_TYPE_A));
    CHECK(plain.summary.steering == SteeringSource::none);
    // Counted per pool and per source.
    TrafficCounters counters(1);
    counters.worker(0).record(meridian::zones::Transport::udp, net.summary);
    counters.worker(0).record(meridian::zones::Transport::udp, unlocated.summary);
    counters.worker(0).record(meridian::zones::Transport::udp, plain.summary);
    const auto totals = counters.sum();
    CHECK(totals.steered_by_pool[0] == 1);
    CHECK(totals.steered_by_source[static_cast<size_t>(SteeringSource::net)] == 1);
    CHECK(totals.steered_by_source[static_cast<size_t>(SteeringSource::fallback)] == 1);
    CHECK(totals.steered_by_source[static_cast<size_t>(SteeringSource::none)] == 0);
}

TEST_CASE("a_net_location_counts_as_net_and_a_local_policy_as_local") {
    AnswerFixture f(ZoneTexts{{"example.com.", kZone}});
    f.snapshot().steering.add(meridian::wire::wire_from_text("www.example.com."),
                              steered(meridian::geoip::Policy::Mode::map));
    // 203.0.113.0/24 is a net giving a location (SG), which the map turns into sin: the net
    // decided, whether it matched the ECS subnet or the resolver.
    const auto resolver = meridian::geoip::parse_address("203.0.113.9");
    auto by_resolver = exchange(f, make_query("www.example.com.", LDNS_RR_TYPE_A), &*resolver);
    CHECK(by_resolver.summary.steering == SteeringSource::net);
    CHECK(by_resolver.summary.pool_slot == 1);
    // The local policy has its own source.
    AnswerFixture local(ZoneTexts{{"example.com.", kZone}});
    local.snapshot().steering.add(meridian::wire::wire_from_text("www.example.com."),
                                  steered(meridian::geoip::Policy::Mode::local));
    CHECK(exchange(local, make_query("www.example.com.", LDNS_RR_TYPE_A)).summary.steering ==
          SteeringSource::local);
}

TEST_CASE("totals_sum_every_workers_block") {
    TrafficCounters counters(3);
    AnswerSummary answer;
    answer.qtype = 1;
    answer.is_answered = true;
    counters.worker(0).record(meridian::zones::Transport::udp, answer);
    counters.worker(2).record(meridian::zones::Transport::udp, answer);
    counters.worker(1).record(meridian::zones::Transport::tcp, answer);
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
    std::vector<uint8_t> response(65535);
    const meridian::zones::QueryOrigin origin{meridian::zones::Transport::udp, nullptr};
    TrafficCounters counters(1);
    WorkerCounters& block = counters.worker(0);
    allocations = 0;
    counting = true;
    for (const auto& query : queries) {
        AnswerSummary summary;
        meridian::zones::respond(f.snapshot(), query, response, origin, summary);
        block.record(meridian::zones::Transport::udp, summary);
        block.record(meridian::zones::Transport::tcp, summary);
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
