#include "rules/rule_lint.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <re2/re2.h>

#include <algorithm>
#include <map>
#include <memory>
#include <optional>
#include <variant>

#include "rules/rule_test.hpp"

namespace aiopsd::rules {

namespace {

struct Matcher {
  const LabelMatcher* m;
  std::shared_ptr<const RE2> re;  // regex ops only
};

// One set of matchers an alert must satisfy on its own (a plain rule has
// one; a correlation of several alerts has one per member).
struct Condition {
  std::string path;  // rules[2].match
  std::vector<Matcher> matchers;
  StatusFilter status = StatusFilter::kFiring;
  const std::vector<EventSource>* sources = nullptr;  // empty: any
};

// Where an action would run a remediation: ssh: and run: actions, by the
// device template they render.
struct Target {
  std::string path;    // rules[2].actions[0]
  std::string device;  // the template's source, whitespace removed
};

// Everything the checks know of a rule, whatever its kind.
struct Facets {
  std::string path;  // rules[2]
  RuleKind kind = RuleKind::kSingle;
  std::vector<Condition> conditions;
  std::vector<std::string> group_by;
  std::uint32_t count = 0;
  std::chrono::milliseconds window{0};
  std::chrono::milliseconds for_duration{0};
  std::chrono::milliseconds throttle{0};
  std::vector<Target> targets;
};

std::string squeeze(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c != ' ' && c != '\t') out += c;
  }
  return out;
}

// THE place that describes a rule to the linter. A new rule kind (all_of,
// sequence, absence, ...) adds its member conditions, windows and targets
// here; the checks below need no change.
std::string step_path(const Rule& rule, const std::string& path, std::size_t step) {
  switch (rule.kind) {
    case RuleKind::kSingle:
    case RuleKind::kCount:
      return path + ".match";
    case RuleKind::kAllOf:
      return fmt::format("{}.all_of[{}].match", path, step);
    case RuleKind::kSequence:
      return fmt::format("{}.sequence[{}].match", path, step);
    case RuleKind::kAbsence:
      return fmt::format("{}.absence.{}.match", path, step == 0 ? "after" : "expect");
  }
  return path;
}

Facets facets_of(const Rule& rule, const std::string& path) {
  Facets f;
  f.path = path;
  f.kind = rule.kind;
  for (std::size_t s = 0; s < rule.steps.size(); ++s) {
    Condition c;
    c.path = step_path(rule, path, s);
    c.status = rule.steps[s].status;
    c.sources = &rule.sources;
    for (const auto& m : rule.steps[s].matchers) {
      Matcher cm{&m, nullptr};
      if (m.op == MatchOp::kRegex || m.op == MatchOp::kNotRegex) {
        RE2::Options opts;
        opts.set_log_errors(false);
        cm.re = std::make_shared<const RE2>(m.value, opts);  // valid: the loader checked it
      }
      c.matchers.push_back(std::move(cm));
    }
    f.conditions.push_back(std::move(c));
  }
  f.group_by = rule.group_by;
  f.count = rule.count;
  f.window = rule.window;
  f.for_duration = rule.for_duration;
  f.throttle = rule.throttle;
  for (std::size_t i = 0; i < rule.actions.size(); ++i) {
    const auto& spec = rule.actions[i].spec;
    const std::string apath = fmt::format("{}.actions[{}]", path, i);
    if (const auto* ssh = std::get_if<SshAction>(&spec)) {
      f.targets.push_back({apath, squeeze(ssh->device.source())});
    } else if (const auto* run = std::get_if<RunAction>(&spec)) {
      f.targets.push_back({apath, squeeze(run->device.source())});
    }
  }
  return f;
}

std::string describe(const LabelMatcher& m) {
  return fmt::format("{}{}\"{}\"", m.name, to_string(m.op), m.value);
}

// Does label value `v` ("" = absent) satisfy `m`?
bool holds(const Matcher& m, std::string_view v) {
  switch (m.m->op) {
    case MatchOp::kEq:
      return v == m.m->value;
    case MatchOp::kNeq:
      return v != m.m->value;
    case MatchOp::kRegex:
      return RE2::FullMatch(v, *m.re);
    case MatchOp::kNotRegex:
      return !RE2::FullMatch(v, *m.re);
  }
  return true;
}

struct Contradiction {
  std::string label;
  std::string message;
};

