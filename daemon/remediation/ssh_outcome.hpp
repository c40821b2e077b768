#pragma once
// What one SSH execution means for an action: the same for alert
// remediations (ActionRunner) and Kafka intents (IntentService).

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "connectors/ssh/ssh_executor.hpp"
#include "daemon/config.hpp"
#include "daemon/remediation/audit_log.hpp"
#include "rules/output_filter.hpp"

namespace aiopsd::daemon {

// The global limits with an action's own timeout and output limit applied.
ssh::Limits limits_with(ssh::Limits base, std::optional<std::chrono::milliseconds> timeout,
                        std::optional<std::uint64_t> output_limit);

// How an action's commands are guarded and run: its own command policy,
// timeout, output limit and redaction over the daemon's. The one place that
// decides it, for rule actions (ssh:, run:), intents, and approved actions.
struct ActionGuards {
  // The global ssh.policy narrowed by the action's own (never widened).
  rules::CommandPolicy policy;
  ssh::Limits limits;
  const rules::OutputFilter* redact = nullptr;  // on top of the global output filter
};
ActionGuards guards_of(const rules::SshAction& action, const Config& config);
ActionGuards guards_of(const rules::CatalogAction& action, const Config& config);

// "commands[i]: why" for the first command `policy` refuses, else nullopt.
std::optional<std::string> policy_violation(const rules::CommandPolicy& policy,
                                            const std::vector<std::string>& commands);

// Copies each started command's exit status, truncation flag and output
// (ANSI-stripped and redacted by `global`, then by `extra` when set) into
// `commands` index by index, appending where `commands` is shorter.
void collect_outputs(const ssh::ExecResult& result, const rules::OutputFilter& global,
                     const rules::OutputFilter* extra, std::vector<AuditCommand>& commands);

struct ExecFailure {
  std::string code;  // the SSH error code, or command_failed
  std::string message;
};
// The SSH error, else the first command that exited non-zero, else nullopt.
std::optional<ExecFailure> failure_of(const ssh::ExecResult& result);

}  // namespace aiopsd::daemon
