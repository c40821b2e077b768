#pragma once
// Checks the PromQL we ship (the Grafana dashboard, the Prometheus alerting
// rules) against a real Prometheus: pulls every expression out of the files,
// fills in Grafana's variables, and asks Prometheus' HTTP API whether each one
// parses and returns data.
//
// Plain functions, no state; used from one test thread.

#include <boost/json.hpp>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "tests/harness/monitoring_fixtures.hpp"

namespace aiopsd::testing::promql {

struct Expr {
  std::string where;  // e.g. `panel "Action latency" target B`, `alert AiopsdDown`
  std::string expr;
};

// Every PromQL expression of a Grafana dashboard: each panel's targets[].expr,
// including panels nested in (collapsed) rows, and the metric selector of each
// query variable's `label_values(selector, label)`.
std::vector<Expr> dashboard_exprs(const boost::json::value& dashboard);

// Every `expr` of a Prometheus rule file (alerting and recording rules).
std::vector<Expr> rule_exprs(const std::string& yaml_text);

// Replaces Grafana variables written `$name`, `${name}` or `${name:format}`
// with `values[name]`. Unknown variables are left as they are, so the
// expression fails to parse rather than silently checking something else.
std::string substitute(const std::string& expr, const std::map<std::string, std::string>& values);

// The metric selectors of an expression, e.g. `up{job="aiopsd"}` and
// `aiopsd_actions_total{outcome="failed"}`, with their label matchers, each
// once. A small scanner rather than a parser: it skips string literals,
// [ranges] and numbers (durations included), and treats an identifier as a
// metric name unless it is followed by `(` (a function), is an aggregation
// operator or keyword, or sits in the label list of by/without/on/ignoring/
// group_left/group_right. Enough for the expressions we write; an identifier it
// misreads as a metric would fail the check loudly, not pass it silently.
std::vector<std::string> selectors(std::string_view expr);

enum class Need {
  kData,       // the expression itself must return at least one series
  kSelectors,  // only its selectors must: alert conditions are empty while all is well
};

// What is wrong with `expr` on this Prometheus, empty when nothing is: the
// expression must parse and evaluate (status "success"), return data if
// `need` is kData, and every selector in it must return data. The selector
// check is what catches a misspelt metric name hidden behind `or`, `absent()`
// or a comparison.
std::string check(const PrometheusFixture& prometheus, const std::string& expr, Need need);

}  // namespace aiopsd::testing::promql