// Two matchers no label value satisfies together, if any. Exact where an
// equality pins the value; otherwise only the evident case (=~ and !~ of the
// same pattern): regex intersection is not worth deciding here.
std::optional<Contradiction> contradiction(const std::vector<const Matcher*>& ms) {
  std::map<std::string_view, std::vector<const Matcher*>> by_label;
  for (const Matcher* m : ms) by_label[m->m->name].push_back(m);
  for (const auto& [label, list] : by_label) {
    const Matcher* eq = nullptr;
    for (const Matcher* m : list) {
      if (m->m->op == MatchOp::kEq) {
        eq = m;
        break;
      }
    }
    for (const Matcher* m : list) {
      if (eq && m != eq && !holds(*m, eq->m->value)) {
        return Contradiction{
            std::string(label),
            fmt::format("{}{} and {} cannot both hold", describe(*eq->m),
                        eq->m->value.empty() ? " (label absent)" : "", describe(*m->m))};
      }
      if (!eq && m->m->op == MatchOp::kRegex) {
        for (const Matcher* n : list) {
          if (n->m->op == MatchOp::kNotRegex && n->m->value == m->m->value) {
            return Contradiction{std::string(label), fmt::format("{} and {} cannot both hold",
                                                                 describe(*m->m), describe(*n->m))};
          }
        }
      }
    }
  }
  return std::nullopt;
}

std::vector<const Matcher*> pointers(const Condition& c) {
  std::vector<const Matcher*> out;
  for (const auto& m : c.matchers) out.push_back(&m);
  return out;
}

bool statuses_overlap(StatusFilter a, StatusFilter b) {
  return a == StatusFilter::kAny || b == StatusFilter::kAny || a == b;
}

bool sources_overlap(const std::vector<EventSource>* a, const std::vector<EventSource>* b) {
  if (a->empty() || b->empty()) return true;
  return std::any_of(a->begin(), a->end(),
                     [&](EventSource s) { return std::find(b->begin(), b->end(), s) != b->end(); });
}

// Can one alert satisfy both conditions?
bool can_overlap(const Condition& a, const Condition& b) {
  if (!statuses_overlap(a.status, b.status) || !sources_overlap(a.sources, b.sources)) return false;
  auto all = pointers(a);
  for (const auto& m : b.matchers) all.push_back(&m);
  return !contradiction(all).has_value();
}

// A condition and grouping, normalized: equal means the rules see the same
// alerts in the same groups.
std::string signature(const Facets& f) {
  std::vector<std::string> parts;
  for (const auto& c : f.conditions) {
    std::vector<std::string> ms;
    for (const auto& m : c.matchers) ms.push_back(describe(*m.m));
    std::sort(ms.begin(), ms.end());
    std::vector<int> src;
    for (auto s : *c.sources) src.push_back(static_cast<int>(s));
    std::sort(src.begin(), src.end());
    parts.push_back(fmt::format("{}|{}|{}", fmt::join(ms, ","), static_cast<int>(c.status),
                                fmt::join(src, ",")));
  }
  // Steps of a sequence or an absence mean something in their order.
  if (f.kind != RuleKind::kSequence && f.kind != RuleKind::kAbsence) {
    std::sort(parts.begin(), parts.end());
  }
  parts.insert(parts.begin(), std::string(to_string(f.kind)));
  auto g = f.group_by;
  std::sort(g.begin(), g.end());
  return fmt::format("{}#{}", fmt::join(parts, ";"), fmt::join(g, ","));
}

std::string where(const Rule& r, const Facets& f) {
  return fmt::format("{} '{}' ({}:{})", f.path, r.name, r.file, r.line);
}

class Linter {
 public:
  explicit Linter(const RuleSet& rules) : rules_(rules) {
    std::map<std::string, int> per_file;
    for (const auto& r : rules.rules) {
      facets_.push_back(facets_of(r, fmt::format("rules[{}]", per_file[r.file]++)));
    }
  }

  std::vector<LintWarning> run() {
    std::map<std::string, std::size_t> seen;                    // signature -> first rule
    std::map<std::string, std::vector<std::size_t>> by_target;  // device template -> rules
    for (std::size_t i = 0; i < facets_.size(); ++i) {
      const Rule& r = rules_.rules[i];
      const Facets& f = facets_[i];
      never_matches(r, f);
      no_effect(r, f);
      pinned_group_by(r, f);
      auto [it, first] = seen.emplace(signature(f), i);
      if (!first) {
        duplicate(r, f, it->second);
      } else {
        conflicts(r, f, i, by_target);
      }
      for (const auto& t : f.targets) {
        auto& list = by_target[t.device];
        if (list.empty() || list.back() != i) list.push_back(i);
      }
    }
    return std::move(warnings_);
  }

