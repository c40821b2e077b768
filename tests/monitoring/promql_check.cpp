#include "tests/monitoring/promql_check.hpp"

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <span>

namespace aiopsd::testing::promql {

namespace json = boost::json;

namespace {

std::string string_at(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  return v && v->is_string() ? std::string(v->as_string()) : std::string();
}

void panel_exprs(const json::array& panels, std::vector<Expr>& out) {
  for (const json::value& pv : panels) {
    const json::object& panel = pv.as_object();
    const std::string title = string_at(panel, "title");
    if (const json::value* nested = panel.if_contains("panels"); nested && nested->is_array()) {
      panel_exprs(nested->as_array(), out);  // a collapsed row keeps its panels here
    }
    const json::value* targets = panel.if_contains("targets");
    if (!targets || !targets->is_array()) continue;
    for (const json::value& tv : targets->as_array()) {
      const json::object& t = tv.as_object();
      const std::string expr = string_at(t, "expr");
      if (expr.empty()) continue;
      out.push_back({fmt::format("panel \"{}\" target {}", title, string_at(t, "refId")), expr});
    }
  }
}

// `label_values(selector, label)` -> selector; the one-argument form has none.
std::string label_values_selector(std::string query) {
  constexpr std::string_view kPrefix = "label_values(";
  if (!query.starts_with(kPrefix) || !query.ends_with(')')) return {};
  query = query.substr(kPrefix.size(), query.size() - kPrefix.size() - 1);
  const auto comma = query.rfind(',');  // label names hold no comma; matchers may
  if (comma == std::string::npos) return {};
  query.resize(comma);
  while (!query.empty() && std::isspace(static_cast<unsigned char>(query.back()))) query.pop_back();
  return query;
}

bool ident_start(char c) {
  return std::isalpha(static_cast<unsigned char>(c)) || c == '_' || c == ':';
}
bool ident_char(char c) { return ident_start(c) || std::isdigit(static_cast<unsigned char>(c)); }

// Index just past the closing `close` of the group opened at `i`, skipping
// string literals; s.size() if unbalanced.
std::size_t skip_group(std::string_view s, std::size_t i, char open, char close) {
  int depth = 0;
  while (i < s.size()) {
    const char c = s[i];
    if (c == '"' || c == '\'' || c == '`') {
      const char quote = c;
      for (++i; i < s.size() && s[i] != quote; ++i) {
        if (s[i] == '\\' && quote != '`') ++i;
      }
    } else if (c == open) {
      ++depth;
    } else if (c == close && --depth == 0) {
      return i + 1;
    }
    ++i;
  }
  return s.size();
}

std::size_t skip_space(std::string_view s, std::size_t i) {
  while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) ++i;
  return i;
}

constexpr std::array<std::string_view, 6> kLabelListKeywords = {
    "by", "without", "on", "ignoring", "group_left", "group_right"};
// Aggregation operators, binary operators and other keywords; case-insensitive.
constexpr std::array<std::string_view, 22> kKeywords = {
    "sum",          "min",     "max",    "avg",      "group",  "stddev",      "stdvar", "count",
    "count_values", "bottomk", "topk",   "quantile", "limitk", "limit_ratio", "and",    "or",
    "unless",       "bool",    "offset", "atan2",    "inf",    "nan"};

bool is_one_of(std::string_view word, std::span<const std::string_view> words) {
  std::string lower(word);
  std::ranges::transform(lower, lower.begin(),
                         [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return std::ranges::find(words, lower) != words.end();
}

}  // namespace

std::vector<Expr> dashboard_exprs(const json::value& dashboard) {
  std::vector<Expr> out;
  const json::object& d = dashboard.as_object();
  if (const json::value* panels = d.if_contains("panels"); panels && panels->is_array()) {
    panel_exprs(panels->as_array(), out);
  }
  const json::value* templating = d.if_contains("templating");
  if (!templating || !templating->is_object()) return out;
  const json::value* list = templating->as_object().if_contains("list");
  if (!list || !list->is_array()) return out;
  for (const json::value& vv : list->as_array()) {
    const json::object& var = vv.as_object();
    if (string_at(var, "type") != "query") continue;
    const json::value* q = var.if_contains("query");
    std::string query;  // a string, or {query: ..., refId: ...} since Grafana 10
    if (q && q->is_string()) query = std::string(q->as_string());
    if (q && q->is_object()) query = string_at(q->as_object(), "query");
    if (auto sel = label_values_selector(query); !sel.empty()) {
      out.push_back({fmt::format("variable ${}", string_at(var, "name")), sel});
    }
  }
  return out;
}

std::vector<Expr> rule_exprs(const std::string& yaml_text) {
  std::vector<Expr> out;
  const YAML::Node root = YAML::Load(yaml_text);
  for (const auto& group : root["groups"]) {
    for (const auto& rule : group["rules"]) {
      const bool alert = static_cast<bool>(rule["alert"]);
      const std::string name = (alert ? rule["alert"] : rule["record"]).as<std::string>();
      out.push_back(
          {fmt::format("{} {}", alert ? "alert" : "record", name), rule["expr"].as<std::string>()});
    }
  }
  return out;
}

std::string substitute(const std::string& expr, const std::map<std::string, std::string>& values) {
  std::string out;
  std::size_t i = 0;
  while (i < expr.size()) {
    if (expr[i] != '$') {
      out += expr[i++];
      continue;
    }
    std::string name;
    std::size_t end = i + 1;
    if (end < expr.size() && expr[end] == '{') {
      const auto close = expr.find('}', end);
      if (close != std::string::npos) {
        name = expr.substr(end + 1, close - end - 1);
        name = name.substr(0, name.find(':'));  // ${name:format}
        end = close + 1;
      }
    } else {
      while (end < expr.size() && ident_char(expr[end])) name += expr[end++];
    }
    if (auto it = values.find(name); !name.empty() && it != values.end()) {
      out += it->second;
      i = end;
    } else {
      out += expr[i++];
    }
  }
  return out;
}

std::vector<std::string> selectors(std::string_view s) {
  std::vector<std::string> out;
  auto add = [&out](std::string sel) {
    if (std::ranges::find(out, sel) == out.end()) out.push_back(std::move(sel));
  };
  std::size_t i = 0;
  while (i < s.size()) {
    const char c = s[i];
    if (c == '"' || c == '\'' || c == '`') {  // string literal
      for (++i; i < s.size() && s[i] != c; ++i) {
        if (s[i] == '\\' && c != '`') ++i;
      }
      ++i;
    } else if (c == '[') {  // range or subquery: [5m], [1h:1m]
      i = skip_group(s, i, '[', ']');
    } else if (c == '{') {  // a selector without a metric name: {__name__=~"..."}
      const std::size_t end = skip_group(s, i, '{', '}');
      add(std::string(s.substr(i, end - i)));
      i = end;
    } else if (std::isdigit(static_cast<unsigned char>(c)) ||
               (c == '.' && i + 1 < s.size() &&
                std::isdigit(static_cast<unsigned char>(s[i + 1])))) {
      while (i < s.size() && (ident_char(s[i]) || s[i] == '.')) ++i;  // 0.95, 1e3, 5m, 0x1f
    } else if (ident_start(c)) {
      const std::size_t start = i;
      while (i < s.size() && ident_char(s[i])) ++i;
      const std::string_view word = s.substr(start, i - start);
      const std::size_t next = skip_space(s, i);
      if (is_one_of(word, kLabelListKeywords)) {
        if (next < s.size() && s[next] == '(') i = skip_group(s, next, '(', ')');
      } else if (is_one_of(word, kKeywords) || (next < s.size() && s[next] == '(')) {
        // aggregation, keyword or function: not a metric
      } else if (next < s.size() && s[next] == '{') {
        const std::size_t end = skip_group(s, next, '{', '}');
        add(std::string(word) + std::string(s.substr(next, end - next)));
        i = end;
      } else {
        add(std::string(word));
      }
    } else {
      ++i;
    }
  }
  return out;
}

std::string check(const PrometheusFixture& prometheus, const std::string& expr, Need need) {
  std::vector<std::string> problems;
  const PrometheusAnswer answer = prometheus.query_raw(expr);
  if (!answer.ok) {
    problems.push_back(fmt::format("does not evaluate: {}", answer.error));
  } else if (need == Need::kData && answer.results == 0) {
    problems.push_back("returns no data");
  }
  for (const std::string& sel : selectors(expr)) {
    const PrometheusAnswer a = prometheus.query_raw(sel);
    if (!a.ok) {
      problems.push_back(fmt::format("selector {} does not evaluate: {}", sel, a.error));
    } else if (a.results == 0) {
      problems.push_back(fmt::format("selector {} returns no data", sel));
    }
  }
  return fmt::format("{}", fmt::join(problems, "; "));
}

}  // namespace aiopsd::testing::promql
