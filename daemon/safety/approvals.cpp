#include "daemon/safety/approvals.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <boost/json.hpp>
#include <cctype>
#include <random>

#include "connectors/common/rfc3339.hpp"
#include "daemon/log.hpp"
#include "rules/event.hpp"

namespace aiopsd::daemon {

namespace json = boost::json;

namespace {

constexpr std::array<std::string_view, 4> kStatusNames = {"pending", "approved", "denied",
                                                          "expired"};
// Decided approvals stay listed (and stored) this long, then go.
constexpr auto kKeepDecided = std::chrono::hours(24);

std::string new_id() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  return fmt::format("apr-{:016x}", rng());
}

std::string time_text(Approval::TimePoint t) {
  return t == Approval::TimePoint{} ? std::string() : rules::format_rfc3339(t);
}

Approval::TimePoint parse_time(const json::object& o, std::string_view key) {
  Approval::TimePoint t{};
  if (const auto* v = o.if_contains(key); v && v->is_string())
    wire::parse_rfc3339(std::string_view(v->get_string()), t);
  return t;
}

std::string text(const json::object& o, std::string_view key) {
  const auto* v = o.if_contains(key);
  return v && v->is_string() ? std::string(v->get_string()) : std::string();
}

}  // namespace

std::string_view to_string(Approval::Status s) { return kStatusNames[static_cast<int>(s)]; }
std::string_view to_string(Approval::Origin o) {
  return o == Approval::Origin::kRule ? "rule" : "intent";
}
std::string_view to_string(ApprovalBook::Refusal r) {
  switch (r) {
    case ApprovalBook::Refusal::kNotFound:
      return "not_found";
    case ApprovalBook::Refusal::kNotPending:
      return "not_pending";
    case ApprovalBook::Refusal::kSelfApproval:
      return "self_approval";
    case ApprovalBook::Refusal::kNoRequester:
      return "no_requester";
    case ApprovalBook::Refusal::kNotStored:
      return "state_store_error";
  }
  return "unknown";
}

std::string to_json(const Approval& a) {
  json::array cmds;
  for (const auto& c : a.commands) cmds.emplace_back(c);
  json::object o{{"id", a.id},
                 {"origin", to_string(a.origin)},
                 {"action", a.action},
                 {"device", a.device},
                 {"commands", std::move(cmds)},
                 {"requested_by", a.requested_by},
                 {"reason", a.reason},
                 {"reason_message", a.reason_message},
                 {"dry_run", a.dry_run},
                 {"status", to_string(a.status)},
                 {"created_at", time_text(a.created_at)},
                 {"expires_at", time_text(a.expires_at)}};
  if (a.origin == Approval::Origin::kRule) {
    o["rule"] = a.rule;
    o["action_index"] = a.action_index;
    o["group_key"] = a.group_key;
  } else {
    o["intent_id"] = a.intent_id;
    o["correlation_id"] = a.correlation_id;
    o["environment"] = a.environment;
    if (a.deadline) o["deadline"] = time_text(*a.deadline);
  }
  if (a.status != Approval::Status::kPending) {
    o["decided_by"] = a.decided_by;
    o["comment"] = a.comment;
    o["decided_at"] = time_text(a.decided_at);
  }
  return json::serialize(o);
}

std::optional<Approval> approval_from_json(std::string_view text_json) {
  boost::system::error_code ec;
  json::value v = json::parse(text_json, ec);
  if (ec || !v.is_object()) return std::nullopt;
  const json::object& o = v.get_object();
  Approval a;
  a.id = text(o, "id");
  if (a.id.empty()) return std::nullopt;
  a.origin = text(o, "origin") == "intent" ? Approval::Origin::kIntent : Approval::Origin::kRule;
  a.rule = text(o, "rule");
  if (const auto* i = o.if_contains("action_index"); i && i->is_number())
    a.action_index = static_cast<std::size_t>(i->to_number<std::uint64_t>());
  a.group_key = text(o, "group_key");
  a.action = text(o, "action");
  a.device = text(o, "device");
  if (const auto* c = o.if_contains("commands"); c && c->is_array()) {
    for (const auto& cmd : c->get_array())
      if (cmd.is_string()) a.commands.emplace_back(cmd.get_string());
  }
  a.requested_by = text(o, "requested_by");
  a.reason = text(o, "reason");
  a.reason_message = text(o, "reason_message");
  a.intent_id = text(o, "intent_id");
  a.correlation_id = text(o, "correlation_id");
  a.environment = text(o, "environment");
  if (o.contains("deadline")) a.deadline = parse_time(o, "deadline");
  if (const auto* d = o.if_contains("dry_run"); d && d->is_bool()) a.dry_run = d->get_bool();
  const std::string status = text(o, "status");
  for (std::size_t i = 0; i < kStatusNames.size(); ++i)
    if (status == kStatusNames[i]) a.status = static_cast<Approval::Status>(i);
  a.created_at = parse_time(o, "created_at");
  a.expires_at = parse_time(o, "expires_at");
  a.decided_by = text(o, "decided_by");
  a.comment = text(o, "comment");
  a.decided_at = parse_time(o, "decided_at");
  return a;
}

ApprovalBook::ApprovalBook(StateStore* store, Options options, OnDecided on_decided)
    : store_(store), options_(options), on_decided_(std::move(on_decided)) {
  if (!store_) return;
  for (const auto& [id, value] : store_->records(StateStore::Keyspace::kApprovals)) {
    auto a = approval_from_json(value);
    if (!a) {
      log::warn("approval", "unreadable stored approval {} skipped", id);
      continue;
    }
    if (!a->intent_id.empty()) by_intent_[a->intent_id] = a->id;
    approvals_.emplace(a->id, std::move(*a));
  }
  intents_held_ = by_intent_.size();
}

