// Correlation benchmark: N alerts over K group keys through R rules that mix
// every construct (per-alert with throttle, count, all_of, sequence, absence,
// and inhibit rules), on 1..W engine workers.
//
// What is measured is the engine: matching, inhibition, correlation, timers
// and decisions, on pre-decoded events (decoding and HTTP are measured by
// decode_match_bench and bench/compare/). Events are partitioned over the
// workers by rules::ShardKey, as the daemon's queue lanes do (and as Kafka
// partitions would), each worker owning its engine. Reported:
//   - alerts/s: all alerts over the wall time of the slowest worker;
//   - memory per tracked alert: heap growth (jemalloc's stats.allocated when
//     linked with jemalloc, else mallinfo2) over the alerts held in state;
//   - decision latency: process() time per alert, p50/p99/max (a decision is
//     made inside it).
//
// Usage: correlation_load [alerts=1000000] [keys=100000] [rules=1000] [workers=1] [changelog=0]
// With changelog=1 each worker also tracks changes and drains them every 256
// alerts (the daemon's batch) into a sink that only counts: the cost of
// serializing the state the daemon writes to RocksDB, without the disk.

#include <fmt/format.h>
#include <malloc.h>
#include <pthread.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <random>
#include <string>
#include <thread>
#include <vector>

#if defined(AIOPSD_BENCH_JEMALLOC)
#include <jemalloc/jemalloc.h>
#endif

#include "rules/engine.hpp"
#include "rules/shard_key.hpp"

using namespace aiopsd::rules;
using Clk = std::chrono::steady_clock;

namespace {

std::size_t heap_bytes() {
#if defined(AIOPSD_BENCH_JEMALLOC)
  std::uint64_t epoch = 1;
  std::size_t len = sizeof(epoch);
  mallctl("epoch", &epoch, &len, &epoch, len);
  std::size_t allocated = 0;
  len = sizeof(allocated);
  mallctl("stats.allocated", &allocated, &len, nullptr, 0);
  return allocated;
#else
  return mallinfo2().uordblks;
#endif
}

// Rule r matches alert names of its own family: "A<r>" (and "B<r>", "C<r>"
// for multi-step rules), grouped by device. Every fifth rule also requires a
// severity regex. Kinds rotate: 40% per-alert with throttle, 20% count,
// 15% all_of, 15% sequence, 10% absence.
std::string rules_yaml(int n) {
  std::string y = R"(inhibit_rules:
  - source_match: {alertname: DeviceUnreachable}
    target_match: {severity: warning}
    equal: [device]
rules:
)";
  for (int r = 0; r < n; ++r) {
    const std::string sev = r % 5 == 0 ? R"(, severity: {"=~": "warning|critical"})" : "";
    const int kind = r % 20;
    y += fmt::format("  - name: r{}\n", r);
    if (kind < 8) {
      y += fmt::format("    match: {{alertname: A{}{}}}\n    throttle: {{once_within: 10m}}\n", r,
                       sev);
    } else if (kind < 12) {
      y += fmt::format("    match: {{alertname: A{}{}}}\n    count: 3\n    window: 5m\n", r, sev);
    } else if (kind < 15) {
      y += fmt::format(
          "    all_of:\n      - match: {{alertname: A{0}{1}}}\n      - match: {{alertname: "
          "B{0}}}\n    window: 5m\n",
          r, sev);
    } else if (kind < 18) {
      y += fmt::format(
          "    sequence:\n      - match: {{alertname: A{0}{1}}}\n      - match: {{alertname: "
          "B{0}}}\n      - match: {{alertname: C{0}}}\n    window: 10m\n",
          r, sev);
    } else {
      y += fmt::format(
          "    absence:\n      after: {{match: {{alertname: A{}{}}}}}\n      expect: resolved\n"
          "    window: 5m\n",
          r, sev);
    }
    y += "    group_by: [device]\n    actions: [{log: {message: \"{{ group.device }}\"}}]\n";
  }
  return y;
}

struct Stream {
  std::vector<Event> events;
  std::vector<TimePoint> at;
};

