#include "rules/engine.hpp"

#include <gtest/gtest.h>
#include <re2/re2.h>

#include <algorithm>
#include <random>
#include <regex>

#include "tests/rules/rules_test_util.hpp"

namespace aiopsd::rules {
namespace {

using namespace std::chrono_literals;
using test::make_event;

std::vector<std::uint32_t> matches(const std::string& rules_yaml,
                                   const std::map<std::string, std::string>& labels,
                                   EventStatus status = EventStatus::kFiring) {
  Interner in;
  RuleSet set = test::load(in, rules_yaml);
  ManualClock clock;
  Engine engine(set, in, clock);
  std::vector<std::uint32_t> out;
  engine.match(make_event(in, labels, status), out);
  return out;
}

std::string one_rule(const std::string& match) {
  return "rules:\n  - name: r\n    match: " + match +
         "\n    status: any\n    actions: [{log: {message: m}}]\n";
}

bool hit(const std::string& match, const std::map<std::string, std::string>& labels) {
  return !matches(one_rule(match), labels).empty();
}

TEST(Matcher, PrometheusSemantics) {
  EXPECT_TRUE(hit("{severity: critical}", {{"severity", "critical"}}));
  EXPECT_FALSE(hit("{severity: critical}", {{"severity", "warning"}}));
  // Regexes are fully anchored.
  EXPECT_FALSE(hit(R"({severity: {"=~": "crit"}})", {{"severity", "critical"}}));
  EXPECT_TRUE(hit(R"({severity: {"=~": "crit.*"}})", {{"severity", "critical"}}));
  EXPECT_TRUE(hit(R"({severity: {"!~": "crit"}})", {{"severity", "critical"}}));
  EXPECT_FALSE(hit(R"({severity: {"!~": "crit.*"}})", {{"severity", "critical"}}));
  // An absent label is the empty string.
  EXPECT_TRUE(hit(R"({foo: {"!=": bar}})", {{"a", "b"}}));
  EXPECT_TRUE(hit(R"({foo: {"=~": ".*"}})", {{"a", "b"}}));
  EXPECT_TRUE(hit(R"({foo: ""})", {{"a", "b"}}));
  EXPECT_FALSE(hit(R"({foo: ""})", {{"foo", "x"}}));
  EXPECT_FALSE(hit(R"({foo: {"=~": ".+"}})", {{"a", "b"}}));
  EXPECT_TRUE(hit(R"({foo: {"!~": ".+"}})", {{"a", "b"}}));
  // Several matchers on one label all apply.
  EXPECT_TRUE(hit(R"({job: {"=~": "node.*", "!=": "node-test"}})", {{"job", "node-prod"}}));
  EXPECT_FALSE(hit(R"({job: {"=~": "node.*", "!=": "node-test"}})", {{"job", "node-test"}}));
}

TEST(Matcher, StatusAndSourceFilters) {
  const std::string firing_only =
      "rules:\n  - name: r\n    match: {a: b}\n    actions: [{log: {message: m}}]\n";
  EXPECT_EQ(matches(firing_only, {{"a", "b"}}).size(), 1u);
  EXPECT_TRUE(matches(firing_only, {{"a", "b"}}, EventStatus::kResolved).empty());
  const std::string resolved =
      "rules:\n  - name: r\n    match: {a: b}\n    status: resolved\n    actions: [{log: {message: "
      "m}}]\n";
  EXPECT_TRUE(matches(resolved, {{"a", "b"}}).empty());
  EXPECT_EQ(matches(resolved, {{"a", "b"}}, EventStatus::kResolved).size(), 1u);

  Interner in;
  RuleSet set = test::load(in,
                           "rules:\n  - name: r\n    match: {a: b}\n    sources: [kafka]\n"
                           "    actions: [{log: {message: m}}]\n");
  ManualClock clock;
  Engine engine(set, in, clock);
  Event e = make_event(in, {{"a", "b"}});
  std::vector<std::uint32_t> out;
  engine.match(e, out);
  EXPECT_TRUE(out.empty());
  e.source = EventSource::kKafka;
  engine.match(e, out);
  EXPECT_EQ(out.size(), 1u);
}

// Prometheus treats a label with an empty value as absent.
TEST(Matcher, EmptyValuedLabelIsTheSameAsAbsent) {
  EXPECT_TRUE(hit(R"({foo: ""})", {{"foo", ""}}));
  EXPECT_FALSE(hit(R"({foo: {"!=": ""}})", {{"foo", ""}}));
  EXPECT_TRUE(hit(R"({foo: {"!=": bar}})", {{"foo", ""}}));
  EXPECT_TRUE(hit(R"({foo: {"=~": ""}})", {{"foo", ""}}));
  EXPECT_FALSE(hit(R"({foo: {"=~": ".+"}})", {{"foo", ""}}));
}

TEST(Matcher, RegexOnlyAndNegativeOnlyRules) {
  const std::string yaml = R"y(rules:
  - name: regex-only
    match: {instance: {"=~": "10\\.0\\.0\\.[0-9]+:9100"}}
    actions: [{log: {message: m}}]
  - name: regex-alternation
    match: {severity: {"=~": "warning|critical"}}
    actions: [{log: {message: m}}]
  - name: negative-only
    match: {env: {"!=": prod}, job: {"!~": "test.*"}}
    actions: [{log: {message: m}}]
  - name: regex-matching-empty
    match: {team: {"=~": "(net|)"}}
    actions: [{log: {message: m}}]
  - name: match-all
    match: {}
    actions: [{log: {message: m}}]
)y";
  using V = std::vector<std::uint32_t>;
  // team is absent in these, and "(net|)" matches the empty string: rule 3 applies.
  EXPECT_EQ(matches(yaml, {{"instance", "10.0.0.7:9100"}, {"env", "prod"}}), (V{0, 3, 4}));
  EXPECT_EQ(matches(yaml, {{"instance", "10.0.0.7:91000"}, {"env", "prod"}}), (V{3, 4}));
  EXPECT_EQ(matches(yaml, {{"instance", "x10.0.0.7:9100"}, {"env", "prod"}, {"team", "ops"}}),
            (V{4}));
  // "warning|critical" is anchored as a whole: ^(?:warning|critical)$.
  EXPECT_EQ(matches(yaml, {{"severity", "critical"}, {"env", "prod"}, {"team", "x"}}), (V{1, 4}));
  EXPECT_EQ(matches(yaml, {{"severity", "warningx"}, {"env", "prod"}, {"team", "x"}}), (V{4}));
  EXPECT_EQ(matches(yaml, {{"severity", "xcritical"}, {"env", "prod"}, {"team", "x"}}), (V{4}));
  EXPECT_EQ(matches(yaml, {{"severity", "critical"}, {"env", "prod"}, {"team", "nets"}}),
            (V{1, 4}));
  EXPECT_EQ(matches(yaml, {{"team", "net"}, {"env", "prod"}}), (V{3, 4}));
  EXPECT_EQ(matches(yaml, {{"env", "prod"}}), (V{3, 4}));
  EXPECT_EQ(matches(yaml, {{"env", "dev"}, {"team", "ops"}}), (V{2, 4}));
  EXPECT_EQ(matches(yaml, {{"job", "testing"}, {"team", "net"}}), (V{3, 4}));
  EXPECT_EQ(matches(yaml, {}), (V{2, 3, 4}));
}

TEST(Matcher, SeveralRulesOnTheSameAnchor) {
  const std::string yaml = R"(rules:
  - name: a
    match: {alertname: Down, severity: critical}
    actions: [{log: {message: m}}]
  - name: b
    match: {alertname: Down}
    actions: [{log: {message: m}}]
  - name: c
    match: {alertname: Down, severity: {"=~": "crit.*"}}
    actions: [{log: {message: m}}]
  - name: d
    match: {alertname: Up}
    actions: [{log: {message: m}}]
)";
  using V = std::vector<std::uint32_t>;
  EXPECT_EQ(matches(yaml, {{"alertname", "Down"}, {"severity", "critical"}}), (V{0, 1, 2}));
  EXPECT_EQ(matches(yaml, {{"alertname", "Down"}, {"severity", "warning"}}), (V{1}));
  EXPECT_EQ(matches(yaml, {{"alertname", "Up"}, {"severity", "critical"}}), (V{3}));
  EXPECT_EQ(matches(yaml, {{"alertname", "down"}}), (V{}));
}

