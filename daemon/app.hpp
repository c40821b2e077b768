#pragma once
// The whole daemon as an object: tests start it in-process on port 0 and talk
// to it over loopback; main() only parses flags and calls it.
//
// Threads: the caller's (start/stop), one HTTP io thread, one engine thread
// (queue -> rules -> ActionRunner), one SSH io thread; with Kafka, the
// consumer's poll thread (intents, alerts), the producer's poll thread and a
// lag sampler.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "connectors/ssh/ssh_executor.hpp"
#include "daemon/config.hpp"
#include "rules/clock.hpp"

namespace aiopsd::daemon {

class StateStore;

struct Metrics;

struct AppOptions {
  const rules::Clock* clock = nullptr;  // nullptr: the system clock
  std::chrono::milliseconds tick_interval{1000};
  std::chrono::milliseconds drain_timeout{30'000};
  bool notify_systemd = true;
  // Debug hook for latency benchmarks (bench/load/remediation_latency): told,
  // on the SSH io thread, when each command's request leaves for its device.
  std::function<void(const ssh::CommandSent&)> on_ssh_command_sent;
};

class App {
 public:
  explicit App(std::unique_ptr<Config> config, AppOptions options = {});
  ~App();  // stops if running
  App(const App&) = delete;
  App& operator=(const App&) = delete;

  // Opens the audit log, binds the listener, starts the threads, signals
  // readiness to systemd. Throws std::runtime_error on failure.
  void start();
  // Stops accepting, drains queued events and in-flight actions (bounded by
  // drain_timeout), then stops every thread. Idempotent.
  void stop();

  // Re-reads the config file and its rules and catalogs, atomically: a file
  // that fails validation changes nothing (the error is logged, returned and
  // aiopsd_config_last_reload_successful drops to 0). Rules, catalog, devices,
  // command policy, output redaction and log level take effect; unchanged
  // rules keep their correlation state; queued events are not lost. Listener,
  // Kafka, state, audit and safety settings need a restart (a warning says so).
  // Thread-safe. Returns the errors, empty on success.
  std::string reload();

  std::uint16_t http_port() const;
  bool ready() const;
  const Config& config() const;
  Metrics& metrics();
  // The durable state store (nullptr without state.path); for tests and tools.
  StateStore* state_store();
  // True once the queue is empty and no action is in flight (tests).
  bool wait_idle(std::chrono::milliseconds timeout);
  // The Kafka bootstrap address in use (the embedded cluster's when
  // brokers: embedded); empty without Kafka.
  std::string kafka_bootstrap() const;

 private:
  void start_kafka();
  void stop_kafka();
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace aiopsd::daemon
