#include "daemon/safety/escalations.hpp"

#include <boost/json.hpp>

#include "daemon/log.hpp"
#include "daemon/notify/kafka_publish.hpp"
#include "rules/event.hpp"

namespace aiopsd::daemon {

namespace json = boost::json;

void Escalations::attach(kafka::Producer* producer, std::string topic) {
  producer_ = producer;
  topic_ = std::move(topic);
}

void Escalations::approval(const Approval& a) {
  json::object doc{
      {"kind", a.status == Approval::Status::kPending ? "approval_pending" : "approval_decided"},
      {"time", rules::format_rfc3339(std::chrono::system_clock::now())},
      {"approval", json::parse(to_json(a))}};
  publish(a.id, json::serialize(doc));
}

void Escalations::breaker_opened(const SafetyGate::Hold& hold) {
  json::object doc{{"kind", "breaker_open"},
                   {"time", rules::format_rfc3339(std::chrono::system_clock::now())},
                   {"breaker", json::object{{"scope", hold.scope}, {"message", hold.message}}}};
  publish(hold.scope, json::serialize(doc));
}

void Escalations::publish(std::string key, std::string doc) {
  log::info("escalation", "{}", doc);
  if (webhook_) webhook_->post(doc);
  if (producer_ == nullptr || topic_.empty()) return;
  publish_until_acked(*producer_, metrics_, topic_, std::move(key), std::move(doc), {}, [] {});
}

}  // namespace aiopsd::daemon
