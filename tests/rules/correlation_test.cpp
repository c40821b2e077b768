// Scenario tests of the correlation constructs: all_of, sequence, absence,
// inhibition, dedup, limits, and state carried through the changelog.

#include <gtest/gtest.h>

#include <map>

#include "rules/engine.hpp"
#include "rules/shard_key.hpp"
#include "tests/rules/rules_test_util.hpp"

namespace aiopsd::rules {
namespace {

using namespace std::chrono_literals;
using Labels = std::map<std::string, std::string>;

class Scenario : public ::testing::Test {
 protected:
  void load(const std::string& yaml, EngineOptions limits = {}) {
    set_ = test::load(in_, yaml);
    engine_ = std::make_unique<Engine>(set_, in_, clock_, &observer_, limits);
  }
  // `started` is the alert's startsAt relative to now (negative: earlier).
  std::vector<Decision> send(const Labels& labels, EventStatus status = EventStatus::kFiring,
                             std::chrono::seconds started = 0s) {
    std::vector<Decision> out;
    Event e = test::make_event(in_, labels, status);
    e.starts_at = clock_.now() + started;
    engine_->process(e, out);
    return out;
  }
  std::vector<Decision> resolve(const Labels& labels) {
    return send(labels, EventStatus::kResolved);
  }
  std::vector<Decision> advance(std::chrono::seconds d) {
    clock_.advance(d);
    std::vector<Decision> out;
    engine_->tick(out);
    return out;
  }
  std::string label(const Member& m, const std::string& name) {
    auto sym = in_.find(name);
    return sym ? std::string(in_.view(m.label(*sym))) : "";
  }
  std::string render(const Decision& d, const std::string& text) {
    std::string err;
    auto t = Template::parse(text, err, in_);
    EXPECT_TRUE(t) << err;
    auto r = t->render(d.context(), in_, ParamPatterns());
    return r.ok() ? r.text : "error: " + r.error->message;
  }

  struct Observer : EngineObserver {
    int matched = 0, throttled = 0, inhibited = 0, evicted = 0;
    void on_match(std::uint32_t) override { ++matched; }
    void on_throttled(std::uint32_t) override { ++throttled; }
    void on_inhibited(std::uint32_t) override { ++inhibited; }
    void on_evicted(std::uint32_t) override { ++evicted; }
    int state_unavailable = 0;
    void on_state_unavailable(std::uint32_t) override { ++state_unavailable; }
  } observer_;
  Interner in_;
  RuleSet set_;
  ManualClock clock_;
  std::unique_ptr<Engine> engine_;
};

constexpr const char* kAllOf = R"(rules:
  - name: link-and-bgp
    all_of:
      - match: {alertname: LinkDown}
      - match: {alertname: BGPSessionDown}
    group_by: [device]
    window: 2m
    actions: [{log: {message: "{{ group.device }} {{ members[0].labels.interface }} {{ members[1].labels.peer }}"}}]
)";

TEST_F(Scenario, AllOfFiresOneIncidentWithEveryMemberInStepOrder) {
  load(kAllOf);
  EXPECT_TRUE(send({{"alertname", "LinkDown"}, {"device", "sw1"}, {"interface", "e1"}}).empty());
  advance(30s);
  EXPECT_TRUE(send({{"alertname", "BGPSessionDown"}, {"device", "sw2"}, {"peer", "p9"}}).empty());
  auto d = send({{"alertname", "BGPSessionDown"}, {"device", "sw1"}, {"peer", "p1"}});
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d[0].group_key, "device=sw1");
  ASSERT_EQ(d[0].members.size(), 2u);
  EXPECT_EQ(label(d[0].members[0], "alertname"), "LinkDown");
  EXPECT_EQ(label(d[0].members[1], "alertname"), "BGPSessionDown");
  EXPECT_EQ(d[0].fingerprints.size(), 2u);
  EXPECT_EQ(render(d[0],
                   "{{ group.device }} {{ members[0].labels.interface }} "
                   "{{ members[1].labels.peer }}"),
            "sw1 e1 p1");
  // Re-sends of the same two alerts are the same incident, not a new one.
  advance(60s);
  EXPECT_TRUE(
      send({{"alertname", "LinkDown"}, {"device", "sw1"}, {"interface", "e1"}}, {}, -90s).empty());
  EXPECT_TRUE(
      send({{"alertname", "BGPSessionDown"}, {"device", "sw1"}, {"peer", "p1"}}, {}, -60s).empty());
  // A new alert for a step makes a new incident.
  EXPECT_EQ(send({{"alertname", "LinkDown"}, {"device", "sw1"}, {"interface", "e2"}}).size(), 1u);
}

