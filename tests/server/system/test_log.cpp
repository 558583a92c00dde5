// Log lines from the workers: the background writer that never blocks them, and the incident
// table that turns a flood into a few summary lines (issue 13 defects 1 and 22).
#include <doctest/doctest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "geoip/network.hpp"
#include "server/system/log.hpp"
#include "support/captured_stderr.hpp"

using namespace meridian;
using namespace meridian::server;

namespace {

const IncidentTable::KindName kNames[] = {
    {"transfer refusal", "transfer refusals"},
    {"TSIG BADSIG failure", "TSIG BADSIG failures"},
};

geoip::Address address(const char* text) {
    const auto parsed = geoip::parse_address(text);
    REQUIRE(parsed);
    return *parsed;
}

}  // namespace

TEST_CASE("many_incidents_from_one_network_become_one_line_with_the_count") {
    IncidentTable table;
    for (int i = 0; i < 1234; ++i) {
        const auto client = address(("203.0.113." + std::to_string(i % 250)).c_str());
        table.add(0, &client);
    }
    const auto client = address("198.51.100.7");
    table.add(1, &client);
    const auto lines = table.take_lines(kNames, 10);
    CHECK(lines ==
          std::vector<std::string>{"1,234 transfer refusals from 203.0.113.0/24 in the last 10 s",
                                   "1 TSIG BADSIG failure from 198.51.100.0/24 in the last 10 s"});
    // The period is over: the table starts again empty.
    CHECK(table.empty());
    CHECK(table.take_lines(kNames, 10).empty());
}

TEST_CASE("ipv6_clients_count_by_slash_56_and_mapped_ipv4_as_ipv4") {
    IncidentTable table;
    const auto a = address("2001:db8:1:2ff::1");
    const auto b = address("2001:db8:1:200::9");
    const auto mapped = address("::ffff:192.0.2.77");
    table.add(0, &a);
    table.add(0, &b);
    table.add(0, &mapped);
    table.add(0, nullptr);
    const auto lines = table.take_lines(kNames, 10);
    CHECK(lines ==
          std::vector<std::string>{"2 transfer refusals from 2001:db8:1:200::/56 in the last 10 s",
                                   "1 transfer refusal from 192.0.2.0/24 in the last 10 s",
                                   "1 transfer refusal from unknown addresses in the last 10 s"});
}

TEST_CASE("a_flood_from_many_networks_stays_a_few_lines_and_the_overflow_is_counted") {
    IncidentTable table;
    // One network with many, then 10,000 incidents from 5,000 different /24s (a spoofed
    // flood). Rows are kept first come for the period; later networks count as "other".
    const auto busy = address("192.0.2.1");
    for (int i = 0; i < 500; ++i) table.add(0, &busy);
    for (int i = 0; i < 10000; ++i) {
        const int network = i % 5000;
        const auto client = address(
            ("10." + std::to_string(network / 256) + "." + std::to_string(network % 256) + ".1")
                .c_str());
        table.add(0, &client);
    }
    const auto lines = table.take_lines(kNames, 10);
    CHECK(lines.size() <= IncidentTable::kMaxLines + 1);
    REQUIRE(!lines.empty());
    CHECK(lines.front() == "500 transfer refusals from 192.0.2.0/24 in the last 10 s");
    // Every incident is accounted for: the rows written plus "and N ... from other networks".
    uint64_t total = 0;
    for (const auto& line : lines) {
        std::string digits;
        for (const char c : line.substr(line.rfind("and ", 0) == 0 ? 4 : 0))
            if (c == ',')
                continue;
            else if (c >= '0' && c <= '9')
                digits += c;
            else
                break;
        total += std::stoull(digits);
    }
    CHECK(total == 10500);
    CHECK(lines.back().starts_with("and "));
    CHECK(lines.back().ends_with(" transfer refusals from other networks in the last 10 s"));
}

TEST_CASE("grouped_number_separates_thousands") {
    CHECK(grouped_number(0) == "0");
    CHECK(grouped_number(999) == "999");
    CHECK(grouped_number(1000) == "1,000");
    CHECK(grouped_number(1234567) == "1,234,567");
}

TEST_CASE("posted_lines_are_written_whole_by_the_background_writer") {
    start_log_writer();
    testing::CapturedStderr captured;
    post_log_event("one posted line");
    post_log_event(std::string(2000, 'x'));  // cut, never split or overflowing its slot
    flush_posted_log_events();
    const std::string text = captured.text();
    CHECK(text.find("meridian: one posted line\n") != std::string::npos);
    CHECK(text.find("meridian: " + std::string(kMaxPostedLine, 'x') + "\n") != std::string::npos);
}

TEST_CASE("posting_never_waits_for_a_full_queue_and_counts_what_it_drops") {
    start_log_writer();
    testing::CapturedStderr captured;
    const uint64_t before = dropped_log_events();
    // Far more than the queue holds, faster than any writer: some are dropped, none block.
    for (int i = 0; i < 20000; ++i) post_log_event("line " + std::to_string(i));
    flush_posted_log_events();
    const uint64_t dropped = dropped_log_events() - before;
    const std::string text = captured.text();
    const auto written = static_cast<uint64_t>(std::count(text.begin(), text.end(), '\n'));
    // Every line is either written or counted (and the drop note itself is a line).
    CHECK(dropped > 0);
    CHECK(written >= 20000 - dropped);
    CHECK(text.find("log lines dropped: the log could not keep up") != std::string::npos);
}
