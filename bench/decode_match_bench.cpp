// Decode + match throughput: a 100-alert Alertmanager webhook payload against
// 10, 100, 1,000 and 10,000 rules mixing equality and regex matchers about
// 70/30, several labels per rule. Baseline: simdjson's own DOM parse of the
// same bytes, reported as alerts/s so the two figures divide.

#include <benchmark/benchmark.h>
#include <fmt/format.h>
#include <simdjson.h>

#include <algorithm>
#include <random>
#include <string>
#include <vector>

#include "connectors/alertmanager/alert_decoder.hpp"
#include "rules/engine.hpp"
#include "rules/rule.hpp"

namespace {

using namespace aiopsd;

constexpr int kAlertsPerPayload = 100;
// Real rule sets grow by covering more kinds of alerts, not by piling rules
// on the same few: about three rules per alert name, whatever the size.
int alert_names_for(int n_rules) { return std::max(8, n_rules / 3); }
// Site-specific rules likewise grow with the fleet: about five per site.
int sites_for(int n_rules) { return std::max(4, n_rules / 50); }
const char* const kSeverities[] = {"info", "warning", "critical", "page"};
const char* const kJobs[] = {"node", "snmp", "blackbox", "loki", "bgp", "poe"};

std::string alert_name(int i) { return fmt::format("Alert{:05}Condition", i); }

std::string make_payload(std::mt19937& rng, int alert_names, int sites) {
  std::string alerts;
  for (int i = 0; i < kAlertsPerPayload; ++i) {
    int a = static_cast<int>(rng() % static_cast<unsigned>(alert_names));
    int site = static_cast<int>(rng() % static_cast<unsigned>(sites));
    if (i) alerts += ',';
    alerts += fmt::format(
        R"({{"status":"firing","labels":{{"alertname":"{}","severity":"{}","job":"{}","instance":"sw-{:02}-{}.dc{}.example.net:9100","device":"sw-{:02}-{}","interface":"1/1/{}","site":"site{:02}","team":"netops"}},"annotations":{{"summary":"Interface 1/1/{} on sw-{:02}-{} is down","runbook_url":"https://runbooks.example.net/{}"}},"startsAt":"2026-11-24T07:00:00.000Z","endsAt":"0001-01-01T00:00:00Z","generatorURL":"http://prometheus.example.net:9090/graph?g0.expr=up%3D%3D0","fingerprint":"{:016x}"}})",
        alert_name(a), kSeverities[rng() % 4], kJobs[rng() % 6], site, rng() % 50, rng() % 3, site,
        rng() % 50, rng() % 48, site, rng() % 48, site, rng() % 50, alert_name(a), rng());
  }
  return fmt::format(
      R"({{"version":"4","groupKey":"{{}}:{{alertname=\"bench\"}}","truncatedAlerts":0,"status":"firing","receiver":"aiopsd","groupLabels":{{}},"commonLabels":{{"team":"netops"}},"commonAnnotations":{{}},"externalURL":"http://alertmanager.example.net:9093","alerts":[{}]}})",
      alerts);
}

// About 70% equality and 30% regex matchers, 2-4 per rule, on the labels real
// rules use. Every regex needs its label present (none matches "").
std::string make_rules(int n, std::mt19937& rng) {
  const auto names = static_cast<unsigned>(alert_names_for(n));
  std::string y = "rules:\n";
  for (int r = 0; r < n; ++r) {
    y += fmt::format("  - name: r{}\n    match:\n", r);
    int kind = static_cast<int>(rng() % 10);
    if (kind < 7) {
      y += fmt::format("      alertname: {}\n", alert_name(static_cast<int>(rng() % names)));
    } else if (kind < 9) {
      int a = static_cast<int>(rng() % (names - 5));
      y += fmt::format("      alertname: {{\"=~\": \"Alert{:05}Condition|Alert{:05}Condition\"}}\n",
                       a, a + 5);
    } else {
      y += fmt::format(
          "      instance: {{\"=~\": \"sw-{:02}-[0-9]+\\\\.dc[0-9]+\\\\.example\\\\.net:9100\"}}\n",
          rng() % static_cast<unsigned>(sites_for(n)));
    }
    if (rng() % 10 < 7) {
      y += fmt::format("      severity: {}\n", kSeverities[rng() % 4]);
    } else {
      y += "      severity: {\"=~\": \"critical|page\"}\n";
    }
    if (rng() % 2) y += fmt::format("      job: {}\n", kJobs[rng() % 6]);
    if (rng() % 3 == 0) y += fmt::format("      site: {{\"=~\": \"site0[0-{}]\"}}\n", rng() % 10);
    y += "    actions: [{log: {message: m}}]\n";
  }
  return y;
}