TEST_F(Scenario, AllOfIgnoresArrivalOrderAndHonoursTheWindowEdge) {
  load(kAllOf);
  // BGP arrives first; LinkDown arrives later but started exactly 2m before it.
  EXPECT_TRUE(send({{"alertname", "BGPSessionDown"}, {"device", "a"}}).empty());
  EXPECT_EQ(send({{"alertname", "LinkDown"}, {"device", "a"}}, {}, -120s).size(), 1u);
  // One second more apart: not correlated.
  EXPECT_TRUE(send({{"alertname", "BGPSessionDown"}, {"device", "b"}}).empty());
  EXPECT_TRUE(send({{"alertname", "LinkDown"}, {"device", "b"}}, {}, -121s).empty());
}

TEST_F(Scenario, AllOfMemberResolvedBeforeTheOtherArrivesMakesNoIncident) {
  load(kAllOf);
  EXPECT_TRUE(send({{"alertname", "LinkDown"}, {"device", "a"}}).empty());
  advance(20s);
  EXPECT_TRUE(resolve({{"alertname", "LinkDown"}, {"device", "a"}}).empty());
  advance(20s);
  EXPECT_TRUE(send({{"alertname", "BGPSessionDown"}, {"device", "a"}}).empty());
}

TEST_F(Scenario, AllOfOneAlertMatchingTwoStepsFillsOnlyOne) {
  load(R"(rules:
  - name: two-flaps
    all_of:
      - match: {alertname: Flap}
      - match: {alertname: Flap}
    group_by: [device]
    window: 5m
    actions: [{log: {message: m}}]
)");
  EXPECT_TRUE(send({{"alertname", "Flap"}, {"device", "a"}, {"if", "1"}}).empty());
  EXPECT_TRUE(send({{"alertname", "Flap"}, {"device", "a"}, {"if", "1"}}).empty());  // re-send
  auto d = send({{"alertname", "Flap"}, {"device", "a"}, {"if", "2"}});
  ASSERT_EQ(d.size(), 1u);
  EXPECT_NE(d[0].fingerprints[0], d[0].fingerprints[1]);
}

constexpr const char* kSequence = R"(rules:
  - name: flap-then-bgp-then-route
    sequence:
      - match: {alertname: LinkDown}
      - match: {alertname: BGPSessionDown}
      - match: {alertname: RouteWithdrawn}
    group_by: [device]
    window: 5m
    actions: [{log: {message: m}}]
)";

TEST_F(Scenario, SequenceFiresOnlyInStepOrderOfStartTimes) {
  load(kSequence);
  EXPECT_TRUE(send({{"alertname", "LinkDown"}, {"device", "a"}}).empty());
  advance(60s);
  EXPECT_TRUE(send({{"alertname", "BGPSessionDown"}, {"device", "a"}}).empty());
  advance(60s);
  auto d = send({{"alertname", "RouteWithdrawn"}, {"device", "a"}});
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(label(d[0].members[2], "alertname"), "RouteWithdrawn");

  // Out of order on device b: BGP started before LinkDown.
  EXPECT_TRUE(send({{"alertname", "BGPSessionDown"}, {"device", "b"}}, {}, -30s).empty());
  EXPECT_TRUE(send({{"alertname", "LinkDown"}, {"device", "b"}}).empty());
  EXPECT_TRUE(send({{"alertname", "RouteWithdrawn"}, {"device", "b"}}).empty());
}

TEST_F(Scenario, SequenceOrdersByStartTimeNotArrival) {
  load(kSequence);
  // Arrive C, B, A; started A, B, C.
  EXPECT_TRUE(send({{"alertname", "RouteWithdrawn"}, {"device", "a"}}, {}, -10s).empty());
  EXPECT_TRUE(send({{"alertname", "BGPSessionDown"}, {"device", "a"}}, {}, -20s).empty());
  EXPECT_EQ(send({{"alertname", "LinkDown"}, {"device", "a"}}, {}, -30s).size(), 1u);
}

