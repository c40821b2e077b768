#pragma once
// Actions held for a human decision: those whose catalog action says
// `approval: required`, and automatic remediations held by the safety gate
// (breaker open, automation paused, maintenance window). Each is persisted in
// the StateStore with the rendered commands, target, requester, reason and an
// expiry, and is approved, denied or expires exactly once. The decision goes
// to the callback given at construction, which runs (or answers) it.
//
// Four eyes (option): whoever requested an action cannot approve it.
//
// Thread-safe: HTTP, Kafka and the expiry sweeper call in from their threads;
// the callback runs on the caller's thread, outside the lock.

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "daemon/state/state_store.hpp"

namespace aiopsd::daemon {

struct Approval {
  using TimePoint = std::chrono::system_clock::time_point;
  enum class Origin { kRule, kIntent };
  enum class Status { kPending, kApproved, kDenied, kExpired };

  std::string id;
  Origin origin = Origin::kRule;
  std::string rule;  // rule name (kRule)
  std::size_t action_index = 0;
  std::string group_key;
  std::string action;  // "ssh", "run:NAME" or the intent's catalog action
  std::string device;
  std::vector<std::string> commands;
  std::string requested_by;  // "rule:NAME" or the intent's requested_by
  std::string reason;        // approval_required | breaker_open | automation_paused | maintenance
  std::string reason_message;
  std::string intent_id;       // kIntent
  std::string correlation_id;  // kIntent
  std::string environment;     // kIntent
  // kIntent: the intent's deadline; an approval that comes after it does
  // not run the intent (status expired).
  std::optional<TimePoint> deadline;
  bool dry_run = false;
  TimePoint created_at{};
  TimePoint expires_at{};
  Status status = Status::kPending;
  std::string decided_by;
  std::string comment;
  TimePoint decided_at{};
};

std::string_view to_string(Approval::Status s);
std::string_view to_string(Approval::Origin o);
std::string to_json(const Approval& a);
std::optional<Approval> approval_from_json(std::string_view json);

class ApprovalBook {
 public:
  using Clock = std::chrono::system_clock;
  // Runs once per approval, when it is approved, denied or expires.
  using OnDecided = std::function<void(const Approval&)>;

  struct Options {
    std::chrono::seconds timeout = std::chrono::minutes(15);
    bool four_eyes = true;
    std::size_t max_pending = 1000;
  };

  ApprovalBook(StateStore* store, Options options, OnDecided on_decided);

  // Persists a new pending approval (id, created_at and expires_at are set
  // here) and returns it; nullopt when it could not be kept, with `why` set
  // to approvals_full (max_pending are waiting) or state_store_error.
  std::optional<Approval> hold(Approval a, std::string* why = nullptr);

  enum class Refusal { kNotFound, kNotPending, kSelfApproval, kNoRequester, kNotStored };
  // Who decides. `subject` is what authentication verified (a token's name),
  // or, only where safety.unauthenticated_approvals allows it, the name the
  // request claimed (`verified` false, and the record says so).
  struct Approver {
    std::string subject;
    bool verified = false;
  };
  struct Decision {
    std::optional<Approval> approval;  // set when decided
    std::optional<Refusal> refusal;
  };
  // Four-eyes (approve only; denying is always safe): refused when the
  // request has no requester to compare (kNoRequester) or the approver is the
  // requester (kSelfApproval, compared ignoring ASCII case and surrounding
  // blanks, so "Alice" does not approve a request by "alice").
  Decision decide(std::string_view id, bool approve, const Approver& approver,
                  std::string_view comment);

  // Expires every pending approval past its expiry; returns how many.
  std::size_t expire(Clock::time_point now);

  std::vector<Approval> list(std::optional<Approval::Status> status = std::nullopt) const;
  std::optional<Approval> find(std::string_view id) const;
  std::optional<Approval> find_intent(std::string_view intent_id) const;
  std::size_t pending() const;

 private:
  bool persist(const Approval& a);

  StateStore* store_;  // null: in memory only (tests)
  Options options_;
  OnDecided on_decided_;
  std::mutex hold_mu_;  // serializes hold(): the bound is checked and taken together
  mutable std::mutex mu_;
  std::map<std::string, Approval, std::less<>> approvals_;
  std::map<std::string, std::string, std::less<>> by_intent_;  // intent_id -> approval id
  // by_intent_.size(), read without the lock: most intents need no approval,
  // and the intent path asks for every one.
  std::atomic<std::size_t> intents_held_{0};
};

std::string_view to_string(ApprovalBook::Refusal r);

}  // namespace aiopsd::daemon
