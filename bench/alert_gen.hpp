#pragma once
// Realistic rules and alerts for the benchmarks and the side-by-side
// comparisons: one generator, so decode_match_bench, the load driver and the
// bench/compare/ inputs all describe the same kind of fleet.
//
// Real rule sets grow by covering more kinds of alerts, not by piling rules on
// the same few: about three rules per alert name and five per site, whatever
// the size, so the number of rules an alert matches stays small. Rules mix
// equality and regex matchers about 70/30 on the labels real rules use; every
// regex needs its label present (none matches "").
//
// Everything is a pure function of the std::mt19937 passed in: the same seed
// gives the same rules and alerts in every program.

#include <fmt/format.h>

#include <algorithm>
#include <boost/json.hpp>
#include <cstdint>
#include <random>
#include <string>
#include <utility>
#include <vector>

namespace aiopsd::bench {

inline int alert_names_for(int n_rules) { return std::max(8, n_rules / 3); }
inline int sites_for(int n_rules) { return std::max(4, n_rules / 50); }
inline constexpr int kDevicesPerSite = 50;
inline constexpr const char* kSeverities[] = {"info", "warning", "critical", "page"};
inline constexpr const char* kJobs[] = {"node", "snmp", "blackbox", "loki", "bgp", "poe"};

// The event stream of the rule-evaluation comparison (compare_inputs writes
// its head for json-rules-engine; rules_eval generates all of it).
inline constexpr std::uint32_t kEvalEventSeed = 7;

inline std::string alert_name(int i) { return fmt::format("Alert{:05}Condition", i); }
inline std::string device_name(int site, int index) {
  return fmt::format("sw-{:02}-{}", site, index);
}

// One matcher of a generated rule. `literals` lists the alternatives when the
// regex is a plain alternation of literals ("a|b"), so engines without regexes
// can state it as set membership; empty for real patterns.
struct GenMatcher {
  std::string label;
  bool regex = false;
  std::string value;  // literal, or an RE2 pattern (fully anchored)
  std::vector<std::string> literals;
};

struct GenRule {
  std::string name;
  std::vector<GenMatcher> matchers;
};

enum class RuleShape {
  kMixed,            // 2-4 matchers: name or instance, severity, maybe job, maybe site
  kThreeConditions,  // exactly 3: name or instance, severity, job
};

inline std::vector<GenRule> make_rule_specs(int n, std::mt19937& rng,
                                            RuleShape shape = RuleShape::kMixed) {
  const auto names = static_cast<unsigned>(alert_names_for(n));
  std::vector<GenRule> out;
  out.reserve(static_cast<std::size_t>(n));
  for (int r = 0; r < n; ++r) {
    GenRule rule{fmt::format("r{}", r), {}};
    int kind = static_cast<int>(rng() % 10);
    if (kind < 7) {
      rule.matchers.push_back(
          {"alertname", false, alert_name(static_cast<int>(rng() % names)), {}});
    } else if (kind < 9) {
      int a = static_cast<int>(rng() % (names - 5));
      GenMatcher m{"alertname", true, {}, {alert_name(a), alert_name(a + 5)}};
      m.value = m.literals[0] + "|" + m.literals[1];
      rule.matchers.push_back(std::move(m));
    } else {
      rule.matchers.push_back({"instance",
                               true,
                               fmt::format(R"(sw-{:02}-[0-9]+\.dc[0-9]+\.example\.net:9100)",
                                           rng() % static_cast<unsigned>(sites_for(n))),
                               {}});
    }
    if (rng() % 10 < 7) {
      rule.matchers.push_back({"severity", false, kSeverities[rng() % 4], {}});
    } else {
      rule.matchers.push_back({"severity", true, "critical|page", {"critical", "page"}});
    }
    if (shape == RuleShape::kThreeConditions) {
      rule.matchers.push_back({"job", false, kJobs[rng() % 6], {}});
    } else {
      if (rng() % 2) rule.matchers.push_back({"job", false, kJobs[rng() % 6], {}});
      if (rng() % 3 == 0)
        rule.matchers.push_back({"site", true, fmt::format("site0[0-{}]", rng() % 10), {}});
    }
    out.push_back(std::move(rule));
  }
  return out;
}

// The rules as an aiopsd rules file. `extra` is YAML appended to every rule
// after its match block (indented by four spaces: group_by, throttle,
// actions, ...).
inline std::string rules_yaml(const std::vector<GenRule>& rules,
                              std::string_view extra = "    actions: [{log: {message: m}}]\n") {
  std::string y = "rules:\n";
  for (const auto& rule : rules) {
    y += fmt::format("  - name: {}\n    match:\n", rule.name);
    for (const auto& m : rule.matchers) {
      // JSON strings are valid YAML flow scalars: the library does the quoting.
      if (m.regex) {
        y += fmt::format("      {}: {{\"=~\": {}}}\n", m.label,
                         boost::json::serialize(boost::json::string(m.value)));
      } else {
        y += fmt::format("      {}: {}\n", m.label, m.value);
      }
    }
    y += extra;
  }
  return y;
}

// The rules file of decode_match_bench: N mixed rules with a log action.
inline std::string make_rules(int n, std::mt19937& rng) {
  return rules_yaml(make_rule_specs(n, rng));
}

// One alert of the fleet: 8 labels, 2 annotations. Alert names are drawn from
// the names the rules cover.
struct GenAlert {
  std::vector<std::pair<std::string, std::string>> labels;
  std::vector<std::pair<std::string, std::string>> annotations;
};

inline GenAlert make_alert(std::mt19937& rng, int alert_names, int sites) {
  const int a = static_cast<int>(rng() % static_cast<unsigned>(alert_names));
  const int site = static_cast<int>(rng() % static_cast<unsigned>(sites));
  const char* severity = kSeverities[rng() % 4];
  const char* job = kJobs[rng() % 6];
  const int dev = static_cast<int>(rng() % kDevicesPerSite);
  const int dc = static_cast<int>(rng() % 3);
  const int port = static_cast<int>(rng() % 48);
  GenAlert g;
  g.labels = {{"alertname", alert_name(a)},
              {"severity", severity},
              {"job", job},
              {"instance", fmt::format("{}.dc{}.example.net:9100", device_name(site, dev), dc)},
              {"device", device_name(site, dev)},
              {"interface", fmt::format("1/1/{}", port)},
              {"site", fmt::format("site{:02}", site)},
              {"team", "netops"}};
  g.annotations = {
      {"summary", fmt::format("Interface 1/1/{} on {} is down", port, device_name(site, dev))},
      {"runbook_url", fmt::format("https://runbooks.example.net/{}", alert_name(a))}};
  return g;
}

inline boost::json::object to_json_map(const std::vector<std::pair<std::string, std::string>>& kv) {
  boost::json::object o;
  for (const auto& [k, v] : kv) o[k] = v;
  return o;
}

// Alertmanager webhook payload (version 4) of `count` alerts, as Alertmanager
// sends it to a receiver.
inline std::string make_payload(std::mt19937& rng, int alert_names, int sites, int count = 100) {
  boost::json::array alerts;
  for (int i = 0; i < count; ++i) {
    GenAlert g = make_alert(rng, alert_names, sites);
    alerts.push_back(boost::json::object{
        {"status", "firing"},
        {"labels", to_json_map(g.labels)},
        {"annotations", to_json_map(g.annotations)},
        {"startsAt", "2026-11-24T07:00:00.000Z"},
        {"endsAt", "0001-01-01T00:00:00Z"},
        {"generatorURL", "http://prometheus.example.net:9090/graph?g0.expr=up%3D%3D0"},
        {"fingerprint", fmt::format("{:016x}", rng())}});
  }
  return boost::json::serialize(
      boost::json::object{{"version", "4"},
                          {"groupKey", "{}:{alertname=\"bench\"}"},
                          {"truncatedAlerts", 0},
                          {"status", "firing"},
                          {"receiver", "aiopsd"},
                          {"groupLabels", boost::json::object{}},
                          {"commonLabels", boost::json::object{{"team", "netops"}}},
                          {"commonAnnotations", boost::json::object{}},
                          {"externalURL", "http://alertmanager.example.net:9093"},
                          {"alerts", std::move(alerts)}});
}

}  // namespace aiopsd::bench
