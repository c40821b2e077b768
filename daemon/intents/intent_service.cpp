#include "daemon/intents/intent_service.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <boost/json.hpp>

#include "daemon/detail/json_writer.hpp"
#include "daemon/log.hpp"
#include "daemon/notify/kafka_publish.hpp"
#include "daemon/remediation/ssh_outcome.hpp"
#include "rules/event.hpp"

namespace aiopsd::daemon {

namespace json = boost::json;
using Clock = std::chrono::system_clock;

struct IntentService::Job {
  // The config it was checked against: a reload does not change it midway.
  std::shared_ptr<const Config> config;
  rules::Intent intent;
  std::string raw_id;          // best-effort id of an undecodable message
  std::string_view raw_value;  // the message bytes; valid during handle() only
  std::string topic;
  std::int32_t partition = 0;
  std::int64_t offset = 0;
  Clock::time_point received_at;
  Clock::time_point started_at{};
  std::chrono::steady_clock::time_point received_steady;
  const DeviceConfig* device = nullptr;
  std::vector<std::string> commands;
  bool dry_run = false;
  bool start_attempted = false;   // the job left the SSH queue (io thread)
  bool start_recorded = false;    // set on the SSH io thread before the session opens
  bool expired_in_queue = false;  // the deadline passed while queued: nothing sent
  std::mutex mu;                  // guards dones: redeliveries may join from the consumer thread
  std::vector<std::function<void()>> dones;
  bool completed = false;

