// /metrics: the workers' summed counters and the server's status in the Prometheus text
// exposition format (version 0.0.4): HELP and TYPE before each family's samples, label
// values escaped, one sample per line.
#pragma once

#include <string>

#include "server/control/server_status.hpp"
#include "server/metrics.hpp"

namespace meridian::server {

inline constexpr const char* kPrometheusContentType = "text/plain; version=0.0.4; charset=utf-8";

std::string render_metrics(const TrafficTotals& traffic, const ServerStatus& status);

}  // namespace meridian::server
