#include "rules/engine.hpp"

#include <gtest/gtest.h>
#include <re2/re2.h>

#include <algorithm>

#include "tests/rules/rules_test_util.hpp"

namespace aiopsd::rules {
namespace {

using namespace std::chrono_literals;
using test::make_event;

class Correlation : public ::testing::Test {
 protected:
  void load(const std::string& yaml) {
    set_ = test::load(in_, yaml);
    engine_ = std::make_unique<Engine>(set_, in_, clock_, &observer_);
  }
  std::vector<Decision> send(const std::map<std::string, std::string>& labels,
                             EventStatus status = EventStatus::kFiring) {
    std::vector<Decision> out;
    Event e = make_event(in_, labels, status);
    e.starts_at = clock_.now();
    engine_->process(e, out);
    return out;
  }
  std::vector<Decision> tick() {
    std::vector<Decision> out;
    engine_->tick(out);
    return out;
  }

  struct Observer : EngineObserver {
    int matched = 0, throttled = 0;
    void on_match(std::uint32_t) override { ++matched; }
    void on_throttled(std::uint32_t) override { ++throttled; }
  } observer_;
  Interner in_;
  RuleSet set_;
  ManualClock clock_;
  std::unique_ptr<Engine> engine_;
};

TEST_F(Correlation, CountWithinWindowCountsDistinctAlertsPerGroup) {
  load(R"(rules:
  - name: flaps
    match: {alertname: Flap}
    group_by: [device]
    count: 3
    window: 5m
    actions: [{log: {message: m}}]
)");
  EXPECT_TRUE(send({{"alertname", "Flap"}, {"device", "a"}, {"n", "1"}}).empty());
  EXPECT_TRUE(send({{"alertname", "Flap"}, {"device", "a"}, {"n", "1"}}).empty());  // a re-send
  EXPECT_TRUE(send({{"alertname", "Flap"}, {"device", "b"}, {"n", "2"}}).empty());  // other group
  clock_.advance(1min);
  EXPECT_TRUE(send({{"alertname", "Flap"}, {"device", "a"}, {"n", "2"}}).empty());
  auto d = send({{"alertname", "Flap"}, {"device", "a"}, {"n", "3"}});
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d[0].group_key, "device=a");
  EXPECT_EQ(d[0].fingerprints.size(), 3u);
  EXPECT_EQ(observer_.matched, 5);
}

TEST_F(Correlation, CountWindowSlides) {
  load(R"(rules:
  - name: flaps
    match: {alertname: Flap}
    count: 2
    window: 5m
    actions: [{log: {message: m}}]
)");
  EXPECT_TRUE(send({{"alertname", "Flap"}, {"n", "1"}}).empty());
  clock_.advance(5min);
  EXPECT_TRUE(send({{"alertname", "Flap"}, {"n", "2"}}).empty());  // the first slid out
  clock_.advance(4min);
  EXPECT_EQ(send({{"alertname", "Flap"}, {"n", "3"}}).size(), 1u);
}

TEST_F(Correlation, ForFiresFromTickOnceTheAlertHasBeenFiringLongEnough) {
  load(R"(rules:
  - name: slow
    match: {alertname: Down}
    for: 2m
    actions: [{log: {message: m}}]
)");
  EXPECT_TRUE(send({{"alertname", "Down"}, {"i", "1"}}).empty());
  EXPECT_TRUE(send({{"alertname", "Down"}, {"i", "2"}}).empty());
  clock_.advance(1min);
  EXPECT_TRUE(tick().empty());
  EXPECT_EQ(engine_->pending_for(), 2u);
  send({{"alertname", "Down"}, {"i", "2"}}, EventStatus::kResolved);  // resolved in time
  clock_.advance(61s);
  auto d = tick();
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(in_.view(d[0].event.label(*in_.find("i"))), "1");
  EXPECT_TRUE(tick().empty());
  clock_.advance(1min);
  EXPECT_TRUE(send({{"alertname", "Down"}, {"i", "1"}}).empty());  // re-send: already acted
}

TEST_F(Correlation, ResendsActOncePerFiringEpisode) {
  load(R"(rules:
  - name: once
    match: {alertname: Down}
    actions: [{log: {message: m}}]
)");
  EXPECT_EQ(send({{"alertname", "Down"}}).size(), 1u);
  EXPECT_TRUE(send({{"alertname", "Down"}}).empty());
  EXPECT_TRUE(send({{"alertname", "Down"}}).empty());
  send({{"alertname", "Down"}}, EventStatus::kResolved);
  EXPECT_EQ(send({{"alertname", "Down"}}).size(), 1u);  // a new episode
}

TEST_F(Correlation, ThrottlePerGroupKey) {
  load(R"(rules:
  - name: t
    match: {alertname: Down}
    group_by: [device]
    throttle: {once_within: 30m}
    actions: [{log: {message: m}}]
)");
  EXPECT_EQ(send({{"alertname", "Down"}, {"device", "a"}, {"if", "1"}}).size(), 1u);
  EXPECT_TRUE(send({{"alertname", "Down"}, {"device", "a"}, {"if", "2"}}).empty());
  EXPECT_EQ(observer_.throttled, 1);
  EXPECT_EQ(send({{"alertname", "Down"}, {"device", "b"}, {"if", "2"}}).size(), 1u);
  clock_.advance(30min);
  EXPECT_EQ(send({{"alertname", "Down"}, {"device", "a"}, {"if", "3"}}).size(), 1u);
}

TEST_F(Correlation, CountFiresOnTheThirdDistinctAlertWithinTheWindow) {
  load(R"(rules:
  - name: flaps
    match: {alertname: Flap}
    group_by: [instance, job]
    count: 3
    window: 5m
    actions: [{log: {message: m}}]
)");
  auto alert = [](const std::string& n) {
    return std::map<std::string, std::string>{
        {"alertname", "Flap"}, {"instance", "a"}, {"job", "b"}, {"n", n}};
  };
  EXPECT_TRUE(send(alert("1")).empty());
  clock_.advance(2min);
  EXPECT_TRUE(send(alert("2")).empty());
  clock_.advance(3min);  // "1" is now exactly 5m old: out of the window
  EXPECT_TRUE(send(alert("3")).empty());
  clock_.advance(1min);
  auto d = send(alert("4"));
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d[0].rule, 0u);
  EXPECT_EQ(d[0].group_key, "instance=a,job=b");
  Interner& in = in_;
  auto fp = [&](const std::string& n) { return make_event(in, alert(n)).fingerprint; };
  EXPECT_EQ(d[0].fingerprints, (std::vector<std::uint64_t>{fp("2"), fp("3"), fp("4")}));
  EXPECT_EQ(d[0].event.fingerprint, fp("4"));
  // The window starts over after firing.
  EXPECT_TRUE(send(alert("5")).empty());
  EXPECT_TRUE(send(alert("6")).empty());
  EXPECT_EQ(send(alert("7")).size(), 1u);
}

