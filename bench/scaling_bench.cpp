// Scaling curves of the rule engine (issue 6): how throughput moves with the
// number of rules and with the number of group keys, and how memory grows
// with the number of alerts tracked. bench/plot/plot_scaling.sh runs it with
// --benchmark_format=json and draws docs/perf/*.png with gnuplot.
//
// Only the public rules::Engine API (process, match, groups_tracked, alerts_tracked) is used,
// so the curves survive changes inside the engine.
//
//   BM_ProcessVsRules/N      Engine::process on 1,000 decoded fleet alerts
//                            (bench/alert_gen.hpp), N rules; re-sends after
//                            the first pass, as a running daemon sees them.
//   BM_MatchVsRules/N        Engine::match on the same alerts: the index alone.
//   BM_ProcessVsGroupKeys/K  one rule grouping by (device, interface) with a
//                            throttle; K distinct keys already tracked (untimed),
//                            then alerts for those keys in a shuffled order.
//   BM_MemoryVsTrackedAlerts/N  N distinct alerts (a unique label each) into
//                            a fresh engine; counters: heap bytes in use
//                            (glibc mallinfo2) and RSS growth, per alert.

#include <benchmark/benchmark.h>
#include <fmt/format.h>
#include <malloc.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <memory>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "bench/alert_gen.hpp"
#include "connectors/alertmanager/alert_decoder.hpp"
#include "rules/engine.hpp"
#include "rules/rule.hpp"

namespace {

using namespace aiopsd;

// Rules and 1,000 alerts of the generated fleet; built once per rule count
// (100,000 rules take seconds to load) and kept for the process's life.
// Above every size measured: the curves show the engine's cost, not its
// eviction (the daemon's default limits are 100,000 groups per rule).
rules::EngineOptions unbounded() {
  rules::EngineOptions o;
  o.max_groups_per_rule = 100'000'000;
  o.max_tracked = 100'000'000;
  return o;
}

struct RulesFixture {
  rules::Interner interner;
  rules::RuleSet set;
  rules::ManualClock clock;
  std::unique_ptr<rules::Engine> engine;
  std::vector<rules::Event> events;

  explicit RulesFixture(int n_rules) {
    std::mt19937 rng(42);
    alertmanager::AlertDecoder decoder(interner);
    for (int i = 0; i < 10; ++i) {
      std::string body =
          bench::make_payload(rng, bench::alert_names_for(n_rules), bench::sites_for(n_rules));
      decoder.decode_webhook(body, events);
    }
    rules::ConfigErrors errors;
    rules::load_rules_text(bench::make_rules(n_rules, rng), "bench.yaml", interner, set, errors);
    if (!errors.empty()) throw std::runtime_error(errors.to_string());
    engine = std::make_unique<rules::Engine>(set, interner, clock, nullptr, unbounded());
  }

  static RulesFixture& get(int n_rules) {
    static std::map<int, std::unique_ptr<RulesFixture>> cache;
    auto& f = cache[n_rules];
    if (!f) f = std::make_unique<RulesFixture>(n_rules);
    return *f;
  }
};

// NOLINTNEXTLINE(readability-identifier-naming): Google Benchmark style
void BM_ProcessVsRules(benchmark::State& state) {
  auto& f = RulesFixture::get(static_cast<int>(state.range(0)));
  std::vector<rules::Decision> decisions;
  for (auto _ : state) {
    for (const auto& e : f.events) {
      decisions.clear();
      f.engine->process(e, decisions);
      benchmark::DoNotOptimize(decisions.data());
    }
  }
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(f.events.size()));
  state.counters["rules"] = static_cast<double>(state.range(0));
}
BENCHMARK(BM_ProcessVsRules)->RangeMultiplier(10)->Range(10, 100'000);

// NOLINTNEXTLINE(readability-identifier-naming): Google Benchmark style
void BM_MatchVsRules(benchmark::State& state) {
  auto& f = RulesFixture::get(static_cast<int>(state.range(0)));
  std::vector<std::uint32_t> matched;
  for (auto _ : state) {
    for (const auto& e : f.events) {
      f.engine->match(e, matched);
      benchmark::DoNotOptimize(matched.data());
    }
  }
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(f.events.size()));
  state.counters["rules"] = static_cast<double>(state.range(0));
}
BENCHMARK(BM_MatchVsRules)->RangeMultiplier(10)->Range(10, 100'000);

constexpr const char* kGroupRule = R"(rules:
  - name: port-down
    match: {alertname: PortDown}
    group_by: [device, interface]
    throttle: {once_within: 1h}
    actions: [{log: {message: "{{ labels.device }} {{ labels.interface }}"}}]
)";

