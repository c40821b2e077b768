#include "daemon/kafka_ingest.hpp"

#include <fmt/format.h>

#include <thread>

#include "daemon/kafka_publish.hpp"
#include "daemon/log.hpp"

namespace aiopsd::daemon {

namespace {
constexpr std::string_view kConnector = "kafka";
}

KafkaIngest::KafkaIngest(const Config& config, IntentService& intents, EventQueue& queue,
                         Metrics& metrics, kafka::Producer& producer, kafka::Consumer& consumer)
    : config_(config),
      intents_(intents),
      queue_(queue),
      metrics_(metrics),
      producer_(producer),
      consumer_(consumer),
      decoder_(*config.interner, alertmanager::DecodeLimits{config.engine.max_labels}),
      consumed_intents_(metrics.kafka_consumed.Add({{"topic", config.kafka.topics.intents}})),
      consumed_alerts_(metrics.kafka_consumed.Add({{"topic", config.kafka.topics.alerts}})),
      received_alerts_(metrics.events_received.Add({{"connector", std::string(kConnector)}})) {}

void KafkaIngest::handle(const kafka::Message& m) {
  if (m.topic == config_.kafka.topics.intents) {
    consumed_intents_.Increment();
    intents_.handle(m, [c = &consumer_, topic = std::string(m.topic), p = m.partition,
                        o = m.offset] { c->done(topic, p, o); });
    return;
  }
  consumed_alerts_.Increment();
  handle_alerts(m);
}

void KafkaIngest::handle_alerts(const kafka::Message& m) {
  body_.assign(m.value);
  batch_.clear();
  auto result = decoder_.decode_webhook(body_, batch_);
  for (auto& e : batch_) e.source = rules::EventSource::kKafka;
  for (const auto& e : result.errors) metrics_.rejected(kConnector, e.code).Increment();
  const std::size_t accepted = batch_.size();
  // Senders cannot be told 503 here: wait for room, which holds the partition back.
  while (accepted > 0 && !queue_.try_push_batch(batch_) && !stopping_) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  received_alerts_.Increment(static_cast<double>(accepted));
  if (result.errors.empty()) {
    consumer_.done(m.topic, m.partition, m.offset);
    return;
  }
  std::string message;
  for (const auto& e : result.errors) {
    if (!message.empty()) message += "; ";
    message += e.message;
  }
  log::warn("kafka", "{}/{}@{}: rejected {} alerts: {}", m.topic, m.partition, m.offset,
            result.errors.size(), message);
  metrics_.dead_letters.Add({{"reason", result.errors.front().code}}).Increment();
  publish_until_acked(
      producer_, metrics_, config_.kafka.topics.dead_letter, std::string(m.key),
      std::string(m.value),
      dead_letter_headers(result.errors.front().code, message, m.topic, m.partition, m.offset),
      [this, topic = std::string(m.topic), p = m.partition, o = m.offset] {
        consumer_.done(topic, p, o);
      });
}

}  // namespace aiopsd::daemon
