#pragma once
// Turns rule decisions into guarded actions: plan_action (action_plan.hpp)
// renders the device and command templates (every substituted value checked
// against its parameter pattern), resolves the device in the inventory and
// checks the command policy; this runs the commands over SSH (or only records
// them in dry-run, or holds them for approval). Every attempt
// ends in exactly one audit record, one actions_total increment and one log line.
//
// Threads: run() is called on the engine thread; SSH completions arrive on the
// SSH io thread. in_flight() is safe from any thread.

#include <atomic>
#include <memory>
#include <vector>

#include "connectors/ssh/ssh_executor.hpp"
#include "daemon/config.hpp"
#include "daemon/notify/incidents.hpp"
#include "daemon/remediation/audit_log.hpp"
#include "daemon/remediation/remediation_metrics.hpp"
#include "daemon/remediation/ssh_outcome.hpp"
#include "daemon/safety/approvals.hpp"
#include "daemon/safety/escalations.hpp"
#include "daemon/safety/safety_gate.hpp"
#include "rules/engine.hpp"

namespace aiopsd::daemon {

class ActionRunner {
 public:
  ActionRunner(const Config& config, ssh::SshExecutor& executor, AuditLog& audit,
               RemediationMetrics& metrics, SafetyMetrics& safety_metrics, SafetyGate& gate,
               ApprovalBook& approvals, Escalations& escalations, Incidents& incidents);

  void run(const rules::Decision& decision);
  // A held rule action was decided: run it if approved (past the safety gate:
  // a human said so), or record why it never ran. Any thread.
  void decided(const Approval& approval);
  std::size_t in_flight() const { return in_flight_->load(); }

 private:
  struct Outcome;
  std::shared_ptr<Outcome> begin(const rules::Decision& d, std::size_t action_index,
                                 std::string_view kind);
  void fail(Outcome& o, std::string code, std::string message);
  // kafka and webhook actions: the incident record, published (never in dry-run).
  void run_incident(const rules::Decision& d, std::size_t action_index);
  // Policy check of every final command, then execute(); always finishes `o`.
  void dispatch(const std::shared_ptr<Outcome>& o, const DeviceConfig& dev,
                std::vector<std::string> commands, const ActionGuards& guards);
  // Commands already checked (plan_action, or dispatch): dry-run, hold, or
  // SSH; always finishes `o`.
  void execute(const std::shared_ptr<Outcome>& o, const DeviceConfig& dev,
               std::vector<std::string> commands, const ActionGuards& guards);
  void run_log(const rules::Decision& d, std::size_t action_index, const std::string& message);
  void finish(const Outcome& outcome);
  // Turns the action into a pending approval; always finishes `o`.
  void hold(const std::shared_ptr<Outcome>& o, const DeviceConfig& dev,
            const SafetyGate::Hold& why);

  const Config& config_;
  ssh::SshExecutor& executor_;
  AuditLog& audit_;
  RemediationMetrics& metrics_;
  SafetyMetrics& safety_metrics_;
  SafetyGate& gate_;
  ApprovalBook& approvals_;
  Escalations& escalations_;
  Incidents& incidents_;
  // [rule][action] -> counters per outcome (see kOutcomeNames), resolved once.
  std::vector<std::vector<std::array<prometheus::Counter*, 6>>> counters_;
  std::shared_ptr<std::atomic<std::size_t>> in_flight_ =
      std::make_shared<std::atomic<std::size_t>>(0);
};

}  // namespace aiopsd::daemon