  const std::string& id() const { return intent.intent_id.empty() ? raw_id : intent.intent_id; }
};

struct IntentService::Outcome {
  std::string status;  // succeeded | failed | rejected | expired | interrupted
  std::string error_code;
  std::string error_field;
  std::string error_message;
  std::vector<AuditCommand> commands;
};

namespace {

std::string result_document(const IntentService::Job& job, const IntentService::Outcome& o,
                            const Approval* held = nullptr);

IntentService::Outcome expired(const IntentService::Job& job) {
  return {"expired",
          "deadline_exceeded",
          "deadline",
          fmt::format("deadline: {} passed before the intent could start",
                      rules::format_rfc3339(*job.intent.deadline)),
          {}};
}

}  // namespace

IntentService::IntentService(std::shared_ptr<const Config> config, ssh::SshExecutor& executor,
                             AuditLog& audit, IntentMetrics& metrics, SafetyMetrics& safety_metrics,
                             NotifyMetrics& notify_metrics, StateStore& state,
                             kafka::Producer& producer, ApprovalBook& approvals,
                             Escalations& escalations)
    : config_(*config),
      current_(std::move(config)),
      executor_(executor),
      audit_(audit),
      metrics_(metrics),
      safety_metrics_(safety_metrics),
      notify_metrics_(notify_metrics),
      state_(state),
      producer_(producer),
      approvals_(approvals),
      escalations_(escalations) {
  resolve_counters();
}

IntentService::~IntentService() = default;

namespace {
// Final statuses; `accepted` is not final and not counted.
constexpr std::array<std::string_view, 5> kStatuses = {"succeeded", "failed", "rejected", "expired",
                                                       "interrupted"};
}  // namespace

// Resolved once: Family::Add builds and hashes a label map, too slow per intent.
void IntentService::resolve_counters() {
  auto add = [this](const std::string& action) {
    auto& row = counters_[action];
    for (std::size_t i = 0; i < kStatuses.size(); ++i) {
      row[i] = &metrics_.intents.Add({{"action", action}, {"status", std::string(kStatuses[i])}});
    }
  };
  for (const auto& a : config_.catalog.actions()) add(a.name);
  add("unknown");
}

prometheus::Counter& IntentService::intents_counter(const std::string& action,
                                                    std::string_view status) {
  // Only catalog names become label values: producers cannot mint series.
  auto it = counters_.find(action);
  if (it == counters_.end()) it = counters_.find("unknown");
  const auto i = static_cast<std::size_t>(std::find(kStatuses.begin(), kStatuses.end(), status) -
                                          kStatuses.begin());
  return *it->second[i < kStatuses.size() ? i : 1];
}

// The stored accepted document says what the intent was; the report keeps it
// and changes only what the restart decided.
void IntentService::report_interrupted() {
  for (const auto& [id, accepted] : state_.unfinished_at_open()) {
    boost::system::error_code ec;
    json::value v = json::parse(accepted, ec);
    json::object doc = !ec && v.is_object() ? std::move(v.as_object()) : json::object{};
    doc["intent_id"] = id;
    doc["status"] = "interrupted";
    doc["error"] = json::object{{"code", "interrupted"},
                                {"message",
                                 "aiopsd stopped while this intent was running; it may be "
                                 "partly applied and is not re-run: check the device"}};
    doc["finished_at"] = rules::format_rfc3339(Clock::now());
    std::string text = json::serialize(doc);
    state_.record_finished(id, text);
    log::warn("intent", "intent {} was interrupted by a restart; reported, not re-run", id);
    const json::string* action = doc.contains("action") ? doc["action"].if_string() : nullptr;
    intents_counter(action ? std::string(*action) : std::string(), "interrupted").Increment();
    ++*in_flight_;
    publish(config_.kafka.topics.results, id, std::move(text), {}, [n = in_flight_] { --*n; });
  }
}

void IntentService::set_config(std::shared_ptr<const Config> config) {
  std::lock_guard lock(config_mu_);
  current_ = std::move(config);
}

std::shared_ptr<const Config> IntentService::current() const {
  std::lock_guard lock(config_mu_);
  return current_;
}

void IntentService::handle(const kafka::Message& m, std::function<void()> done) {
  auto job = std::make_shared<Job>();
  job->config = current();
  job->topic = std::string(m.topic);
  job->partition = m.partition;
  job->offset = m.offset;
  job->received_at = Clock::now();
  job->received_steady = std::chrono::steady_clock::now();
  job->raw_value = m.value;
  job->dones.push_back(std::move(done));
  ++*in_flight_;

  if (m.value.size() > config_.kafka.max_message_bytes) {
    return reject(job, "too_large", "",
                  fmt::format("message is {} bytes, limit is {}", m.value.size(),
                              config_.kafka.max_message_bytes),
                  true);
  }
  auto decoded = decoder_.decode(m.value);
  if (!decoded.intent) {
    job->raw_id = decoded.intent_id;
    const auto& e = *decoded.error;
    return reject(job, e.code, e.field, e.message, true);
  }
  job->intent = std::move(*decoded.intent);
  const std::string& id = job->intent.intent_id;

  const auto stored = state_.find(id);
  if (stored && stored->finished) {
    log::info("intent", "intent {} already finished: republishing its result", id);
    return publish(config_.kafka.topics.results, id, stored->result, {},
                   [this, job] { complete(job); });
  }
  if (auto held = approvals_.find_intent(id)) {
    // Held for approval earlier: answered again while pending; once decided,
    // its final result comes from the decision (or the store, above).
    if (held->status == Approval::Status::kPending) return publish_pending(job, *held);
    log::info("intent", "intent {} was already decided ({}); not run again", id,
              to_string(held->status));
    return complete(job);
  }
  if (auto age = too_old(m)) {
    return finish(job, Outcome{"expired",
                               "too_old",
                               "",
                               fmt::format("the intent was produced {}s ago; intents older than "
                                           "kafka.max_intent_age ({}s) are not run",
                                           age->count(), config_.kafka.max_intent_age.count()),
                               {}});
  }
  {
    std::lock_guard lock(mu_);
    if (auto it = running_.find(id); it != running_.end()) {
      // A redelivery of an intent still running here: answered with it.
      std::lock_guard jl(it->second->mu);
      if (!it->second->completed) {
        for (auto& d : job->dones) it->second->dones.push_back(std::move(d));
        --*in_flight_;
        return;
      }
    }
  }
  if (auto now = state_.find(id)) {
    if (now->finished) {  // it finished while this delivery was being checked
      return publish(config_.kafka.topics.results, id, now->result, {},
                     [this, job] { complete(job); });
    }
    // Started, and not running here: its final record could not be written
    // (or a process died mid-way and the restart report failed). It may have
    // reached the device; at most once means it is not run again.
    return finish(job, Outcome{"interrupted",
                               "interrupted",
                               "",
                               "this intent was started before and its result was never "
                               "recorded; it may be partly applied and is not re-run: check "
                               "the device",
                               {}});
  }
  execute(job);
}

// The record's age by its Kafka timestamp, when over kafka.max_intent_age.
std::optional<std::chrono::seconds> IntentService::too_old(const kafka::Message& m) const {
  if (config_.kafka.max_intent_age.count() == 0 || m.timestamp_ms < 0) return std::nullopt;
  const auto produced = Clock::time_point(std::chrono::milliseconds(m.timestamp_ms));
  const auto age = std::chrono::duration_cast<std::chrono::seconds>(Clock::now() - produced);
  if (age <= config_.kafka.max_intent_age) return std::nullopt;
  return age;
}

void IntentService::execute(const std::shared_ptr<Job>& job) {
  const rules::Intent& in = job->intent;
  const rules::CatalogAction* action = job->config->catalog.find(in.action);
  if (!action) {
    return reject(
        job, "unknown_action", "action",
        fmt::format("action: {} is not in the action catalog", rules::quote_value(in.action)),
        true);
  }
  job->device = job->config->find_device(in.device);
  if (!job->device || job->device->ssh.name != in.device) {
    return reject(
        job, "unknown_device", "target.device",
        fmt::format("target.device: {} is not in the inventory", rules::quote_value(in.device)),
        true);
  }
  auto resolved = job->config->catalog.resolve(*action, in.params, [&job](std::string_view n) {
    return job->config->find_device(n) != nullptr;
  });
  if (auto* err = std::get_if<rules::ActionError>(&resolved)) {
    return reject(job, err->code, err->field, err->message, true);
  }
  job->commands = std::move(std::get<rules::ResolvedAction>(resolved).commands);
  if (auto why = policy_violation(guards_of(*action, *job->config).policy, job->commands))
    return reject(job, "policy_violation", "action", std::move(*why), false);
  if (in.deadline && Clock::now() > *in.deadline) return finish(job, expired(*job));
  job->dry_run = in.dry_run || job->config->engine.dry_run;
  // A dry run sends nothing, so it needs no approval.
  if (action->approval == rules::Approval::kRequired && !job->dry_run) return hold(job);
  launch(job, *action);
}

void IntentService::hold(const std::shared_ptr<Job>& job) {
  const rules::Intent& in = job->intent;
  Approval a;
  a.origin = Approval::Origin::kIntent;
  a.action = in.action;
  a.device = job->device->ssh.name;
  a.commands = job->commands;
  a.requested_by = in.requested_by;
  a.reason = "approval_required";
  a.reason_message = fmt::format("action '{}' requires approval", in.action);
  a.intent_id = in.intent_id;
  a.correlation_id = in.correlation_id;
  a.environment = in.environment;
  a.deadline = in.deadline;
  std::string refused;
  auto held = approvals_.hold(std::move(a), &refused);
  if (!held) {
    return finish(job, Outcome{"failed",
                               refused,
                               "",
                               refused == "approvals_full"
                                   ? fmt::format("{} approvals are already pending; nothing was "
                                                 "sent (safety.max_pending_approvals)",
                                                 approvals_.pending())
                                   : "could not store the approval; nothing was sent",
                               {}});
  }
  safety_metrics_.held("approval_required", approvals_.pending());
  escalations_.approval(*held);
  log::info("intent", "intent {} action={} device={} held for approval {}", in.intent_id, in.action,
            held->device, held->id);
  AuditRecord rec =
      audit_record(*job, Outcome{"held", "approval_required", "", held->reason_message, {}});
  rec.approval_id = held->id;
  for (const auto& c : held->commands) rec.commands.push_back({c, -1, {}, false});
  audit_.write_async(rec, [](bool ok) {
    if (!ok) log::error("audit", "audit write failed for a held intent");
  });
  publish_pending(job, *held);
}

// Not final: the offset may move past it (the approval is durable), and the
// final result follows the decision.
void IntentService::publish_pending(const std::shared_ptr<Job>& job, const Approval& a) {
  std::string doc = result_document(*job, Outcome{"pending_approval", "", "", "", {}}, &a);
  publish(config_.kafka.topics.results, job->id(), std::move(doc), {},
          [this, job] { complete(job); });
}

void IntentService::decided(const Approval& a) {
  auto job = std::make_shared<Job>();
  job->config = current();
  job->intent.intent_id = a.intent_id;
  job->intent.action = a.action;
  job->intent.device = a.device;
  job->intent.requested_by = a.requested_by;
  job->intent.correlation_id = a.correlation_id;
  job->intent.environment = a.environment;
  job->received_at = a.created_at;
  job->received_steady = std::chrono::steady_clock::now();
  job->commands = a.commands;
  job->device = job->config->find_device(a.device);
  ++*in_flight_;
  if (a.status != Approval::Status::kApproved) {
    const bool denied = a.status == Approval::Status::kDenied;
    return finish(job, Outcome{denied ? "rejected" : "expired",
                               denied ? "approval_denied" : "approval_expired",
                               "action",
                               denied ? fmt::format("denied by {}: {}", a.decided_by, a.comment)
                                      : "no decision before the approval expired",
                               {}});
  }
  const rules::CatalogAction* action = job->config->catalog.find(a.action);
  if (!action || !job->device) {
    return finish(job, Outcome{"failed",
                               !action ? "unknown_action" : "unknown_device",
                               "",
                               "the approved action or device is no longer configured",
                               {}});
  }
  if (auto why = policy_violation(guards_of(*action, *job->config).policy, job->commands))
    return finish(job, Outcome{"rejected", "policy_violation", "action", std::move(*why), {}});
  // An approval does not lift the intent's other conditions: its deadline
  // still holds, and so does the dry-run switch as it is now.
  job->intent.deadline = a.deadline;
  if (a.deadline && Clock::now() > *a.deadline) return finish(job, expired(*job));
  job->dry_run = job->config->engine.dry_run;
  launch(job, *action);
}

void IntentService::launch(const std::shared_ptr<Job>& job,
                           const rules::CatalogAction& action_ref) {
  const rules::CatalogAction* action = &action_ref;
  const rules::Intent& in = job->intent;
  if (job->dry_run) {
    // Nothing reaches a device: no start record is needed to stay at most once.
    Outcome o{"succeeded", "", "", "", {}};
    for (const auto& c : job->commands) o.commands.push_back({c, -1, {}, false});
    return finish(job, o);
  }
  {
    std::lock_guard lock(mu_);
    running_[in.intent_id] = job;
  }
  publish(config_.kafka.topics.results, in.intent_id,
          result_document(*job, Outcome{"accepted", "", "", "", {}}), {}, [] {});
  // Recorded as started when the session is about to open, not while queued
  // behind the device's earlier intents: a crash then reports `interrupted`
  // only for what may really have reached the device.
  auto starting = [this, job] {
    // Queued behind the device's earlier intents, the deadline may pass.
    if (job->intent.deadline && Clock::now() > *job->intent.deadline) {
      job->expired_in_queue = true;
      return false;
    }
    job->started_at = Clock::now();
    job->start_attempted = true;
    job->start_recorded = state_.record_started(
        job->intent.intent_id, result_document(*job, Outcome{"accepted", "", "", "", {}}));
    return job->start_recorded;
  };
  const ActionGuards guards = guards_of(*action, *job->config);
  executor_.submit(
      job->device->ssh, job->commands, guards.limits,
      [this, job, redact = guards.redact](const ssh::ExecResult& r) {
        if (job->expired_in_queue) {
          return finish(job, expired(*job));
        }
        if (!job->start_recorded && !job->start_attempted) {
          // Never left the queue (queue_full, or cancelled at shutdown): nothing was sent.
          return finish(
              job,
              Outcome{"failed", std::string(ssh::to_string(r.error)), "", r.error_message, {}});
        }
        if (!job->start_recorded) {
          return finish(job, Outcome{"failed",
                                     "state_store_error",
                                     "",
                                     "could not record the start durably; nothing "
                                     "was sent",
                                     {}});
        }
        Outcome o{"succeeded", "", "", "", {}};
        collect_outputs(r, job->config->output_filter, redact, o.commands);
        if (auto failure = failure_of(r)) {
          o.status = "failed";
          o.error_code = std::move(failure->code);
          o.error_message = std::move(failure->message);
        }
        finish(job, o);
      },
      std::move(starting));
}

void IntentService::reject(const std::shared_ptr<Job>& job, std::string code, std::string field,
                           std::string message, bool dead_letter) {
  log::warn("intent", "intent {} rejected at {}/{}@{}: {}: {}",
            job->id().empty() ? "(no id)" : job->id(), job->topic, job->partition, job->offset,
            code, message);
  Outcome o{"rejected", std::move(code), std::move(field), std::move(message), {}};
  if (!dead_letter) return finish(job, o);
  metrics_.dead_letters.Add({{"reason", o.error_code}}).Increment();
  // Called from handle(): raw_value still views the consumer's message; keep a (bounded) copy.
  DeadLetter dead = make_dead_letter(job->raw_value, o.error_code, o.error_message, job->topic,
                                     job->partition, job->offset);
  std::string doc = result_document(*job, o);
  count_and_audit(*job, o, [this, job, dead = std::move(dead), doc = std::move(doc)]() mutable {
    // The result and the dead letter must both be acknowledged before the offset moves.
    auto pending = std::make_shared<std::atomic<int>>(2);
    auto one_acked = [this, job, pending] {
      if (--*pending == 0) complete(job);
    };
    publish(config_.kafka.topics.results, job->id(), std::move(doc), {}, one_acked);
    publish(config_.kafka.topics.dead_letter, job->id(), std::move(dead.value),
            std::move(dead.headers), one_acked);
  });
}

AuditRecord IntentService::audit_record(const Job& job, const Outcome& o) const {
  AuditRecord rec;
  rec.time = job.received_at;
  rec.action = fmt::format("intent:{}", job.intent.action);
  rec.device = job.device ? job.device->ssh.name : job.intent.device;
  if (job.device) rec.host = fmt::format("{}:{}", job.device->ssh.host, job.device->ssh.port);
  rec.commands = o.commands;
  rec.outcome = job.dry_run && o.status == "succeeded" ? "dry_run" : o.status;
  rec.error_code = o.error_code;
  rec.error_message = o.error_message;
  rec.duration = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - job.received_steady);
  rec.dry_run = job.dry_run;
  rec.intent_id = job.intent.intent_id;
  rec.requested_by = job.intent.requested_by;
  rec.correlation_id = job.intent.correlation_id;
  return rec;
}

