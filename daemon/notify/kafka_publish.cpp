#include "daemon/notify/kafka_publish.hpp"

#include <memory>

#include "daemon/log.hpp"

namespace aiopsd::daemon {

void publish_until_acked(kafka::Producer& producer, NotifyMetrics& metrics, std::string topic,
                         std::string key, std::string value, std::vector<kafka::Header> headers,
                         std::function<void()> acked) {
  struct Pending {
    std::string topic, key, value;
    std::vector<kafka::Header> headers;
    std::function<void()> acked;
  };
  auto p = std::make_shared<Pending>(Pending{std::move(topic), std::move(key), std::move(value),
                                             std::move(headers), std::move(acked)});
  // Each attempt's delivery callback keeps the retry alive; the retry holds
  // itself only weakly, so nothing outlives the final acknowledgement.
  auto attempt = std::make_shared<std::function<void()>>();
  *attempt = [&producer, &metrics, p, weak = std::weak_ptr(attempt)] {
    auto self = weak.lock();
    producer.produce(p->topic, p->key, p->value, p->headers,
                     [&metrics, p, self](const kafka::DeliveryReport& r) {
                       if (r.ok) return p->acked();
                       metrics.kafka_produce_errors.Increment();
                       log::error("kafka", "message to {} with key {} not delivered ({}); retrying",
                                  p->topic, p->key, r.error);
                       (*self)();
                     });
  };
  (*attempt)();
}

DeadLetter make_dead_letter(std::string_view raw, std::string_view code, std::string_view message,
                            std::string_view topic, std::int32_t partition, std::int64_t offset) {
  DeadLetter d;
  d.value = std::string(raw.substr(0, kDeadLetterMaxBytes));
  d.headers = {{"aiopsd.error.code", std::string(code)},
               {"aiopsd.error.message", std::string(message.substr(0, 4096))},
               {"aiopsd.source.topic", std::string(topic)},
               {"aiopsd.source.partition", std::to_string(partition)},
               {"aiopsd.source.offset", std::to_string(offset)}};
  if (raw.size() > kDeadLetterMaxBytes)
    d.headers.push_back({"aiopsd.truncated", std::to_string(raw.size())});
  return d;
}

}  // namespace aiopsd::daemon
