#pragma once
// Thin, safe wrappers over librdkafka: an embedded mock cluster (librdkafka's
// own rdkafka_mock, a real Kafka wire protocol on loopback), a producer with
// per-message delivery callbacks, and a consumer-group consumer whose offsets
// are committed only up to the first message not yet done.
//
// Lifecycle and threads:
// - EmbeddedCluster: owned by the daemon (brokers: embedded) or by the test
//   harness process; lives until destroyed.
// - Producer: produce() from any thread; delivery callbacks run on the
//   producer's own poll thread. flush() then destroy on shutdown.
// - Consumer: start() spawns the poll thread; on_message runs there. done()
//   may be called from any thread. stop() commits what is committable, leaves
//   the group and joins the thread.

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace aiopsd::kafka {

struct ClientConfig {
  std::string brokers;  // "host:port,host:port"
  // Any librdkafka property ("security.protocol", "sasl.mechanism", ...).
  // Secrets are resolved from their references by the daemon before this.
  std::map<std::string, std::string> properties;
};

class EmbeddedCluster {
 public:
  // Starts `brokers` mock brokers on loopback. Returns nullptr and sets
  // `error` on failure.
  static std::unique_ptr<EmbeddedCluster> start(int brokers, std::string& error);
  ~EmbeddedCluster();
  EmbeddedCluster(const EmbeddedCluster&) = delete;
  EmbeddedCluster& operator=(const EmbeddedCluster&) = delete;

  std::string bootstrap() const;  // "127.0.0.1:port,..."
  bool create_topic(const std::string& topic, int partitions, std::string& error);
  // Takes a broker (1-based id) down or brings it back up.
  void set_broker_up(int broker_id, bool up);

 private:
  struct Impl;
  explicit EmbeddedCluster(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

struct Header {
  std::string key;
  std::string value;
};

struct DeliveryReport {
  bool ok = false;
  std::string error;  // librdkafka's error string when !ok
};

class Producer {
 public:
  using Done = std::function<void(const DeliveryReport&)>;
  // Idempotent producer (acks=all, enable.idempotence=true). nullptr + error
  // on a bad configuration.
  static std::unique_ptr<Producer> create(const ClientConfig& config, std::string& error);
  ~Producer();  // flushes for up to 10s, then destroys
  Producer(const Producer&) = delete;
  Producer& operator=(const Producer&) = delete;

  // Copies key, value and headers; `done` runs exactly once, on the poll
  // thread, after the broker acknowledged or the message failed for good
  // (message.timeout.ms). A full local queue is retried internally, never dropped.
  void produce(std::string_view topic, std::string_view key, std::string_view value,
               const std::vector<Header>& headers, Done done);
  bool flush(std::chrono::milliseconds timeout);
  std::uint64_t errors() const;  // deliveries that failed for good

 private:
  struct Impl;
  explicit Producer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

struct Message {
  std::string_view topic;
  std::int32_t partition = 0;
  std::int64_t offset = 0;
  std::string_view key;
  std::string_view value;
  // The record's timestamp (producer's create time or the broker's append
  // time), in ms since the epoch; -1 when the record has none.
  std::int64_t timestamp_ms = -1;
};

struct PartitionLag {
  std::string topic;
  std::int32_t partition = 0;
  std::int64_t lag = 0;  // high watermark - consumed position; -1 unknown
};

class Consumer {
 public:
  using OnMessage = std::function<void(const Message&)>;
  // Consumer group member; auto commit of *stored* offsets only
  // (enable.auto.offset.store=false): an offset is stored when every message
  // of its partition up to it is done(). nullptr + error on bad config.
  static std::unique_ptr<Consumer> create(const ClientConfig& config, const std::string& group_id,
                                          const std::vector<std::string>& topics,
                                          std::string& error);
  ~Consumer();  // stop()
  Consumer(const Consumer&) = delete;
  Consumer& operator=(const Consumer&) = delete;

  void start(OnMessage on_message);
  // Stops handing out messages (joins the poll thread) without leaving the
  // group, so work in flight can finish and be done() before stop() commits.
  void pause();
  // The message's processing is complete (its result acknowledged by the broker).
  void done(std::string_view topic, std::int32_t partition, std::int64_t offset);
  void stop();
  std::vector<PartitionLag> lag() const;
  std::uint64_t consumed() const;

 private:
  struct Impl;
  explicit Consumer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace aiopsd::kafka
