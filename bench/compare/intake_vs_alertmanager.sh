#!/usr/bin/env bash
# Alert intake, aiopsd against Alertmanager (issue 6, comparison 1).
#
# The same stream of Alertmanager v2 batches (bench/load/alert_load, C++ on
# Beast) goes to aiopsd (release build, 1,000 rules, every action dry) and to
# Alertmanager (Debian's prometheus-alertmanager, clustering off, temporary
# storage), one at a time, each on loopback and pinned to CPU 0 with the
# driver on CPU 1. For each receiver and mode a fresh process is started:
#   1. priming pass: the pool of label sets (10,000 alerts) once, untimed; the
#      receiver then holds every alert (aiopsd's rules have acted on each
#      group once, their throttles hold). The script waits for it to go idle;
#   2. timed run: --seconds of `fresh` alerts (new label sets: the pool's
#      labels with new sequence numbers, so every alert is created) or
#      `resend` alerts (the pool again: every alert is an update);
#   3. peak RSS (VmHWM) read, process stopped.
# Each receiver/mode is run --runs times (interleaved), medians reported.
#
# Usage: bench/compare/intake_vs_alertmanager.sh [--runs 3] [--seconds 10]
#          [--connections 8] [--batch 100] [--label-sets 10000]
# Prints a markdown table; exits non-zero only if a run failed (a receiver
# did not start, a request failed other than with 503, nothing accepted), not
# when a target is missed. Results: build/compare/intake/.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

runs=3 seconds=10 connections=8 batch=100 label_sets=10000
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) runs=$2; shift 2 ;;
    --seconds) seconds=$2; shift 2 ;;
    --connections) connections=$2; shift 2 ;;
    --batch) batch=$2; shift 2 ;;
    --label-sets) label_sets=$2; shift 2 ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done

AM_BIN=/usr/bin/prometheus-alertmanager
AIOPSD_PORT=19095 AM_PORT=19093
[ -x "$AM_BIN" ] || { echo "$AM_BIN missing: run scripts/bootstrap" >&2; exit 1; }
compare_init intake
build_targets aiopsd alert_load compare_inputs
header="$(machine_header)"
run_logged "$BUILD/bench/compare/compare_inputs" intake "$ROOT/bench/compare/aiopsd-bench.yaml" \
  "$RESULTS/aiopsd" --rules 1000
rules=$(grep -c '^  - name:' "$RESULTS/aiopsd/rules.yaml")

driver() {  # PORT ARGS...: one alert_load run, JSON on stdout
  local port=$1
  shift
  run_logged "${PIN_DRIVER[@]}" "$ALERT_LOAD" --url "127.0.0.1:$port" --connections "$connections" \
    --batch "$batch" --label-sets "$label_sets" --json "$@"
}

failed=0
one_run() {  # TARGET MODE RUN
  local target=$1 mode=$2 run=$3 port pid t0 prime_s actions=null out="$RESULTS/$1-$2-$3"
  local mode_args=(--fresh-labels)
  [ "$mode" = resend ] && mode_args=(--resend --no-prime)
  if [ "$target" = aiopsd ]; then
    port=$AIOPSD_PORT
    rm -f "$RESULTS/aiopsd/audit.log"
    start_aiopsd "$RESULTS/aiopsd/aiopsd.yaml" "$port" "$out.log" || return 1
  else
    port=$AM_PORT
    port_free "$port" || { echo "port $port is in use" >&2; return 1; }
    local storage="$RESULTS/am-storage-$mode-$run"
    mkdir -p "$storage"
    local am_args=(--config.file="$ROOT/bench/compare/alertmanager.yml" --storage.path="$storage"
      --web.listen-address="127.0.0.1:$port" --cluster.listen-address= --log.level=warn)
    log_cmd "${PIN_SERVER[@]}" "$AM_BIN" "${am_args[@]}"
    "${PIN_SERVER[@]}" "$AM_BIN" "${am_args[@]}" >"$out.log" 2>&1 &
    SERVER_PID=$!
    PIDS+=("$SERVER_PID")
    wait_http "http://127.0.0.1:$port/-/ready" 30 || { echo "alertmanager did not start" >&2; return 1; }
  fi
  pid=$SERVER_PID
  t0=$(date +%s.%N)
  driver "$port" --resend --no-prime --total "$label_sets" >"$out.prime.json" || true
  if [ "$target" = aiopsd ]; then
    wait_aiopsd_idle "$port" "$RESULTS/aiopsd/audit.log" 300 || echo "aiopsd not idle after priming" >&2
  else
    sleep 2  # Alertmanager stores alerts inside the request; let its dispatcher settle
  fi
  prime_s=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.3f", b - a }')
  measure_begin "$pid"
  driver "$port" "${mode_args[@]}" --seconds "$seconds" >"$out.json" || true
  measure_end "$pid"
  local hwm
  hwm=$(vmhwm_kib "$pid")
  [ "$target" = aiopsd ] && actions=$(wc -l <"$RESULTS/aiopsd/audit.log")
  stop_pid "$pid"
  [ "$target" = alertmanager ] && rm -rf "$RESULTS/am-storage-$mode-$run"
  python3 "$ROOT/bench/compare/summarize.py" record "$out.json" "$out.prime.json" \
    --target "$target" --mode "$mode" --run "$run" --connections "$connections" --vmhwm-kib "$hwm" --prime-seconds "$prime_s" \
    --actions "$actions" "${MEASURE_ARGS[@]}" >>"$RESULTS/runs.jsonl"
}

echo "intake: $runs run(s) of ${seconds}s per receiver and mode, $connections connections, batch $batch" >&2
for run in $(seq "$runs"); do
  for mode in fresh resend; do
    for target in aiopsd alertmanager; do
      echo "  run $run: $target, $mode" >&2
      echo "# run $run: $target, $mode" >>"$COMMANDS_LOG"
      wait_quiet
      one_run "$target" "$mode" "$run" || { failed=1; echo "  run failed" >&2; }
    done
  done
done

{
  echo "### Alert intake: aiopsd vs Alertmanager"
  echo
  echo "$header"
  echo "- Alertmanager: $($AM_BIN --version 2>&1 | head -1)"
  echo "- aiopsd: $rules rules, engine.dry_run, log level warn; $connections connections, batches of $batch, ${seconds}s per run, median of $runs runs"
  echo
  python3 "$ROOT/bench/compare/summarize.py" intake "$RESULTS/runs.jsonl" || failed=1
  echo
  echo "Commands (the first run; every run is in $(basename "$RESULTS")/commands.txt):"
  echo '```'
  awk '/^# run 2/ { exit } { print }' "$COMMANDS_LOG"
  echo '```'
} | tee "$RESULTS/table.md"
exit $failed
