// Producer, Consumer and EmbeddedCluster against the kafka_mock process
// (librdkafka's mock cluster on 127.0.0.1), cross-checked with clients that
// share no code with ours: kcat (librdkafka, but its own logic) and
// python3-kafka (a pure Python implementation of the protocol).

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "connectors/kafka/kafka_client.hpp"
#include "tests/harness/kafka_fixture.hpp"

namespace aiopsd::kafka {
namespace {

using namespace std::chrono_literals;
using testing::KafkaFixture;

constexpr auto kPython = "/usr/bin/python3";
constexpr auto kKcat = "/usr/bin/kcat";

struct CommandResult {
  int status = -1;  // exit code, -1 if it did not exit normally
  std::string out;
};

// Runs `command` through /bin/sh with stdout captured; stderr goes to ours.
CommandResult run(const std::string& command) {
  CommandResult r;
  FILE* f = ::popen(command.c_str(), "r");
  if (f == nullptr) return r;
  char buf[4096];
  std::size_t n = 0;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) r.out.append(buf, n);
  int status = ::pclose(f);
  if (WIFEXITED(status)) r.status = WEXITSTATUS(status);
  return r;
}

std::vector<std::string> lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line))
    if (!line.empty()) out.push_back(line);
  return out;
}

// Reads a topic from the beginning to its current end with kcat.
std::vector<std::string> kcat_read(const std::string& bootstrap, const std::string& topic,
                                   const std::string& format) {
  auto r = run(fmt::format("timeout 30 {} -C -q -b {} -t {} -o beginning -e -f '{}'", kKcat,
                           bootstrap, topic, format));
  EXPECT_EQ(r.status, 0) << "kcat failed: " << r.out;
  return lines(r.out);
}

// A python3-kafka script in a temporary file, removed on destruction.
class PythonScript {
 public:
  explicit PythonScript(const std::string& source) {
    std::string tmpl = (std::filesystem::temp_directory_path() / "aiopsd-kafka-py-XXXXXX").string();
    int fd = ::mkstemp(tmpl.data());
    if (fd >= 0) ::close(fd);
    path_ = tmpl;
    std::ofstream(path_) << source;
  }
  ~PythonScript() { std::filesystem::remove(path_); }
  CommandResult run(const std::string& args) const {
    return aiopsd::kafka::run(fmt::format("timeout 60 {} {} {}", kPython, path_.string(), args));
  }

 private:
  std::filesystem::path path_;
};

struct Received {
  std::string topic;
  std::int32_t partition = 0;
  std::int64_t offset = 0;
  std::string key;
  std::string value;
};

// Collects what a Consumer hands out; waits with a bound.
class Collector {
 public:
  Consumer::OnMessage handler() {
    return [this](const Message& m) {
      std::lock_guard lock(mu_);
      got_.push_back(
          {std::string(m.topic), m.partition, m.offset, std::string(m.key), std::string(m.value)});
      cv_.notify_all();
    };
  }
  bool wait_for(std::size_t n, std::chrono::milliseconds timeout) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return got_.size() >= n; });
  }
  std::vector<Received> got() {
    std::lock_guard lock(mu_);
    return got_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Received> got_;
};

// Counts delivery callbacks per message and waits until all have fired.
class Deliveries {
 public:
  explicit Deliveries(std::size_t n) : calls_(n), ok_(n) {}
  Producer::Done done(std::size_t i) {
    return [this, i](const DeliveryReport& r) {
      std::lock_guard lock(mu_);
      ++calls_[i];
      ok_[i] = r.ok;
      if (!r.ok) errors_.push_back(r.error);
      threads_.insert(std::this_thread::get_id());
      ++total_;
      cv_.notify_all();
    };
  }
  bool wait_total(std::size_t n, std::chrono::milliseconds timeout) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return total_ >= n; });
  }
  std::size_t total() {
    std::lock_guard lock(mu_);
    return total_;
  }
  // Every message had exactly one callback, and it reported success.
  void expect_each_once_ok() {
    std::lock_guard lock(mu_);
    for (std::size_t i = 0; i < calls_.size(); ++i) {
      EXPECT_EQ(calls_[i], 1) << "message " << i;
      EXPECT_TRUE(ok_[i]) << "message " << i;
    }
    EXPECT_TRUE(errors_.empty()) << errors_.front();
  }
  std::set<std::thread::id> threads() {
    std::lock_guard lock(mu_);
    return threads_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<int> calls_;
  std::vector<bool> ok_;
  std::vector<std::string> errors_;
  std::set<std::thread::id> threads_;
  std::size_t total_ = 0;
};

