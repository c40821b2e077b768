#pragma once
// How the daemon writes to Kafka what it must not lose (intent results, dead
// letters): produced again until the broker acknowledges, every failure
// counted and logged. And the one header convention of dead letters.

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "connectors/kafka/kafka_client.hpp"
#include "daemon/notify/notify_metrics.hpp"

namespace aiopsd::daemon {

// `acked` runs once, on the producer's poll thread, after the broker acknowledged.
void publish_until_acked(kafka::Producer& producer, NotifyMetrics& metrics, std::string topic,
                         std::string key, std::string value, std::vector<kafka::Header> headers,
                         std::function<void()> acked);

// A dead letter: the original bytes with headers aiopsd.error.code,
// aiopsd.error.message, aiopsd.source.{topic,partition,offset}. Bytes past
// kDeadLetterMaxBytes are cut and aiopsd.truncated gives the full size: the
// producer's own message limit (message.max.bytes, 1MB by default) is below
// what the consumer accepts, and a dead letter it refuses would be produced
// again forever, holding its partition.
inline constexpr std::size_t kDeadLetterMaxBytes = 256 * 1024;
struct DeadLetter {
  std::string value;
  std::vector<kafka::Header> headers;
};
DeadLetter make_dead_letter(std::string_view raw, std::string_view code, std::string_view message,
                            std::string_view topic, std::int32_t partition, std::int64_t offset);

}  // namespace aiopsd::daemon
