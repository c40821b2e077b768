#include "daemon/remediation/ssh_outcome.hpp"

#include <fmt/format.h>

namespace aiopsd::daemon {

ssh::Limits limits_with(ssh::Limits base, std::optional<std::chrono::milliseconds> timeout,
                        std::optional<std::uint64_t> output_limit) {
  if (timeout) base.command_timeout = *timeout;
  if (output_limit) base.output_limit = *output_limit;
  return base;
}

ActionGuards guards_of(const rules::SshAction& action, const Config& config) {
  return {action.policy ? config.policy.narrowed_by(*action.policy) : config.policy,
          limits_with(config.ssh.limits, action.timeout, action.output_limit), nullptr};
}

ActionGuards guards_of(const rules::CatalogAction& action, const Config& config) {
  return {action.policy ? config.policy.narrowed_by(*action.policy) : config.policy,
          limits_with(config.ssh.limits, action.timeout, action.output_limit),
          action.redact ? &*action.redact : nullptr};
}

std::optional<std::string> policy_violation(const rules::CommandPolicy& policy,
                                            const std::vector<std::string>& commands) {
  for (std::size_t i = 0; i < commands.size(); ++i) {
    if (auto why = policy.check(commands[i])) return fmt::format("commands[{}]: {}", i, *why);
  }
  return std::nullopt;
}

void collect_outputs(const ssh::ExecResult& result, const rules::OutputFilter& global,
                     const rules::OutputFilter* extra, std::vector<AuditCommand>& commands) {
  for (std::size_t i = 0; i < result.commands.size(); ++i) {
    const ssh::CommandOutput& c = result.commands[i];
    if (i == commands.size()) commands.push_back({c.command, -1, {}, false});
    AuditCommand& rec = commands[i];
    rec.exit_status = c.exit_status;
    rec.truncated = c.truncated;
    rec.output = global.apply(c.output);
    if (extra) rec.output = extra->apply(rec.output);
  }
}

std::optional<ExecFailure> failure_of(const ssh::ExecResult& result) {
  if (!result.ok())
    return ExecFailure{std::string(ssh::to_string(result.error)), result.error_message};
  for (const ssh::CommandOutput& c : result.commands) {
    if (c.exit_status != 0) {
      return ExecFailure{"command_failed",
                         fmt::format("'{}' exited with status {}", c.command, c.exit_status)};
    }
  }
  return std::nullopt;
}

}  // namespace aiopsd::daemon