// The index must return exactly what evaluating every rule would. The
// reference evaluates each matcher with std::regex (another engine than the
// RE2::Set under test) and treats absent and empty labels alike.
TEST(Matcher, IndexAgreesWithBruteForceOnRandomRulesAndEvents) {
  std::mt19937 rng(20261124);
  auto pick = [&](std::size_t n) { return static_cast<std::size_t>(rng() % n); };
  const std::vector<std::string> names = {"alertname", "severity", "job", "instance",
                                          "env",       "team",     "dc"};
  const std::vector<std::string> values = {"v0", "v1", "v2", "v3", "v10", "v11", "w1", "x", ""};
  const std::vector<std::string> patterns = {"v1|v2", "v[0-3]", ".*",    ".+",          "v1.*",
                                             "",      "x",      "(v1)?", "|v2",         "v.",
                                             "w?1",   ".*1",    "v0|x",  "[a-z]+[0-9]+"};
  const char* ops[] = {"=", "!=", "=~", "!~"};
  const char* statuses[] = {"firing", "resolved", "any"};
  const char* sources[] = {"alertmanager_v2", "alertmanager_webhook", "kafka"};
  struct M {
    std::string name, op, value;
    std::regex re;
  };
  struct R {
    std::vector<M> ms;
    int status = 0;        // index into statuses
    std::vector<int> src;  // empty: any
  };
  std::vector<R> rules;
  std::string yaml = "rules:\n";
  for (int r = 0; r < 500; ++r) {
    R rule;
    const std::size_t n = pick(4);  // 0..3 matchers; 0 matches everything
    // A fifth of the rules have only negative matchers, a fifth only regexes.
    const int kind = static_cast<int>(pick(5));
    yaml += "  - name: r" + std::to_string(r) + "\n    match:\n";
    std::string match;
    for (std::size_t i = 0; i < n; ++i) {
      M m;
      m.name = names[pick(names.size())];
      m.op = kind == 0   ? ops[1 + 2 * pick(2)]
             : kind == 1 ? ops[2 + pick(2)]
                         : ops[pick(10) < 6 ? 0 : 1 + pick(3)];
      bool regex = m.op == "=~" || m.op == "!~";
      m.value = regex ? patterns[pick(patterns.size())] : values[pick(values.size())];
      // Several matchers on one label are allowed only with different operators.
      bool dup = false;
      for (const auto& o : rule.ms) dup = dup || (o.name == m.name && o.op == m.op);
      if (dup) continue;
      m.re = std::regex(m.value, std::regex::ECMAScript);
      rule.ms.push_back(std::move(m));
    }
    std::map<std::string, std::vector<const M*>> by_name;
    for (const auto& m : rule.ms) by_name[m.name].push_back(&m);
    for (const auto& [name, ms] : by_name) {
      yaml += "      " + name + ": {";
      for (std::size_t i = 0; i < ms.size(); ++i) {
        yaml += (i ? ", \"" : "\"") + ms[i]->op + "\": \"" + ms[i]->value + "\"";
      }
      yaml += "}\n";
    }
    if (rule.ms.empty()) yaml += "      {}\n";
    rule.status = pick(4) == 0 ? static_cast<int>(pick(2)) : 2;
    yaml += std::string("    status: ") + statuses[rule.status] + "\n";
    if (pick(6) == 0) {
      yaml += "    sources: [";
      for (int s = 0; s < 3; ++s) {
        if (pick(2)) {
          yaml += std::string(rule.src.empty() ? "" : ", ") + sources[s];
          rule.src.push_back(s);
        }
      }
      yaml += "]\n";
    }
    yaml += "    actions: [{log: {message: m}}]\n";
    rules.push_back(std::move(rule));
  }
  Interner in;
  RuleSet set = test::load(in, yaml);
  ASSERT_EQ(set.rules.size(), rules.size());
  ManualClock clock;
  Engine engine(set, in, clock);
  std::vector<std::uint32_t> got;
  std::size_t total = 0;
  // std::regex is slow under the sanitizers; a pattern's verdict on a value never changes.
  std::map<std::pair<std::string, std::string>, bool> memo;
  auto full_match = [&](const M& m, const std::string& v) {
    auto [it, inserted] = memo.try_emplace({m.value, v}, false);
    if (inserted) it->second = std::regex_match(v, m.re);
    return it->second;
  };
  for (int i = 0; i < 2000; ++i) {
    std::map<std::string, std::string> labels;
    for (const auto& name : names) {
      // Present labels are never empty here (see EmptyValuedLabelIsTheSameAsAbsent).
      if (pick(3)) labels[name] = values[pick(values.size() - 1)];
    }
    Event e = make_event(in, labels, pick(3) ? EventStatus::kFiring : EventStatus::kResolved);
    e.source = static_cast<EventSource>(pick(3));
    std::vector<std::uint32_t> want;
    for (std::uint32_t r = 0; r < rules.size(); ++r) {
      const R& rule = rules[r];
      if (rule.status != 2 && (rule.status == 0) != (e.status == EventStatus::kFiring)) continue;
      if (!rule.src.empty() && std::find(rule.src.begin(), rule.src.end(),
                                         static_cast<int>(e.source)) == rule.src.end()) {
        continue;
      }
      bool ok = true;
      for (const auto& m : rule.ms) {
        auto it = labels.find(m.name);
        const std::string v = it == labels.end() ? "" : it->second;
        const bool res = m.op == "="    ? v == m.value
                         : m.op == "!=" ? v != m.value
                         : m.op == "=~" ? full_match(m, v)
                                        : !full_match(m, v);
        ok = ok && res;
      }
      if (ok) want.push_back(r);
    }
    engine.match(e, got);
    total += got.size();
    ASSERT_EQ(got, want) << "event " << i;
  }
  EXPECT_GT(total, 2000u);  // the comparison is not vacuous
}

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
