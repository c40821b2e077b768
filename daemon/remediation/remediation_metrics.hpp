#pragma once
// The remediation room's metrics: action outcomes and durations, and the SSH
// session pool the actions run on.

#include <array>

#include "daemon/metrics.hpp"

namespace aiopsd::daemon {

struct RemediationMetrics {
  explicit RemediationMetrics(prometheus::Registry& registry);

  prometheus::Family<prometheus::Counter>& actions;  // {rule, action, outcome}
  prometheus::Histogram& action_duration;
  prometheus::Gauge& ssh_sessions_active;
  prometheus::Gauge& ssh_sessions_idle;
  // By ssh::PoolEvent, in enum order: opened, reused, reconnected, idle_closed.
  std::array<prometheus::Counter*, 4> ssh_pool_events;
};

}  // namespace aiopsd::daemon