struct Fixture {
  rules::Interner interner;
  rules::RuleSet set;
  rules::ManualClock clock;
  std::unique_ptr<rules::Engine> engine;
  std::string payload;

  explicit Fixture(int n_rules) {
    std::mt19937 rng(42);
    payload = make_payload(rng, alert_names_for(n_rules), sites_for(n_rules));
    rules::ConfigErrors errors;
    rules::load_rules_text(make_rules(n_rules, rng), "bench.yaml", interner, set, errors);
    if (!errors.empty()) throw std::runtime_error(errors.to_string());
    engine = std::make_unique<rules::Engine>(set, interner, clock);
  }
};

void BM_DecodeMatch(benchmark::State& state) {
  Fixture f(static_cast<int>(state.range(0)));
  alertmanager::AlertDecoder decoder(f.interner);
  std::vector<rules::Event> events;
  std::vector<std::uint32_t> matched;
  std::string body;
  std::size_t matches = 0;
  for (auto _ : state) {
    body.assign(f.payload);
    events.clear();
    auto res = decoder.decode_webhook(body, events);
    if (!res.errors.empty() || events.size() != kAlertsPerPayload) {
      state.SkipWithError("decode failed");
      break;
    }
    for (const auto& e : events) {
      f.engine->match(e, matched);
      matches += matched.size();
    }
    benchmark::DoNotOptimize(matches);
  }
  state.SetItemsProcessed(state.iterations() * kAlertsPerPayload);
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(f.payload.size()));
  state.counters["matches_per_alert"] =
      static_cast<double>(matches) / static_cast<double>(state.iterations() * kAlertsPerPayload);
}
BENCHMARK(BM_DecodeMatch)->Arg(10)->Arg(100)->Arg(1000)->Arg(10000);

void BM_MatchOnly(benchmark::State& state) {
  Fixture f(static_cast<int>(state.range(0)));
  alertmanager::AlertDecoder decoder(f.interner);
  std::vector<rules::Event> events;
  std::string body = f.payload;
  decoder.decode_webhook(body, events);
  std::vector<std::uint32_t> matched;
  for (auto _ : state) {
    for (const auto& e : events) {
      f.engine->match(e, matched);
      benchmark::DoNotOptimize(matched.data());
    }
  }
  state.SetItemsProcessed(state.iterations() * kAlertsPerPayload);
}
BENCHMARK(BM_MatchOnly)->Arg(10)->Arg(100)->Arg(1000)->Arg(10000);

// Decode alone, on the payload of the DecodeMatch run with the same argument.
void BM_DecodeOnly(benchmark::State& state) {
  Fixture f(static_cast<int>(state.range(0)));
  alertmanager::AlertDecoder decoder(f.interner);
  std::vector<rules::Event> events;
  std::string body;
  for (auto _ : state) {
    body.assign(f.payload);
    events.clear();
    decoder.decode_webhook(body, events);
    benchmark::DoNotOptimize(events.data());
  }
  state.SetItemsProcessed(state.iterations() * kAlertsPerPayload);
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(f.payload.size()));
}
BENCHMARK(BM_DecodeOnly)->Arg(10)->Arg(1000)->Arg(10000);

// simdjson's own rate on the same bytes: a full DOM parse (validates everything).
void BM_SimdjsonDomParse(benchmark::State& state) {
  std::mt19937 rng(42);
  simdjson::padded_string payload(make_payload(rng, alert_names_for(1000), sites_for(1000)));
  simdjson::dom::parser parser;
  for (auto _ : state) {
    auto doc = parser.parse(payload);
    if (doc.error()) {
      state.SkipWithError("parse failed");
      break;
    }
    benchmark::DoNotOptimize(doc.value_unsafe());
  }
  state.SetItemsProcessed(state.iterations() * kAlertsPerPayload);
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(payload.size()));
}
BENCHMARK(BM_SimdjsonDomParse);

}  // namespace

BENCHMARK_MAIN();
