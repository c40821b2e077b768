#!/usr/bin/env bash
# Scaling curves (issue 6): runs bench/scaling_bench (release preset) with
# Google Benchmark's JSON output and draws, with gnuplot, into docs/perf/:
#   throughput_vs_rules.png       Engine::process and ::match, alerts/s, 10 -> 100,000 rules
#   throughput_vs_group_keys.png  Engine::process, alerts/s, 1k -> 1M group keys tracked
#   memory_vs_tracked_alerts.png  heap bytes in use and per alert, 1k -> 1M tracked alerts
# The JSON and the plotted tables stay in build/plot/ (docs/perf/ holds the PNGs).
#
# Usage: bench/plot/plot_scaling.sh [--repetitions 3] [--min-time 0.5]
# Needs gnuplot (Debian gnuplot-nox: scripts/bootstrap --bench); without it the
# benchmark still runs and the script says the plots were skipped.
# Exits non-zero only if the build or the benchmark failed.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
OUT="$ROOT/build/plot"
DOCS="$ROOT/docs/perf"
reps=3 min_time=0.5
while [ $# -gt 0 ]; do
  case "$1" in
    --repetitions) reps=$2; shift 2 ;;
    --min-time) min_time=$2; shift 2 ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done
mkdir -p "$OUT" "$DOCS"

export CCACHE_BASEDIR="$ROOT"
(cd "$ROOT" && cmake --preset release >/dev/null &&
  cmake --build --preset release --target scaling_bench -j2 >"$OUT/build.log" 2>&1) || {
  echo "build failed; see $OUT/build.log" >&2
  exit 1
}

bin="$ROOT/build/release/bench/scaling_bench"
# Each family in its own process: one family's heap (100,000 rules, 1M keys)
# must not slow the next one down.
for filter in ProcessVsRules MatchVsRules ProcessVsGroupKeys MemoryVsTrackedAlerts; do
  echo "  $filter" >&2
  args=(--benchmark_filter="^BM_$filter/" --benchmark_format=json --benchmark_out_format=json
    --benchmark_out="$OUT/$filter.json")
  if [ "$filter" != MemoryVsTrackedAlerts ]; then
    args+=(--benchmark_repetitions="$reps" --benchmark_report_aggregates_only=true
      --benchmark_min_time="$min_time")
  fi
  echo "build/release/bench/scaling_bench ${args[*]}" | sed "s|$ROOT/||g" >>"$OUT/commands.txt"
  "$bin" "${args[@]}" >/dev/null
done

# JSON -> whitespace tables gnuplot reads (median of the repetitions).
python3 - "$OUT" <<'PY'
import json, sys
out = sys.argv[1]
def rows(name, x_counter, y):
    data = json.load(open(f"{out}/{name}.json"))["benchmarks"]
    pick = [b for b in data if b.get("aggregate_name") == "median"] or \
           [b for b in data if b.get("run_type") == "iteration"]
    return [(b[x_counter], y(b)) for b in pick]
ips = lambda b: b["items_per_second"]
tables = {
    "process_vs_rules": rows("ProcessVsRules", "rules", ips),
    "match_vs_rules": rows("MatchVsRules", "rules", ips),
    "process_vs_keys": rows("ProcessVsGroupKeys", "group_keys", ips),
    "heap_vs_alerts": rows("MemoryVsTrackedAlerts", "tracked_alerts", lambda b: b["heap_bytes"] / 2**20),
    "per_alert_vs_alerts": rows("MemoryVsTrackedAlerts", "tracked_alerts", lambda b: b["heap_bytes_per_alert"]),
}
for name, t in tables.items():
    with open(f"{out}/{name}.dat", "w") as f:
        for x, y in sorted(t):
            f.write(f"{x:.0f} {y:.6g}\n")
# A markdown table for bench/README.md.
with open(f"{out}/table.md", "w") as f:
    f.write("| curve | x | value |\n|---|---:|---:|\n")
    for name, unit in [("process_vs_rules", "alerts/s"), ("match_vs_rules", "alerts/s"),
                       ("process_vs_keys", "alerts/s"), ("heap_vs_alerts", "MiB heap"),
                       ("per_alert_vs_alerts", "bytes/alert")]:
        for x, y in sorted(tables[name]):
            f.write(f"| {name} | {x:,.0f} | {y:,.3g} {unit} |\n")
PY
cat "$OUT/table.md"

if ! command -v gnuplot >/dev/null; then
  echo "SKIPPED plots: gnuplot is not installed (scripts/bootstrap --bench installs gnuplot-nox)"
  exit 0
fi
rev="$(git -C "$ROOT" rev-parse --short HEAD), $(date -u +%Y-%m-%d), $(nproc) CPUs, $(lscpu | sed -n 's/^Model name: *//p' | head -1)"
gnuplot <<GP
set terminal pngcairo size 900,540 font "sans,10"
set grid
set logscale x 10
set format x "10^{%L}"
set key top right
set title "rules::Engine throughput vs number of rules (one core)\n{/*0.8 $rev}"
set xlabel "rules"
set ylabel "alerts/s"
set yrange [0:*]
set output "$DOCS/throughput_vs_rules.png"
plot "$OUT/match_vs_rules.dat" using 1:2 with linespoints lw 2 title "match", \
     "$OUT/process_vs_rules.dat" using 1:2 with linespoints lw 2 title "process (match + de-dup + decisions)"
set title "rules::Engine::process throughput vs group keys tracked (one rule, throttled)\n{/*0.8 $rev}"
set xlabel "group keys tracked"
set output "$DOCS/throughput_vs_group_keys.png"
plot "$OUT/process_vs_keys.dat" using 1:2 with linespoints lw 2 title "process, keys in random order"
set title "rules::Engine memory vs tracked alerts (heap in use, glibc)\n{/*0.8 $rev}"
set xlabel "tracked alerts"
set ylabel "heap MiB"
set y2label "bytes per alert"
set ytics nomirror
set y2tics
set logscale y 10
set yrange [*:*]
set y2range [0:*]
set output "$DOCS/memory_vs_tracked_alerts.png"
plot "$OUT/heap_vs_alerts.dat" using 1:2 axes x1y1 with linespoints lw 2 title "heap MiB (left, log)", \
     "$OUT/per_alert_vs_alerts.dat" using 1:2 axes x1y2 with linespoints lw 2 title "bytes per alert (right)"
GP
echo "plots: docs/perf/throughput_vs_rules.png docs/perf/throughput_vs_group_keys.png docs/perf/memory_vs_tracked_alerts.png"