bool ApprovalBook::persist(const Approval& a) {
  return store_ == nullptr || store_->put(StateStore::Keyspace::kApprovals, a.id, to_json(a));
}

std::optional<Approval> ApprovalBook::hold(Approval a, std::string* why) {
  auto refuse = [&](const char* code) {
    if (why) *why = code;
    return std::nullopt;
  };
  a.id = new_id();
  a.status = Approval::Status::kPending;
  a.created_at = Clock::now();
  a.expires_at = a.created_at + options_.timeout;
  // Held across the store write, so concurrent holds cannot pass the bound together.
  std::lock_guard admit(hold_mu_);
  if (pending() >= options_.max_pending) return refuse("approvals_full");
  if (!persist(a)) return refuse("state_store_error");
  std::lock_guard lock(mu_);
  if (!a.intent_id.empty()) by_intent_[a.intent_id] = a.id;
  intents_held_ = by_intent_.size();
  approvals_.emplace(a.id, a);
  return a;
}

namespace {

std::string_view trimmed(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Fails closed: two names that differ only in case or blanks are one person.
bool same_subject(std::string_view a, std::string_view b) {
  a = trimmed(a);
  b = trimmed(b);
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

}  // namespace

ApprovalBook::Decision ApprovalBook::decide(std::string_view id, bool approve,
                                            const Approver& approver, std::string_view comment) {
  Approval decided;
  {
    std::lock_guard lock(mu_);
    auto it = approvals_.find(id);
    if (it == approvals_.end()) return {std::nullopt, Refusal::kNotFound};
    Approval& a = it->second;
    if (a.status != Approval::Status::kPending) return {a, Refusal::kNotPending};
    if (Clock::now() >= a.expires_at) return {a, Refusal::kNotPending};  // the sweeper is due
    if (approve && options_.four_eyes) {
      if (trimmed(a.requested_by).empty()) return {a, Refusal::kNoRequester};
      if (same_subject(a.requested_by, approver.subject)) return {a, Refusal::kSelfApproval};
    }
    Approval next = a;
    next.status = approve ? Approval::Status::kApproved : Approval::Status::kDenied;
    next.decided_by =
        approver.verified ? approver.subject : fmt::format("{} (unverified)", approver.subject);
    next.comment = std::string(comment);
    next.decided_at = Clock::now();
    // Durable before it runs: a crash after this never runs it twice.
    if (!persist(next)) return {a, Refusal::kNotStored};
    a = next;
    decided = next;
  }
  log::info("approval", "approval {} {} by {} ({} on {})", decided.id, to_string(decided.status),
            decided.decided_by, decided.action, decided.device);
  if (on_decided_) on_decided_(decided);
  return {decided, std::nullopt};
}

std::size_t ApprovalBook::expire(Clock::time_point now) {
  std::vector<Approval> expired;
  {
    std::lock_guard lock(mu_);
    for (auto it = approvals_.begin(); it != approvals_.end();) {
      Approval& a = it->second;
      if (a.status == Approval::Status::kPending && now >= a.expires_at) {
        Approval next = a;
        next.status = Approval::Status::kExpired;
        next.decided_by = "aiopsd";
        next.decided_at = now;
        if (persist(next)) {
          a = next;
          expired.push_back(next);
        }
      } else if (a.status != Approval::Status::kPending && now - a.decided_at > kKeepDecided) {
        if (store_) store_->erase(StateStore::Keyspace::kApprovals, a.id);
        if (!a.intent_id.empty()) by_intent_.erase(a.intent_id);
        intents_held_ = by_intent_.size();
        it = approvals_.erase(it);
        continue;
      }
      ++it;
    }
  }
  for (const auto& a : expired) {
    log::warn("approval", "approval {} expired undecided ({} on {}): not run", a.id, a.action,
              a.device);
    if (on_decided_) on_decided_(a);
  }
  return expired.size();
}

std::vector<Approval> ApprovalBook::list(std::optional<Approval::Status> status) const {
  std::lock_guard lock(mu_);
  std::vector<Approval> out;
  for (const auto& [id, a] : approvals_)
    if (!status || a.status == *status) out.push_back(a);
  std::sort(out.begin(), out.end(),
            [](const Approval& x, const Approval& y) { return x.created_at < y.created_at; });
  return out;
}

std::optional<Approval> ApprovalBook::find(std::string_view id) const {
  std::lock_guard lock(mu_);
  auto it = approvals_.find(id);
  if (it == approvals_.end()) return std::nullopt;
  return it->second;
}

std::optional<Approval> ApprovalBook::find_intent(std::string_view intent_id) const {
  if (intents_held_.load(std::memory_order_relaxed) == 0) return std::nullopt;
  std::lock_guard lock(mu_);
  auto it = by_intent_.find(intent_id);
  if (it == by_intent_.end()) return std::nullopt;
  auto a = approvals_.find(it->second);
  if (a == approvals_.end()) return std::nullopt;
  return a->second;
}

std::size_t ApprovalBook::pending() const {
  std::lock_guard lock(mu_);
  return static_cast<std::size_t>(std::count_if(approvals_.begin(), approvals_.end(), [](auto& kv) {
    return kv.second.status == Approval::Status::kPending;
  }));
}

}  // namespace aiopsd::daemon