void IntentService::count_and_audit(const Job& job, const Outcome& o, std::function<void()> then) {
  intents_counter(job.intent.action, o.status).Increment();
  metrics_.intent_duration.Observe(
      std::chrono::duration<double>(std::chrono::steady_clock::now() - job.received_steady)
          .count());
  if (job.dry_run) {
    log::debug("intent", "intent {} action={} device={} status={} (dry run)", job.id(),
               job.intent.action, job.intent.device, o.status);
  } else {
    log::info("intent", "intent {} action={} device={} status={}{}{}", job.id(), job.intent.action,
              job.intent.device, o.status, o.error_code.empty() ? "" : " error=", o.error_code);
  }
  if (job.intent.intent_id.empty()) return then();  // undecodable: nothing to attribute
  AuditRecord rec = audit_record(job, o);
  // The result goes out once the audit record is on disk.
  audit_.write_async(rec, [id = rec.intent_id, then = std::move(then)](bool ok) {
    if (!ok) log::error("audit", "audit write failed for intent {}", id);
    then();
  });
}

void IntentService::finish(const std::shared_ptr<Job>& job, const Outcome& o) {
  std::string doc = result_document(*job, o);
  // Stored so a redelivery republishes it. Rejections are not: re-checking
  // gives the same answer, and undecodable ids should not fill the store.
  // A denial is stored: it was a human's decision, not a check to repeat.
  if (!job->dry_run && (o.status != "rejected" || o.error_code == "approval_denied"))
    state_.record_finished(job->intent.intent_id, doc);
  count_and_audit(*job, o, [this, job, doc = std::move(doc)]() mutable {
    publish(config_.kafka.topics.results, job->id(), std::move(doc), {},
            [this, job] { complete(job); });
  });
}

