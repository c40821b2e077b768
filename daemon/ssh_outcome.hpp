#pragma once
// What one SSH execution means for an action: the same for alert
// remediations (ActionRunner) and Kafka intents (IntentService).

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "connectors/ssh/ssh_executor.hpp"
#include "daemon/audit_log.hpp"
#include "rules/output_filter.hpp"

namespace aiopsd::daemon {

// The global limits with an action's own timeout and output limit applied.
ssh::Limits limits_with(ssh::Limits base, std::optional<std::chrono::milliseconds> timeout,
                        std::optional<std::uint64_t> output_limit);

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