TEST_F(Scenario, SequenceOutsideTheWindowDoesNotFire) {
  load(kSequence);
  EXPECT_TRUE(send({{"alertname", "LinkDown"}, {"device", "a"}}).empty());
  advance(3min);
  EXPECT_TRUE(send({{"alertname", "BGPSessionDown"}, {"device", "a"}}).empty());
  advance(2min + 1s);
  EXPECT_TRUE(send({{"alertname", "RouteWithdrawn"}, {"device", "a"}}).empty());
  // A fresh LinkDown restarts it.
  EXPECT_TRUE(send({{"alertname", "LinkDown"}, {"device", "a"}}).empty());
  advance(10s);
  EXPECT_TRUE(send({{"alertname", "BGPSessionDown"}, {"device", "a"}, {"n", "2"}}).empty());
  EXPECT_EQ(send({{"alertname", "RouteWithdrawn"}, {"device", "a"}, {"n", "2"}}).size(), 1u);
}

constexpr const char* kVerify = R"(rules:
  - name: disk-fix-must-resolve
    absence:
      after: {match: {alertname: DiskFull}}
      expect: resolved
    group_by: [instance]
    window: 10m
    actions: [{log: {message: "{{ members[0].labels.instance }}"}}]
)";

TEST_F(Scenario, AbsenceFiresOnItsTimerWithoutAnyNewEvent) {
  load(kVerify);
  EXPECT_TRUE(send({{"alertname", "DiskFull"}, {"instance", "db1"}}).empty());
  EXPECT_TRUE(advance(5min).empty());
  // Re-sends while firing do not push the deadline back.
  EXPECT_TRUE(send({{"alertname", "DiskFull"}, {"instance", "db1"}}, {}, -300s).empty());
  EXPECT_TRUE(advance(4min + 59s).empty());
  auto d = advance(1s);
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d[0].group_key, "instance=db1");
  EXPECT_EQ(render(d[0], "{{ members[0].labels.instance }} {{ labels.alertname }}"),
            "db1 DiskFull");
  EXPECT_TRUE(advance(30min).empty());  // once
}

TEST_F(Scenario, AbsenceAnsweredInTimeDoesNotFire) {
  load(kVerify);
  EXPECT_TRUE(send({{"alertname", "DiskFull"}, {"instance", "db1"}}).empty());
  advance(9min);
  EXPECT_TRUE(resolve({{"alertname", "DiskFull"}, {"instance", "db1"}}).empty());
  EXPECT_TRUE(advance(5min).empty());
  // Another group's resolution answers nothing of db1's.
  EXPECT_TRUE(send({{"alertname", "DiskFull"}, {"instance", "db1"}}).empty());
  EXPECT_TRUE(resolve({{"alertname", "DiskFull"}, {"instance", "db2"}}).empty());
  EXPECT_EQ(advance(10min).size(), 1u);
}

TEST_F(Scenario, DeadMansSwitchFiresWhenTheHeartbeatStops) {
  load(R"(rules:
  - name: watchdog-silent
    absence:
      after: {match: {alertname: Watchdog}}
      expect: {match: {alertname: Watchdog}}
    group_by: [prometheus]
    window: 5m
    actions: [{log: {message: m}}]
)");
  for (int i = 0; i < 10; ++i) {
    EXPECT_TRUE(send({{"alertname", "Watchdog"}, {"prometheus", "p1"}}, {}, -3600s).empty());
    EXPECT_TRUE(advance(1min).empty());
  }
  EXPECT_TRUE(advance(3min + 59s).empty());  // 4m59s since the last heartbeat
  auto d = advance(1s);
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d[0].group_key, "prometheus=p1");
  EXPECT_TRUE(advance(10min).empty());
  // It comes back: armed again.
  send({{"alertname", "Watchdog"}, {"prometheus", "p1"}});
  EXPECT_EQ(advance(5min).size(), 1u);
}