rules::Event port_event(rules::Interner& in, std::size_t key, std::string_view extra = {}) {
  rules::Event e;
  e.labels = {{in.intern("alertname"), in.intern("PortDown")},
              {in.intern("device"), in.intern(fmt::format("sw{:06}", key / 48))},
              {in.intern("interface"), in.intern(fmt::format("1/1/{}", key % 48))},
              {in.intern("severity"), in.intern("critical")}};
  if (!extra.empty()) e.labels.push_back({in.intern("bench_seq"), in.intern(extra)});
  rules::normalize_labels(e.labels);
  e.fingerprint = rules::fingerprint_of(e.labels, in);
  return e;
}

struct GroupFixture {
  rules::Interner interner;
  rules::RuleSet set;
  rules::ManualClock clock;
  std::unique_ptr<rules::Engine> engine;
  std::vector<rules::Event> events;  // one per key
  std::vector<std::uint32_t> order;  // shuffled: no cache-friendly walk

  explicit GroupFixture(std::size_t keys) {
    rules::ConfigErrors errors;
    rules::load_rules_text(kGroupRule, "groups.yaml", interner, set, errors);
    if (!errors.empty()) throw std::runtime_error(errors.to_string());
    engine = std::make_unique<rules::Engine>(set, interner, clock, nullptr, unbounded());
    events.reserve(keys);
    std::vector<rules::Decision> decisions;
    for (std::size_t k = 0; k < keys; ++k) {
      events.push_back(port_event(interner, k));
      decisions.clear();
      engine->process(events.back(), decisions);  // the key's first firing: tracked
    }
    order.resize(std::min<std::size_t>(keys, 1 << 20));
    std::mt19937 rng(7);
    for (auto& o : order) o = static_cast<std::uint32_t>(rng() % keys);
  }
};

// NOLINTNEXTLINE(readability-identifier-naming): Google Benchmark style
void BM_ProcessVsGroupKeys(benchmark::State& state) {
  static std::map<std::int64_t, std::unique_ptr<GroupFixture>> cache;
  auto& f = cache[state.range(0)];
  if (!f) f = std::make_unique<GroupFixture>(static_cast<std::size_t>(state.range(0)));
  std::vector<rules::Decision> decisions;
  std::size_t i = 0;
  for (auto _ : state) {
    decisions.clear();
    f->engine->process(f->events[f->order[i]], decisions);
    benchmark::DoNotOptimize(decisions.data());
    if (++i == f->order.size()) i = 0;
  }
  state.SetItemsProcessed(state.iterations());
  state.counters["group_keys"] = static_cast<double>(state.range(0));
  state.counters["groups_tracked"] = static_cast<double>(f->engine->groups_tracked());
}
BENCHMARK(BM_ProcessVsGroupKeys)->RangeMultiplier(10)->Range(1'000, 1'000'000);

std::size_t rss_bytes() {
  std::ifstream statm("/proc/self/statm");
  std::size_t pages = 0, resident = 0;
  statm >> pages >> resident;
  return resident * static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
}

// NOLINTNEXTLINE(readability-identifier-naming): Google Benchmark style
void BM_MemoryVsTrackedAlerts(benchmark::State& state) {
  const auto n = static_cast<std::size_t>(state.range(0));
  for (auto _ : state) {
    state.PauseTiming();
    auto interner = std::make_unique<rules::Interner>();
    rules::RuleSet set;
    rules::ManualClock clock;
    rules::ConfigErrors errors;
    rules::load_rules_text(kGroupRule, "groups.yaml", *interner, set, errors);
    auto engine = std::make_unique<rules::Engine>(set, *interner, clock, nullptr, unbounded());
    std::vector<rules::Decision> decisions;
    malloc_trim(0);
    const std::size_t heap0 = mallinfo2().uordblks, rss0 = rss_bytes();
    state.ResumeTiming();
    // 48 ports on n/48 devices, each alert a new label set (bench_seq), so
    // the engine tracks n alerts in up to n groups: what fresh label sets do.
    for (std::size_t k = 0; k < n; ++k) {
      auto e = port_event(*interner, k, fmt::format("{:012}", k));
      decisions.clear();
      engine->process(e, decisions);
    }
    state.PauseTiming();
    const double heap = static_cast<double>(mallinfo2().uordblks - heap0);
    const double rss = static_cast<double>(rss_bytes() - rss0);
    state.counters["tracked_alerts"] = static_cast<double>(engine->alerts_tracked());
    state.counters["groups_tracked"] = static_cast<double>(engine->groups_tracked());
    state.counters["heap_bytes"] = heap;
    state.counters["heap_bytes_per_alert"] = heap / static_cast<double>(n);
    state.counters["rss_bytes_per_alert"] = rss / static_cast<double>(n);
    engine.reset();
    interner.reset();
    state.ResumeTiming();
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_MemoryVsTrackedAlerts)
    ->RangeMultiplier(10)
    ->Range(1'000, 1'000'000)
    ->Iterations(1)
    ->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