// Produces until the broker acknowledges: a result is never dropped.
void IntentService::publish(const std::string& topic, std::string key, std::string value,
                            std::vector<kafka::Header> headers, std::function<void()> acked) {
  publish_until_acked(producer_, notify_metrics_, topic, std::move(key), std::move(value),
                      std::move(headers), std::move(acked));
}

void IntentService::complete(const std::shared_ptr<Job>& job) {
  std::vector<std::function<void()>> dones;
  {
    std::lock_guard lock(mu_);
    if (auto it = running_.find(job->intent.intent_id); it != running_.end() && it->second == job)
      running_.erase(it);
    std::lock_guard jl(job->mu);
    job->completed = true;
    dones.swap(job->dones);
  }
  for (auto& d : dones) d();
  --*in_flight_;
}

namespace {

std::string result_document(const IntentService::Job& job, const IntentService::Outcome& o,
                            const Approval* held) {
  std::string out;
  out.reserve(512);
  detail::JsonWriter w(out);
  auto optional = [&w](std::string_view k, const std::string& v) {
    if (!v.empty()) w.field(k, v);
  };
  auto time = [&w](std::string_view k, Clock::time_point t) {
    std::string text;
    rules::append_rfc3339(text, t);
    w.field(k, text);
  };
  const rules::Intent& in = job.intent;
  w.begin_object().field("intent_id", job.id()).field("status", o.status);
  optional("action", in.action);
  optional("device", in.device);
  optional("correlation_id", in.correlation_id);
  optional("requested_by", in.requested_by);
  optional("environment", in.environment);
  w.field("dry_run", job.dry_run);
  if (!o.error_code.empty()) {
    w.key("error").begin_object().field("code", o.error_code).field("message", o.error_message);
    optional("field", o.error_field);
    w.end_object();
  }
  if (!o.commands.empty()) {
    w.key("commands").begin_array();
    for (const auto& c : o.commands) {
      w.begin_object()
          .field("command", c.command)
          .field("output", c.output)
          .field("truncated", c.truncated);
      if (c.exit_status >= 0) w.field("exit_status", c.exit_status);
      w.end_object();
    }
    w.end_array();
  }
  const auto now = Clock::now();
  time("received_at", job.received_at);
  if (job.started_at != Clock::time_point{}) time("started_at", job.started_at);
  if (held) {
    w.key("approval").begin_object().field("id", held->id);
    time("expires_at", held->expires_at);
    w.field("reason", held->reason_message).end_object();
  }
  if (o.status != "accepted" && o.status != "pending_approval") {
    time("finished_at", now);
    w.field("duration_ms",
            std::chrono::duration_cast<std::chrono::milliseconds>(now - job.received_at).count());
  }
  if (!job.topic.empty()) {  // empty for an intent released by an approval
    w.key("source")
        .begin_object()
        .field("topic", job.topic)
        .field("partition", job.partition)
        .field("offset", job.offset)
        .end_object();
  }
  w.end_object();
  return out;
}

}  // namespace

}  // namespace aiopsd::daemon
