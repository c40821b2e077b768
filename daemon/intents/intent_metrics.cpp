#include "daemon/intents/intent_metrics.hpp"

namespace aiopsd::daemon {

IntentMetrics::IntentMetrics(prometheus::Registry& registry)
    : intents(counter_family(registry, "aiopsd_intents_total",
                             "Intents by catalog action and final status")),
      intent_duration(
          histogram_family(registry, "aiopsd_intent_duration_seconds",
                           "Time from an intent's arrival to its final result")
              .Add({}, prometheus::Histogram::BucketBoundaries{0.001, 0.005, 0.01, 0.025, 0.05, 0.1,
                                                               0.25, 0.5, 1, 2.5, 5, 10, 30, 60})),
      kafka_consumed(counter_family(registry, "aiopsd_kafka_messages_consumed_total",
                                    "Kafka messages consumed by topic")),
      kafka_lag(gauge_family(registry, "aiopsd_kafka_consumer_lag",
                             "Messages behind the high watermark by topic and partition")),
      dead_letters(counter_family(registry, "aiopsd_dead_letters_total",
                                  "Messages sent to the dead-letter topic by reason")) {}

}  // namespace aiopsd::daemon
