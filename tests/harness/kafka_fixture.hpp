#pragma once
// The Kafka mock broker (tests/harness/kafka_mock.cpp, librdkafka's mock
// cluster on 127.0.0.1) as a child process, so it outlives the client under
// test. Commands go through a FIFO in a temporary directory; the process
// and the directory are removed on destruction.
//
// Created and used by one test thread; not thread-safe.

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "tests/harness/child_process.hpp"

namespace aiopsd::testing {

struct KafkaTopic {
  std::string name;
  int partitions = 1;
};

class KafkaFixture {
 public:
  // Starts `brokers` brokers with `topics` created; throws std::runtime_error
  // (with the process output) if the mock does not come up within 15s.
  explicit KafkaFixture(const std::vector<KafkaTopic>& topics, int brokers = 1);
  ~KafkaFixture();
  KafkaFixture(const KafkaFixture&) = delete;
  KafkaFixture& operator=(const KafkaFixture&) = delete;

  const std::string& bootstrap() const { return bootstrap_; }  // "127.0.0.1:port,..."
  // Broker ids are 1-based. Return once the mock acknowledged the command.
  void down(int broker_id);
  void up(int broker_id);
  void stop();  // `quit`, then SIGTERM/SIGKILL if needed
  std::string log() const;

 private:
  void command(const std::string& line);
  std::filesystem::path dir_;
  int fifo_fd_ = -1;  // held read-write: the mock never sees EOF until stop()
  std::string bootstrap_;
  std::unique_ptr<ChildProcess> process_;
};

}  // namespace aiopsd::testing
