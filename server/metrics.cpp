// Per-worker traffic counters: recording on the query path, summing on scrape.
#include "server/metrics.hpp"

#include "wire/constants.hpp"

namespace meridian::server {

namespace {

constexpr std::array<std::string_view, kQtypeBuckets> kQtypeLabels = {
    "A",  "NS",     "CNAME", "SOA",   "PTR", "MX",  "TXT",  "AAAA", "SRV",  "NAPTR",
    "DS", "DNSKEY", "SVCB",  "HTTPS", "CAA", "ANY", "AXFR", "IXFR", "OTHER"};

constexpr std::array<std::string_view, kRcodeBuckets> kRcodeLabels = {
    "NOERROR",  "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP",  "REFUSED",
    "YXDOMAIN", "YXRRSET", "NXRRSET",  "NOTAUTH",  "NOTZONE", "RCODE11",
    "RCODE12",  "RCODE13", "RCODE14",  "RCODE15",  "BADVERS"};

}  // namespace

std::string_view transport_label(size_t transport) {
    return transport == static_cast<size_t>(zones::Transport::tcp) ? "tcp" : "udp";
}

size_t qtype_bucket(uint16_t qtype) {
    switch (qtype) {
        case wire::type::kA:
            return 0;
        case wire::type::kNS:
            return 1;
        case wire::type::kCNAME:
            return 2;
        case wire::type::kSOA:
            return 3;
        case wire::type::kPTR:
            return 4;
        case wire::type::kMX:
            return 5;
        case wire::type::kTXT:
            return 6;
        case wire::type::kAAAA:
            return 7;
        case wire::type::kSRV:
            return 8;
        case wire::type::kNAPTR:
            return 9;
        case wire::type::kDS:
            return 10;
        case 48:
            return 11;  // DNSKEY
        case 64:
            return 12;  // SVCB (RFC 9460)
        case 65:
            return 13;  // HTTPS (RFC 9460)
        case wire::type::kCAA:
            return 14;
        case wire::type::kANY:
            return 15;
        case wire::type::kAXFR:
            return 16;
        case wire::type::kIXFR:
            return 17;
        default:
            return 18;
    }
}

std::string_view qtype_label(size_t bucket) {
    return kQtypeLabels[bucket < kQtypeBuckets ? bucket : kQtypeBuckets - 1];
}

std::string_view rcode_label(size_t rcode) {
    return kRcodeLabels[rcode < kRcodeBuckets ? rcode : 0];
}

std::string_view steering_source_label(size_t source) {
    constexpr std::array<std::string_view, zones::kSteeringSources> kLabels = {
        "none", "ecs", "resolver", "net", "local", "fallback"};
    return kLabels[source < kLabels.size() ? source : 0];
}

void WorkerCounters::record(zones::Transport transport, const zones::AnswerSummary& summary) {
    const size_t t = static_cast<size_t>(transport);
    if (summary.incident != zones::Incident::none)
        incidents[static_cast<size_t>(summary.incident)].add();
    if (!summary.is_answered) {
        dropped[t].add();
        return;
    }
    queries[t][qtype_bucket(summary.qtype)].add();
    responses[t][summary.rcode < kRcodeBuckets ? summary.rcode : 0].add();
    if (summary.has_client_subnet) client_subnet_queries[t].add();
    if (summary.is_truncated) truncated[t].add();
    if (summary.steering == zones::SteeringSource::none) return;
    steered_by_source[static_cast<size_t>(summary.steering)].add();
    if (summary.steering == zones::SteeringSource::fallback) return;
    if (summary.pool_slot < kCountedPools)
        steered_by_pool[summary.pool_slot].add();
    else
        steered_other_pool.add();
}

TrafficCounters::TrafficCounters(unsigned workers)
    : blocks_(new WorkerCounters[workers > 0 ? workers : 1]), workers_(workers > 0 ? workers : 1) {}

TrafficTotals TrafficCounters::sum() const {
    TrafficTotals totals;
    for (unsigned w = 0; w < workers_; ++w) {
        const WorkerCounters& block = blocks_[w];
        for (size_t t = 0; t < kTransports; ++t) {
            for (size_t q = 0; q < kQtypeBuckets; ++q)
                totals.queries[t][q] += block.queries[t][q].get();
            for (size_t r = 0; r < kRcodeBuckets; ++r)
                totals.responses[t][r] += block.responses[t][r].get();
            totals.client_subnet_queries[t] += block.client_subnet_queries[t].get();
            totals.truncated[t] += block.truncated[t].get();
            totals.dropped[t] += block.dropped[t].get();
        }
        totals.udp_unsent += block.udp_unsent.get();
        totals.tcp_accepted += block.tcp_accepted.get();
        totals.tcp_refused += block.tcp_refused.get();
        totals.tcp_open += block.tcp_open.get();
        totals.tcp_buffers_in_use += block.tcp_buffers_in_use.get();
        totals.tcp_buffer_allocations += block.tcp_buffer_allocations.get();
        totals.tcp_evicted += block.tcp_evicted.get();
        totals.tcp_client_refused += block.tcp_client_refused.get();
        totals.tcp_query_timeouts += block.tcp_query_timeouts.get();
        totals.tcp_buffer_shortages += block.tcp_buffer_shortages.get();
        for (size_t p = 0; p < kCountedPools; ++p)
            totals.steered_by_pool[p] += block.steered_by_pool[p].get();
        totals.steered_other_pool += block.steered_other_pool.get();
        for (size_t s = 0; s < zones::kSteeringSources; ++s)
            totals.steered_by_source[s] += block.steered_by_source[s].get();
        for (size_t i = 0; i < zones::kIncidents; ++i)
            totals.incidents[i] += block.incidents[i].get();
    }
    return totals;
}

}  // namespace meridian::server
