#include "daemon/intents/kafka_ingest.hpp"

#include <fmt/format.h>

#include <boost/json.hpp>
#include <thread>

#include "daemon/log.hpp"
#include "daemon/notify/kafka_publish.hpp"

namespace aiopsd::daemon {

namespace {
constexpr std::string_view kConnector = "kafka";
}

KafkaIngest::KafkaIngest(const Config& config, IntentService& intents, ApprovalBook& approvals,
                         EventQueue& queue, Metrics& metrics, IntentMetrics& intent_metrics,
                         NotifyMetrics& notify_metrics, kafka::Producer& producer,
                         kafka::Consumer& consumer)
    : config_(config),
      intents_(intents),
      approvals_(approvals),
      queue_(queue),
      metrics_(metrics),
      intent_metrics_(intent_metrics),
      notify_metrics_(notify_metrics),
      producer_(producer),
      consumer_(consumer),
      decoder_(*config.interner, alertmanager::DecodeLimits{config.engine.max_labels}),
      consumed_intents_(
          intent_metrics.kafka_consumed.Add({{"topic", config.kafka.topics.intents}})),
      consumed_alerts_(intent_metrics.kafka_consumed.Add({{"topic", config.kafka.topics.alerts}})),
      consumed_approvals_(
          intent_metrics.kafka_consumed.Add({{"topic", config.kafka.topics.approvals}})),
      received_alerts_(metrics.events_received.Add({{"connector", std::string(kConnector)}})) {}

void KafkaIngest::handle(const kafka::Message& m) {
  if (m.topic == config_.kafka.topics.intents) {
    consumed_intents_.Increment();
    intents_.handle(m, [c = &consumer_, topic = std::string(m.topic), p = m.partition,
                        o = m.offset] { c->done(topic, p, o); });
    return;
  }
  if (m.topic == config_.kafka.topics.approvals) {
    consumed_approvals_.Increment();
    return handle_decision(m);
  }
  consumed_alerts_.Increment();
  handle_alerts(m);
}

// {"approval_id": "apr-...", "decision": "approve"|"deny", "approver": "...",
//  "comment": "..."}: checked field by field; anything else is dead-lettered.
void KafkaIngest::handle_decision(const kafka::Message& m) {
  namespace json = boost::json;
  boost::system::error_code ec;
  json::value v =
      m.value.size() <= config_.kafka.max_message_bytes ? json::parse(m.value, ec) : json::value();
  const json::object* o = ec ? nullptr : v.if_object();
  if (!o) return dead_letter(m, "invalid_json", "the decision is not a JSON object");
  for (const auto& kv : *o) {
    const std::string_view k = kv.key();
    if (k != "approval_id" && k != "decision" && k != "approver" && k != "comment")
      return dead_letter(m, "schema_violation", fmt::format("{}: unknown field", k));
  }
  auto text = [o](std::string_view k) -> const json::string* {
    const json::value* f = o->if_contains(k);
    return f ? f->if_string() : nullptr;
  };
  const json::string* id = text("approval_id");
  const json::string* decision = text("decision");
  const json::string* approver = text("approver");
  const json::value* comment = o->if_contains("comment");
  if (!id || id->empty()) return dead_letter(m, "schema_violation", "approval_id: required string");
  if (!decision || (*decision != "approve" && *decision != "deny"))
    return dead_letter(m, "schema_violation", "decision: must be \"approve\" or \"deny\"");
  if (!approver || approver->empty() || approver->size() > 128)
    return dead_letter(m, "schema_violation", "approver: required, 1 to 128 characters");
  if (comment && !comment->is_string())
    return dead_letter(m, "schema_violation", "comment: must be a string");
  // A Kafka message carries no credentials (yet): the approver is only a
  // name someone typed, which is no identity unless the operator said so.
  if (!config_.safety.unauthenticated_approvals)
    return dead_letter(m, "unauthenticated_approver",
                       "decisions on the approvals topic name an approver nobody verified; "
                       "decide over the HTTP API with a token, or set "
                       "safety.unauthenticated_approvals: true");
  auto d = approvals_.decide(std::string_view(*id), *decision == "approve",
                             {std::string(*approver), false},
                             comment ? std::string_view(comment->get_string()) : "");
  if (d.refusal) {
    return dead_letter(
        m, to_string(*d.refusal),
        fmt::format("approval {}: {}", std::string_view(*id), to_string(*d.refusal)));
  }
  consumer_.done(m.topic, m.partition, m.offset);
}

void KafkaIngest::dead_letter(const kafka::Message& m, std::string_view code,
                              std::string_view message) {
  log::warn("kafka", "{}/{}@{}: {}: {}", m.topic, m.partition, m.offset, code, message);
  intent_metrics_.dead_letters.Add({{"reason", std::string(code)}}).Increment();
  DeadLetter d = make_dead_letter(m.value, code, message, m.topic, m.partition, m.offset);
  publish_until_acked(producer_, notify_metrics_, config_.kafka.topics.dead_letter,
                      std::string(m.key), std::move(d.value), std::move(d.headers),
                      [this, topic = std::string(m.topic), p = m.partition, o = m.offset] {
                        consumer_.done(topic, p, o);
                      });
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
  dead_letter(m, result.errors.front().code,
              fmt::format("rejected {} alerts: {}", result.errors.size(), message));
}

}  // namespace aiopsd::daemon