std::unique_ptr<Producer> make_producer(const std::string& bootstrap,
                                        std::map<std::string, std::string> props = {}) {
  std::string error;
  auto p = Producer::create({bootstrap, std::move(props)}, error);
  EXPECT_NE(p, nullptr) << error;
  return p;
}

std::unique_ptr<Consumer> make_consumer(const std::string& bootstrap, const std::string& group,
                                        const std::string& topic) {
  std::string error;
  // librdkafka's mock group coordinator (2.0.2) makes a member joining after
  // the last one left wait out the leaver's session.timeout.ms - 1s (44s
  // with the 45s default) instead of rebalancing at once: keep it short.
  std::map<std::string, std::string> props{{"session.timeout.ms", "6000"}};
  // AIOPSD_KAFKA_DEBUG=cgrp,fetch,... turns on librdkafka's debug logs.
  if (const char* debug = std::getenv("AIOPSD_KAFKA_DEBUG")) props["debug"] = debug;
  auto c = Consumer::create({bootstrap, std::move(props)}, group, {topic}, error);
  EXPECT_NE(c, nullptr) << error;
  return c;
}

// Writes `n` messages "v0".."v<n-1>" with keys "k0".. and waits for them.
void produce_values(const std::string& bootstrap, const std::string& topic, int n) {
  auto producer = make_producer(bootstrap);
  ASSERT_NE(producer, nullptr);
  Deliveries d(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i)
    producer->produce(topic, fmt::format("k{}", i), fmt::format("v{}", i), {},
                      d.done(static_cast<std::size_t>(i)));
  ASSERT_TRUE(producer->flush(20s));
  d.expect_each_once_ok();
}

TEST(KafkaClient, EmbeddedClusterListensOnLoopbackOnly) {
  std::string error;
  auto cluster = EmbeddedCluster::start(3, error);
  ASSERT_NE(cluster, nullptr) << error;
  auto bootstrap = cluster->bootstrap();
  int brokers = 0;
  std::istringstream in(bootstrap);
  for (std::string addr; std::getline(in, addr, ',');) {
    EXPECT_TRUE(addr.starts_with("127.0.0.1:")) << bootstrap;
    ++brokers;
  }
  EXPECT_EQ(brokers, 3);
  EXPECT_TRUE(cluster->create_topic("t", 4, error)) << error;
  EXPECT_FALSE(cluster->create_topic("t", 4, error));  // already exists
}

// 1. Our Producer -> kcat: exact keys, values and headers, in order.
TEST(KafkaClient, ProducerWritesWhatKcatReads) {
  KafkaFixture kafka({{"results", 1}});
  auto producer = make_producer(kafka.bootstrap());
  ASSERT_NE(producer, nullptr);
  Deliveries d(3);
  producer->produce("results", "sw1", "first", {{"trace", "abc"}}, d.done(0));
  producer->produce("results", "sw2", "second value", {{"a", "1"}, {"b", "two"}}, d.done(1));
  producer->produce("results", "sw3", "third", {}, d.done(2));
  ASSERT_TRUE(producer->flush(20s));
  ASSERT_EQ(d.total(), 3u);
  d.expect_each_once_ok();
  EXPECT_EQ(producer->errors(), 0u);
  // Callbacks ran on the producer's poll thread, not here.
  auto threads = d.threads();
  EXPECT_EQ(threads.size(), 1u);
  EXPECT_EQ(threads.count(std::this_thread::get_id()), 0u);

  EXPECT_EQ(kcat_read(kafka.bootstrap(), "results", "%k|%s|%h\\n"),
            (std::vector<std::string>{"sw1|first|trace=abc", "sw2|second value|a=1,b=two",
                                      "sw3|third|"}));
}