TEST_F(Correlation, CountIgnoresResendsOfTheSameAlert) {
  load(R"(rules:
  - name: flaps
    match: {alertname: Flap}
    count: 3
    window: 5m
    actions: [{log: {message: m}}]
)");
  for (int i = 0; i < 5; ++i) {
    EXPECT_TRUE(send({{"alertname", "Flap"}, {"n", "1"}}).empty()) << i;
    EXPECT_TRUE(send({{"alertname", "Flap"}, {"n", "2"}}).empty()) << i;
  }
  auto d = send({{"alertname", "Flap"}, {"n", "3"}});
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d[0].group_key, "");
  EXPECT_EQ(d[0].fingerprints.size(), 3u);
}

TEST_F(Correlation, CountGroupsAreSeparateIncludingAbsentLabel) {
  load(R"(rules:
  - name: flaps
    match: {alertname: Flap}
    group_by: [device]
    count: 2
    window: 5m
    actions: [{log: {message: m}}]
)");
  EXPECT_TRUE(send({{"alertname", "Flap"}, {"device", "a"}, {"n", "1"}}).empty());
  EXPECT_TRUE(send({{"alertname", "Flap"}, {"device", "b"}, {"n", "2"}}).empty());
  EXPECT_TRUE(send({{"alertname", "Flap"}, {"n", "3"}}).empty());
  auto d = send({{"alertname", "Flap"}, {"n", "4"}});
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d[0].group_key, "device=");
  d = send({{"alertname", "Flap"}, {"device", "b"}, {"n", "5"}});
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d[0].group_key, "device=b");
  EXPECT_EQ(engine_->groups_tracked(), 3u);
}