constexpr const char* kInhibit = R"(inhibit_rules:
  - name: unreachable-hides-the-rest
    source_match: {alertname: DeviceUnreachable}
    target_match: {severity: {"=~": "warning|critical"}}
    equal: [device]
rules:
  - name: act-on-everything
    match: {severity: {"=~": ".+"}}
    actions: [{log: {message: m}}]
)";

TEST_F(Scenario, InhibitionHoldsBackTargetsWithEqualLabelsWhileTheSourceFires) {
  load(kInhibit);
  // The source itself is critical too, and is not inhibited by itself.
  EXPECT_EQ(send({{"alertname", "DeviceUnreachable"}, {"device", "sw1"}, {"severity", "critical"}})
                .size(),
            1u);
  EXPECT_TRUE(
      send({{"alertname", "PortDown"}, {"device", "sw1"}, {"severity", "warning"}}).empty());
  EXPECT_EQ(observer_.inhibited, 1);
  EXPECT_EQ(send({{"alertname", "PortDown"}, {"device", "sw2"}, {"severity", "warning"}}).size(),
            1u);
  EXPECT_EQ(send({{"alertname", "PortDown"}, {"device", "sw1"}, {"severity", "info"}}).size(), 1u);
  EXPECT_EQ(engine_->inhibiting(), 1u);
  resolve({{"alertname", "DeviceUnreachable"}, {"device", "sw1"}, {"severity", "critical"}});
  EXPECT_EQ(engine_->inhibiting(), 0u);
  EXPECT_EQ(send({{"alertname", "PortDown"}, {"device", "sw1"}, {"severity", "warning"}}).size(),
            1u);
}

TEST_F(Scenario, InhibitionEndsWhenTheSourceStopsBeingSent) {
  load(kInhibit);
  send({{"alertname", "DeviceUnreachable"}, {"device", "sw1"}, {"severity", "critical"}});
  advance(4min);
  EXPECT_TRUE(
      send({{"alertname", "PortDown"}, {"device", "sw1"}, {"severity", "warning"}}).empty());
  advance(61s);  // past Alertmanager's resolve_timeout since the last send
  EXPECT_EQ(send({{"alertname", "PortDown"}, {"device", "sw1"}, {"severity", "warning"}}).size(),
            1u);
}

TEST_F(Scenario, CountDoesNotRefireOnReSendsOfAlertsAlreadyInAnIncident) {
  load(R"(rules:
  - name: flaps
    match: {alertname: Flap}
    count: 2
    window: 10m
    actions: [{log: {message: "{{ members[1].labels.n }}"}}]
)");
  EXPECT_TRUE(send({{"alertname", "Flap"}, {"n", "1"}}).empty());
  auto d = send({{"alertname", "Flap"}, {"n", "2"}});
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(render(d[0], "{{ members[1].labels.n }}"), "2");
  for (int i = 0; i < 3; ++i) {
    advance(1min);
    EXPECT_TRUE(send({{"alertname", "Flap"}, {"n", "1"}}).empty());
    EXPECT_TRUE(send({{"alertname", "Flap"}, {"n", "2"}}).empty());
  }
  EXPECT_TRUE(send({{"alertname", "Flap"}, {"n", "3"}}).empty());
  EXPECT_EQ(send({{"alertname", "Flap"}, {"n", "4"}}).size(), 1u);
}

TEST_F(Scenario, GroupsBeyondTheRuleLimitEvictTheOldestAndAreCounted) {
  load(R"(rules:
  - name: per-device
    match: {alertname: Flap}
    group_by: [device]
    count: 2
    window: 10m
    max_groups: 2
    actions: [{log: {message: m}}]
)");
  send({{"alertname", "Flap"}, {"device", "a"}});
  send({{"alertname", "Flap"}, {"device", "b"}});
  EXPECT_EQ(engine_->tracked(0), 2u);
  EXPECT_EQ(observer_.evicted, 0);
  send({{"alertname", "Flap"}, {"device", "c"}});
  EXPECT_EQ(engine_->tracked(0), 2u);
  EXPECT_EQ(observer_.evicted, 1);
  // a was evicted: its second alert starts over; b's completes.
  EXPECT_TRUE(send({{"alertname", "Flap"}, {"device", "a"}, {"n", "2"}}).empty());
  EXPECT_EQ(observer_.evicted, 2);  // b made room for a
  EXPECT_EQ(send({{"alertname", "Flap"}, {"device", "c"}, {"n", "2"}}).size(), 1u);
}

