#pragma once
// Escalation actions of rules: the incident a decision describes, as a JSON
// record (schemas/incident.schema.json) published to a Kafka topic or POSTed
// to a named webhook receiver, for ChatOps and ticketing. The record carries
// the rule, the group and every member's labels; never a secret.
//
// Threads: publish calls from the engine thread; Kafka acknowledgements
// arrive on the producer's poll thread. Receivers are fixed at start.

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "connectors/kafka/kafka_client.hpp"
#include "daemon/notify/notify_metrics.hpp"
#include "daemon/notify/webhook_sender.hpp"
#include "rules/engine.hpp"

namespace aiopsd::daemon {

// The record, rendered once per action.
std::string incident_record(const rules::Decision& d, const rules::Rule& rule,
                            const rules::Interner& interner, bool dry_run,
                            std::chrono::system_clock::time_point now);
// "inc-" and 16 hex digits: the same incident (rule, group, members) always
// gets the same id, so a receiver can deduplicate.
std::string incident_id(const rules::Decision& d, const rules::Rule& rule);

class Incidents {
 public:
  explicit Incidents(NotifyMetrics& metrics) : metrics_(metrics) {}
  void attach(kafka::Producer* producer) { producer_ = producer; }
  void add_receiver(std::string name, std::unique_ptr<WebhookSender> sender);

  // `acked` runs once the broker has the record. False without a producer.
  bool to_kafka(const std::string& topic, std::string key, std::string record,
                std::function<void()> acked);
  // Queued for the receiver's sender thread (which retries and counts
  // failures). False for an unknown receiver.
  bool to_webhook(const std::string& receiver, std::string record);

 private:
  NotifyMetrics& metrics_;
  kafka::Producer* producer_ = nullptr;
  std::map<std::string, std::unique_ptr<WebhookSender>, std::less<>> receivers_;
};

}  // namespace aiopsd::daemon
