#pragma once
// The engine room's metrics: rule matches and throttles, correlation state,
// silences and inhibitions.

#include "daemon/metrics.hpp"

namespace aiopsd::daemon {

struct EngineMetrics {
  explicit EngineMetrics(prometheus::Registry& registry);

  prometheus::Family<prometheus::Counter>& rule_matches;            // {rule}
  prometheus::Family<prometheus::Counter>& rule_throttled;          // {rule}
  prometheus::Family<prometheus::Counter>& rule_state_unavailable;  // {rule}
  prometheus::Family<prometheus::Counter>& correlation_evictions;   // {rule}
  prometheus::Family<prometheus::Gauge>& correlation_groups;        // {rule, worker}
  prometheus::Family<prometheus::Gauge>& correlation_alerts;        // {worker}
  prometheus::Family<prometheus::Gauge>& inhibiting_alerts;         // {worker}
  prometheus::Family<prometheus::Counter>& events_inhibited;        // {inhibit_rule}
  prometheus::Counter& events_silenced;
  prometheus::Family<prometheus::Gauge>& silences;  // {state}
};

}  // namespace aiopsd::daemon