// A flood of new groups must not evict a real group's running throttle (the
// same port would be bounced again), and an action whose throttle cannot be
// kept does not run: the throttle fails closed.
TEST_F(Scenario, ThrottleStateIsNeverEvictedAndFailsClosedWhenFull) {
  load(R"(rules:
  - name: bounce
    match: {alertname: PortDown}
    group_by: [device, interface]
    throttle: {once_within: 1h}
    max_groups: 4
    actions: [{log: {message: m}}]
)");
  auto port = [](const std::string& device, const std::string& n = "1") {
    return std::map<std::string, std::string>{
        {"alertname", "PortDown"}, {"device", device}, {"interface", "1/1/1"}, {"n", n}};
  };
  ASSERT_EQ(send(port("real")).size(), 1u);
  // Three more groups fill the rule (4 slots): each acts once and holds its
  // throttle; the alerts' dedup records, which guard nothing, made room.
  for (int i = 0; i < 3; ++i) ASSERT_EQ(send(port("fake" + std::to_string(i))).size(), 1u);
  EXPECT_EQ(engine_->tracked(0), 4u);
  // The flood: every further group finds no state it may evict, so it does not act.
  for (int i = 3; i < 200; ++i) EXPECT_TRUE(send(port("fake" + std::to_string(i))).empty()) << i;
  EXPECT_EQ(observer_.state_unavailable, 197);
  EXPECT_EQ(engine_->tracked(0), 4u);
  // The real port is not bounced again: its throttle is still there.
  advance(10min);
  EXPECT_TRUE(send(port("real", "2")).empty());
  EXPECT_EQ(observer_.state_unavailable, 198);
  // Once the throttles run out, their state guards nothing and is evicted first.
  advance(1h);
  EXPECT_EQ(send(port("new")).size(), 1u);
  EXPECT_EQ(send(port("real", "3")).size(), 1u);
}

// Eviction takes state that guards no action first, even when it is newer.
TEST_F(Scenario, EvictionTakesNewerIdleStateBeforeOlderGuardingState) {
  load(R"(rules:
  - name: flaps
    match: {alertname: Flap}
    group_by: [device]
    count: 2
    window: 10m
    throttle: {once_within: 1h}
    max_groups: 2
    actions: [{log: {message: m}}]
)");
  auto flap = [](const std::string& device, const std::string& n) {
    return std::map<std::string, std::string>{{"alertname", "Flap"}, {"device", device}, {"n", n}};
  };
  EXPECT_TRUE(send(flap("a", "1")).empty());
  ASSERT_EQ(send(flap("a", "2")).size(), 1u);  // a fired: its state guards the action
  EXPECT_TRUE(send(flap("b", "1")).empty());   // b: one alert in its window, guards nothing
  EXPECT_TRUE(send(flap("c", "1")).empty());   // evicts b, the newer, not a
  EXPECT_EQ(observer_.evicted, 1);
  EXPECT_EQ(engine_->tracked(0), 2u);
  EXPECT_TRUE(send(flap("a", "3")).empty());
  EXPECT_TRUE(send(flap("a", "4")).empty());  // the count is reached again: a's throttle holds
  EXPECT_EQ(observer_.throttled, 1);
  EXPECT_EQ(observer_.state_unavailable, 0);
}

TEST_F(Scenario, EngineLimitBoundsEveryRuleTogether) {
  EngineOptions limits;
  limits.max_tracked = 100;
  load(R"(rules:
  - name: every-alert
    match: {alertname: X}
    actions: [{log: {message: m}}]
)",
       limits);
  for (int i = 0; i < 1000; ++i) send({{"alertname", "X"}, {"n", std::to_string(i)}});
  EXPECT_EQ(engine_->tracked(0), 100u);
  EXPECT_EQ(observer_.evicted, 900);
}