TEST_F(Correlation, ForUsesStartsAt) {
  load(R"(rules:
  - name: slow
    match: {alertname: Down}
    for: 2m
    actions: [{log: {message: m}}]
)");
  std::vector<Decision> out;
  Event old = make_event(in_, {{"alertname", "Down"}, {"i", "old"}});
  old.starts_at = clock_.now() - 3min;  // already firing long enough
  engine_->process(old, out);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].event.fingerprint, old.fingerprint);
  out.clear();
  Event recent = make_event(in_, {{"alertname", "Down"}, {"i", "recent"}});
  recent.starts_at = clock_.now() - 90s;
  engine_->process(recent, out);
  EXPECT_TRUE(out.empty());
  clock_.advance(29s);
  EXPECT_TRUE(tick().empty());
  clock_.advance(1s);
  auto d = tick();
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d[0].event.fingerprint, recent.fingerprint);
  EXPECT_EQ(d[0].fingerprints, (std::vector<std::uint64_t>{recent.fingerprint}));
  // A startsAt in the future (sender clock skew) counts from now.
  Event future = make_event(in_, {{"alertname", "Down"}, {"i", "future"}});
  future.starts_at = clock_.now() + 1h;
  engine_->process(future, out = {});
  EXPECT_TRUE(out.empty());
  clock_.advance(2min);
  EXPECT_EQ(tick().size(), 1u);
  EXPECT_EQ(engine_->pending_for(), 0u);
}

TEST_F(Correlation, ForFiresAgainAfterResolvedAndFiringAgain) {
  load(R"(rules:
  - name: slow
    match: {alertname: Down}
    for: 2m
    actions: [{log: {message: m}}]
)");
  send({{"alertname", "Down"}});
  clock_.advance(2min);
  EXPECT_EQ(tick().size(), 1u);
  clock_.advance(1min);
  EXPECT_TRUE(send({{"alertname", "Down"}}).empty());  // still the same episode
  EXPECT_TRUE(tick().empty());
  send({{"alertname", "Down"}}, EventStatus::kResolved);
  EXPECT_EQ(engine_->pending_for(), 0u);
  send({{"alertname", "Down"}});  // a new episode, startsAt = now
  EXPECT_EQ(engine_->pending_for(), 1u);
  clock_.advance(1min);
  EXPECT_TRUE(tick().empty());
  clock_.advance(1min);
  EXPECT_EQ(tick().size(), 1u);
}

TEST_F(Correlation, ResolvedRulesActOnEveryResolvedEvent) {
  load(R"(rules:
  - name: cleared
    match: {alertname: Down}
    status: resolved
    actions: [{log: {message: m}}]
)");
  EXPECT_TRUE(send({{"alertname", "Down"}}).empty());
  EXPECT_EQ(send({{"alertname", "Down"}}, EventStatus::kResolved).size(), 1u);
  EXPECT_EQ(send({{"alertname", "Down"}}, EventStatus::kResolved).size(), 1u);
}

TEST_F(Correlation, ThrottleBoundaryAndObserverCounts) {
  load(R"(rules:
  - name: t
    match: {alertname: Down}
    group_by: [instance]
    throttle: {once_within: 30m}
    actions: [{log: {message: m}}]
  - name: u
    match: {alertname: Down}
    actions: [{log: {message: m}}]
)");
  auto d = send({{"alertname", "Down"}, {"instance", "a"}, {"if", "1"}});
  ASSERT_EQ(d.size(), 2u);
  EXPECT_EQ(d[0].rule, 0u);
  EXPECT_EQ(d[0].group_key, "instance=a");
  EXPECT_EQ(d[1].rule, 1u);
  EXPECT_EQ(d[1].group_key, "");
  clock_.advance(30min - 1ms);
  d = send({{"alertname", "Down"}, {"instance", "a"}, {"if", "2"}});
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d[0].rule, 1u);
  EXPECT_EQ(observer_.throttled, 1);
  clock_.advance(1ms);
  d = send({{"alertname", "Down"}, {"instance", "a"}, {"if", "3"}});
  EXPECT_EQ(d.size(), 2u);
  EXPECT_EQ(observer_.matched, 6);
  EXPECT_EQ(observer_.throttled, 1);
  // A re-send that is deduplicated is still a match, but not throttled.
  EXPECT_TRUE(send({{"alertname", "Down"}, {"instance", "a"}, {"if", "3"}}).empty());
  EXPECT_EQ(observer_.matched, 8);
  EXPECT_EQ(observer_.throttled, 1);
}

