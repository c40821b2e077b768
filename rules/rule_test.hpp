#pragma once
// Rule unit tests in the style of `promtool test rules`: a YAML test file
// names rules files (and optionally action catalogs), gives input alerts at
// relative times and the decisions expected at given times (rule, group key,
// rendered commands). Each test runs on its own Engine over a ManualClock:
// time advances in steps of `interval`, inputs are processed at their time,
// tick() runs at every step, and the decisions are compared with `expect`.
//
// Lifecycle and threads: a free function per file; everything it builds
// (interner, rule set, engine, clock) is local to the call. Any thread.

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "rules/config_error.hpp"

namespace aiopsd::rules {

struct RuleTestOutcome {
  std::size_t tests = 0;   // tests run
  std::size_t failed = 0;  // tests whose decisions differ from `expect`
  // One "FAILED" block per failing test, promtool-style; empty when all pass.
  std::string diff;
  // An invalid test file, or a rules/catalog file it names: nothing ran.
  ConfigErrors errors;
  bool invalid() const { return !errors.empty(); }
};

// Reads, validates and runs the test file at `path`; relative rules and
// catalog paths are resolved against its directory.
RuleTestOutcome run_rule_test_file(const std::string& path);
// Same from text; `file` names it in errors and anchors relative paths.
RuleTestOutcome run_rule_test_text(const std::string& text, const std::string& file);

// 90000ms -> "1m30s", 0 -> "0s", 1500ms -> "1s500ms".
std::string format_test_duration(std::chrono::milliseconds d);

}  // namespace aiopsd::rules
