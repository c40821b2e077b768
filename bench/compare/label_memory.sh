#!/usr/bin/env bash
# Memory under a flood of unique label values (issue 11): every alert posted
# carries a label value never seen before (alert_load --fresh-labels), at full
# intake, for --seconds (default 600). Interned label text is never freed, so
# without a bound the daemon would grow until the OOM killer; with
# engine.max_label_bytes (set here to --budget, default 64MiB, to reach it
# early) it must level off. Samples the daemon's RSS, aiopsd_label_bytes and
# the alerts refused for the budget every --every seconds.
#
# Usage: bench/compare/label_memory.sh [--seconds 600] [--budget 64MiB]
#          [--connections 8] [--batch 100] [--every 10]
# Prints a markdown table; results and the samples (CSV) in build/compare/labels/.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

seconds=600 budget=64MiB conns=8 batch=100 every=10
while [ $# -gt 0 ]; do
  case "$1" in
    --seconds) seconds=$2; shift 2 ;;
    --budget) budget=$2; shift 2 ;;
    --connections) conns=$2; shift 2 ;;
    --batch) batch=$2; shift 2 ;;
    --every) every=$2; shift 2 ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done

PORT=19095  # the port bench/compare/aiopsd-bench.yaml listens on
compare_init labels
build_targets aiopsd alert_load compare_inputs
header="$(machine_header)"
run_logged "$BUILD/bench/compare/compare_inputs" intake "$ROOT/bench/compare/aiopsd-bench.yaml" \
  "$RESULTS/aiopsd" --rules 100
sed -i "s/^engine:$/engine:\n  max_label_bytes: $budget/" "$RESULTS/aiopsd/aiopsd.yaml"
grep -q "max_label_bytes: $budget" "$RESULTS/aiopsd/aiopsd.yaml" || {
  echo "could not set engine.max_label_bytes" >&2
  exit 1
}

start_aiopsd "$RESULTS/aiopsd/aiopsd.yaml" "$PORT" "$RESULTS/aiopsd.log"
pid=$SERVER_PID
metric() {  # NAME{LABELS}: its value, 0 when absent
  curl -sf "http://127.0.0.1:$PORT/metrics" | awk -v m="$1" 'index($0, m " ") == 1 { v = $2 } END { print v + 0 }'
}
rss_kib() { sed -n 's/^VmRSS:[[:space:]]*\([0-9]*\) kB/\1/p' "/proc/$1/status"; }

run_logged "${PIN_DRIVER[@]}" "$ALERT_LOAD" --url "127.0.0.1:$PORT" --connections "$conns" \
  --batch "$batch" --fresh-labels --seconds "$seconds" --json >"$RESULTS/load.json" &
driver=$!
PIDS+=("$driver")

csv="$RESULTS/samples.csv"
echo "seconds,rss_mib,label_mib,received,refused_budget" >"$csv"
t0=$SECONDS
while kill -0 "$driver" 2>/dev/null; do
  sleep "$every"
  kill -0 "$pid" 2>/dev/null || { echo "aiopsd died; see $RESULTS/aiopsd.log" >&2; exit 1; }
  printf '%d,%.1f,%.1f,%.0f,%.0f\n' $((SECONDS - t0)) \
    "$(awk -v k="$(rss_kib "$pid")" 'BEGIN { print k / 1024 }')" \
    "$(awk -v b="$(metric aiopsd_label_bytes)" 'BEGIN { print b / 1048576 }')" \
    "$(metric 'aiopsd_events_received_total{connector="alertmanager_v2"}')" \
    "$(metric 'aiopsd_events_rejected_total{connector="alertmanager_v2",reason="label_budget_exhausted"}')" \
    >>"$csv"
done
wait "$driver" || true
peak=$(vmhwm_kib "$pid")

echo "## Unique label values at full intake: RSS"
echo
echo "$header"
echo "- budget: engine.max_label_bytes $budget; $conns connections, batches of $batch, $seconds s"
echo "- peak RSS (VmHWM): $((peak / 1024)) MiB"
echo
echo "| t (s) | RSS (MiB) | label text (MiB) | alerts received | refused for the budget |"
echo "|---:|---:|---:|---:|---:|"
tail -n +2 "$csv" | awk -F, -v n="$(($(wc -l <"$csv") - 1))" \
  'NR == 1 || NR == n || NR % 6 == 0 { printf "| %s | %s | %s | %s | %s |\n", $1, $2, $3, $4, $5 }'