TEST_F(Correlation, ThrottleWithCount) {
  load(R"(rules:
  - name: t
    match: {alertname: Flap}
    count: 2
    window: 10m
    throttle: {once_within: 30m}
    actions: [{log: {message: m}}]
)");
  send({{"alertname", "Flap"}, {"n", "1"}});
  EXPECT_EQ(send({{"alertname", "Flap"}, {"n", "2"}}).size(), 1u);
  send({{"alertname", "Flap"}, {"n", "3"}});
  EXPECT_TRUE(send({{"alertname", "Flap"}, {"n", "4"}}).empty());
  EXPECT_EQ(observer_.throttled, 1);
  clock_.advance(30min);
  send({{"alertname", "Flap"}, {"n", "5"}});
  EXPECT_EQ(send({{"alertname", "Flap"}, {"n", "6"}}).size(), 1u);
}

TEST_F(Correlation, MatchIsPure) {
  load(R"(rules:
  - name: once
    match: {alertname: Down}
    actions: [{log: {message: m}}]
)");
  std::vector<std::uint32_t> m;
  Event e = make_event(in_, {{"alertname", "Down"}});
  for (int i = 0; i < 3; ++i) engine_->match(e, m);
  EXPECT_EQ(m, (std::vector<std::uint32_t>{0}));
  EXPECT_EQ(observer_.matched, 0);
  EXPECT_EQ(send({{"alertname", "Down"}}).size(), 1u);
}

TEST_F(Correlation, IdleStateExpires) {
  load(R"(rules:
  - name: t
    match: {alertname: Down}
    group_by: [instance]
    throttle: {once_within: 30m}
    actions: [{log: {message: m}}]
)");
  send({{"alertname", "Down"}, {"instance", "a"}});
  send({{"alertname", "Down"}, {"instance", "b"}});
  EXPECT_EQ(engine_->groups_tracked(), 2u);
  engine_->expire_idle_state();
  EXPECT_EQ(engine_->groups_tracked(), 2u);
  clock_.advance(2h);
  engine_->expire_idle_state();
  EXPECT_EQ(engine_->groups_tracked(), 0u);
}

}  // namespace
}  // namespace aiopsd::rules

namespace aiopsd::rules {
namespace {

// A reload keeps the state of unchanged rules (throttles, count windows) even
// when rules are inserted before them, and drops the state of changed ones.
TEST(EngineReload, UnchangedRulesKeepTheirStateAcrossAReload) {
  const std::string before = R"(rules:
  - name: bounce
    match: {alertname: PortDown}
    group_by: [device]
    throttle: {once_within: 1h}
    actions: [{log: {message: m}}]
  - name: flaps
    match: {alertname: Flap}
    group_by: [device]
    count: 3
    window: 10m
    actions: [{log: {message: m}}]
)";
  const std::string after = R"(rules:
  - name: new-first
    match: {alertname: Other}
    actions: [{log: {message: m}}]
  - name: bounce
    match: {alertname: PortDown}
    group_by: [device]
    throttle: {once_within: 1h}
    actions: [{log: {message: m}}]
  - name: flaps
    match: {alertname: Flap}
    group_by: [device]
    count: 4
    window: 10m
    actions: [{log: {message: m}}]
)";
  Interner in;
  ManualClock clock;
  RuleSet old_set = test::load(in, before);
  Engine old_engine(old_set, in, clock);
  std::vector<Decision> out;
  old_engine.process(test::make_event(in, {{"alertname", "PortDown"}, {"device", "sw1"}}), out);
  ASSERT_EQ(out.size(), 1u);
  for (const char* id : {"a", "b"})
    old_engine.process(test::make_event(in, {{"alertname", "Flap"}, {"device", "sw1"}, {"id", id}}),
                       out);
  ASSERT_EQ(out.size(), 1u);

  RuleSet new_set = test::load(in, after);
  Engine engine(new_set, in, clock);
  EXPECT_EQ(engine.adopt_state(old_engine), 1u);  // bounce; flaps changed
  EXPECT_EQ(old_engine.groups_tracked(), 0u);
  out.clear();
  // A different alert for the same group: still throttled (state kept).
  engine.process(test::make_event(in, {{"alertname", "PortDown"}, {"device", "sw1"}, {"if", "2"}}),
                 out);
  EXPECT_TRUE(out.empty());
  engine.process(test::make_event(in, {{"alertname", "PortDown"}, {"device", "sw2"}}), out);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(new_set.rules[out[0].rule].name, "bounce");
  // flaps changed: its window starts empty, so 3 new alerts are not yet 4.
  out.clear();
  for (const char* id : {"c", "d", "e"})
    engine.process(test::make_event(in, {{"alertname", "Flap"}, {"device", "sw1"}, {"id", id}}),
                   out);
  EXPECT_TRUE(out.empty());
}

}  // namespace
}  // namespace aiopsd::rules