// A full local queue is waited out, never dropped.
TEST(KafkaClient, ProducerRetriesFullQueue) {
  KafkaFixture kafka({{"burst", 2}});
  auto producer = make_producer(kafka.bootstrap(), {{"queue.buffering.max.messages", "5"}});
  ASSERT_NE(producer, nullptr);
  constexpr int kN = 200;
  Deliveries d(kN);
  for (int i = 0; i < kN; ++i)
    producer->produce("burst", fmt::format("k{}", i % 7), fmt::format("v{}", i), {},
                      d.done(static_cast<std::size_t>(i)));
  ASSERT_TRUE(producer->flush(30s));
  d.expect_each_once_ok();
  EXPECT_EQ(kcat_read(kafka.bootstrap(), "burst", "%s\\n").size(), static_cast<std::size_t>(kN));
}

// 2. python3-kafka produces -> our Consumer gets everything, in order per partition.
TEST(KafkaClient, ConsumerReadsWhatPythonProduced) {
  KafkaFixture kafka({{"alerts", 3}});
  constexpr int kN = 60;
  PythonScript producer_py(R"(import sys, kafka
p = kafka.KafkaProducer(bootstrap_servers=sys.argv[1], acks='all')
for i in range(int(sys.argv[2])):
    p.send('alerts', key=('k%d' % (i % 5)).encode(), value=('v%d' % i).encode())
p.flush(timeout=30)
p.close()
print('sent')
)");
  auto r = producer_py.run(fmt::format("{} {}", kafka.bootstrap(), kN));
  ASSERT_EQ(r.status, 0) << r.out;
  ASSERT_EQ(r.out, "sent\n");

  Collector got;
  auto consumer = make_consumer(kafka.bootstrap(), "g-python", "alerts");
  ASSERT_NE(consumer, nullptr);
  consumer->start(got.handler());
  ASSERT_TRUE(got.wait_for(kN, 30s)) << "got " << got.got().size() << "\n" << kafka.log();
  std::this_thread::sleep_for(300ms);  // nothing extra arrives
  auto msgs = got.got();
  ASSERT_EQ(msgs.size(), static_cast<std::size_t>(kN));
  EXPECT_EQ(consumer->consumed(), static_cast<std::uint64_t>(kN));

  std::set<std::string> values;
  std::map<std::int32_t, std::int64_t> last_offset;
  std::map<std::string, int> last_index_per_key;  // one key -> one partition
  std::map<std::string, std::int32_t> partition_of_key;
  for (const auto& m : msgs) {
    EXPECT_EQ(m.topic, "alerts");
    int i = std::stoi(m.value.substr(1));
    EXPECT_EQ(m.key, fmt::format("k{}", i % 5));
    values.insert(m.value);
    auto [it, fresh] = last_offset.try_emplace(m.partition, m.offset);
    if (!fresh) {
      EXPECT_GT(m.offset, it->second) << "partition " << m.partition;
      it->second = m.offset;
    }
    auto [k, first] = last_index_per_key.try_emplace(m.key, i);
    if (!first) {
      EXPECT_GT(i, k->second) << "key " << m.key << " out of order";
      k->second = i;
    }
    auto [pk, new_key] = partition_of_key.try_emplace(m.key, m.partition);
    if (!new_key) {
      EXPECT_EQ(pk->second, m.partition);
    }
    consumer->done(m.topic, m.partition, m.offset);
  }
  EXPECT_EQ(values.size(), static_cast<std::size_t>(kN));

  // Lag: every assigned partition is known and fully consumed.
  std::vector<PartitionLag> lag;
  auto deadline = std::chrono::steady_clock::now() + 10s;
  for (;;) {
    lag = consumer->lag();
    bool all_zero = lag.size() == 3;
    for (const auto& l : lag) all_zero = all_zero && l.lag == 0;
    if (all_zero || std::chrono::steady_clock::now() >= deadline) break;
    std::this_thread::sleep_for(100ms);
  }
  ASSERT_EQ(lag.size(), 3u);
  for (const auto& l : lag) EXPECT_EQ(l.lag, 0) << l.topic << "[" << l.partition << "]";
  consumer->stop();
  consumer->stop();  // idempotent
  EXPECT_TRUE(consumer->lag().empty());
}