// The changelog as a compacted topic would hold it.
struct MapSink : StateSink {
  std::map<std::string, std::string> records;
  void put(std::string_view k, std::string_view v) override {
    records[std::string(k)] = std::string(v);
  }
  void erase(std::string_view k) override { records.erase(std::string(k)); }
};

constexpr const char* kRestartRules = R"(inhibit_rules:
  - source_match: {alertname: DeviceUnreachable}
    target_match: {alertname: PortDown}
    equal: [device]
rules:
  - name: link-and-bgp
    all_of:
      - match: {alertname: LinkDown}
      - match: {alertname: BGPSessionDown}
    group_by: [device]
    window: 2m
    actions: [{log: {message: m}}]
  - name: verify
    absence:
      after: {match: {alertname: DiskFull}}
      expect: resolved
    group_by: [instance]
    window: 10m
    actions: [{log: {message: m}}]
  - name: restart-once
    match: {alertname: Down}
    group_by: [instance]
    throttle: {once_within: 30m}
    actions: [{log: {message: m}}]
  - name: slow
    match: {alertname: Slow}
    for: 5m
    actions: [{log: {message: m}}]
  - name: port
    match: {alertname: PortDown}
    actions: [{log: {message: m}}]
  - name: flaps
    match: {alertname: Flap}
    group_by: [device]
    count: 2
    window: 10m
    actions: [{log: {message: m}}]
  - name: a-then-b
    sequence:
      - match: {alertname: StepA}
      - match: {alertname: StepB}
    group_by: [device]
    window: 5m
    actions: [{log: {message: m}}]
)";

TEST_F(Scenario, StateRestoredFromTheChangelogInAnotherEngineCarriesOn) {
  load(kRestartRules);
  engine_->track_changes(true);
  EXPECT_TRUE(send({{"alertname", "LinkDown"}, {"device", "sw1"}}).empty());
  EXPECT_TRUE(send({{"alertname", "DiskFull"}, {"instance", "db1"}}).empty());
  EXPECT_EQ(send({{"alertname", "Down"}, {"instance", "web1"}}).size(), 1u);
  EXPECT_TRUE(send({{"alertname", "Slow"}, {"instance", "web2"}}).empty());
  EXPECT_TRUE(send({{"alertname", "DeviceUnreachable"}, {"device", "sw9"}}).empty());
  EXPECT_TRUE(send({{"alertname", "Flap"}, {"device", "sw3"}, {"n", "1"}}).empty());
  EXPECT_TRUE(send({{"alertname", "StepA"}, {"device", "sw4"}}).empty());
  MapSink log;
  engine_->drain_changes(log);
  EXPECT_FALSE(log.records.empty());

  // A new process: its own interner (other symbol ids) and engine.
  Interner in2;
  RuleSet set2 = test::load(in2, kRestartRules);
  Engine restored(set2, in2, clock_);
  for (const auto& [k, v] : log.records) EXPECT_TRUE(restored.restore(k, v));
  auto send2 = [&](const Labels& labels) {
    std::vector<Decision> out;
    Event e = test::make_event(in2, labels);
    e.starts_at = clock_.now();
    restored.process(e, out);
    return out;
  };
  clock_.advance(30s);
  // The all_of window stayed open.
  EXPECT_EQ(send2({{"alertname", "BGPSessionDown"}, {"device", "sw1"}}).size(), 1u);
  // The throttle held: a new Down alert on web1 (another fingerprint) does not act again.
  EXPECT_TRUE(send2({{"alertname", "Down"}, {"instance", "web1"}, {"n", "2"}}).empty());
  // The inhibition is in force.
  EXPECT_TRUE(send2({{"alertname", "PortDown"}, {"device", "sw9"}}).empty());
  // The count window kept its first alert, the sequence its first step.
  EXPECT_EQ(send2({{"alertname", "Flap"}, {"device", "sw3"}, {"n", "2"}}).size(), 1u);
  EXPECT_EQ(send2({{"alertname", "StepB"}, {"device", "sw4"}}).size(), 1u);
  // The deduplicated alert stays deduplicated.
  std::vector<Decision> out;
  clock_.advance(5min);
  restored.tick(out);
  ASSERT_EQ(out.size(), 1u);  // `for` ran out while "down"
  EXPECT_EQ(set2.rules[out[0].rule].name, "slow");
  out.clear();
  clock_.advance(5min);
  restored.tick(out);
  ASSERT_EQ(out.size(), 1u);  // the absence timer
  EXPECT_EQ(set2.rules[out[0].rule].name, "verify");
  EXPECT_EQ(out[0].group_key, "instance=db1");
}

