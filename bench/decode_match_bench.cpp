// Decode + match throughput: a 100-alert Alertmanager webhook payload against
// 10, 100, 1,000 and 10,000 rules mixing equality and regex matchers about
// 70/30, several labels per rule. Baseline: simdjson's own DOM parse of the
// same bytes, reported as alerts/s so the two figures divide. Rules and
// alerts come from bench/alert_gen.hpp.

#include <benchmark/benchmark.h>
#include <simdjson.h>

#include <algorithm>
#include <random>
#include <string>
#include <vector>

#include "bench/alert_gen.hpp"
#include "connectors/alertmanager/alert_decoder.hpp"
#include "rules/engine.hpp"
#include "rules/rule.hpp"

namespace {

using namespace aiopsd;

constexpr int kAlertsPerPayload = 100;
using bench::alert_names_for;
using bench::make_payload;
using bench::make_rules;
using bench::sites_for;

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
