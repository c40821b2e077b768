#pragma once
// Runs Kafka intents safely and answers each with results on Kafka.
//
// For every message of the intents topic: decode and check it against the
// schema, the catalog (action, device, typed parameters), approval, deadline
// and the command policy; a message that fails goes to the dead-letter topic
// and gets a `rejected` result. One that passes is recorded as started in the
// StateStore (durable) before its first command is sent, runs through the
// same SSH executor as alert remediations (per-device order, session limit),
// and its final result is stored, audited, then published. `done` fires only
// after the final result (and any dead letter) is acknowledged by the broker,
// so the consumer commits offsets past a message only once it is answered.
//
// At most once per intent_id: a redelivered intent that finished republishes
// its stored result; one an earlier process started and never finished is
// reported `interrupted` (report_interrupted()) and never re-run.
//
// Threads: handle() on the consumer thread; SSH completions on the SSH io
// thread; delivery callbacks on the producer's poll thread.

#include <array>
#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include "connectors/kafka/intent_decoder.hpp"
#include "connectors/kafka/kafka_client.hpp"
#include "connectors/ssh/ssh_executor.hpp"
#include "daemon/config.hpp"
#include "daemon/intents/intent_metrics.hpp"
#include "daemon/notify/notify_metrics.hpp"
#include "daemon/remediation/audit_log.hpp"
#include "daemon/safety/approvals.hpp"
#include "daemon/safety/escalations.hpp"
#include "daemon/safety/safety_metrics.hpp"
#include "daemon/state/state_store.hpp"

namespace aiopsd::daemon {

class IntentService {
 public:
  // `config` is the startup config: its Kafka settings stay for the process's
  // life; set_config() swaps in reloaded catalogs, devices and policies.
  IntentService(std::shared_ptr<const Config> config, ssh::SshExecutor& executor, AuditLog& audit,
                IntentMetrics& metrics, SafetyMetrics& safety_metrics,
                NotifyMetrics& notify_metrics, StateStore& state, kafka::Producer& producer,
                ApprovalBook& approvals, Escalations& escalations);
  ~IntentService();

  // Publishes and stores `interrupted` for every intent an earlier process
  // started and never finished. Call once, before consuming.
  void report_interrupted();
  // One message of the intents topic. `done` runs exactly once, on any thread.
  void handle(const kafka::Message& message, std::function<void()> done);
  std::size_t in_flight() const { return in_flight_->load(); }
  // A reload: intents consumed from now on are checked against `config`.
  void set_config(std::shared_ptr<const Config> config);
  // An intent held for approval was decided: run it, or answer why not. Any thread.
  void decided(const Approval& approval);

 public:  // for the result builder in the .cpp
  struct Job;
  struct Outcome;

 private:
  void reject(const std::shared_ptr<Job>& job, std::string code, std::string field,
              std::string message, bool dead_letter);
  void execute(const std::shared_ptr<Job>& job);
  std::optional<std::chrono::seconds> too_old(const kafka::Message& m) const;
  // Checks passed (and approval given, if needed): dry run, or onto the device.
  void launch(const std::shared_ptr<Job>& job, const rules::CatalogAction& action);
  void hold(const std::shared_ptr<Job>& job);
  void publish_pending(const std::shared_ptr<Job>& job, const Approval& a);
  void finish(const std::shared_ptr<Job>& job, const Outcome& outcome);
  // Counts, logs and audits; `then` runs once the audit record is durable.
  void count_and_audit(const Job& job, const Outcome& outcome, std::function<void()> then);
  AuditRecord audit_record(const Job& job, const Outcome& outcome) const;
  void publish(const std::string& topic, std::string key, std::string value,
               std::vector<kafka::Header> headers, std::function<void()> acked);
  void complete(const std::shared_ptr<Job>& job);
  void resolve_counters();
  prometheus::Counter& intents_counter(const std::string& action, std::string_view status);

  std::shared_ptr<const Config> current() const;

  const Config& config_;  // the startup config (Kafka settings); outlives this
  mutable std::mutex config_mu_;
  std::shared_ptr<const Config> current_;
  ssh::SshExecutor& executor_;
  AuditLog& audit_;
  IntentMetrics& metrics_;
  SafetyMetrics& safety_metrics_;
  NotifyMetrics& notify_metrics_;
  StateStore& state_;
  kafka::Producer& producer_;
  ApprovalBook& approvals_;
  Escalations& escalations_;
  kafka::IntentDecoder decoder_;  // consumer thread only
  // action (catalog name or "unknown") -> counter per status; read-only after construction.
  std::unordered_map<std::string, std::array<prometheus::Counter*, 5>> counters_;
  std::mutex mu_;
  // intent_id -> job in flight in this process; redeliveries join it.
  std::unordered_map<std::string, std::shared_ptr<Job>> running_;
  std::shared_ptr<std::atomic<std::size_t>> in_flight_ =
      std::make_shared<std::atomic<std::size_t>>(0);
};

}  // namespace aiopsd::daemon
