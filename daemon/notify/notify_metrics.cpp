#include "daemon/notify/notify_metrics.hpp"

namespace aiopsd::daemon {

NotifyMetrics::NotifyMetrics(prometheus::Registry& registry)
    : kafka_produce_errors(counter_family(registry, "aiopsd_kafka_produce_errors_total",
                                          "Kafka deliveries that failed for good (retried)")
                               .Add({})),
      webhook_failures(counter_family(registry, "aiopsd_escalation_webhook_failures_total",
                                      "Escalation records the webhook could not deliver, by "
                                      "reason")) {}

}  // namespace aiopsd::daemon
