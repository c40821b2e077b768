#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "tests/rules/rules_test_util.hpp"

namespace aiopsd::rules {
namespace {

using test::errors_of;

TEST(RuleLoader, ParsesEveryField) {
  Interner in;
  RuleSet set = test::load(in, R"(rules:
  - name: full
    match:
      alertname: InterfaceDown
      severity: {"=~": "warning|critical"}
      env: {"!=": lab}
      job: {"!~": "test.*"}
    status: any
    sources: [alertmanager_v2, kafka]
    group_by: [device, interface]
    count: 3
    window: 10m
    throttle: {once_within: 30m}
    dry_run: true
    actions:
      - ssh:
          device: "{{ labels.device }}"
          params: {labels.interface: '[0-9/]+'}
          commands: ["interface {{ labels.interface }} shutdown"]
          timeout: 20s
          output_limit: 64KiB
          policy: {allow: ['interface .*'], deny: ['.*reload.*']}
      - log: {message: "{{ annotations.summary }}"}
  - name: waits
    match: {alertname: X}
    for: 2m
    actions: [{log: {message: m}}]
)");
  ASSERT_EQ(set.rules.size(), 2u);
  const Rule& r = set.rules[0];
  EXPECT_EQ(r.name, "full");
  EXPECT_EQ(r.line, 2);
  ASSERT_EQ(r.steps[0].matchers.size(), 4u);
  EXPECT_EQ(r.steps[0].matchers[1].op, MatchOp::kRegex);
  EXPECT_EQ(r.steps[0].matchers[2].op, MatchOp::kNeq);
  EXPECT_EQ(r.steps[0].matchers[3].op, MatchOp::kNotRegex);
  EXPECT_EQ(r.steps[0].status, StatusFilter::kAny);
  EXPECT_EQ(r.sources,
            (std::vector<EventSource>{EventSource::kAlertmanagerV2, EventSource::kKafka}));
  EXPECT_EQ(r.group_by, (std::vector<std::string>{"device", "interface"}));
  EXPECT_EQ(r.count, 3u);
  EXPECT_EQ(r.window, std::chrono::minutes(10));
  EXPECT_EQ(r.throttle, std::chrono::minutes(30));
  EXPECT_EQ(r.dry_run, true);
  ASSERT_EQ(r.actions.size(), 2u);
  const auto& ssh = std::get<SshAction>(r.actions[0].spec);
  EXPECT_EQ(ssh.timeout, std::chrono::seconds(20));
  EXPECT_EQ(ssh.output_limit, 64u * 1024);
  ASSERT_TRUE(ssh.policy);
  EXPECT_TRUE(ssh.policy->check("interface 1/1 reload").has_value());
  EXPECT_EQ(ssh.params.pattern_text("labels.interface"), "[0-9/]+");
  EXPECT_EQ(set.rules[1].for_duration, std::chrono::minutes(2));
}

TEST(RuleLoader, UnknownOperatorIsLocated) {
  EXPECT_EQ(errors_of(R"(rules:
  - name: a
    match:
      severity: {"==": critical}
    actions: [{log: {message: m}}]
)"),
            "rules.yaml:4:18: rules[0].match.severity: unknown operator '==' (expected =, !=, =~ "
            "or !~)\n");
}

TEST(RuleLoader, ReportsEveryErrorAtOnce) {
  EXPECT_EQ(
      errors_of(R"(rules:
  - name: a
    match: {alertname: X}
    colour: blue
    actions: [{log: {message: m}}]
  - name: a
    match: {sev: {"=~": "(unclosed"}}
    actions: []
  - match: {9bad: x}
    count: 3
    status: sometimes
    actions: [{ssh: {device: "{{ labels.d }}", commands: []}, log: {message: m}}]
  - name: b
    match: {a: b}
    window: soon
    throttle: {once: 1m}
    actions:
      - ssh: {device: "{{ lables.d }}", commands: ["show {{ labels.x"]}
)"),
      "rules.yaml:4:5: rules[0].colour: unknown field\n"
      "rules.yaml:6:11: rules[1].name: duplicate rule name 'a'\n"
      "rules.yaml:7:25: rules[1].match.sev: invalid regex '(unclosed': missing ): (unclosed\n"
      "rules.yaml:8:14: rules[1].actions: expected a non-empty list of actions\n"
      "rules.yaml:9:5: rules[2].name: missing required field\n"
      "rules.yaml:9:13: rules[2].match.9bad: invalid label name\n"
      "rules.yaml:11:13: rules[2].status: unknown status 'sometimes' (expected firing, resolved or "
      "any)\n"
      "rules.yaml:9:5: rules[2]: count and window go together: set both or neither\n"
      "rules.yaml:12:15: rules[2].actions[0]: expected exactly one of ssh, log, run, kafka or "
      "webhook\n"
      "rules.yaml:15:13: rules[3].window: invalid duration 'soon' (expected e.g. 500ms, 30s, 5m, "
      "1h)\n"
      "rules.yaml:13:5: rules[3]: count and window go together: set both or neither\n"
      "rules.yaml:16:16: rules[3].throttle.once: unknown field\n"
      "rules.yaml:16:15: rules[3].throttle.once_within: missing required field\n"
      "rules.yaml:18:23: rules[3].actions[0].ssh.device: unknown reference 'lables.d' (expected "
      "labels.NAME, annotations.NAME, group.NAME or members[N].labels.NAME)\n"
      "rules.yaml:18:52: rules[3].actions[0].ssh.commands[0]: unclosed '{{' at offset 5\n");
}

TEST(RuleLoader, YamlSyntaxErrorIsLocated) {
  EXPECT_EQ(errors_of("rules:\n  - name: [unclosed\n"),
            "rules.yaml:3:1: YAML syntax error: end of sequence flow not found\n");
}

TEST(RuleLoader, ForCannotBeCombinedWithCount) {
  EXPECT_EQ(errors_of(R"(rules:
  - name: a
    match: {a: b}
    count: 2
    window: 1m
    for: 1m
    actions: [{log: {message: m}}]
)"),
            "rules.yaml:6:10: rules[0].for: for cannot be combined with count/window\n");
}

std::string rule_with(const std::string& body) {
  return "rules:\n  - name: r\n    match: {alertname: X}\n" + body;
}
const std::string kLog = "    actions: [{log: {message: m}}]\n";

TEST(RuleLoader, EachErrorExactly) {
  struct Case {
    std::string yaml, want;
  };
  const std::vector<Case> cases = {
      {rule_with("    status: pending\n" + kLog),
       "rules.yaml:4:13: rules[0].status: unknown status 'pending' (expected firing, resolved or "
       "any)\n"},
      {rule_with("    count: 3\n" + kLog),
       "rules.yaml:2:5: rules[0]: count and window go together: set both or neither\n"},
      {rule_with("    window: 5m\n" + kLog),
       "rules.yaml:2:5: rules[0]: count and window go together: set both or neither\n"},
      {rule_with("    count: 3\n    window: 0s\n" + kLog),
       "rules.yaml:5:13: rules[0].window: must be greater than zero\n"},
      {rule_with("    count: 0\n    window: 1m\n" + kLog),
       "rules.yaml:4:12: rules[0].count: 0 is out of range [1, 1000000]\n"},
      {rule_with("    count: many\n    window: 1m\n" + kLog),
       "rules.yaml:4:12: rules[0].count: expected an integer\n"},
      {rule_with("    for: 2 minutes\n" + kLog),
       "rules.yaml:4:10: rules[0].for: invalid duration '2 minutes' (expected e.g. 500ms, 30s, "
       "5m, 1h)\n"},
      {rule_with("    throttle: {once_within: 1y}\n" + kLog),
       "rules.yaml:4:29: rules[0].throttle.once_within: invalid duration '1y' (expected e.g. "
       "500ms, 30s, 5m, 1h)\n"},
      {rule_with("    throttle: 30m\n" + kLog),
       "rules.yaml:4:15: rules[0].throttle: expected a mapping\n"},
      {rule_with("    sources: [kafka, syslog]\n" + kLog),
       "rules.yaml:4:22: rules[0].sources[1]: unknown source 'syslog' (expected alertmanager_v2, "
       "alertmanager_webhook or kafka)\n"},
      {rule_with("    group_by: [instance, \"job name\"]\n" + kLog),
       "rules.yaml:4:26: rules[0].group_by[1]: invalid label name\n"},
      {rule_with("    dry_run: yes\n" + kLog),
       "rules.yaml:4:14: rules[0].dry_run: expected true or false\n"},
      {rule_with("    actions: []\n"),
       "rules.yaml:4:14: rules[0].actions: expected a non-empty list of actions\n"},
      {rule_with("    actions: [{ssh: {device: \"{{ labels.i }}\", commands: []}}]\n"),
       "rules.yaml:4:58: rules[0].actions[0].ssh.commands: expected a non-empty list of command "
       "templates\n"},
      {rule_with("    actions: [{ssh: {device: \"{{ labels.i }}\"}}]\n"),
       "rules.yaml:4:21: rules[0].actions[0].ssh.commands: expected a non-empty list of command "
       "templates\n"},
      {rule_with("    actions: [{ssh: {commands: [show]}}]\n"),
       "rules.yaml:4:21: rules[0].actions[0].ssh.device: missing required field\n"},
      {rule_with("    actions: [{ssh: {device: d, commands: [x]}, log: {message: m}}]\n"),
       "rules.yaml:4:15: rules[0].actions[0]: expected exactly one of ssh, log, run, kafka or "
       "webhook\n"},
      {rule_with("    actions: [{}]\n"),
       "rules.yaml:4:15: rules[0].actions[0]: expected exactly one of ssh, log, run, kafka or "
       "webhook\n"},
      {rule_with("    actions: [{log: {text: m}}]\n"),
       "rules.yaml:4:22: rules[0].actions[0].log.text: unknown field\n"
       "rules.yaml:4:21: rules[0].actions[0].log.message: missing required field\n"},
      {rule_with("    actions: [{log: {message: \"{{ label.x }}\"}}]\n"),
       "rules.yaml:4:31: rules[0].actions[0].log.message: unknown reference 'label.x' (expected "
       "labels.NAME, annotations.NAME, group.NAME or members[N].labels.NAME)\n"},
      {rule_with("    actions: [{ssh: {device: d, commands: [x], user: root}}]\n"),
       "rules.yaml:4:48: rules[0].actions[0].ssh.user: unknown field\n"},
      {rule_with("    actions: [{ssh: {device: d, commands: [x], params: {env.HOME: x}}}]\n"),
       "rules.yaml:4:57: rules[0].actions[0].ssh.params.env.HOME: expected labels.NAME, "
       "annotations.NAME, group.NAME or members[N].labels.NAME\n"},
      {rule_with("    actions: [{ssh: {device: d, commands: [x], params: {labels.x: \"(\"}}}]\n"),
       "rules.yaml:4:67: rules[0].actions[0].ssh.params.labels.x: invalid pattern '(': missing ): "
       "(\n"},
      {rule_with("    actions: [{ssh: {device: d, commands: [x], timeout: soon}}]\n"),
       "rules.yaml:4:57: rules[0].actions[0].ssh.timeout: invalid duration 'soon' (expected e.g. "
       "500ms, 30s, 5m, 1h)\n"},
      {rule_with("    actions: [{ssh: {device: d, commands: [x], output_limit: 4 MiB}}]\n"),
       "rules.yaml:4:62: rules[0].actions[0].ssh.output_limit: invalid size '4 MiB' (expected "
       "e.g. 4096, 256KiB, 4MiB)\n"},
      {rule_with("    actions: [{ssh: {device: d, commands: [x], policy: {allow: [\"(\"]}}}]\n"),
       "rules.yaml:4:56: rules[0].actions[0].ssh.policy: allow[0]: invalid pattern '(': missing "
       "): (\n"},
      {"rules:\n  - name: \"bad name\"\n    match: {a: b}\n" + kLog,
       "rules.yaml:2:11: rules[0].name: invalid rule name 'bad name' (letters, digits, _ . : - "
       "only)\n"},
      {"rules:\n  - name: r\n" + kLog,
       "rules.yaml:2:5: rules[0].match: missing required field (or one of all_of, sequence, "
       "absence)\n"},
      {"rules:\n  - name: r\n    match: [a, b]\n" + kLog,
       "rules.yaml:3:12: rules[0].match: expected a mapping of label name to value or {operator: "
       "value}\n"},
      {"rules:\n  - name: r\n    match: {a: [b]}\n" + kLog,
       "rules.yaml:3:16: rules[0].match.a: expected a string or {operator: value}\n"},
      {"rules:\n  - name: r\n    match: {a: {\"=~\": [b]}}\n" + kLog,
       "rules.yaml:3:23: rules[0].match.a: expected a string value\n"},
      {"rules:\n  - name: r\n    match: {a-b: c}\n" + kLog,
       "rules.yaml:3:13: rules[0].match.a-b: invalid label name\n"},
      {"rules:\n  - name: r\n    match: {a: {\"!~\": \"a++\"}}\n" + kLog,
       "rules.yaml:3:23: rules[0].match.a: invalid regex 'a++': bad repetition operator: ++\n"},
      {"rules: {}\n", "rules.yaml:1:8: rules: expected a list of rules\n"},
      {"rule: []\n",
       "rules.yaml:1:1: rule: unknown field\nrules.yaml:1:1: rules: expected a list "
       "of rules\n"},
      {"- a\n", "rules.yaml:1:1: expected a mapping\n"},
  };
  for (const auto& c : cases) EXPECT_EQ(errors_of(c.yaml), c.want) << c.yaml;
}

TEST(RuleLoader, InvalidRuleIsNotAddedButValidOnesAre) {
  Interner in;
  RuleSet set;
  ConfigErrors errors("rules.yaml");
  load_rules_text(R"(rules:
  - name: good
    match: {a: b}
    actions: [{log: {message: m}}]
  - name: bad
    match: {a: {"=~": "("}}
    actions: [{log: {message: m}}]
)",
                  "rules.yaml", in, set, errors);
  EXPECT_EQ(errors.all().size(), 1u);
  ASSERT_EQ(set.rules.size(), 1u);
  EXPECT_EQ(set.rules[0].name, "good");
  EXPECT_EQ(set.rules[0].file, "rules.yaml");
  EXPECT_EQ(errors.all()[0].line, 6);
  EXPECT_EQ(errors.all()[0].column, 23);
  EXPECT_EQ(errors.all()[0].path, "rules[1].match.a");
}

TEST(RuleLoader, DuplicateNamesAcrossFiles) {
  Interner in;
  RuleSet set;
  ConfigErrors errors;
  const std::string rule = "rules:\n  - name: same\n    match: {a: b}\n" + kLog;
  load_rules_text(rule, "a.yaml", in, set, errors);
  load_rules_text(rule, "b.yaml", in, set, errors);
  EXPECT_EQ(errors.to_string(), "b.yaml:2:11: rules[0].name: duplicate rule name 'same'\n");
  EXPECT_EQ(set.rules.size(), 1u);
}

TEST(RuleLoader, MatcherValuesAndDefaults) {
  Interner in;
  RuleSet set = test::load(in, R"(rules:
  - name: r
    match:
      a: "x"
      b: ""
      c: {"=": "1", "!=": "2", "=~": "3|4", "!~": "5.*"}
      d: 42
    actions: [{log: {message: m}}]
)");
  ASSERT_EQ(set.rules.size(), 1u);
  const Rule& r = set.rules[0];
  ASSERT_EQ(r.steps[0].matchers.size(), 7u);
  std::vector<std::string> got;
  for (const auto& m : r.steps[0].matchers)
    got.push_back(m.name + std::string(to_string(m.op)) + m.value);
  EXPECT_EQ(got,
            (std::vector<std::string>{"a=x", "b=", "c=1", "c!=2", "c=~3|4", "c!~5.*", "d=42"}));
  EXPECT_EQ(r.steps[0].status, StatusFilter::kFiring);
  EXPECT_TRUE(r.sources.empty());
  EXPECT_TRUE(r.group_by.empty());
  EXPECT_EQ(r.count, 0u);
  EXPECT_EQ(r.throttle.count(), 0);
  EXPECT_EQ(r.for_duration.count(), 0);
  EXPECT_FALSE(r.dry_run);
  ASSERT_EQ(r.actions.size(), 1u);
  EXPECT_EQ(r.actions[0].kind, "log");
}

// Like a missing `match`, a missing `actions` must say where the rule is.
TEST(RuleLoader, MissingActionsIsLocated) {
  const std::string got = errors_of(rule_with(""));
  EXPECT_EQ(got.rfind("rules.yaml:2:5: rules[0].actions: ", 0), 0u) << got;
}

// Durations far beyond any sensible window overflow the engine's nanosecond
// time arithmetic (system_clock + milliseconds); the loader must refuse them.
TEST(RuleLoader, AbsurdDurationsAreRejected) {
  EXPECT_NE(errors_of(rule_with("    throttle: {once_within: 1000000000d}\n" + kLog)), "");
  EXPECT_NE(errors_of(rule_with("    for: 200000d\n" + kLog)), "");
}

std::string data_file(const std::string& name) {
  return std::string(AIOPSD_RULES_TEST_DATA) + "/" + name;
}

std::string read(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Errors of a file in tests/data/rules, with the directory stripped so the
// golden files read "invalid.yaml:12:7: ...".
std::string file_errors(const std::string& name) {
  Interner in;
  RuleSet set;
  ConfigErrors errors;
  load_rules_file(data_file(name), in, set, errors);
  std::string out = errors.to_string();
  const std::string dir = std::string(AIOPSD_RULES_TEST_DATA) + "/";
  for (auto p = out.find(dir); p != std::string::npos; p = out.find(dir, p))
    out.erase(p, dir.size());
  return out;
}

// Compares with NAME.errors; AIOPSD_UPDATE_GOLDEN=1 rewrites it (review the diff).
void expect_golden(const std::string& name) {
  const std::string got = file_errors(name + ".yaml");
  const std::string golden = data_file(name + ".errors");
  if (std::getenv("AIOPSD_UPDATE_GOLDEN") != nullptr) std::ofstream(golden) << got;
  EXPECT_EQ(got, read(golden));
}

TEST(RuleLoaderGolden, InvalidFileReportsEveryError) { expect_golden("invalid"); }

TEST(RuleLoaderGolden, SyntaxError) { expect_golden("syntax"); }

TEST(RuleLoaderGolden, MissingFile) {
  EXPECT_EQ(file_errors("no-such-file.yaml"), "no-such-file.yaml: cannot open file\n");
}

TEST(RuleLoaderGolden, ValidFileLoads) {
  Interner in;
  RuleSet set;
  ConfigErrors errors;
  load_rules_file(data_file("valid.yaml"), in, set, errors);
  ASSERT_TRUE(errors.empty()) << errors.to_string();
  ASSERT_EQ(set.rules.size(), 2u);
  const Rule& r = set.rules[0];
  EXPECT_EQ(r.name, "interface-flaps");
  EXPECT_EQ(r.file, data_file("valid.yaml"));
  EXPECT_EQ(r.line, 3);
  EXPECT_EQ(r.sources.size(), 3u);
  EXPECT_EQ(r.group_by, (std::vector<std::string>{"instance", "interface"}));
  EXPECT_EQ(r.count, 3u);
  EXPECT_EQ(r.window, std::chrono::minutes(5));
  EXPECT_EQ(r.throttle, std::chrono::minutes(30));
  EXPECT_EQ(r.dry_run, false);
  ASSERT_EQ(r.actions.size(), 2u);
  EXPECT_EQ(r.actions[0].kind, "ssh");
  const auto& ssh = std::get<SshAction>(r.actions[0].spec);
  EXPECT_EQ(ssh.device.source(), "{{ labels.instance }}");
  ASSERT_EQ(ssh.commands.size(), 2u);
  EXPECT_EQ(ssh.commands[1].source(), "show logging | include {{ labels.interface }}");
  EXPECT_EQ(ssh.params.pattern_text("labels.interface"), "[A-Za-z]+[0-9/]+");
  EXPECT_EQ(ssh.params.pattern_text("labels.instance"), kDefaultParamPattern);
  EXPECT_EQ(ssh.timeout, std::chrono::seconds(20));
  EXPECT_EQ(ssh.output_limit, 64u * 1024);
  ASSERT_TRUE(ssh.policy);
  EXPECT_FALSE(ssh.policy->check("show version"));
  EXPECT_TRUE(ssh.policy->check("configure terminal"));
  EXPECT_TRUE(ssh.policy->check("show reload"));
  EXPECT_EQ(r.actions[1].kind, "log");
  EXPECT_EQ(std::get<LogAction>(r.actions[1].spec).message.source(),
            "{{ annotations.summary }} on {{ labels.instance }}");
  const Rule& r2 = set.rules[1];
  EXPECT_EQ(r2.steps[0].status, StatusFilter::kAny);
  EXPECT_EQ(r2.for_duration, std::chrono::minutes(2));
  EXPECT_EQ(r2.dry_run, true);
}

}  // namespace
}  // namespace aiopsd::rules
