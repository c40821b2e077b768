// SafetyGate (kill switch, maintenance, breakers) and ApprovalBook (hold,
// decide, four eyes, expiry, persistence) on their own.

#include <gtest/gtest.h>

#include "daemon/safety/approvals.hpp"
#include "daemon/safety/safety_gate.hpp"
#include "tests/daemon/test_support.hpp"

namespace aiopsd::daemon {
namespace {

using namespace std::chrono_literals;
using aiopsd::testing::TempDir;
using TP = std::chrono::system_clock::time_point;

DeviceConfig device(const std::string& name, std::map<std::string, std::string> labels = {}) {
  DeviceConfig d;
  d.ssh.name = name;
  d.labels = std::move(labels);
  return d;
}

TEST(SafetyGate, BreakerAdmitsExactlyMaxActionsThenHoldsUntilTheWindowPasses) {
  SafetyConfig cfg;
  cfg.limits.push_back({"global", "", 3, 0, 60s, false, {}});
  prometheus::Registry metrics_registry;
  SafetyMetrics metrics{metrics_registry};
  SafetyGate gate(cfg, metrics);
  const TP t0 = std::chrono::system_clock::now();
  int admitted = 0;
  int tripped = 0;
  for (int i = 0; i < 10; ++i) {
    auto hold = gate.admit("r", device("d" + std::to_string(i)), t0 + std::chrono::seconds(i));
    if (!hold) ++admitted;
    if (hold && hold->tripped_now) ++tripped;
    if (hold) {
      EXPECT_EQ(hold->code, "breaker_open");
    }
  }
  EXPECT_EQ(admitted, 3);
  EXPECT_EQ(tripped, 1);
  EXPECT_TRUE(gate.breakers(t0 + 10s)[0].open);
  // Auto reset: a window after the trip (at t0+3s) it closes, and counts afresh.
  EXPECT_TRUE(gate.admit("r", device("x"), t0 + 62s));
  EXPECT_FALSE(gate.admit("r", device("x"), t0 + 64s));
  EXPECT_FALSE(gate.breakers(t0 + 64s)[0].open);
}

TEST(SafetyGate, DistinctDeviceLimitLetsKnownDevicesThrough) {
  SafetyConfig cfg;
  cfg.limits.push_back({"global", "", 0, 2, 60s, true, {}});
  prometheus::Registry metrics_registry;
  SafetyMetrics metrics{metrics_registry};
  SafetyGate gate(cfg, metrics);
  const TP t = std::chrono::system_clock::now();
  EXPECT_FALSE(gate.admit("r", device("a"), t));
  EXPECT_FALSE(gate.admit("r", device("b"), t));
  EXPECT_FALSE(gate.admit("r", device("a"), t));  // not a new device
  auto hold = gate.admit("r", device("c"), t);
  ASSERT_TRUE(hold);
  EXPECT_NE(hold->message.find("2 distinct devices"), std::string::npos) << hold->message;
  // Manual reset: the window passing does not close it; the API does.
  EXPECT_TRUE(gate.admit("r", device("a"), t + 10min));
  EXPECT_EQ(gate.reset("rule:nope"), SafetyGate::ResetResult::kUnknownScope);
  EXPECT_EQ(gate.reset("global"), SafetyGate::ResetResult::kReset);
  EXPECT_FALSE(gate.admit("r", device("c"), t + 10min));
}

TEST(SafetyGate, PerRuleBreakerOnlyCountsItsRule) {
  SafetyConfig cfg;
  cfg.limits.push_back({"rule:bounce", "bounce", 1, 0, 60s, false, {}});
  prometheus::Registry metrics_registry;
  SafetyMetrics metrics{metrics_registry};
  SafetyGate gate(cfg, metrics);
  const TP t = std::chrono::system_clock::now();
  EXPECT_FALSE(gate.admit("bounce", device("a"), t));
  EXPECT_TRUE(gate.admit("bounce", device("b"), t));
  EXPECT_FALSE(gate.admit("other", device("b"), t));
}

TEST(SafetyGate, PauseAndMaintenanceHoldWithoutCountingAgainstBreakers) {
  SafetyConfig cfg;
  const TP t = std::chrono::system_clock::now();
  cfg.maintenance.push_back({"lab-upgrade", {{"site", "lab"}}, t - 1h, t + 1h});
  cfg.limits.push_back({"global", "", 1, 0, 60s, false, {}});
  prometheus::Registry metrics_registry;
  SafetyMetrics metrics{metrics_registry};
  SafetyGate gate(cfg, metrics);
  auto m = gate.admit("r", device("lab1", {{"site", "lab"}}), t);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->code, "maintenance");
  EXPECT_EQ(m->scope, "lab-upgrade");
  EXPECT_FALSE(gate.admit("r", device("lab1", {{"site", "lab"}}), t + 2h));  // window over
  gate.set_paused(true);
  auto p = gate.admit("r", device("prod1", {{"site", "par"}}), t);
  ASSERT_TRUE(p);
  EXPECT_EQ(p->code, "automation_paused");
  gate.set_paused(false);
  // The breaker saw one run (lab1 after the window), so the next trips it.
  EXPECT_TRUE(gate.admit("r", device("prod1"), t + 2h));
}

// The kill switch and the breakers survive the process: a crash and restart
// must not resume paused automation or give a breaker a fresh budget.
TEST(SafetyGate, KillSwitchAndBreakersSurviveReopen) {
  TempDir dir;
  SafetyConfig cfg;
  cfg.limits.push_back({"global", "", 2, 0, 1h, true, {}});
  cfg.limits.push_back({"rule:bounce", "bounce", 5, 0, 1h, false, {}});
  const TP t = std::chrono::system_clock::now();
  {
    StateStore store({.path = dir.file("state")});
    prometheus::Registry metrics_registry;
    SafetyMetrics metrics{metrics_registry};
    SafetyGate gate(cfg, metrics, &store);
    EXPECT_FALSE(gate.admit("bounce", device("a"), t));
    EXPECT_TRUE(gate.set_paused(true));
  }
  {
    StateStore store({.path = dir.file("state")});
    prometheus::Registry metrics_registry;
    SafetyMetrics metrics{metrics_registry};
    SafetyGate gate(cfg, metrics, &store);
    EXPECT_TRUE(gate.paused());
    auto p = gate.admit("bounce", device("b"), t + 1s);
    ASSERT_TRUE(p);
    EXPECT_EQ(p->code, "automation_paused");
    EXPECT_TRUE(gate.set_paused(false));
    // The run before the restart still counts: one more trips the global breaker.
    EXPECT_FALSE(gate.admit("bounce", device("b"), t + 2s));
    auto h = gate.admit("bounce", device("c"), t + 3s);
    ASSERT_TRUE(h);
    EXPECT_TRUE(h->tripped_now);
    EXPECT_EQ(gate.breakers(t + 3s)[1].actions, 2u);  // rule:bounce counted a and b
  }
  StateStore store({.path = dir.file("state")});
  prometheus::Registry metrics_registry;
  SafetyMetrics metrics{metrics_registry};
  SafetyGate gate(cfg, metrics, &store);
  EXPECT_FALSE(gate.paused());  // resumed before the restart
  const auto b = gate.breakers(t + 4s);
  ASSERT_EQ(b.size(), 2u);
  EXPECT_TRUE(b[0].open);  // manual reset: stays open across restarts until reset
  EXPECT_EQ(b[0].actions, 2u);
  auto h = gate.admit("bounce", device("a"), t + 5s);
  ASSERT_TRUE(h);
  EXPECT_EQ(h->code, "breaker_open");
  EXPECT_EQ(gate.reset("global"), SafetyGate::ResetResult::kReset);
  EXPECT_FALSE(gate.admit("bounce", device("a"), t + 6s));
}

// A stored pause wins over the config's `paused: false`; the config's
// `paused: true` wins over a stored resume (both toward holding).
TEST(SafetyGate, StoredPauseWinsOverConfig) {
  TempDir dir;
  SafetyConfig cfg;
  {
    StateStore store({.path = dir.file("state")});
    prometheus::Registry metrics_registry;
    SafetyMetrics metrics{metrics_registry};
    SafetyGate gate(cfg, metrics, &store);
    EXPECT_TRUE(gate.set_paused(true));
  }
  StateStore store({.path = dir.file("state")});
  prometheus::Registry metrics_registry;
  SafetyMetrics metrics{metrics_registry};
  SafetyGate gate(cfg, metrics, &store);
  EXPECT_TRUE(gate.paused());
  SafetyConfig paused_cfg;
  paused_cfg.paused = true;
  EXPECT_TRUE(gate.set_paused(false));
  prometheus::Registry metrics2_registry;
  SafetyMetrics metrics2{metrics2_registry};
  SafetyGate gate2(paused_cfg, metrics2, &store);
  EXPECT_TRUE(gate2.paused());
}

// Unreadable safety state is not guessed at: automation is held.
TEST(SafetyGate, CorruptSafetyStatePausesAutomation) {
  TempDir dir;
  SafetyConfig cfg;
  cfg.limits.push_back({"global", "", 2, 0, 1h, false, {}});
  StateStore store({.path = dir.file("state")});
  ASSERT_TRUE(store.put(StateStore::Keyspace::kSafety, "breaker/global", R"({"open":"yes"})"));
  prometheus::Registry metrics_registry;
  SafetyMetrics metrics{metrics_registry};
  SafetyGate gate(cfg, metrics, &store);
  EXPECT_TRUE(gate.paused());
}

Approval request(std::string requested_by = "rule:bounce") {
  Approval a;
  a.rule = "bounce";
  a.action = "ssh";
  a.device = "sw1";
  a.commands = {"interface 1/1/1 shutdown"};
  a.requested_by = std::move(requested_by);
  a.reason = "approval_required";
  return a;
}

TEST(ApprovalBook, DecidesOnceAndRefusesSelfApproval) {
  std::vector<Approval> decided;
  ApprovalBook book(nullptr, {15min, true}, [&](const Approval& a) { decided.push_back(a); });
  auto a = book.hold(request("alice"));
  ASSERT_TRUE(a);
  EXPECT_EQ(a->id.size(), 20u);
  EXPECT_EQ(book.pending(), 1u);
  EXPECT_EQ(book.decide(a->id, true, {"alice", true}, "").refusal,
            ApprovalBook::Refusal::kSelfApproval);
  EXPECT_EQ(book.decide("apr-nope", true, {"bob", true}, "").refusal,
            ApprovalBook::Refusal::kNotFound);
  auto d = book.decide(a->id, true, {"bob", true}, "go");
  ASSERT_FALSE(d.refusal);
  EXPECT_EQ(d.approval->status, Approval::Status::kApproved);
  EXPECT_EQ(book.decide(a->id, false, {"carol", true}, "").refusal,
            ApprovalBook::Refusal::kNotPending);
  ASSERT_EQ(decided.size(), 1u);
  EXPECT_EQ(decided[0].decided_by, "bob");
  EXPECT_EQ(book.pending(), 0u);
}

// Four-eyes compares people, not spellings, and fails closed: a name differing
// only in case or blanks is the requester, and a request naming no requester
// cannot be approved by anyone (it can still be denied).
TEST(ApprovalBook, FourEyesIgnoresCaseAndRefusesARequestWithoutRequester) {
  ApprovalBook book(nullptr, {15min, true}, nullptr);
  auto a = book.hold(request("alice"));
  ASSERT_TRUE(a);
  EXPECT_EQ(book.decide(a->id, true, {"Alice", true}, "").refusal,
            ApprovalBook::Refusal::kSelfApproval);
  EXPECT_EQ(book.decide(a->id, true, {" ALICE ", true}, "").refusal,
            ApprovalBook::Refusal::kSelfApproval);
  auto anonymous = book.hold(request(""));
  ASSERT_TRUE(anonymous);
  EXPECT_EQ(book.decide(anonymous->id, true, {"bob", true}, "").refusal,
            ApprovalBook::Refusal::kNoRequester);
  EXPECT_EQ(to_string(ApprovalBook::Refusal::kNoRequester), "no_requester");
  auto denied = book.decide(anonymous->id, false, {"bob", true}, "who asked?");
  ASSERT_FALSE(denied.refusal);
  EXPECT_EQ(denied.approval->status, Approval::Status::kDenied);
  // Without four-eyes the same decision goes through; an unverified name says so.
  ApprovalBook relaxed(nullptr, {15min, false}, nullptr);
  auto b = relaxed.hold(request(""));
  ASSERT_TRUE(b);
  auto d = relaxed.decide(b->id, true, {"bob", false}, "");
  ASSERT_FALSE(d.refusal);
  EXPECT_EQ(d.approval->decided_by, "bob (unverified)");
}

// A flood of held actions cannot grow the book without bound: past
// max_pending a hold is refused, with a reason, and nothing is kept.
TEST(ApprovalBook, HoldsAtMostMaxPendingAndSaysWhy) {
  ApprovalBook book(nullptr, {15min, true, 2}, nullptr);
  auto a = book.hold(request());
  auto b = book.hold(request());
  ASSERT_TRUE(a);
  ASSERT_TRUE(b);
  std::string why;
  EXPECT_FALSE(book.hold(request(), &why));
  EXPECT_EQ(why, "approvals_full");
  EXPECT_EQ(book.pending(), 2u);
  EXPECT_EQ(book.list().size(), 2u);
  // A decision frees a place.
  ASSERT_TRUE(book.decide(a->id, false, {"oncall", true}, "no").approval);
  why.clear();
  EXPECT_TRUE(book.hold(request(), &why)) << why;
  EXPECT_EQ(book.pending(), 2u);
}

TEST(ApprovalBook, ExpiresUndecidedOnesOnce) {
  std::vector<Approval> decided;
  ApprovalBook book(nullptr, {10min, true}, [&](const Approval& a) { decided.push_back(a); });
  auto a = book.hold(request());
  ASSERT_TRUE(a);
  EXPECT_EQ(book.expire(a->created_at + 9min), 0u);
  EXPECT_EQ(book.expire(a->created_at + 10min), 1u);
  EXPECT_EQ(book.expire(a->created_at + 11min), 0u);
  ASSERT_EQ(decided.size(), 1u);
  EXPECT_EQ(decided[0].status, Approval::Status::kExpired);
  EXPECT_EQ(book.decide(a->id, true, {"bob", true}, "").refusal,
            ApprovalBook::Refusal::kNotPending);
}

TEST(ApprovalBook, PendingApprovalsSurviveARestart) {
  TempDir dir;
  std::string id;
  {
    StateStore store({dir.file("state")});
    ApprovalBook book(&store, {}, nullptr);
    Approval r = request();
    r.origin = Approval::Origin::kIntent;
    r.intent_id = "chg-1";
    auto a = book.hold(r);
    ASSERT_TRUE(a);
    id = a->id;
  }
  StateStore store({dir.file("state")});
  std::vector<Approval> decided;
  ApprovalBook book(&store, {}, [&](const Approval& a) { decided.push_back(a); });
  auto a = book.find(id);
  ASSERT_TRUE(a);
  EXPECT_EQ(a->status, Approval::Status::kPending);
  EXPECT_EQ(a->commands, std::vector<std::string>{"interface 1/1/1 shutdown"});
  EXPECT_EQ(book.find_intent("chg-1")->id, id);
  ASSERT_FALSE(book.decide(id, false, {"bob", true}, "no").refusal);
  ASSERT_EQ(decided.size(), 1u);
  EXPECT_EQ(decided[0].comment, "no");
}

}  // namespace
}  // namespace aiopsd::daemon
