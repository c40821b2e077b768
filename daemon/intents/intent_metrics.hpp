#pragma once
// The intents room's metrics: intents and their durations, and the Kafka
// consumer both intents and Kafka alerts come through (consumed, lag, dead
// letters).

#include "daemon/metrics.hpp"

namespace aiopsd::daemon {

struct IntentMetrics {
  explicit IntentMetrics(prometheus::Registry& registry);

  prometheus::Family<prometheus::Counter>& intents;  // {action, status}
  prometheus::Histogram& intent_duration;
  prometheus::Family<prometheus::Counter>& kafka_consumed;  // {topic}
  prometheus::Family<prometheus::Gauge>& kafka_lag;         // {topic, partition}
  prometheus::Family<prometheus::Counter>& dead_letters;    // {reason}
};

}  // namespace aiopsd::daemon
