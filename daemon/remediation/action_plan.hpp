#pragma once
// What one action of a rule decision would do, decided without doing it:
// the device template rendered (":port" stripped) and looked up in the
// inventory, the commands rendered with their parameter patterns (or the
// catalog action resolved against its typed parameters), then the command
// policy checked. ActionRunner runs the plan; `aiopsd replay` prints it. One
// function, so that what an operator replays is what the daemon would send.
//
// Threads: a pure function of the config and the decision; any thread.

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "daemon/config.hpp"
#include "daemon/remediation/ssh_outcome.hpp"
#include "rules/engine.hpp"

namespace aiopsd::daemon {

struct ActionPlan {
  // As the audit log names it: "ssh", "log", "run:NAME" ("run" while the
  // catalog action is unknown), "kafka:TOPIC", "webhook:RECEIVER".
  std::string action;
  // The target, once found; still set when a later step (commands, policy) failed.
  const DeviceConfig* device = nullptr;
  std::vector<std::string> commands;   // rendered and policy-checked; empty on error
  std::string message;                 // log actions: the rendered text
  std::optional<ActionGuards> guards;  // ssh/run actions that reached a device
  bool approval_required = false;      // the catalog action says so
  // Set when the action cannot run: policy_violation, template_error,
  // unknown_device, unknown_action, ... and the message the audit log records.
  std::string error_code;
  std::string error_message;
  bool ok() const { return error_code.empty(); }
};

// Plans action `action_index` of the decision's rule.
ActionPlan plan_action(const Config& config, const rules::Decision& decision,
                       std::size_t action_index);

}  // namespace aiopsd::daemon