TEST_F(Scenario, ChangelogOfAChangedRuleIsRefusedAndErasuresAreLogged) {
  load(kAllOf);
  engine_->track_changes(true);
  send({{"alertname", "LinkDown"}, {"device", "a"}});
  MapSink log;
  engine_->drain_changes(log);
  ASSERT_EQ(log.records.size(), 1u);

  Interner in2;
  std::string changed = kAllOf;
  changed.replace(changed.find("window: 2m"), 10, "window: 3m");
  RuleSet set2 = test::load(in2, changed);
  Engine other(set2, in2, clock_);
  EXPECT_FALSE(other.restore(log.records.begin()->first, log.records.begin()->second));
  EXPECT_FALSE(other.restore(log.records.begin()->first, "garbage"));

  // The member resolves: its group entry is rewritten; idle, it is erased.
  resolve({{"alertname", "LinkDown"}, {"device", "a"}});
  advance(2h);
  engine_->drain_changes(log);
  EXPECT_TRUE(log.records.empty());
}

TEST(CorrelationRules, LoaderNamesEveryMistake) {
  EXPECT_EQ(test::errors_of(R"(rules:
  - name: a
    all_of:
      - match: {alertname: A}
    window: 1m
    actions: [{log: {message: m}}]
)"),
            "rules.yaml:4:7: rules[0].all_of: expected a list of 2 to 8 steps, each {match: ..., "
            "status: ...}\n");
  EXPECT_EQ(test::errors_of(R"(rules:
  - name: a
    sequence:
      - match: {alertname: A}
      - match: {alertname: B}
    status: any
    actions: [{log: {message: "{{ members[2].labels.x }} {{ group.device }}"}}]
)"),
            "rules.yaml:6:13: rules[0].status: not allowed here: all_of, sequence and absence "
            "steps carry their own status, and take no count or for\n"
            "rules.yaml:2:5: rules[0].window: missing required field\n");
  EXPECT_EQ(test::errors_of(R"(rules:
  - name: a
    sequence:
      - match: {alertname: A}
      - match: {alertname: B}
    window: 1m
    actions: [{log: {message: "{{ members[2].labels.x }} {{ group.device }}"}}]
)"),
            "rules.yaml:2:5: rules[0].actions[0].log.message: '{{ members[2].labels.x }} {{ "
            "group.device }}': members[2] does not exist: a sequence rule's incidents have 2 "
            "member(s)\n"
            "rules.yaml:2:5: rules[0].actions[0].log.message: '{{ members[2].labels.x }} {{ "
            "group.device }}': group.device is not in group_by\n");
  EXPECT_EQ(test::errors_of(R"(rules:
  - name: a
    absence:
      after: {match: {alertname: A}}
      expect: gone
    window: 1m
    actions: [{kafka: {topic: "bad topic"}}]
)"),
            "rules.yaml:5:15: rules[0].absence.expect: unknown shorthand 'gone' (expected "
            "resolved or {match: ...})\n"
            "rules.yaml:7:31: rules[0].actions[0].kafka.topic: invalid topic name 'bad topic' "
            "(letters, digits, . _ - only)\n");
  EXPECT_EQ(test::errors_of(R"(inhibit_rules:
  - source_match: {}
    target_match: {severity: warning}
    equal: [9x]
)"),
            "rules.yaml:2:19: inhibit_rules[0].source_match: expected at least one matcher (an "
            "empty one would match every alert)\n"
            "rules.yaml:4:13: inhibit_rules[0].equal[0]: invalid label name\n");
  EXPECT_EQ(test::errors_of(R"(rules:
  - name: a
    match: {alertname: A}
    all_of: [{match: {x: y}}, {match: {x: z}}]
    actions: [{log: {message: "{{ members[1].labels.x }}"}}]
)"),
            "rules.yaml:2:5: rules[0].match: expected exactly one of match, all_of, sequence or "
            "absence\n");
}

}  // namespace
}  // namespace aiopsd::rules

