#pragma once
// Routes what the Kafka consumer reads: the intents topic to the
// IntentService, the approvals topic (decisions, schemas/approval-decision)
// to the ApprovalBook, the alerts topic (Alertmanager webhook payloads)
// through the same decoder and queue as HTTP. A bad alert payload is counted and sent to
// the dead-letter topic; a full queue blocks this consumer (back-pressure on
// Kafka) instead of dropping.
//
// Threads: handle() on the consumer thread only.

#include <atomic>
#include <functional>
#include <string>
#include <vector>

#include "connectors/alertmanager/alert_decoder.hpp"
#include "connectors/kafka/kafka_client.hpp"
#include "daemon/config.hpp"
#include "daemon/engine/event_queue.hpp"
#include "daemon/intents/intent_metrics.hpp"
#include "daemon/intents/intent_service.hpp"
#include "daemon/metrics.hpp"
#include "daemon/notify/notify_metrics.hpp"

namespace aiopsd::daemon {

class KafkaIngest {
 public:
  KafkaIngest(const Config& config, IntentService& intents, ApprovalBook& approvals,
              EventQueue& queue, Metrics& metrics, IntentMetrics& intent_metrics,
              NotifyMetrics& notify_metrics, kafka::Producer& producer, kafka::Consumer& consumer);
  void handle(const kafka::Message& m);
  // Unblocks a handle() waiting for queue room (shutdown).
  void stop() { stopping_ = true; }

 private:
  void handle_alerts(const kafka::Message& m);
  void handle_decision(const kafka::Message& m);
  void dead_letter(const kafka::Message& m, std::string_view code, std::string_view message);

  const Config& config_;
  IntentService& intents_;
  ApprovalBook& approvals_;
  EventQueue& queue_;
  Metrics& metrics_;
  IntentMetrics& intent_metrics_;
  NotifyMetrics& notify_metrics_;
  kafka::Producer& producer_;
  kafka::Consumer& consumer_;
  alertmanager::AlertDecoder decoder_;
  std::string body_;
  std::vector<rules::Event> batch_;
  prometheus::Counter& consumed_intents_;
  prometheus::Counter& consumed_alerts_;
  prometheus::Counter& consumed_approvals_;
  prometheus::Counter& received_alerts_;
  std::atomic<bool> stopping_{false};
};

}  // namespace aiopsd::daemon
