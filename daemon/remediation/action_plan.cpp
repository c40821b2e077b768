#include "daemon/remediation/action_plan.hpp"

#include <fmt/format.h>

#include <map>
#include <variant>

namespace aiopsd::daemon {

namespace {

void fail(ActionPlan& p, std::string code, std::string message) {
  p.error_code = std::move(code);
  p.error_message = std::move(message);
  p.commands.clear();
}

// Renders, strips ":port" and looks up the target; fails `p` when it cannot.
bool target_device(const Config& config, ActionPlan& p, const rules::Template& device,
                   const rules::TemplateContext& ctx, const rules::ParamPatterns& patterns) {
  auto rendered = device.render(ctx, *config.interner, patterns);
  if (!rendered.ok()) {
    fail(p, rendered.error->code, fmt::format("device: {}", rendered.error->message));
    return false;
  }
  const std::string ref(rules::strip_port(rendered.text));
  p.device = config.find_device(ref);
  if (!p.device) {
    fail(p, "unknown_device", fmt::format("device '{}' is not in the inventory", ref));
    return false;
  }
  return true;
}

void plan_ssh(const Config& config, const rules::Decision& d, const rules::SshAction& action,
              ActionPlan& p) {
  p.action = "ssh";
  if (!target_device(config, p, action.device, d.context(), action.params)) return;
  for (std::size_t i = 0; i < action.commands.size(); ++i) {
    auto cmd = action.commands[i].render(d.context(), *config.interner, action.params);
    if (!cmd.ok())
      return fail(p, cmd.error->code, fmt::format("commands[{}]: {}", i, cmd.error->message));
    p.commands.push_back(std::move(cmd.text));
  }
  p.guards.emplace(guards_of(action, config));
}

void plan_catalog(const Config& config, const rules::Decision& d, const rules::RunAction& run,
                  ActionPlan& p) {
  p.action = "run";
  const rules::CatalogAction* ca = config.catalog.find(run.action);
  if (!ca)
    return fail(p, "unknown_action", fmt::format("action '{}' is not in the catalog", run.action));
  p.action = fmt::format("run:{}", ca->name);
  if (!target_device(config, p, run.device, d.context(), run.device_patterns)) return;
  std::map<std::string, rules::ParamValue> values;
  for (const auto& [name, t] : run.params) {
    auto v = t.render(d.context(), *config.interner, run.value_patterns);
    if (!v.ok())
      return fail(p, v.error->code, fmt::format("params.{}: {}", name, v.error->message));
    values.emplace(name, std::move(v.text));
  }
  auto resolved = config.catalog.resolve(
      *ca, values, [&config](std::string_view n) { return config.find_device(n) != nullptr; });
  if (auto* err = std::get_if<rules::ActionError>(&resolved)) {
    // A value from the alert that fails its parameter type is a policy matter.
    return fail(p, err->code == "invalid_params" ? "policy_violation" : err->code, err->message);
  }
  p.approval_required = ca->approval == rules::Approval::kRequired;
  p.commands = std::move(std::get<rules::ResolvedAction>(resolved).commands);
  p.guards.emplace(guards_of(*ca, config));
}

}  // namespace

ActionPlan plan_action(const Config& config, const rules::Decision& d, std::size_t action_index) {
  ActionPlan p;
  const rules::Action& action = config.rules.rules[d.rule].actions[action_index];
  if (const auto* ssh = std::get_if<rules::SshAction>(&action.spec)) {
    plan_ssh(config, d, *ssh, p);
  } else if (const auto* run = std::get_if<rules::RunAction>(&action.spec)) {
    plan_catalog(config, d, *run, p);
  } else if (const auto* log = std::get_if<rules::LogAction>(&action.spec)) {
    p.action = "log";
    p.message = log->message.render_text(d.context(), *config.interner);
    return p;
  } else if (const auto* kafka = std::get_if<rules::KafkaAction>(&action.spec)) {
    p.action = "kafka:" + kafka->topic;  // publishes the incident record; no device
    return p;
  } else {
    p.action = "webhook:" + std::get<rules::WebhookAction>(action.spec).receiver;
    return p;
  }
  if (!p.ok()) return p;
  if (auto why = policy_violation(p.guards->policy, p.commands)) {
    fail(p, "policy_violation", std::move(*why));
  }
  return p;
}

}  // namespace aiopsd::daemon
