#pragma once
// The safety room's metrics: the kill switch, breakers and approvals.

#include <cstddef>
#include <string_view>

#include "daemon/metrics.hpp"

namespace aiopsd::daemon {

struct SafetyMetrics {
  explicit SafetyMetrics(prometheus::Registry& registry);
  // An action became a pending approval (rule or intent), `pending` now waiting.
  void held(std::string_view reason, std::size_t pending);

  prometheus::Family<prometheus::Gauge>& circuit_open;  // {scope}
  prometheus::Gauge& automation_paused;
  prometheus::Gauge& approvals_pending;
  prometheus::Family<prometheus::Counter>& approvals;     // {outcome}
  prometheus::Family<prometheus::Counter>& actions_held;  // {reason}
};

}  // namespace aiopsd::daemon
