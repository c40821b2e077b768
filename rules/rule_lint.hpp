#pragma once
// Warnings about rules that load but cannot do what their author meant:
// matchers that contradict each other (the rule never matches), settings
// that have no effect, a rule that duplicates an earlier one, two rules that
// can remediate the same alert on the same device, group_by labels that a
// matcher pins to one value. `aiopsd check` prints them; they are not errors.
//
// New rule kinds: lint sees a rule only through facets_of() in rule_lint.cpp
// (its conditions, grouping, durations and remediation targets); describing
// a new kind there is enough for every check to cover it.
//
// Threads: a pure function of the rule set; any thread.

#include <string>
#include <vector>

#include "rules/rule.hpp"

namespace aiopsd::rules {

struct LintWarning {
  std::string file;
  int line = 0;      // the rule's line
  std::string rule;  // the rule's name
  std::string path;  // within the file: rules[2].match.severity
  std::string message;
  // "file:line: warning: path: message"
  std::string to_string() const;
};

// In rule order; within a rule, in the order of the checks.
std::vector<LintWarning> lint(const RuleSet& rules);

}  // namespace aiopsd::rules
