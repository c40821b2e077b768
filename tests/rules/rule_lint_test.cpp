#include "rules/rule_lint.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tests/rules/rules_test_util.hpp"

namespace aiopsd::rules {
namespace {

// Every warning of `yaml` (one rules file, "rules.yaml"), as `aiopsd check` prints them.
std::vector<std::string> warnings(const std::string& yaml) {
  Interner in;
  RuleSet set = test::load(in, yaml);
  std::vector<std::string> out;
  for (const auto& w : lint(set)) out.push_back(w.to_string());
  return out;
}

using Lines = std::vector<std::string>;

TEST(RuleLint, CleanRulesHaveNoWarnings) {
  EXPECT_EQ(warnings(R"(rules:
  - name: a
    match: {alertname: InterfaceDown, severity: {"=~": "warning|critical"}}
    group_by: [device, interface]
    throttle: {once_within: 10m}
    actions: [{ssh: {device: "{{ labels.device }}", commands: [x]}}]
  - name: b
    match: {alertname: BGPDown}
    group_by: [device]
    count: 3
    window: 10m
    throttle: {once_within: 1h}
    actions: [{ssh: {device: "{{ labels.device }}", commands: [y]}}]
)"),
            Lines{});
}

TEST(RuleLint, ContradictoryMatchers) {
  EXPECT_EQ(warnings(R"(rules:
  - name: eq-neq
    match: {env: {"=": prod, "!=": prod}}
    actions: [{log: {message: m}}]
  - name: eq-regex
    match: {severity: {"=": info, "=~": "warning|critical"}}
    actions: [{log: {message: m}}]
  - name: eq-not-regex
    match: {severity: {"=": critical, "!~": "crit.*"}}
    actions: [{log: {message: m}}]
  - name: empty-and-regex
    match: {alertname: A, team: {"=": "", "=~": ".+"}}
    actions: [{log: {message: m}}]
  - name: empty-and-present
    match: {alertname: B, team: {"=": "", "!=": ""}}
    actions: [{log: {message: m}}]
  - name: regex-and-not-regex
    match: {alertname: C, job: {"=~": "node.*", "!~": "node.*"}}
    actions: [{log: {message: m}}]
  - name: satisfiable
    match: {alertname: D, job: {"=": node, "=~": "node|blackbox", "!=": other}}
    actions: [{log: {message: m}}]
)"),
            (Lines{
                "rules.yaml:2: warning: rules[0].match.env: the rule can never match: env=\"prod\" "
                "and env!=\"prod\" cannot both hold",
                "rules.yaml:5: warning: rules[1].match.severity: the rule can never match: "
                "severity=\"info\" and severity=~\"warning|critical\" cannot both hold",
                "rules.yaml:8: warning: rules[2].match.severity: the rule can never match: "
                "severity=\"critical\" and severity!~\"crit.*\" cannot both hold",
                "rules.yaml:11: warning: rules[3].match.team: the rule can never match: "
                "team=\"\" (label absent) and team=~\".+\" cannot both hold",
                "rules.yaml:14: warning: rules[4].match.team: the rule can never match: "
                "team=\"\" (label absent) and team!=\"\" cannot both hold",
                "rules.yaml:17: warning: rules[5].match.job: the rule can never match: "
                "job=~\"node.*\" and job!~\"node.*\" cannot both hold",
            }));
}

TEST(RuleLint, ForOnResolvedAlertsNeverApplies) {
  EXPECT_EQ(warnings(R"(rules:
  - name: r
    match: {alertname: A}
    status: resolved
    for: 5m
    actions: [{log: {message: m}}]
  - name: any-is-fine
    match: {alertname: B}
    status: any
    for: 5m
    actions: [{log: {message: m}}]
)"),
            Lines{"rules.yaml:2: warning: rules[0].for: for: 5m never applies to a rule on "
                  "resolved alerts: `for` counts how long an alert has been firing, and each "
                  "resolved alert acts at once"});
}

TEST(RuleLint, DuplicateOfAnEarlierRule) {
  // Same matchers in another order and another spelling, same group_by in
  // another order: the second is a duplicate. Different status: not.
  EXPECT_EQ(warnings(R"(rules:
  - name: first
    match: {alertname: A, severity: critical}
    group_by: [device, job]
    actions: [{log: {message: one}}]
  - name: second
    match: {severity: {"=": critical}, alertname: A}
    group_by: [job, device]
    actions: [{log: {message: two}}]
  - name: third
    match: {alertname: A, severity: critical}
    status: resolved
    group_by: [device, job]
    actions: [{log: {message: three}}]
)"),
            Lines{"rules.yaml:6: warning: rules[1].match: same matchers, status, sources and "
                  "group_by as rules[0] 'first' (rules.yaml:2): both act on every alert either "
                  "matches; merge their actions or tell the rules apart"});
}

TEST(RuleLint, ConflictingRemediationsOnTheSameDevice) {
  EXPECT_EQ(warnings(R"(rules:
  - name: bounce
    match: {alertname: InterfaceDown}
    actions: [{ssh: {device: "{{ labels.device }}", commands: [bounce]}}]
  - name: shut-critical
    match: {severity: critical}
    actions:
      - log: {message: m}
      - ssh: {device: "{{labels.device}}", commands: [shut]}
  - name: other-alert
    match: {alertname: BGPDown, severity: critical}
    actions: [{ssh: {device: "{{ labels.host }}", commands: [x]}}]
  - name: exclusive
    match: {alertname: DiskFull}
    actions: [{ssh: {device: "{{ labels.device }}", commands: [y]}}]
)"),
            (Lines{
                "rules.yaml:5: warning: rules[1].actions[1]: can remediate the same alert on the "
                "same device ({{labels.device}}) as rules[0] 'bounce' (rules.yaml:2): both would "
                "run; make the matchers exclusive or merge the rules",
                // DiskFull and critical can be one alert.
                "rules.yaml:13: warning: rules[3].actions[0]: can remediate the same alert on "
                "the same device ({{labels.device}}) as rules[1] 'shut-critical' (rules.yaml:5): "
                "both would run; make the matchers exclusive or merge the rules",
            }));
}

TEST(RuleLint, ConflictNeedsOverlappingStatusAndSources) {
  EXPECT_EQ(warnings(R"(rules:
  - name: on-fire
    match: {alertname: A}
    sources: [alertmanager_v2]
    actions: [{ssh: {device: "{{ labels.device }}", commands: [x]}}]
  - name: on-resolve
    match: {alertname: A, job: node}
    status: resolved
    actions: [{ssh: {device: "{{ labels.device }}", commands: [y]}}]
  - name: from-kafka
    match: {alertname: A, job: node}
    sources: [kafka]
    actions: [{ssh: {device: "{{ labels.device }}", commands: [z]}}]
)"),
            Lines{});
}

TEST(RuleLint, ThrottleShorterThanWindow) {
  EXPECT_EQ(warnings(R"(rules:
  - name: r
    match: {alertname: A}
    count: 3
    window: 10m
    throttle: {once_within: 1m}
    actions: [{log: {message: m}}]
)"),
            Lines{"rules.yaml:2: warning: rules[0].throttle: once_within 1m is shorter than "
                  "window 10m: a group can act again before its window has passed"});
}

TEST(RuleLint, GroupByALabelPinnedByAMatcher) {
  EXPECT_EQ(warnings(R"(rules:
  - name: r
    match: {alertname: A, severity: {"=~": "warning|critical"}}
    group_by: [alertname, severity, device]
    actions: [{log: {message: m}}]
)"),
            Lines{"rules.yaml:2: warning: rules[0].group_by[0]: 'alertname' is pinned to \"A\" by "
                  "the rule's matchers: it adds nothing to the group key"});
}

TEST(RuleLint, PathsCountRulesWithinTheirFile) {
  Interner in;
  RuleSet set;
  ConfigErrors errors;
  const std::string rule = R"(rules:
  - name: NAME
    match: {alertname: A, env: {"=": a, "=~": b}}
    actions: [{log: {message: m}}]
)";
  auto with = [&](std::string name) {
    std::string y = rule;
    y.replace(y.find("NAME"), 4, name);
    return y;
  };
  load_rules_text(with("x"), "a.yaml", in, set, errors);
  load_rules_text(with("y"), "b.yaml", in, set, errors);
  ASSERT_TRUE(errors.empty()) << errors.to_string();
  auto w = lint(set);
  ASSERT_EQ(w.size(), 3u);  // two contradictions, and y duplicates x
  EXPECT_EQ(w[0].file, "a.yaml");
  EXPECT_EQ(w[0].rule, "x");
  EXPECT_EQ(w[0].path, "rules[0].match.env");
  EXPECT_EQ(w[1].file, "b.yaml");
  EXPECT_EQ(w[1].path, "rules[0].match.env");
  EXPECT_EQ(w[1].line, 2);
  EXPECT_EQ(w[2].path, "rules[0].match");
  EXPECT_NE(w[2].message.find("rules[0] 'x' (a.yaml:2)"), std::string::npos) << w[2].message;
}

}  // namespace
}  // namespace aiopsd::rules
