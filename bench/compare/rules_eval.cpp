// rules_eval: the aiopsd side of the rule-evaluation comparison. Loads the
// rules file compare_inputs wrote (with the daemon's loader), generates the
// event stream json-rules-engine also gets (bench/alert_gen.hpp,
// kEvalEventSeed), and times rules::Engine on it:
//   match:   every rule evaluated against every event (what
//            json-rules-engine's run() does), matching rule indices out;
//   process: match + per-alert de-duplication and decisions, the daemon's path.
// Counts the matches over the first --check events so the script can show
// both engines agree on them.
//
//   rules_eval RULES_YAML [--events N] [--check M]   (prints one JSON object)

#include <fmt/format.h>

#include <boost/json.hpp>
#include <charconv>
#include <chrono>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "bench/alert_gen.hpp"
#include "rules/engine.hpp"
#include "rules/rule.hpp"

namespace aiopsd::bench {
namespace {

using Clock = std::chrono::steady_clock;

rules::Event to_event(const GenAlert& g, rules::Interner& interner) {
  rules::Event e;
  e.source = rules::EventSource::kAlertmanagerV2;
  e.status = rules::EventStatus::kFiring;
  for (const auto& [k, v] : g.labels) e.labels.push_back({interner.intern(k), interner.intern(v)});
  rules::normalize_labels(e.labels);
  e.fingerprint = rules::fingerprint_of(e.labels, interner);
  return e;
}

int run(const std::string& rules_path, int n_events, int n_check) {
  rules::Interner interner;
  rules::RuleSet set;
  rules::ConfigErrors errors(rules_path);
  rules::load_rules_file(rules_path, interner, set, errors);
  if (!errors.empty()) {
    fmt::print(stderr, "{}", errors.to_string());
    return 1;
  }
  const int n_rules = static_cast<int>(set.rules.size());
  std::mt19937 rng(kEvalEventSeed);
  std::vector<rules::Event> events;
  events.reserve(static_cast<std::size_t>(n_events));
  for (int i = 0; i < n_events; ++i)
    events.push_back(
        to_event(make_alert(rng, alert_names_for(n_rules), sites_for(n_rules)), interner));

  rules::ManualClock clock;
  rules::Engine engine(set, interner, clock);
  std::vector<std::uint32_t> matched;
  std::uint64_t check_matches = 0;
  for (int i = 0; i < n_check && i < n_events; ++i) {
    engine.match(events[static_cast<std::size_t>(i)], matched);
    check_matches += matched.size();
  }

  std::uint64_t matches = 0;
  auto t0 = Clock::now();
  for (const auto& e : events) {
    engine.match(e, matched);
    matches += matched.size();
  }
  const double match_s = std::chrono::duration<double>(Clock::now() - t0).count();

  std::vector<rules::Decision> decisions;
  std::uint64_t decided = 0;
  t0 = Clock::now();
  for (const auto& e : events) {
    engine.process(e, decisions);
    decided += decisions.size();
    decisions.clear();
  }
  const double process_s = std::chrono::duration<double>(Clock::now() - t0).count();

  const double n = static_cast<double>(n_events);
  boost::json::object out{{"rules", n_rules},
                          {"events", n_events},
                          {"match_seconds", match_s},
                          {"match_events_per_s", n / match_s},
                          {"match_ns_per_event", match_s * 1e9 / n},
                          {"matches", matches},
                          {"process_seconds", process_s},
                          {"process_events_per_s", n / process_s},
                          {"process_ns_per_event", process_s * 1e9 / n},
                          {"decisions", decided},
                          {"check_events", std::min(n_check, n_events)},
                          {"check_matches", check_matches}};
  fmt::print("{}\n", boost::json::serialize(out));
  return 0;
}

bool flag_int(int argc, char** argv, std::string_view name, int& value) {
  for (int i = 0; i + 1 < argc; ++i) {
    if (argv[i] == name) {
      std::string_view v = argv[i + 1];
      auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), value);
      if (ec != std::errc{} || p != v.data() + v.size() || value < 0) {
        fmt::print(stderr, "rules_eval: {}: invalid number '{}'\n", name, v);
        return false;
      }
    }
  }
  return true;
}

}  // namespace
}  // namespace aiopsd::bench

int main(int argc, char** argv) {
  int n_events = 1'000'000;
  int n_check = 0;
  if (argc < 2 || std::string_view(argv[1]).starts_with("-")) {
    fmt::print(stderr, "Usage: rules_eval RULES_YAML [--events N] [--check M]\n");
    return 2;
  }
  if (!aiopsd::bench::flag_int(argc, argv, "--events", n_events) ||
      !aiopsd::bench::flag_int(argc, argv, "--check", n_check) || n_events < 1)
    return 2;
  return aiopsd::bench::run(argv[1], n_events, n_check);
}
