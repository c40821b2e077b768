#pragma once
// The notify room's metrics: what could not be delivered to Kafka or a webhook.

#include "daemon/metrics.hpp"

namespace aiopsd::daemon {

struct NotifyMetrics {
  explicit NotifyMetrics(prometheus::Registry& registry);

  prometheus::Counter& kafka_produce_errors;
  prometheus::Family<prometheus::Counter>& webhook_failures;  // {reason}
};

}  // namespace aiopsd::daemon
