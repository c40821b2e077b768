// The matcher index alone: Prometheus matcher semantics, status and source
// filters, and agreement with evaluating every rule one by one.
#include "rules/matcher_index.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <random>
#include <regex>

#include "tests/rules/rules_test_util.hpp"

namespace aiopsd::rules {
namespace {

using test::make_event;

std::vector<std::uint32_t> matches(const std::string& rules_yaml,
                                   const std::map<std::string, std::string>& labels,
                                   EventStatus status = EventStatus::kFiring) {
  Interner in;
  RuleSet set = test::load(in, rules_yaml);
  MatcherIndex index(set, in);
  std::vector<std::uint32_t> out;
  index.match_rules(make_event(in, labels, status), out);
  return out;
}

std::string one_rule(const std::string& match) {
  return "rules:\n  - name: r\n    match: " + match +
         "\n    status: any\n    actions: [{log: {message: m}}]\n";
}

bool hit(const std::string& match, const std::map<std::string, std::string>& labels) {
  return !matches(one_rule(match), labels).empty();
}

TEST(MatcherIndex, PrometheusSemantics) {
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

TEST(MatcherIndex, StatusAndSourceFilters) {
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
TEST(MatcherIndex, EmptyValuedLabelIsTheSameAsAbsent) {
  EXPECT_TRUE(hit(R"({foo: ""})", {{"foo", ""}}));
  EXPECT_FALSE(hit(R"({foo: {"!=": ""}})", {{"foo", ""}}));
  EXPECT_TRUE(hit(R"({foo: {"!=": bar}})", {{"foo", ""}}));
  EXPECT_TRUE(hit(R"({foo: {"=~": ""}})", {{"foo", ""}}));
  EXPECT_FALSE(hit(R"({foo: {"=~": ".+"}})", {{"foo", ""}}));
}

TEST(MatcherIndex, RegexOnlyAndNegativeOnlyRules) {
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

TEST(MatcherIndex, SeveralRulesOnTheSameAnchor) {
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
TEST(MatcherIndex, IndexAgreesWithBruteForceOnRandomRulesAndEvents) {
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
  MatcherIndex index(set, in);
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
    index.match_rules(e, got);
    total += got.size();
    ASSERT_EQ(got, want) << "event " << i;
  }
  EXPECT_GT(total, 2000u);  // the comparison is not vacuous
}

// Units come back rule units first, in (rule, step) order, then inhibit
// sides; each says whose it is, and rule units keep the status the rule
// declared even where the index listens more widely.
TEST(MatcherIndex, UnitsSayWhoseTheyAreInRuleThenInhibitOrder) {
  Interner in;
  RuleSet set = test::load(in, R"(rules:
  - name: pair
    all_of:
      - match: {alertname: A}
      - match: {alertname: B}
    window: 5m
    actions: [{log: {message: m}}]
  - name: resolved_only
    match: {alertname: A}
    status: resolved
    actions: [{log: {message: m}}]
inhibit_rules:
  - name: quiet
    source_match: {alertname: A}
    target_match: {alertname: B}
    equal: [job]
)");
  MatcherIndex index(set, in);
  ASSERT_EQ(index.rule_units(), 3u);
  ASSERT_EQ(index.size(), 5u);
  std::vector<std::uint32_t> units;
  index.match_units(make_event(in, {{"alertname", "A"}}), units);
  ASSERT_EQ(units.size(), 2u);
  EXPECT_EQ(index.unit(units[0]).owner, UnitOwner::kRule);
  EXPECT_EQ(index.unit(units[0]).index, 0u);
  EXPECT_EQ(index.unit(units[0]).step, 0);
  EXPECT_EQ(index.unit(units[1]).owner, UnitOwner::kInhibitSource);
  // The resolved-only rule is not among a firing A's units; the all_of's
  // first step hears A resolve (its state must drop the member) though it
  // declares firing, so match_rules leaves it out for a resolved A.
  index.match_units(make_event(in, {{"alertname", "A"}}, EventStatus::kResolved), units);
  ASSERT_EQ(units.size(), 3u);
  EXPECT_EQ(index.unit(units[0]).index, 0u);
  EXPECT_EQ(index.unit(units[0]).declared, StatusFilter::kFiring);
  EXPECT_EQ(index.unit(units[1]).index, 1u);
  std::vector<std::uint32_t> rules;
  index.match_rules(make_event(in, {{"alertname", "A"}}, EventStatus::kResolved), rules);
  EXPECT_EQ(rules, (std::vector<std::uint32_t>{1}));
  index.match_units(make_event(in, {{"alertname", "B"}}), units);
  ASSERT_EQ(units.size(), 2u);
  EXPECT_EQ(index.unit(units[0]).step, 1);
  EXPECT_EQ(index.unit(units[1]).owner, UnitOwner::kInhibitTarget);
}

}  // namespace
}  // namespace aiopsd::rules
