#include <fmt/format.h>
#include <re2/re2.h>

#include <algorithm>
#include <set>

#include "rules/rule.hpp"

namespace aiopsd::rules {

std::string_view to_string(MatchOp op) {
  switch (op) {
    case MatchOp::kEq:
      return "=";
    case MatchOp::kNeq:
      return "!=";
    case MatchOp::kRegex:
      return "=~";
    case MatchOp::kNotRegex:
      return "!~";
  }
  return "?";
}

std::string_view to_string(RuleKind k) {
  switch (k) {
    case RuleKind::kSingle:
      return "match";
    case RuleKind::kCount:
      return "count";
    case RuleKind::kAllOf:
      return "all_of";
    case RuleKind::kSequence:
      return "sequence";
    case RuleKind::kAbsence:
      return "absence";
  }
  return "?";
}

namespace {

const RE2& label_name_re() {
  static const RE2 re("[a-zA-Z_][a-zA-Z0-9_]*");
  return re;
}

std::optional<MatchOp> parse_op(std::string_view s) {
  if (s == "=") return MatchOp::kEq;
  if (s == "!=") return MatchOp::kNeq;
  if (s == "=~") return MatchOp::kRegex;
  if (s == "!~") return MatchOp::kNotRegex;
  return std::nullopt;
}

void add_matcher(const YAML::Node& at, const std::string& path, const std::string& name, MatchOp op,
                 const std::string& value, MatcherSet& set, ConfigErrors& errors) {
  if (op == MatchOp::kRegex || op == MatchOp::kNotRegex) {
    RE2::Options opts;
    opts.set_log_errors(false);
    RE2 re(value, opts);
    if (!re.ok()) {
      errors.add(at, path, fmt::format("invalid regex '{}': {}", value, re.error()));
      return;
    }
  }
  set.matchers.push_back({name, op, value});
}

void parse_match(const YAML::Node& node, const std::string& path, MatcherSet& rule,
                 ConfigErrors& errors) {
  if (!node.IsMap()) {
    errors.add(node, path, "expected a mapping of label name to value or {operator: value}");
    return;
  }
  for (auto it = node.begin(); it != node.end(); ++it) {
    const std::string name = it->first.as<std::string>("");
    const std::string mpath = fmt::format("{}.{}", path, name);
    if (!RE2::FullMatch(name, label_name_re())) {
      errors.add(it->first, mpath, "invalid label name");
      continue;
    }
    const YAML::Node v = it->second;  // a copy: it-> yields a temporary
    if (v.IsScalar()) {
      add_matcher(v, mpath, name, MatchOp::kEq, v.Scalar(), rule, errors);
    } else if (v.IsMap() && v.size() > 0) {
      for (auto op_it = v.begin(); op_it != v.end(); ++op_it) {
        const std::string op_text = op_it->first.as<std::string>("");
        auto op = parse_op(op_text);
        if (!op) {
          errors.add(op_it->first, mpath,
                     fmt::format("unknown operator '{}' (expected =, !=, =~ or !~)", op_text));
          continue;
        }
        if (!op_it->second.IsScalar()) {
          errors.add(op_it->second, mpath, "expected a string value");
          continue;
        }
        add_matcher(op_it->second, mpath, name, *op, op_it->second.Scalar(), rule, errors);
      }
    } else {
      errors.add(v, mpath, "expected a string or {operator: value}");
    }
  }
}

std::optional<Template> parse_template(const YAML::Node& node, const std::string& path,
                                       Interner& interner, ConfigErrors& errors) {
  if (!node.IsScalar()) {
    errors.add(node, path, "expected a string");
    return std::nullopt;
  }
  std::string err;
  auto t = Template::parse(node.Scalar(), err, interner);
  if (!t) errors.add(node, path, err);
  return t;
}

std::optional<CommandPolicy> parse_policy(const YamlMap& parent, Interner&, ConfigErrors& errors) {
  YamlMap pm(parent.node("policy"), parent.child_path("policy"), errors, {"allow", "deny"});
  if (!pm.valid()) return std::nullopt;
  std::vector<std::string> errs;
  auto policy = CommandPolicy::compile(pm.string_list("allow"), pm.string_list("deny"), errs);
  for (const auto& e : errs) errors.add(parent.node("policy"), pm.path(), e);
  return policy;
}

std::optional<SshAction> parse_ssh(const YAML::Node& node, const std::string& path,
                                   Interner& interner, ConfigErrors& errors) {
  YamlMap m(node, path, errors,
            {"device", "commands", "params", "timeout", "output_limit", "policy"});
  if (!m.valid()) return std::nullopt;
  SshAction a;
  bool ok = true;
  if (!m.has("device")) {
    errors.add(node, m.child_path("device"), "missing required field");
    ok = false;
  } else if (auto t = parse_template(m.node("device"), m.child_path("device"), interner, errors)) {
    a.device = std::move(*t);
  } else {
    ok = false;
  }
  YAML::Node cmds = m.node("commands");
  if (!cmds.IsDefined() || !cmds.IsSequence() || cmds.size() == 0) {
    errors.add(cmds.IsDefined() ? cmds : node, m.child_path("commands"),
               "expected a non-empty list of command templates");
    ok = false;
  } else {
    for (std::size_t i = 0; i < cmds.size(); ++i) {
      auto t = parse_template(cmds[i], fmt::format("{}[{}]", m.child_path("commands"), i), interner,
                              errors);
      if (t) {
        a.commands.push_back(std::move(*t));
      } else {
        ok = false;
      }
    }
  }
  if (m.has("params")) {
    YAML::Node p = m.node("params");
    if (!p.IsMap()) {
      errors.add(p, m.child_path("params"), "expected a mapping of reference to pattern");
      ok = false;
    } else {
      for (auto it = p.begin(); it != p.end(); ++it) {
        std::string ref = it->first.as<std::string>("");
        std::string ppath = fmt::format("{}.{}", m.child_path("params"), ref);
        if (!ref.starts_with("labels.") && !ref.starts_with("annotations.") &&
            !ref.starts_with("group.") && !ref.starts_with("members[")) {
          errors.add(it->first, ppath,
                     "expected labels.NAME, annotations.NAME, group.NAME or "
                     "members[N].labels.NAME");
          ok = false;
          continue;
        }
        if (!it->second.IsScalar()) {
          errors.add(it->second, ppath, "expected a pattern string");
          ok = false;
          continue;
        }
        if (auto err = a.params.set(ref, it->second.Scalar())) {
          errors.add(it->second, ppath, *err);
          ok = false;
        }
      }
    }
  }
  a.timeout = m.duration("timeout");
  a.output_limit = m.size("output_limit");
  if (m.has("policy")) {
    a.policy = parse_policy(m, interner, errors);
    ok = ok && a.policy.has_value();
  }
  a.where = ConfigError{errors.file(), node.Mark().line + 1, node.Mark().column + 1, path, ""};
  if (!ok) return std::nullopt;
  return a;
}

std::optional<RunAction> parse_run(const YAML::Node& node, const std::string& path,
                                   Interner& interner, ConfigErrors& errors) {
  YamlMap m(node, path, errors, {"action", "device", "params"});
  if (!m.valid()) return std::nullopt;
  const std::size_t before = errors.all().size();
  RunAction a;
  a.where = ConfigError{errors.file(), node.Mark().line + 1, node.Mark().column + 1, path, ""};
  a.action = m.string("action", true).value_or("");
  if (!m.has("device")) {
    errors.add(node, m.child_path("device"), "missing required field");
  } else if (auto t = parse_template(m.node("device"), m.child_path("device"), interner, errors)) {
    a.device = std::move(*t);
  }
  if (m.has("params")) {
    const YAML::Node p = m.node("params");
    if (!p.IsMap()) {
      errors.add(p, m.child_path("params"), "expected a mapping of parameter name to template");
    } else {
      for (auto it = p.begin(); it != p.end(); ++it) {
        const std::string name = it->first.as<std::string>("");
        const std::string ppath = fmt::format("{}.{}", m.child_path("params"), name);
        auto t = parse_template(it->second, ppath, interner, errors);
        if (!t) continue;
        // Any text may come out of the alert here: the catalog's parameter
        // type is the check, and nothing reaches a command before it passes.
        // (Label values are already bounded by the decoder.)
        for (const auto& ref : t->references()) {
          if (auto err = a.value_patterns.set(ref, "(?s).*")) errors.add(it->second, ppath, *err);
        }
        a.params.emplace(name, std::move(*t));
      }
    }
  }
  if (errors.all().size() != before) return std::nullopt;
  return a;
}

void parse_actions(const YAML::Node& rule_node, const YAML::Node& node, const std::string& path,
                   Interner& interner, Rule& rule, ConfigErrors& errors) {
  if (!node.IsDefined()) {
    // Like a missing `match`: point at the rule, which has a position.
    errors.add(rule_node, path, "missing required field (a non-empty list of actions)");
    return;
  }
  if (!node.IsSequence() || node.size() == 0) {
    errors.add(node, path, "expected a non-empty list of actions");
    return;
  }
  for (std::size_t i = 0; i < node.size(); ++i) {
    const std::string apath = fmt::format("{}[{}]", path, i);
    YamlMap am(node[i], apath, errors, {"ssh", "log", "run", "kafka", "webhook"});
    if (!am.valid()) continue;
    if (am.has("ssh") + am.has("log") + am.has("run") + am.has("kafka") + am.has("webhook") != 1) {
      errors.add(node[i], apath, "expected exactly one of ssh, log, run, kafka or webhook");
      continue;
    }
    if (am.has("kafka")) {
      YamlMap km(am.node("kafka"), am.child_path("kafka"), errors, {"topic"});
      if (!km.valid()) continue;
      auto topic = km.string("topic", true);
      if (!topic) continue;
      if (!RE2::FullMatch(*topic, "[A-Za-z0-9._-]{1,249}")) {
        errors.add(km.node("topic"), km.child_path("topic"),
                   fmt::format("invalid topic name '{}' (letters, digits, . _ - only)", *topic));
        continue;
      }
      rule.actions.push_back({"kafka", KafkaAction{*topic}});
    } else if (am.has("webhook")) {
      YamlMap wm(am.node("webhook"), am.child_path("webhook"), errors, {"receiver"});
      if (!wm.valid()) continue;
      if (auto receiver = wm.string("receiver", true)) {
        const YAML::Node at = wm.node("receiver");
        rule.actions.push_back(
            {"webhook", WebhookAction{*receiver, ConfigError{errors.file(), at.Mark().line + 1,
                                                             at.Mark().column + 1,
                                                             wm.child_path("receiver"), ""}}});
      }
    } else if (am.has("run")) {
      if (auto a = parse_run(am.node("run"), am.child_path("run"), interner, errors)) {
        rule.actions.push_back({"run", std::move(*a)});
      }
    } else if (am.has("ssh")) {
      if (auto a = parse_ssh(am.node("ssh"), am.child_path("ssh"), interner, errors)) {
        rule.actions.push_back({"ssh", std::move(*a)});
      }
    } else {
      YamlMap lm(am.node("log"), am.child_path("log"), errors, {"message"});
      if (!lm.valid()) continue;
      if (!lm.has("message")) {
        errors.add(am.node("log"), lm.child_path("message"), "missing required field");
        continue;
      }
      if (auto t = parse_template(lm.node("message"), lm.child_path("message"), interner, errors)) {
        rule.actions.push_back({"log", LogAction{std::move(*t)}});
      }
    }
  }
}

void parse_status(const YamlMap& m, StatusFilter& status) {
  auto s = m.string("status");
  if (!s) return;
  if (*s == "firing") {
    status = StatusFilter::kFiring;
  } else if (*s == "resolved") {
    status = StatusFilter::kResolved;
  } else if (*s == "any") {
    status = StatusFilter::kAny;
  } else {
    m.errors().add(m.node("status"), m.child_path("status"),
                   fmt::format("unknown status '{}' (expected firing, resolved or any)", *s));
  }
}

std::optional<EventSource> parse_source(std::string_view s) {
  if (s == "alertmanager_v2") return EventSource::kAlertmanagerV2;
  if (s == "alertmanager_webhook") return EventSource::kAlertmanagerWebhook;
  if (s == "kafka") return EventSource::kKafka;
  return std::nullopt;
}

// A step of an all_of/sequence/absence rule: {match: ..., status: ...}.
std::optional<MatcherSet> parse_step(const YAML::Node& node, const std::string& path,
                                     ConfigErrors& errors) {
  YamlMap m(node, path, errors, {"match", "status"});
  if (!m.valid()) return std::nullopt;
  const std::size_t before = errors.all().size();
  MatcherSet set;
  if (!m.has("match")) {
    errors.add(node, m.child_path("match"), "missing required field");
  } else {
    parse_match(m.node("match"), m.child_path("match"), set, errors);
  }
  parse_status(m, set.status);
  if (errors.all().size() != before) return std::nullopt;
  return set;
}

void parse_steps(const YamlMap& m, std::string_view key, Rule& rule, ConfigErrors& errors) {
  const YAML::Node list = m.node(key);
  const std::string path = m.child_path(key);
  if (!list.IsSequence() || list.size() < 2 || list.size() > 8) {
    errors.add(list, path, "expected a list of 2 to 8 steps, each {match: ..., status: ...}");
    return;
  }
  for (std::size_t i = 0; i < list.size(); ++i) {
    if (auto step = parse_step(list[i], fmt::format("{}[{}]", path, i), errors)) {
      rule.steps.push_back(std::move(*step));
    }
  }
}

// absence: {after: STEP, expect: STEP | resolved}; "resolved" is `after`'s
// own alerts resolving.
void parse_absence(const YamlMap& m, Rule& rule, ConfigErrors& errors) {
  YamlMap am(m.node("absence"), m.child_path("absence"), errors, {"after", "expect"});
  if (!am.valid()) return;
  if (!am.has("after") || !am.has("expect")) {
    errors.add(m.node("absence"), am.path(), "expected both after and expect");
    return;
  }
  auto after = parse_step(am.node("after"), am.child_path("after"), errors);
  if (!after) return;
  rule.steps.push_back(*after);
  const YAML::Node expect = am.node("expect");
  if (expect.IsScalar()) {
    if (expect.Scalar() != "resolved") {
      errors.add(expect, am.child_path("expect"),
                 fmt::format("unknown shorthand '{}' (expected resolved or {{match: ...}})",
                             expect.Scalar()));
      return;
    }
    after->status = StatusFilter::kResolved;
    rule.steps.push_back(std::move(*after));
  } else if (auto step = parse_step(expect, am.child_path("expect"), errors)) {
    rule.steps.push_back(std::move(*step));
  }
}

// Member and group references must exist for every incident the rule makes.
void check_references(const YAML::Node& node, const std::string& path, const Rule& rule,
                      ConfigErrors& errors) {
  std::uint32_t members = 1;
  if (rule.kind == RuleKind::kCount) members = rule.count;
  if (rule.kind == RuleKind::kAllOf || rule.kind == RuleKind::kSequence) {
    members = static_cast<std::uint32_t>(rule.steps.size());
  }
  auto check = [&](const Template& t, const std::string& where) {
    if (auto n = t.max_member(); n && *n >= members) {
      errors.add(node, where,
                 fmt::format("'{}': members[{}] does not exist: a {} rule's incidents have {} "
                             "member(s)",
                             t.source(), *n, to_string(rule.kind), members));
    }
    for (const auto& g : t.group_labels()) {
      if (std::find(rule.group_by.begin(), rule.group_by.end(), g) == rule.group_by.end()) {
        errors.add(node, where, fmt::format("'{}': group.{} is not in group_by", t.source(), g));
      }
    }
  };
  for (std::size_t i = 0; i < rule.actions.size(); ++i) {
    const std::string apath = fmt::format("{}.actions[{}]", path, i);
    const auto& spec = rule.actions[i].spec;
    if (const auto* ssh = std::get_if<SshAction>(&spec)) {
      check(ssh->device, apath + ".ssh.device");
      for (std::size_t c = 0; c < ssh->commands.size(); ++c) {
        check(ssh->commands[c], fmt::format("{}.ssh.commands[{}]", apath, c));
      }
    } else if (const auto* run = std::get_if<RunAction>(&spec)) {
      check(run->device, apath + ".run.device");
      for (const auto& [name, t] : run->params)
        check(t, fmt::format("{}.run.params.{}", apath, name));
    } else if (const auto* log = std::get_if<LogAction>(&spec)) {
      check(log->message, apath + ".log.message");
    }
  }
}

void parse_rule(const YAML::Node& node, const std::string& path, const std::string& file,
                Interner& interner, RuleSet& out, ConfigErrors& errors,
                std::set<std::string>& names) {
  YamlMap m(node, path, errors,
            {"name", "match", "status", "sources", "group_by", "count", "window", "for", "throttle",
             "dry_run", "actions", "all_of", "sequence", "absence", "max_groups"});
  if (!m.valid()) return;
  Rule rule;
  rule.file = file;
  rule.line = node.Mark().line + 1;
  rule.signature = YAML::Dump(node);
  const std::size_t errors_before = errors.all().size();
  if (auto name = m.string("name", true)) {
    if (name->empty() || !RE2::FullMatch(*name, "[A-Za-z0-9_.:-]{1,128}")) {
      errors.add(m.node("name"), m.child_path("name"),
                 fmt::format("invalid rule name '{}' (letters, digits, _ . : - only)", *name));
    } else if (!names.insert(*name).second) {
      errors.add(m.node("name"), m.child_path("name"),
                 fmt::format("duplicate rule name '{}'", *name));
    }
    rule.name = *name;
  }
  const int shapes = m.has("match") + m.has("all_of") + m.has("sequence") + m.has("absence");
  if (shapes != 1) {
    errors.add(node, m.child_path("match"),
               shapes == 0 ? "missing required field (or one of all_of, sequence, absence)"
                           : "expected exactly one of match, all_of, sequence or absence");
  } else if (m.has("match")) {
    rule.kind = m.has("count") ? RuleKind::kCount : RuleKind::kSingle;
    MatcherSet& set = rule.steps.emplace_back();
    parse_match(m.node("match"), m.child_path("match"), set, errors);
    parse_status(m, set.status);
  } else {
    for (std::string_view key : {"status", "count", "for"}) {
      if (m.has(key)) {
        errors.add(m.node(key), m.child_path(key),
                   "not allowed here: all_of, sequence and absence steps carry their own status, "
                   "and take no count or for");
      }
    }
    if (m.has("absence")) {
      rule.kind = RuleKind::kAbsence;
      parse_absence(m, rule, errors);
    } else {
      rule.kind = m.has("all_of") ? RuleKind::kAllOf : RuleKind::kSequence;
      parse_steps(m, m.has("all_of") ? "all_of" : "sequence", rule, errors);
    }
    if (!m.has("window")) errors.add(node, m.child_path("window"), "missing required field");
  }
  auto sources = m.string_list("sources");
  for (std::size_t i = 0; i < sources.size(); ++i) {
    if (auto src = parse_source(sources[i])) {
      rule.sources.push_back(*src);
    } else {
      errors.add(m.node("sources")[i], fmt::format("{}[{}]", m.child_path("sources"), i),
                 fmt::format("unknown source '{}' (expected alertmanager_v2, "
                             "alertmanager_webhook or kafka)",
                             sources[i]));
    }
  }
  rule.group_by = m.string_list("group_by");
  for (std::size_t i = 0; i < rule.group_by.size(); ++i) {
    if (!RE2::FullMatch(rule.group_by[i], label_name_re())) {
      errors.add(m.node("group_by")[i], fmt::format("{}[{}]", m.child_path("group_by"), i),
                 "invalid label name");
    }
  }
  if (auto c = m.integer("count", 1, 1'000'000)) rule.count = static_cast<std::uint32_t>(*c);
  if (auto w = m.duration("window")) rule.window = *w;
  if (m.has("match") && m.has("count") != m.has("window")) {
    errors.add(node, path, "count and window go together: set both or neither");
  } else if (m.has("window") && rule.window.count() <= 0) {
    errors.add(m.node("window"), m.child_path("window"), "must be greater than zero");
  }
  if (auto f = m.duration("for")) rule.for_duration = *f;
  if (m.has("for") && m.has("count")) {
    errors.add(m.node("for"), m.child_path("for"), "for cannot be combined with count/window");
  }
  if (m.has("throttle")) {
    YamlMap tm(m.node("throttle"), m.child_path("throttle"), errors, {"once_within"});
    if (tm.valid()) {
      if (!tm.has("once_within")) {
        errors.add(m.node("throttle"), tm.child_path("once_within"), "missing required field");
      } else if (auto d = tm.duration("once_within")) {
        rule.throttle = *d;
      }
    }
  }
  if (auto g = m.integer("max_groups", 1, 100'000'000))
    rule.max_groups = static_cast<std::uint32_t>(*g);
  rule.dry_run = m.boolean("dry_run");
  parse_actions(node, m.node("actions"), m.child_path("actions"), interner, rule, errors);
  if (errors.all().size() == errors_before) check_references(node, path, rule, errors);
  if (errors.all().size() == errors_before) out.rules.push_back(std::move(rule));
}

void parse_inhibit_rule(const YAML::Node& node, const std::string& path, const std::string& file,
                        RuleSet& out, ConfigErrors& errors) {
  YamlMap m(node, path, errors, {"name", "source_match", "target_match", "equal"});
  if (!m.valid()) return;
  const std::size_t before = errors.all().size();
  InhibitRule ir;
  ir.file = file;
  ir.line = node.Mark().line + 1;
  ir.name = m.string("name").value_or(path);
  for (std::string_view key : {"source_match", "target_match"}) {
    MatcherSet& set = key == "source_match" ? ir.source : ir.target;
    if (!m.has(key)) {
      errors.add(node, m.child_path(key), "missing required field");
    } else {
      parse_match(m.node(key), m.child_path(key), set, errors);
      if (set.matchers.empty()) {
        errors.add(m.node(key), m.child_path(key),
                   "expected at least one matcher (an empty one would match every alert)");
      }
    }
  }
  ir.equal = m.string_list("equal");
  for (std::size_t i = 0; i < ir.equal.size(); ++i) {
    if (!RE2::FullMatch(ir.equal[i], label_name_re())) {
      errors.add(m.node("equal")[i], fmt::format("{}[{}]", m.child_path("equal"), i),
                 "invalid label name");
    }
  }
  if (errors.all().size() == before) out.inhibit_rules.push_back(std::move(ir));
}

void load_rules_node(const YAML::Node& root, const std::string& file, Interner& interner,
                     RuleSet& out, ConfigErrors& errors) {
  YamlMap top(root, "", errors, {"rules", "inhibit_rules"});
  if (!top.valid()) return;
  if (top.has("inhibit_rules")) {
    const YAML::Node inhibit = top.node("inhibit_rules");
    if (!inhibit.IsSequence()) {
      errors.add(inhibit, "inhibit_rules", "expected a list of inhibit rules");
    } else {
      for (std::size_t i = 0; i < inhibit.size(); ++i) {
        parse_inhibit_rule(inhibit[i], fmt::format("inhibit_rules[{}]", i), file, out, errors);
      }
    }
  }
  YAML::Node rules = top.node("rules");
  if (!rules.IsDefined() && top.has("inhibit_rules")) return;  // a file of inhibit rules only
  if (!rules.IsDefined() || !rules.IsSequence()) {
    errors.add(rules.IsDefined() ? rules : root, "rules", "expected a list of rules");
    return;
  }
  std::set<std::string> names;
  for (const auto& r : out.rules) names.insert(r.name);
  for (std::size_t i = 0; i < rules.size(); ++i) {
    parse_rule(rules[i], fmt::format("rules[{}]", i), file, interner, out, errors, names);
  }
}

}  // namespace

void load_rules_file(const std::string& path, Interner& interner, RuleSet& out,
                     ConfigErrors& errors) {
  ConfigErrors local(path);
  if (auto root = load_yaml_file(path, local)) load_rules_node(*root, path, interner, out, local);
  errors.append(local);
}

void load_rules_text(const std::string& text, const std::string& file, Interner& interner,
                     RuleSet& out, ConfigErrors& errors) {
  ConfigErrors local(file);
  try {
    YAML::Node root = YAML::Load(text);
    load_rules_node(root, file, interner, out, local);
  } catch (const YAML::Exception& e) {
    local.add(e.mark, "", fmt::format("YAML syntax error: {}", e.msg));
  }
  errors.append(local);
}

}  // namespace aiopsd::rules
