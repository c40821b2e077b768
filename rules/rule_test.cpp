#include "rules/rule_test.hpp"

#include <unordered_map>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <set>
#include <variant>

#include "rules/action_catalog.hpp"
#include "rules/engine.hpp"
#include "rules/rule.hpp"

namespace aiopsd::rules {

namespace {

using std::chrono::milliseconds;

// Beyond this many evaluation steps a test is refused: a typo such as
// `interval: 1ms` with `at: 7d` would otherwise run for hours.
constexpr std::int64_t kMaxSteps = 1'000'000;

struct InputAlert {
  milliseconds at{0};
  std::optional<milliseconds> starts_at;  // default: see run_test
  Event event;
};

struct Expected {
  milliseconds from{0};  // window, inclusive; from == to for an exact time
  milliseconds to{0};
  std::string rule;
  std::string group_key;
  std::optional<std::vector<std::string>> commands;  // nullopt: not compared
};

struct TestCase {
  std::string name;
  milliseconds interval{60'000};
  std::vector<InputAlert> inputs;
  std::vector<Expected> expect;
};

struct Got {
  milliseconds at{0};
  std::string rule;
  std::string group_key;
  std::vector<std::string> commands;
};

struct TestFile {
  std::string path;
  Interner interner;
  RuleSet rules;
  ActionCatalog catalog;
  std::optional<std::set<std::string, std::less<>>> devices;  // nullopt: no inventory check
  bool rules_valid = true;  // false: rule names are unreliable, skip `expect.rule` checks
  std::vector<TestCase> tests;
};

std::string resolve(const std::string& base_file, const std::string& p) {
  namespace fs = std::filesystem;
  fs::path path(p);
  if (path.is_absolute()) return p;
  return (fs::path(base_file).parent_path() / path).lexically_normal().string();
}

std::optional<milliseconds> parse_at(const YAML::Node& n, const std::string& path,
                                     ConfigErrors& errors) {
  if (!n.IsScalar()) {
    errors.add(n, path, "expected a duration such as 0s, 30s or 5m");
    return std::nullopt;
  }
  auto d = parse_duration(n.Scalar());
  if (!d) {
    errors.add(n, path,
               fmt::format("invalid duration '{}' (expected e.g. 0s, 30s, 5m)", n.Scalar()));
  }
  return d;
}

// "5m" or "4m..6m" (inclusive).
bool parse_window(const YAML::Node& n, const std::string& path, Expected& e, ConfigErrors& errors) {
  if (!n.IsScalar()) {
    errors.add(n, path, "expected a time (5m) or a window (4m..6m)");
    return false;
  }
  const std::string& s = n.Scalar();
  const auto dots = s.find("..");
  auto from = parse_duration(dots == std::string::npos ? s : s.substr(0, dots));
  auto to = dots == std::string::npos ? from : parse_duration(s.substr(dots + 2));
  if (!from || !to) {
    errors.add(n, path, fmt::format("invalid time '{}' (expected e.g. 5m, or 4m..6m)", s));
    return false;
  }
  if (*to < *from) {
    errors.add(n, path, fmt::format("window '{}' ends before it starts", s));
    return false;
  }
  e.from = *from;
  e.to = *to;
  return true;
}

// A mapping of string to string (labels, annotations).
std::vector<std::pair<std::string, std::string>> string_map(const YAML::Node& n,
                                                            const std::string& path,
                                                            ConfigErrors& errors) {
  std::vector<std::pair<std::string, std::string>> out;
  if (!n.IsMap()) {
    errors.add(n, path, "expected a mapping of name to value");
    return out;
  }
  for (auto it = n.begin(); it != n.end(); ++it) {
    const std::string name = it->first.as<std::string>("");
    if (!it->second.IsScalar()) {
      errors.add(it->second, fmt::format("{}.{}", path, name), "expected a string");
      continue;
    }
    out.emplace_back(name, it->second.Scalar());
  }
  return out;
}

void parse_input(const YAML::Node& node, const std::string& path, Interner& interner,
                 TestCase& test, ConfigErrors& errors) {
  YamlMap m(node, path, errors,
            {"labels", "annotations", "at", "starts_at", "status", "ends_after", "source"});
  if (!m.valid()) return;
  InputAlert in;
  if (m.has("at")) {
    if (auto at = parse_at(m.node("at"), m.child_path("at"), errors)) in.at = *at;
  }
  if (m.has("starts_at")) {
    in.starts_at = parse_at(m.node("starts_at"), m.child_path("starts_at"), errors);
  }
  Event& e = in.event;
  if (!m.has("labels")) {
    errors.add(node, m.child_path("labels"), "missing required field");
  } else {
    for (const auto& [k, v] : string_map(m.node("labels"), m.child_path("labels"), errors)) {
      e.labels.push_back({interner.intern(k), interner.intern(v)});
    }
    if (!normalize_labels(e.labels)) {
      errors.add(m.node("labels"), m.child_path("labels"), "a label name repeats");
    }
  }
  if (m.has("annotations")) {
    for (const auto& [k, v] :
         string_map(m.node("annotations"), m.child_path("annotations"), errors)) {
      e.annotations.push_back({interner.intern(k),
                               static_cast<std::uint32_t>(e.annotation_text.size()),
                               static_cast<std::uint32_t>(v.size())});
      e.annotation_text += v;
    }
    normalize_annotations(e.annotations);
  }
  if (auto s = m.string("status")) {
    if (*s == "resolved") {
      e.status = EventStatus::kResolved;
    } else if (*s != "firing") {
      errors.add(m.node("status"), m.child_path("status"),
                 fmt::format("unknown status '{}' (expected firing or resolved)", *s));
    }
  }
  if (auto s = m.string("source")) {
    if (*s == to_string(EventSource::kAlertmanagerV2)) {
      e.source = EventSource::kAlertmanagerV2;
    } else if (*s == to_string(EventSource::kAlertmanagerWebhook)) {
      e.source = EventSource::kAlertmanagerWebhook;
    } else if (*s == to_string(EventSource::kKafka)) {
      e.source = EventSource::kKafka;
    } else {
      errors.add(m.node("source"), m.child_path("source"),
                 fmt::format("unknown source '{}' (expected alertmanager_v2, "
                             "alertmanager_webhook or kafka)",
                             *s));
    }
  }
  // starts_at/ends_at are filled in relative to the clock when the test runs;
  // keep ends_after in ends_at's place as an offset from the epoch.
  if (m.has("ends_after")) {
    if (auto d = parse_at(m.node("ends_after"), m.child_path("ends_after"), errors)) {
      e.ends_at = TimePoint{*d};
    }
  }
  e.fingerprint = fingerprint_of(e.labels, interner);
  test.inputs.push_back(std::move(in));
}

void parse_expect(const YAML::Node& node, const std::string& path, const RuleSet& rules,
                  bool rules_valid, TestCase& test, ConfigErrors& errors) {
  YamlMap m(node, path, errors, {"at", "rule", "group_key", "commands"});
  if (!m.valid()) return;
  Expected e;
  bool ok = true;
  if (!m.has("at")) {
    errors.add(node, m.child_path("at"), "missing required field");
    ok = false;
  } else {
    ok = parse_window(m.node("at"), m.child_path("at"), e, errors) && ok;
  }
  if (auto r = m.string("rule", true)) {
    e.rule = *r;
    const bool known = std::any_of(rules.rules.begin(), rules.rules.end(),
                                   [&](const Rule& rule) { return rule.name == *r; });
    if (!known && rules_valid) {
      errors.add(m.node("rule"), m.child_path("rule"),
                 fmt::format("unknown rule '{}' (not in rule_files)", *r));
      ok = false;
    }
  } else {
    ok = false;
  }
  if (auto g = m.string("group_key")) e.group_key = *g;
  if (m.has("commands")) {
    if (!m.node("commands").IsSequence()) {
      errors.add(m.node("commands"), m.child_path("commands"), "expected a list of strings");
      ok = false;
    } else {
      e.commands = m.string_list("commands");
    }
  }
  if (ok) test.expect.push_back(std::move(e));
}

void parse_test(const YAML::Node& node, const std::string& path, TestFile& tf,
                ConfigErrors& errors) {
  YamlMap m(node, path, errors, {"name", "interval", "input_alerts", "expect"});
  if (!m.valid()) return;
  TestCase test;
  if (auto n = m.string("name", true)) test.name = *n;
  if (auto i = m.duration("interval")) {
    if (i->count() <= 0) {
      errors.add(m.node("interval"), m.child_path("interval"), "must be greater than zero");
    } else {
      test.interval = *i;
    }
  }
  auto list = [&](std::string_view key, auto&& each) {
    if (!m.has(key)) return;
    YAML::Node seq = m.node(key);
    if (!seq.IsSequence()) {
      errors.add(seq, m.child_path(key), "expected a list");
      return;
    }
    for (std::size_t i = 0; i < seq.size(); ++i) {
      each(seq[i], fmt::format("{}[{}]", m.child_path(key), i));
    }
  };
  list("input_alerts", [&](const YAML::Node& n, const std::string& p) {
    parse_input(n, p, tf.interner, test, errors);
  });
  list("expect", [&](const YAML::Node& n, const std::string& p) {
    parse_expect(n, p, tf.rules, tf.rules_valid, test, errors);
  });
  milliseconds end{0};
  for (const auto& in : test.inputs) end = std::max(end, in.at);
  for (const auto& e : test.expect) end = std::max(end, e.to);
  if (end / test.interval > kMaxSteps) {
    errors.add(m.has("interval") ? m.node("interval") : node, m.child_path("interval"),
               fmt::format("{} steps of {} to reach {}: more than {}; use a longer interval",
                           end / test.interval, format_test_duration(test.interval),
                           format_test_duration(end), kMaxSteps));
  }
  tf.tests.push_back(std::move(test));
}

void parse_test_file(const YAML::Node& root, TestFile& tf, ConfigErrors& errors) {
  YamlMap top(root, "", errors, {"rule_files", "catalog_files", "devices", "tests"});
  if (!top.valid()) return;
  if (!top.has("rule_files")) {
    errors.add(root, "rule_files", "missing required field");
  }
  // Rules and catalogs first: `expect` entries are checked against them.
  const std::size_t errors_before = errors.all().size();
  for (const auto& f : top.string_list("rule_files")) {
    load_rules_file(resolve(tf.path, f), tf.interner, tf.rules, errors);
  }
  tf.rules_valid = errors.all().size() == errors_before;
  for (const auto& f : top.string_list("catalog_files")) {
    load_catalog_file(resolve(tf.path, f), tf.catalog, errors);
  }
  if (top.has("devices")) {
    tf.devices.emplace();
    for (auto& d : top.string_list("devices")) tf.devices->insert(std::move(d));
  }
  YAML::Node tests = top.node("tests");
  if (!tests.IsDefined() || !tests.IsSequence()) {
    errors.add(tests.IsDefined() ? tests : root, "tests", "expected a list of tests");
    return;
  }
  for (std::size_t i = 0; i < tests.size(); ++i) {
    parse_test(tests[i], fmt::format("tests[{}]", i), tf, errors);
  }
}

// The commands the daemon would send for this decision, rendered exactly as
// daemon/remediation/action_runner.cpp does (device, templates with parameter patterns,
// catalog parameter types). A failure is shown in place of the commands of
// its action as "error: CODE: MESSAGE", as the audit log would record it.
std::vector<std::string> render_commands(const TestFile& tf, const Decision& d) {
  std::vector<std::string> out;
  const Rule& rule = tf.rules.rules[d.rule];
  auto device_error = [&](const Template& device,
                          const ParamPatterns& patterns) -> std::optional<std::string> {
    auto r = device.render(d.context(), tf.interner, patterns);
    if (!r.ok()) return fmt::format("error: {}: device: {}", r.error->code, r.error->message);
    const std::string ref(strip_port(r.text));
    if (tf.devices && !tf.devices->contains(ref)) {
      return fmt::format("error: unknown_device: device '{}' is not in the inventory", ref);
    }
    return std::nullopt;
  };
  for (const auto& action : rule.actions) {
    if (const auto* ssh = std::get_if<SshAction>(&action.spec)) {
      if (auto err = device_error(ssh->device, ssh->params)) {
        out.push_back(*err);
        continue;
      }
      std::vector<std::string> cmds;
      for (std::size_t i = 0; i < ssh->commands.size(); ++i) {
        auto c = ssh->commands[i].render(d.context(), tf.interner, ssh->params);
        if (!c.ok()) {
          cmds = {fmt::format("error: {}: commands[{}]: {}", c.error->code, i, c.error->message)};
          break;
        }
        cmds.push_back(std::move(c.text));
      }
      out.insert(out.end(), cmds.begin(), cmds.end());
    } else if (const auto* run = std::get_if<RunAction>(&action.spec)) {
      const CatalogAction* ca = tf.catalog.find(run->action);
      if (!ca) {
        out.push_back(
            fmt::format("error: unknown_action: action '{}' is not in the catalog", run->action));
        continue;
      }
      if (auto err = device_error(run->device, run->device_patterns)) {
        out.push_back(*err);
        continue;
      }
      std::map<std::string, ParamValue> values;
      std::optional<std::string> error;
      for (const auto& [name, t] : run->params) {
        auto v = t.render(d.context(), tf.interner, run->value_patterns);
        if (!v.ok()) {
          error = fmt::format("error: {}: params.{}: {}", v.error->code, name, v.error->message);
          break;
        }
        values.emplace(name, std::move(v.text));
      }
      if (error) {
        out.push_back(*error);
        continue;
      }
      auto resolved = tf.catalog.resolve(
          *ca, values, [&](std::string_view n) { return !tf.devices || tf.devices->contains(n); });
      if (const auto* err = std::get_if<ActionError>(&resolved)) {
        out.push_back(fmt::format("error: {}: {}",
                                  err->code == "invalid_params" ? "policy_violation" : err->code,
                                  err->message));
        continue;
      }
      const auto& cmds = std::get<ResolvedAction>(resolved).commands;
      out.insert(out.end(), cmds.begin(), cmds.end());
    }
  }
  return out;
}

std::vector<Got> run_test(TestFile& tf, const TestCase& test) {
  ManualClock clock;
  const TimePoint start = clock.now();
  Engine engine(tf.rules, tf.interner, clock);
  std::vector<const InputAlert*> inputs;
  for (const auto& in : test.inputs) inputs.push_back(&in);
  std::stable_sort(inputs.begin(), inputs.end(),
                   [](const InputAlert* a, const InputAlert* b) { return a->at < b->at; });
  milliseconds end{0};
  for (const auto* in : inputs) end = std::max(end, in->at);
  for (const auto& e : test.expect) end = std::max(end, e.to);

  std::vector<Got> got;
  std::vector<Decision> decisions;
  auto collect = [&](milliseconds at) {
    for (const auto& d : decisions) {
      got.push_back(Got{at, tf.rules.rules[d.rule].name, d.group_key, render_commands(tf, d)});
    }
    decisions.clear();
  };
  std::size_t next_input = 0;
  milliseconds next_tick{0};
  // As a real sender does, a re-sent alert keeps the startsAt of its first
  // sending until it resolves (unless the input gives starts_at).
  std::unordered_map<std::uint64_t, milliseconds> first_sent;
  while (next_tick <= end || next_input < inputs.size()) {
    milliseconds now = next_tick;
    if (next_input < inputs.size()) now = std::min(now, inputs[next_input]->at);
    clock.set(start + now);
    for (; next_input < inputs.size() && inputs[next_input]->at == now; ++next_input) {
      Event e = inputs[next_input]->event;
      const milliseconds first = first_sent.try_emplace(e.fingerprint, now).first->second;
      e.starts_at = start + inputs[next_input]->starts_at.value_or(first);
      if (e.status == EventStatus::kResolved) first_sent.erase(e.fingerprint);
      if (e.ends_at != TimePoint{}) e.ends_at = start + now + e.ends_at.time_since_epoch();
      engine.process(e, decisions);
    }
    if (now == next_tick) {
      engine.tick(decisions);
      next_tick += test.interval;
    }
    collect(now);
  }
  return got;
}

std::string quote_command(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  out += '"';
  return out;
}

std::string describe(const std::string& rule, const std::string& group_key,
                     const std::vector<std::string>* commands) {
  std::string out = fmt::format("{}{{{}}}", rule, group_key);
  if (commands) {
    std::vector<std::string> q;
    for (const auto& c : *commands) q.push_back(quote_command(c));
    out += fmt::format(" commands=[{}]", fmt::join(q, ", "));
  }
  return out;
}

std::string window_text(milliseconds from, milliseconds to) {
  if (from == to) return format_test_duration(from);
  return fmt::format("{}..{}", format_test_duration(from), format_test_duration(to));
}

bool matches(const Expected& e, const Got& g) {
  return g.at >= e.from && g.at <= e.to && g.rule == e.rule && g.group_key == e.group_key &&
         (!e.commands || *e.commands == g.commands);
}

// Empty when the decisions are exactly the expected multiset; otherwise the
// promtool-style block for this test.
std::string compare(const TestCase& test, const std::vector<Got>& got) {
  // Exact times first, then narrower windows: a decision goes to the most
  // specific expectation it satisfies.
  std::vector<std::size_t> order(test.expect.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    return test.expect[a].to - test.expect[a].from < test.expect[b].to - test.expect[b].from;
  });
  std::vector<bool> used(got.size(), false);
  std::vector<bool> met(test.expect.size(), false);
  for (std::size_t i : order) {
    for (std::size_t j = 0; j < got.size(); ++j) {
      if (!used[j] && matches(test.expect[i], got[j])) {
        used[j] = met[i] = true;
        break;
      }
    }
  }
  // Every time (or window) where something is missing or unexpected.
  std::set<std::pair<milliseconds, milliseconds>> times;
  for (std::size_t i = 0; i < met.size(); ++i) {
    if (!met[i]) times.insert({test.expect[i].from, test.expect[i].to});
  }
  for (std::size_t j = 0; j < used.size(); ++j) {
    if (!used[j]) times.insert({got[j].at, got[j].at});
  }
  if (times.empty()) return {};
  std::string out = fmt::format("  FAILED: {}\n", test.name);
  for (const auto& [from, to] : times) {
    std::vector<std::string> exp;
    for (const auto& e : test.expect) {
      if (e.from == from && e.to == to) {
        exp.push_back(describe(e.rule, e.group_key, e.commands ? &*e.commands : nullptr));
      }
    }
    std::vector<std::string> act;
    for (const auto& g : got) {
      if (g.at >= from && g.at <= to) {
        act.push_back(fmt::format("{} at {}", describe(g.rule, g.group_key, &g.commands),
                                  format_test_duration(g.at)));
      }
    }
    std::sort(exp.begin(), exp.end());
    std::sort(act.begin(), act.end());
    out += fmt::format("    at {}:\n", window_text(from, to));
    out += fmt::format("      exp: [{}]\n", fmt::join(exp, ", "));
    out += fmt::format("      got: [{}]\n", fmt::join(act, ", "));
  }
  return out;
}

RuleTestOutcome run_parsed(const YAML::Node& root, const std::string& file) {
  RuleTestOutcome outcome;
  outcome.errors.set_file(file);
  TestFile tf;
  tf.path = file;
  parse_test_file(root, tf, outcome.errors);
  if (!outcome.errors.empty()) return outcome;
  for (const auto& test : tf.tests) {
    ++outcome.tests;
    std::string diff = compare(test, run_test(tf, test));
    if (!diff.empty()) {
      ++outcome.failed;
      outcome.diff += diff;
    }
  }
  return outcome;
}

}  // namespace

std::string format_test_duration(milliseconds d) {
  if (d.count() == 0) return "0s";
  std::string out;
  auto ms = d.count();
  constexpr std::pair<std::int64_t, const char*> kUnits[] = {
      {86'400'000, "d"}, {3'600'000, "h"}, {60'000, "m"}, {1000, "s"}, {1, "ms"}};
  for (const auto& [size, unit] : kUnits) {
    if (ms >= size) {
      out += fmt::format("{}{}", ms / size, unit);
      ms %= size;
    }
  }
  return out;
}

RuleTestOutcome run_rule_test_file(const std::string& path) {
  ConfigErrors errors(path);
  auto root = load_yaml_file(path, errors);
  if (!root) {
    RuleTestOutcome outcome;
    outcome.errors = std::move(errors);
    return outcome;
  }
  return run_parsed(*root, path);
}

RuleTestOutcome run_rule_test_text(const std::string& text, const std::string& file) {
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    RuleTestOutcome outcome;
    outcome.errors.set_file(file);
    outcome.errors.add(e.mark, "", fmt::format("YAML syntax error: {}", e.msg));
    return outcome;
  }
  return run_parsed(root, file);
}

}  // namespace aiopsd::rules