// Alerts spread over `keys` devices and all rules' alert names; a quarter are
// re-sends of an earlier alert, a twentieth resolve one. One hour of traffic.
Stream make_stream(Interner& in, std::size_t n, std::size_t keys, int rules) {
  std::mt19937_64 rng(42);
  const TimePoint t0{std::chrono::seconds(1'700'000'000)};
  const auto span = std::chrono::hours(1);
  Stream s;
  s.events.reserve(n);
  s.at.reserve(n);
  const Symbol alertname = in.intern("alertname"), device = in.intern("device"),
               severity = in.intern("severity"), instance = in.intern("instance");
  const Symbol sev[] = {in.intern("info"), in.intern("warning"), in.intern("critical")};
  for (std::size_t i = 0; i < n; ++i) {
    Event e;
    const TimePoint at = t0 + span * i / n;
    const auto roll = rng() % 100;
    if (roll < 25 && i > 1000) {
      e = s.events[i - 1 - rng() % 1000];  // a re-send
      if (roll < 5) e.status = EventStatus::kResolved;
    } else {
      const int r = static_cast<int>(rng() % rules);
      const char family = "AAABC"[rng() % 5];
      const std::size_t dev = rng() % keys;
      e.labels = {{alertname, in.intern(fmt::format("{}{}", family, r))},
                  {device, in.intern(fmt::format("dev{}", dev))},
                  {severity, sev[rng() % 3]},
                  {instance, in.intern(fmt::format("10.{}.{}.{}:9100", dev >> 16, (dev >> 8) & 255,
                                                   dev & 255))}};
      if (rng() % 10000 == 0) e.labels[0].value = in.intern("DeviceUnreachable");
      normalize_labels(e.labels);
      e.fingerprint = fingerprint_of(e.labels, in);
      e.starts_at = at;
    }
    s.events.push_back(std::move(e));
    s.at.push_back(at);
  }
  return s;
}

struct CountingSink final : StateSink {
  std::size_t puts = 0, erases = 0, bytes = 0;
  void put(std::string_view k, std::string_view v) override {
    ++puts;
    bytes += k.size() + v.size();
  }
  void erase(std::string_view k) override {
    ++erases;
    bytes += k.size();
  }
};

struct WorkerResult {
  double seconds = 0;
  std::size_t decisions = 0;
  std::size_t tracked = 0;
  std::size_t groups = 0;
  CountingSink changelog;
  std::vector<std::uint32_t> latency_ns;  // sampled
};

void run_worker(const RuleSet& set, Interner& in, const std::vector<std::string>& shard_by,
                const Stream& s, const std::vector<std::uint32_t>& mine, bool changelog,
                WorkerResult& out, std::atomic<int>& ready, std::atomic<bool>& go) {
  ManualClock clock(s.at.front());
  EngineOptions opts;
  opts.shard_by = shard_by;
  opts.max_tracked = 10'000'000;
  Engine engine(set, in, clock, nullptr, opts);
  engine.track_changes(changelog);
  std::vector<Decision> decisions;
  decisions.reserve(1024);
  out.latency_ns.reserve(mine.size() / 16 + 1);
  ready.fetch_add(1);
  while (!go.load()) std::this_thread::sleep_for(std::chrono::microseconds(100));
  const auto start = Clk::now();
  TimePoint last_tick = s.at.front();
  for (std::size_t k = 0; k < mine.size(); ++k) {
    const std::uint32_t i = mine[k];
    clock.set(s.at[i]);
    if (s.at[i] - last_tick >= std::chrono::seconds(1)) {  // the daemon ticks every second
      engine.tick(decisions);
      last_tick = s.at[i];
    }
    if (k % 16 == 0) {
      const auto t = Clk::now();
      engine.process(s.events[i], decisions);
      out.latency_ns.push_back(
          static_cast<std::uint32_t>(std::chrono::nanoseconds(Clk::now() - t).count()));
    } else {
      engine.process(s.events[i], decisions);
    }
    out.decisions += decisions.size();
    decisions.clear();
    if (changelog && k % 256 == 255) engine.drain_changes(out.changelog);
  }
  if (changelog) engine.drain_changes(out.changelog);
  out.seconds = std::chrono::duration<double>(Clk::now() - start).count();
  out.tracked = engine.alerts_tracked();
  out.groups = engine.groups_tracked();
  // The engine is destroyed after the caller measured the heap: keep it.
  ready.fetch_add(1);
  while (go.load()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
}

}  // namespace

int main(int argc, char** argv) {
  const std::size_t n = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 1'000'000;
  const std::size_t keys = argc > 2 ? std::strtoull(argv[2], nullptr, 10) : 100'000;
  const int n_rules = argc > 3 ? std::atoi(argv[3]) : 1000;
  const std::size_t workers = argc > 4 ? std::strtoull(argv[4], nullptr, 10) : 1;
  const bool changelog = argc > 5 && std::atoi(argv[5]) != 0;

  Interner in;
  RuleSet set;
  ConfigErrors errors("bench.yaml");
  load_rules_text(rules_yaml(n_rules), "bench.yaml", in, set, errors);
  if (!errors.empty()) {
    fmt::print(stderr, "{}", errors.to_string());
    return 2;
  }
  const Stream s = make_stream(in, n, keys, n_rules);
  std::string why;
  const auto labels = ShardKey::plan(set, why).value_or(std::vector<std::string>{});
  const ShardKey key(labels, in);
  std::vector<std::vector<std::uint32_t>> parts(workers);
  for (std::uint32_t i = 0; i < s.events.size(); ++i) {
    parts[key.route(s.events[i]) % workers].push_back(i);
  }

  const std::size_t heap_before = heap_bytes();
  std::vector<WorkerResult> results(workers);
  std::atomic<int> ready{0};
  std::atomic<bool> go{false};
  std::vector<std::thread> threads;
  for (std::size_t w = 0; w < workers; ++w) {
    threads.emplace_back(
        [&, w] { run_worker(set, in, labels, s, parts[w], changelog, results[w], ready, go); });
  }
  // Sleeping, not spinning: on a 2-core machine a spinning waiter takes a
  // worker's core.
  while (ready.load() < static_cast<int>(workers)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  const std::size_t heap_start = heap_bytes();
  go = true;
  while (ready.load() < 2 * static_cast<int>(workers)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  const std::size_t heap_end = heap_bytes();
  go = false;
  for (auto& t : threads) t.join();

  double slowest = 0;
  std::size_t decisions = 0, tracked = 0, groups = 0, puts = 0, erases = 0, bytes = 0;
  std::vector<std::uint32_t> lat;
  for (const auto& r : results) {
    slowest = std::max(slowest, r.seconds);
    decisions += r.decisions;
    tracked += r.tracked;
    groups += r.groups;
    puts += r.changelog.puts;
    erases += r.changelog.erases;
    bytes += r.changelog.bytes;
    lat.insert(lat.end(), r.latency_ns.begin(), r.latency_ns.end());
  }
  std::sort(lat.begin(), lat.end());
  auto pct = [&](double p) {
    return lat.empty()
               ? 0.0
               : lat[std::min(lat.size() - 1, static_cast<std::size_t>(p * lat.size()))] / 1000.0;
  };
  const double grown = static_cast<double>(heap_end) - static_cast<double>(heap_start);
  fmt::print(
      "alerts={} keys={} rules={} workers={} shard_by=[{}]\n"
      "alerts/s={:.0f} wall={:.3f}s decisions={}\n"
      "groups={} tracked_alerts={} heap_growth={:.1f}MiB bytes_per_tracked_alert={:.0f} (engines "
      "before "
      "the run: {:.1f}MiB)\n"
      "decision_latency_us p50={:.2f} p99={:.2f} p999={:.2f} max={:.2f} (1 in 16 sampled)\n",
      n, keys, n_rules, workers, fmt::join(labels, ","), static_cast<double>(n) / slowest, slowest,
      decisions, groups, tracked, grown / (1 << 20),
      tracked ? grown / static_cast<double>(tracked) : 0.0,
      (static_cast<double>(heap_start) - static_cast<double>(heap_before)) / (1 << 20), pct(0.5),
      pct(0.99), pct(0.999), lat.empty() ? 0.0 : lat.back() / 1000.0);
  if (changelog) {
    fmt::print("changelog: puts={} erases={} bytes={:.1f}MiB ({:.0f} bytes per alert)\n", puts,
               erases, static_cast<double>(bytes) / (1 << 20),
               static_cast<double>(bytes) / static_cast<double>(n));
  }
  return 0;
}