namespace aiopsd::rules {
namespace {

TEST(ShardKeyPlan, SharedGroupLabelsOrWhyNot) {
  Interner in;
  std::string why;
  auto labels = ShardKey::plan(test::load(in, R"(inhibit_rules:
  - {source_match: {a: b}, target_match: {c: d}, equal: [device, site]}
rules:
  - {name: a, match: {x: y}, group_by: [device, interface], throttle: {once_within: 1m}, actions: [{log: {message: m}}]}
  - {name: b, all_of: [{match: {x: y}}, {match: {x: z}}], group_by: [site, device], window: 1m, actions: [{log: {message: m}}]}
  - {name: per-alert, match: {x: w}, actions: [{log: {message: m}}]}
)"),
                               why);
  ASSERT_TRUE(labels);
  EXPECT_EQ(*labels, std::vector<std::string>{"device"});
  EXPECT_TRUE(why.empty());

  // Only per-alert rules: the fingerprint routes.
  labels = ShardKey::plan(test::load(in, R"(rules:
  - {name: a, match: {x: y}, for: 1m, actions: [{log: {message: m}}]}
)"),
                          why);
  ASSERT_TRUE(labels);
  EXPECT_TRUE(labels->empty());

  labels = ShardKey::plan(test::load(in, R"(rules:
  - {name: a, match: {x: y}, group_by: [device], count: 2, window: 1m, actions: [{log: {message: m}}]}
  - {name: b, match: {x: z}, group_by: [instance], count: 2, window: 1m, actions: [{log: {message: m}}]}
)"),
                          why);
  EXPECT_FALSE(labels);
  EXPECT_EQ(why, "rule a and rule b share no group_by label");
}

TEST(ShardKeyPlan, ARuleSetThatBreaksTheRunningKeyIsNamed) {
  Interner in;
  ShardKey key({"device"}, in);
  EXPECT_FALSE(key.incompatible(test::load(in, R"(rules:
  - {name: a, match: {x: y}, group_by: [device, if], count: 2, window: 1m, actions: [{log: {message: m}}]}
  - {name: b, match: {x: y}, actions: [{log: {message: m}}]}
)")));
  EXPECT_EQ(key.incompatible(test::load(in, R"(rules:
  - {name: c, match: {x: y}, throttle: {once_within: 1m}, actions: [{log: {message: m}}]}
)")),
            "rule c does not group by [device], which the running engine workers shard on");
}

TEST(ShardKeyPlan, RoutesByLabelTextTheSameInEveryProcess) {
  Interner a, b;
  b.intern("something else first");  // other symbol ids
  ShardKey ka({"device"}, a), kb({"device"}, b);
  auto e1 = test::make_event(a, {{"device", "sw1"}, {"n", "1"}});
  auto e2 = test::make_event(b, {{"device", "sw1"}, {"n", "2"}});
  auto e3 = test::make_event(a, {{"device", "sw2"}});
  EXPECT_EQ(ka.route(e1), kb.route(e2));
  EXPECT_NE(ka.route(e1), ka.route(e3));
  ShardKey by_alert({}, a);
  EXPECT_EQ(by_alert.route(e1), e1.fingerprint);
}

// A group's state restored into the engine that owns its route: the key says which.
TEST(ShardKeyPlan, ChangelogKeysCarryTheRouteOfTheirGroup) {
  Interner in;
  RuleSet set = test::load(in, kAllOf);
  ManualClock clock;
  EngineOptions opts;
  opts.shard_by = {"device"};
  Engine engine(set, in, clock, nullptr, opts);
  engine.track_changes(true);
  std::vector<Decision> out;
  auto e = test::make_event(in, {{"alertname", "LinkDown"}, {"device", "sw7"}});
  engine.process(e, out);
  MapSink log;
  engine.drain_changes(log);
  ASSERT_EQ(log.records.size(), 1u);
  EXPECT_EQ(Engine::route_of_key(log.records.begin()->first), ShardKey({"device"}, in).route(e));
  EXPECT_FALSE(Engine::route_of_key("short"));
}

}  // namespace
}  // namespace aiopsd::rules