// 3. Offsets are committed only up to the first message not done.
TEST(KafkaClient, ConsumerCommitsOnlyUpToFirstUnfinished) {
  KafkaFixture kafka({{"intents", 1}});
  produce_values(kafka.bootstrap(), "intents", 10);

  {
    Collector got;
    auto consumer = make_consumer(kafka.bootstrap(), "g-offsets", "intents");
    ASSERT_NE(consumer, nullptr);
    consumer->start(got.handler());
    ASSERT_TRUE(got.wait_for(10, 30s)) << kafka.log();
    auto msgs = got.got();
    ASSERT_EQ(msgs.size(), 10u);
    for (int i = 0; i < 10; ++i) ASSERT_EQ(msgs[static_cast<std::size_t>(i)].offset, i);
    // Out of order, from another thread than the poll thread; #3 never done.
    std::thread worker([&] {
      for (int off : {9, 0, 5, 1, 2, 8, 4, 6, 7}) consumer->done("intents", 0, off);
    });
    worker.join();
    consumer->stop();
  }

  {
    Collector got;
    auto consumer = make_consumer(kafka.bootstrap(), "g-offsets", "intents");
    ASSERT_NE(consumer, nullptr);
    consumer->start(got.handler());
    ASSERT_TRUE(got.wait_for(7, 30s)) << kafka.log();
    std::this_thread::sleep_for(500ms);
    auto msgs = got.got();
    std::vector<std::int64_t> offsets;
    offsets.reserve(msgs.size());
    for (const auto& m : msgs) offsets.push_back(m.offset);
    // Redelivered from #3: not from #0 (nothing committed) nor #10 (past #3).
    EXPECT_EQ(offsets, (std::vector<std::int64_t>{3, 4, 5, 6, 7, 8, 9}));
    ASSERT_FALSE(msgs.empty());
    EXPECT_EQ(msgs.front().value, "v3");
    for (const auto& m : msgs) consumer->done(m.topic, m.partition, m.offset);
    consumer->stop();
  }

  {
    Collector got;
    auto consumer = make_consumer(kafka.bootstrap(), "g-offsets", "intents");
    ASSERT_NE(consumer, nullptr);
    consumer->start(got.handler());
    // Wait for the assignment, then give old messages a chance to (wrongly) arrive.
    auto deadline = std::chrono::steady_clock::now() + 30s;
    while (consumer->lag().empty() && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(50ms);
    ASSERT_FALSE(consumer->lag().empty()) << "never assigned";
    std::this_thread::sleep_for(1500ms);
    EXPECT_TRUE(got.got().empty()) << "old message redelivered: offset " << got.got()[0].offset;
    // Only new messages from here on.
    produce_values(kafka.bootstrap(), "intents", 1);
    ASSERT_TRUE(got.wait_for(1, 30s));
    auto msgs = got.got();
    ASSERT_EQ(msgs.size(), 1u);
    EXPECT_EQ(msgs[0].offset, 10);
    consumer->stop();
  }
}

// 4. Broker down, produce, broker up: every callback exactly once, all delivered once.
TEST(KafkaClient, ProducerSurvivesBrokerDownAndUp) {
  KafkaFixture kafka({{"incidents", 2}});
  auto producer = make_producer(kafka.bootstrap());
  ASSERT_NE(producer, nullptr);
  constexpr int kBefore = 5;
  constexpr int kDuring = 20;
  Deliveries d(kBefore + kDuring);
  for (int i = 0; i < kBefore; ++i)
    producer->produce("incidents", fmt::format("k{}", i), fmt::format("v{}", i), {},
                      d.done(static_cast<std::size_t>(i)));
  ASSERT_TRUE(producer->flush(20s));
  ASSERT_EQ(d.total(), static_cast<std::size_t>(kBefore));

  kafka.down(1);
  for (int i = kBefore; i < kBefore + kDuring; ++i)
    producer->produce("incidents", fmt::format("k{}", i), fmt::format("v{}", i),
                      {{"during", "down"}}, d.done(static_cast<std::size_t>(i)));
  std::this_thread::sleep_for(1500ms);
  EXPECT_EQ(d.total(), static_cast<std::size_t>(kBefore)) << "delivered while the broker was down";
  EXPECT_FALSE(producer->flush(100ms));

  kafka.up(1);
  ASSERT_TRUE(producer->flush(60s)) << kafka.log();
  std::this_thread::sleep_for(300ms);  // no late duplicate callbacks
  EXPECT_EQ(d.total(), static_cast<std::size_t>(kBefore + kDuring));
  d.expect_each_once_ok();
  EXPECT_EQ(producer->errors(), 0u);

  // Idempotence: the broker holds every message exactly once.
  auto read = kcat_read(kafka.bootstrap(), "incidents", "%s\\n");
  std::multiset<std::string> values(read.begin(), read.end());
  ASSERT_EQ(values.size(), static_cast<std::size_t>(kBefore + kDuring));
  for (int i = 0; i < kBefore + kDuring; ++i)
    EXPECT_EQ(values.count(fmt::format("v{}", i)), 1u) << "v" << i;
}

// 5. python3-kafka reads what our Producer wrote.
TEST(KafkaClient, PythonConsumerReadsWhatProducerWrote) {
  KafkaFixture kafka({{"audit", 2}});
  constexpr int kN = 20;
  Deliveries d(kN);  // outlives the producer: its callbacks run until the flush
  {
    auto producer = make_producer(kafka.bootstrap());
    ASSERT_NE(producer, nullptr);
    for (int i = 0; i < kN; ++i)
      producer->produce("audit", fmt::format("dev{}", i % 3), fmt::format("result {}", i),
                        {{"n", std::to_string(i)}}, d.done(static_cast<std::size_t>(i)));
    // The destructor flushes: everything is acknowledged once it returns.
  }
  ASSERT_EQ(d.total(), static_cast<std::size_t>(kN));
  d.expect_each_once_ok();

  PythonScript consumer_py(R"(import sys, kafka
c = kafka.KafkaConsumer('audit', bootstrap_servers=sys.argv[1], group_id='g-py',
                        auto_offset_reset='earliest', consumer_timeout_ms=5000)
n = 0
for m in c:
    hdrs = ','.join('%s=%s' % (k, v.decode()) for k, v in m.headers)
    print('%s|%s|%s' % (m.key.decode(), m.value.decode(), hdrs))
    n += 1
    if n == int(sys.argv[2]):
        break
c.close()
)");
  auto r = consumer_py.run(fmt::format("{} {}", kafka.bootstrap(), kN));
  ASSERT_EQ(r.status, 0) << r.out;
  auto got = lines(r.out);
  std::set<std::string> got_set(got.begin(), got.end());
  std::set<std::string> want;
  for (int i = 0; i < kN; ++i) want.insert(fmt::format("dev{}|result {}|n={}", i % 3, i, i));
  EXPECT_EQ(got.size(), static_cast<std::size_t>(kN));
  EXPECT_EQ(got_set, want);
}

}  // namespace
}  // namespace aiopsd::kafka