 private:
  void warn(const Rule& r, std::string path, std::string message) {
    warnings_.push_back({r.file, r.line, r.name, std::move(path), std::move(message)});
  }

  void never_matches(const Rule& r, const Facets& f) {
    for (const auto& c : f.conditions) {
      if (auto why = contradiction(pointers(c))) {
        warn(r, fmt::format("{}.{}", c.path, why->label),
             fmt::format("the rule can never match: {}", why->message));
      }
    }
  }

  void no_effect(const Rule& r, const Facets& f) {
    const bool resolved_only =
        std::all_of(f.conditions.begin(), f.conditions.end(),
                    [](const Condition& c) { return c.status == StatusFilter::kResolved; });
    if (f.for_duration.count() > 0 && resolved_only) {
      warn(r, f.path + ".for",
           fmt::format("for: {} never applies to a rule on resolved alerts: `for` counts how long "
                       "an alert has been firing, and each resolved alert acts at once",
                       format_test_duration(f.for_duration)));
    }
    if (f.count > 0 && f.throttle.count() > 0 && f.throttle < f.window) {
      warn(r, f.path + ".throttle",
           fmt::format("once_within {} is shorter than window {}: a group can act again before "
                       "its window has passed",
                       format_test_duration(f.throttle), format_test_duration(f.window)));
    }
  }

  void pinned_group_by(const Rule& r, const Facets& f) {
    for (std::size_t i = 0; i < f.group_by.size(); ++i) {
      // Pinned only if every condition pins it (members of a correlation may differ).
      const LabelMatcher* pin = nullptr;
      bool all = !f.conditions.empty();
      for (const auto& c : f.conditions) {
        auto eq = std::find_if(c.matchers.begin(), c.matchers.end(), [&](const Matcher& m) {
          return m.m->name == f.group_by[i] && m.m->op == MatchOp::kEq;
        });
        if (eq == c.matchers.end()) {
          all = false;
          break;
        }
        pin = eq->m;
      }
      if (all && pin) {
        warn(r, fmt::format("{}.group_by[{}]", f.path, i),
             fmt::format("'{}' is pinned to \"{}\" by the rule's matchers: it adds nothing to "
                         "the group key",
                         f.group_by[i], pin->value));
      }
    }
  }

  void duplicate(const Rule& r, const Facets& f, std::size_t first) {
    warn(r, f.path + ".match",
         fmt::format("same matchers, status, sources and group_by as {}: both act on every "
                     "alert either matches; merge their actions or tell the rules apart",
                     where(rules_.rules[first], facets_[first])));
  }

  // Another rule that can match an alert this one matches and remediates on
  // the same device template: both would run, in no defined order.
  void conflicts(const Rule& r, const Facets& f, std::size_t self,
                 const std::map<std::string, std::vector<std::size_t>>& by_target) {
    std::vector<std::size_t> reported;
    for (const auto& t : f.targets) {
      auto it = by_target.find(t.device);
      if (it == by_target.end()) continue;
      for (std::size_t other : it->second) {
        if (other == self || std::find(reported.begin(), reported.end(), other) != reported.end()) {
          continue;
        }
        if (!overlap(f, facets_[other])) continue;
        reported.push_back(other);
        warn(r, t.path,
             fmt::format("can remediate the same alert on the same device ({}) as {}: both "
                         "would run; make the matchers exclusive or merge the rules",
                         t.device, where(rules_.rules[other], facets_[other])));
      }
    }
  }

  static bool overlap(const Facets& a, const Facets& b) {
    for (const auto& ca : a.conditions) {
      for (const auto& cb : b.conditions) {
        if (can_overlap(ca, cb)) return true;
      }
    }
    return false;
  }

  const RuleSet& rules_;
  std::vector<Facets> facets_;
  std::vector<LintWarning> warnings_;
};

}  // namespace

std::string LintWarning::to_string() const {
  return fmt::format("{}:{}: warning: {}: {}", file, line, path, message);
}

std::vector<LintWarning> lint(const RuleSet& rules) { return Linter(rules).run(); }

}  // namespace aiopsd::rules
