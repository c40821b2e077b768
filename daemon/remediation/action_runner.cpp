#include "daemon/remediation/action_runner.hpp"

#include <fmt/format.h>

#include "daemon/log.hpp"
#include "daemon/remediation/action_plan.hpp"
#include "daemon/remediation/ssh_outcome.hpp"

namespace aiopsd::daemon {

namespace {
enum OutcomeIndex { kSucceeded = 0, kFailed, kDryRun, kHeld, kDenied, kExpired };
constexpr std::array<std::string_view, 6> kOutcomeNames = {"succeeded", "failed", "dry_run",
                                                           "held",      "denied", "expired"};
}  // namespace

struct ActionRunner::Outcome {
  AuditRecord record;
  std::size_t rule = 0;
  std::size_t action = 0;
  OutcomeIndex index = kFailed;
  std::chrono::steady_clock::time_point started;
  bool automatic = true;           // false once a human approved it
  bool approval_required = false;  // the catalog action says so
};

ActionRunner::ActionRunner(const Config& config, ssh::SshExecutor& executor, AuditLog& audit,
                           RemediationMetrics& metrics, SafetyMetrics& safety_metrics,
                           SafetyGate& gate, ApprovalBook& approvals, Escalations& escalations,
                           Incidents& incidents)
    : config_(config),
      executor_(executor),
      audit_(audit),
      metrics_(metrics),
      safety_metrics_(safety_metrics),
      gate_(gate),
      approvals_(approvals),
      escalations_(escalations),
      incidents_(incidents) {
  for (const auto& rule : config.rules.rules) {
    auto& per_rule = counters_.emplace_back();
    for (const auto& action : rule.actions) {
      auto& c = per_rule.emplace_back();
      for (std::size_t i = 0; i < kOutcomeNames.size(); ++i) {
        c[i] = &metrics.actions.Add({{"rule", rule.name},
                                     {"action", action.kind},
                                     {"outcome", std::string(kOutcomeNames[i])}});
      }
    }
  }
}

void ActionRunner::run(const rules::Decision& d) {
  const rules::Rule& rule = config_.rules.rules[d.rule];
  for (std::size_t i = 0; i < rule.actions.size(); ++i) {
    const auto& spec = rule.actions[i].spec;
    if (std::holds_alternative<rules::KafkaAction>(spec) ||
        std::holds_alternative<rules::WebhookAction>(spec)) {
      run_incident(d, i);
      continue;
    }
    ActionPlan plan = plan_action(config_, d, i);
    if (plan.action == "log") {
      run_log(d, i, plan.message);
      continue;
    }
    auto o = begin(d, i, plan.action);
    if (plan.device) {
      o->record.device = plan.device->ssh.name;
      o->record.host = fmt::format("{}:{}", plan.device->ssh.host, plan.device->ssh.port);
    }
    if (!plan.ok()) {
      fail(*o, std::move(plan.error_code), std::move(plan.error_message));
      continue;
    }
    o->approval_required = plan.approval_required;
    execute(o, *plan.device, std::move(plan.commands), *plan.guards);
  }
}

void ActionRunner::run_log(const rules::Decision& d, std::size_t action_index,
                           const std::string& message) {
  Outcome o;
  o.started = std::chrono::steady_clock::now();
  o.rule = d.rule;
  o.action = action_index;
  o.index = kSucceeded;
  o.record.time = std::chrono::system_clock::now();
  o.record.rule = config_.rules.rules[d.rule].name;
  o.record.group_key = d.group_key;
  o.record.action = "log";
  o.record.fingerprints = d.fingerprints;
  log::info("rule", "rule {} group {{{}}}: {}", o.record.rule, d.group_key, message);
  ++*in_flight_;
  finish(o);
}

std::shared_ptr<ActionRunner::Outcome> ActionRunner::begin(const rules::Decision& d,
                                                           std::size_t action_index,
                                                           std::string_view kind) {
  const rules::Rule& rule = config_.rules.rules[d.rule];
  auto o = std::make_shared<Outcome>();
  o->started = std::chrono::steady_clock::now();
  o->rule = d.rule;
  o->action = action_index;
  o->record.time = std::chrono::system_clock::now();
  o->record.rule = rule.name;
  o->record.group_key = d.group_key;
  o->record.action = std::string(kind);
  o->record.fingerprints = d.fingerprints;
  o->record.dry_run = config_.engine.dry_run || rule.dry_run.value_or(false);
  ++*in_flight_;
  return o;
}

void ActionRunner::fail(Outcome& o, std::string code, std::string message) {
  o.index = kFailed;
  o.record.error_code = std::move(code);
  o.record.error_message = std::move(message);
  finish(o);
}

void ActionRunner::run_incident(const rules::Decision& d, std::size_t action_index) {
  const rules::Rule& rule = config_.rules.rules[d.rule];
  const auto& spec = rule.actions[action_index].spec;
  const auto* kafka = std::get_if<rules::KafkaAction>(&spec);
  const auto* webhook = std::get_if<rules::WebhookAction>(&spec);
  auto o = begin(d, action_index, kafka ? "kafka" : "webhook");
  o->record.action = kafka ? "kafka:" + kafka->topic : "webhook:" + webhook->receiver;
  std::string record = incident_record(d, rule, *config_.interner, o->record.dry_run,
                                       std::chrono::system_clock::now());
  if (o->record.dry_run) {
    o->index = kDryRun;
    return finish(*o);
  }
  if (webhook) {
    if (!incidents_.to_webhook(webhook->receiver, std::move(record))) {
      return fail(*o, "unknown_receiver",
                  fmt::format("no webhook receiver named '{}'", webhook->receiver));
    }
    o->index = kSucceeded;  // queued; delivery failures are counted by the sender
    return finish(*o);
  }
  std::string key = d.group_key.empty() ? rule.name : d.group_key;
  const bool sent = incidents_.to_kafka(kafka->topic, std::move(key), std::move(record), [this, o] {
    o->index = kSucceeded;
    finish(*o);
  });
  if (!sent) fail(*o, "kafka_unavailable", "Kafka is not configured");
}

void ActionRunner::dispatch(const std::shared_ptr<Outcome>& o, const DeviceConfig& dev,
                            std::vector<std::string> commands, const ActionGuards& guards) {
  if (auto why = policy_violation(guards.policy, commands))
    return fail(*o, "policy_violation", std::move(*why));
  execute(o, dev, std::move(commands), guards);
}

void ActionRunner::execute(const std::shared_ptr<Outcome>& o, const DeviceConfig& dev,
                           std::vector<std::string> commands, const ActionGuards& guards) {
  for (const auto& c : commands) o->record.commands.push_back({c, -1, {}, false});
  if (o->record.dry_run) {
    o->index = kDryRun;
    return finish(*o);
  }
  if (o->automatic) {
    std::optional<SafetyGate::Hold> why;
    if (o->approval_required) {
      why = SafetyGate::Hold{"approval_required",
                             fmt::format("action '{}' requires approval", o->record.action), "",
                             false};
    } else {
      why = gate_.admit(o->record.rule, dev, std::chrono::system_clock::now());
    }
    if (why) return hold(o, dev, *why);
  }
  executor_.submit(dev.ssh, std::move(commands), guards.limits,
                   [this, o, redact = guards.redact](const ssh::ExecResult& result) {
                     collect_outputs(result, config_.output_filter, redact, o->record.commands);
                     o->index = kSucceeded;
                     if (auto failure = failure_of(result)) {
                       o->index = kFailed;
                       o->record.error_code = std::move(failure->code);
                       o->record.error_message = std::move(failure->message);
                     }
                     finish(*o);
                   });
}

void ActionRunner::hold(const std::shared_ptr<Outcome>& o, const DeviceConfig& dev,
                        const SafetyGate::Hold& why) {
  Approval a;
  a.origin = Approval::Origin::kRule;
  a.rule = o->record.rule;
  a.action_index = o->action;
  a.group_key = o->record.group_key;
  a.action = o->record.action;
  a.device = dev.ssh.name;
  for (const auto& c : o->record.commands) a.commands.push_back(c.command);
  a.requested_by = "rule:" + o->record.rule;
  a.reason = why.code;
  a.reason_message = why.message;
  std::string refused;
  auto held = approvals_.hold(std::move(a), &refused);
  if (!held) {
    return fail(
        *o, refused,
        refused == "approvals_full"
            ? fmt::format("held ({}) but {} approvals are already pending; nothing was sent",
                          why.code, approvals_.pending())
            : "could not store the approval; nothing was sent");
  }
  o->index = kHeld;
  o->record.approval_id = held->id;
  o->record.error_code = why.code;
  o->record.error_message = fmt::format("held for approval {}: {}", held->id, why.message);
  safety_metrics_.held(why.code, approvals_.pending());
  if (why.tripped_now) escalations_.breaker_opened(why);
  escalations_.approval(*held);
  finish(*o);
}

void ActionRunner::decided(const Approval& a) {
  const auto& rules = config_.rules.rules;
  auto rule = std::find_if(rules.begin(), rules.end(),
                           [&](const rules::Rule& r) { return r.name == a.rule; });
  auto o = std::make_shared<Outcome>();
  o->started = std::chrono::steady_clock::now();
  o->automatic = false;
  o->rule = rule == rules.end() ? 0 : static_cast<std::size_t>(rule - rules.begin());
  o->action = a.action_index;
  o->record.time = std::chrono::system_clock::now();
  o->record.rule = a.rule;
  o->record.group_key = a.group_key;
  o->record.action = a.action;
  o->record.approval_id = a.id;
  o->record.approved_by = a.decided_by;
  ++*in_flight_;
  if (rule == rules.end() || a.action_index >= rule->actions.size()) {
    // Counted nowhere: the rule's counters went with it.
    log::warn("approval", "approval {}: rule {} is no longer loaded; not run", a.id, a.rule);
    --*in_flight_;
    return;
  }
  if (a.status != Approval::Status::kApproved) {
    o->index = a.status == Approval::Status::kDenied ? kDenied : kExpired;
    o->record.device = a.device;
    for (const auto& c : a.commands) o->record.commands.push_back({c, -1, {}, false});
    o->record.error_code =
        a.status == Approval::Status::kDenied ? "approval_denied" : "approval_expired";
    o->record.error_message = a.comment;
    return finish(*o);
  }
  const DeviceConfig* dev = config_.find_device(a.device);
  if (!dev)
    return fail(*o, "unknown_device", fmt::format("device '{}' is not in the inventory", a.device));
  o->record.device = dev->ssh.name;
  o->record.host = fmt::format("{}:{}", dev->ssh.host, dev->ssh.port);
  const auto& spec = rule->actions[a.action_index].spec;
  if (const auto* ssh = std::get_if<rules::SshAction>(&spec)) {
    return dispatch(o, *dev, a.commands, guards_of(*ssh, config_));
  }
  const auto* run = std::get_if<rules::RunAction>(&spec);
  const rules::CatalogAction* ca = run ? config_.catalog.find(run->action) : nullptr;
  if (!ca) return fail(*o, "unknown_action", "the rule's action is no longer in the catalog");
  dispatch(o, *dev, a.commands, guards_of(*ca, config_));
}

void ActionRunner::finish(const Outcome& o) {
  AuditRecord record = o.record;
  record.outcome = std::string(kOutcomeNames[o.index]);
  auto elapsed = std::chrono::steady_clock::now() - o.started;
  record.duration = std::chrono::duration_cast<std::chrono::milliseconds>(elapsed);
  counters_[o.rule][o.action][o.index]->Increment();
  metrics_.action_duration.Observe(std::chrono::duration<double>(elapsed).count());
  if (o.index == kHeld) {
    log::warn("action", "rule={} action={} device={} held: {}", record.rule, record.action,
              record.device, record.error_message);
  } else if (o.index == kFailed || o.index == kDenied || o.index == kExpired) {
    log::warn("action", "rule={} action={} device={} outcome={} error={}: {}", record.rule,
              record.action, record.device, record.outcome, record.error_code,
              record.error_message);
  } else {
    std::string cmds;
    for (const auto& c : record.commands) cmds += fmt::format("{}[{}] ", c.command, c.exit_status);
    log::info("action", "rule={} action={} device={} outcome={} duration_ms={} commands: {}",
              record.rule, record.action, record.device, record.outcome, record.duration.count(),
              cmds);
  }
  // Group-committed: the engine thread does not wait for the disk, and actions
  // finishing together share one fdatasync. The action counts as in flight
  // until its record is durable, so a drain never outruns the audit log.
  audit_.write_async(record, [in_flight = in_flight_, rule = record.rule](bool ok) {
    if (!ok) log::error("audit", "audit write failed for rule {}", rule);
    --*in_flight;
  });
}

}  // namespace aiopsd::daemon
