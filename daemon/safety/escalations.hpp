#pragma once
// Where aiopsd tells humans and their bots that something needs them: a held
// action waiting for approval, a decision, a tripped breaker. Each record is a
// JSON document (schemas/escalation.schema.json) published to the
// escalations topic (when Kafka is configured) keyed by its subject, and
// logged. Thread-safe.

#include <string>
#include <string_view>

#include "connectors/kafka/kafka_client.hpp"
#include "daemon/notify/notify_metrics.hpp"
#include "daemon/notify/webhook_sender.hpp"
#include "daemon/safety/approvals.hpp"
#include "daemon/safety/safety_gate.hpp"

namespace aiopsd::daemon {

class Escalations {
 public:
  explicit Escalations(NotifyMetrics& metrics) : metrics_(metrics) {}
  // Until attached, records are only logged.
  void attach(kafka::Producer* producer, std::string topic);
  void attach_webhook(WebhookSender* webhook) { webhook_ = webhook; }

  void approval(const Approval& a);  // pending, or decided
  void breaker_opened(const SafetyGate::Hold& hold);

 private:
  void publish(std::string key, std::string doc);

  NotifyMetrics& metrics_;
  kafka::Producer* producer_ = nullptr;
  WebhookSender* webhook_ = nullptr;
  std::string topic_;
};

}  // namespace aiopsd::daemon
