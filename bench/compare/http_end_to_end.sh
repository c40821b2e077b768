#!/usr/bin/env bash
# HTTP end to end (issue 6, comparison 4): alerts/s through
# POST /api/v2/alerts into aiopsd with 1,000 rules loaded (every action dry),
# batches of 100, at 1, 8 and 64 keep-alive connections; aiopsd pinned to
# CPU 0, the driver (bench/load/alert_load) to CPU 1.
#
# "Through" means accepted by the daemon: decoded, validated and admitted to
# the engine's bounded queue (a full queue answers 503, counted as rejected).
# Per connection count and mode, a new daemon is started, primed with the
# pool of 10,000 label sets (its rules act once per group; the script waits
# until the engine is idle), then timed for --seconds with fresh label sets
# (new alerts every time) or re-sent ones (updates), as in
# intake_vs_alertmanager.sh. Medians over --runs.
#
# Usage: bench/compare/http_end_to_end.sh [--runs 2] [--seconds 10]
#          [--connections "1 8 64"] [--batch 100]
# Prints a markdown table; exits non-zero only if a run failed.
# Results: build/compare/e2e/.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

runs=2 seconds=10 conns="1 8 64" batch=100 label_sets=10000
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) runs=$2; shift 2 ;;
    --seconds) seconds=$2; shift 2 ;;
    --connections) conns=$2; shift 2 ;;
    --batch) batch=$2; shift 2 ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done

PORT=19095
compare_init e2e
build_targets aiopsd alert_load compare_inputs
header="$(machine_header)"
run_logged "$BUILD/bench/compare/compare_inputs" intake "$ROOT/bench/compare/aiopsd-bench.yaml" \
  "$RESULTS/aiopsd" --rules 1000
rules=$(grep -c '^  - name:' "$RESULTS/aiopsd/rules.yaml")
audit="$RESULTS/aiopsd/audit.log"

failed=0
one_run() {  # CONNECTIONS MODE RUN
  local c=$1 mode=$2 run=$3 out="$RESULTS/$2-c$1-$3" pid hwm t0 prime_s
  local mode_args=(--fresh-labels)
  [ "$mode" = resend ] && mode_args=(--resend --no-prime)
  local common=(--url "127.0.0.1:$PORT" --connections "$c" --batch "$batch"
    --label-sets "$label_sets" --json)
  rm -f "$audit"
  start_aiopsd "$RESULTS/aiopsd/aiopsd.yaml" "$PORT" "$out.log" || return 1
  pid=$SERVER_PID
  t0=$(date +%s.%N)
  run_logged "${PIN_DRIVER[@]}" "$ALERT_LOAD" "${common[@]}" --resend --no-prime \
    --total "$label_sets" >"$out.prime.json" || true
  wait_aiopsd_idle "$PORT" "$audit" 300 || echo "aiopsd not idle after priming" >&2
  prime_s=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.3f", b - a }')
  measure_begin "$pid"
  run_logged "${PIN_DRIVER[@]}" "$ALERT_LOAD" "${common[@]}" "${mode_args[@]}" \
    --seconds "$seconds" >"$out.json" || true
  measure_end "$pid"
  hwm=$(vmhwm_kib "$pid")
  stop_pid "$pid"
  python3 "$ROOT/bench/compare/summarize.py" record "$out.json" "$out.prime.json" \
    --target aiopsd --mode "$mode" --run "$run" --connections "$c" --vmhwm-kib "$hwm" \
    --prime-seconds "$prime_s" --actions "$(wc -l <"$audit")" "${MEASURE_ARGS[@]}" \
    >>"$RESULTS/runs.jsonl"
}

echo "e2e: $runs run(s) of ${seconds}s per connection count and mode, batch $batch" >&2
for run in $(seq "$runs"); do
  for mode in fresh resend; do
    for c in $conns; do
      echo "  run $run: $mode, $c connection(s)" >&2
      echo "# run $run: $mode, $c connection(s)" >>"$COMMANDS_LOG"
      wait_quiet
      one_run "$c" "$mode" "$run" || { failed=1; echo "  run failed" >&2; }
    done
  done
done

{
  echo "### HTTP end to end: POST /api/v2/alerts into aiopsd"
  echo
  echo "$header"
  echo "- aiopsd: $rules rules, engine.dry_run, log level warn; pinned: daemon ${PIN_SERVER[*]:-unpinned}, driver ${PIN_DRIVER[*]:-unpinned}"
  echo "- batches of $batch, ${seconds}s per run, median of $runs runs; fresh and re-sent label sets after a priming pass of $label_sets alerts"
  echo
  python3 "$ROOT/bench/compare/summarize.py" e2e "$RESULTS/runs.jsonl" || failed=1
  echo
  echo "Commands (one daemon; every run is in $(basename "$RESULTS")/commands.txt):"
  echo '```'
  awk 'NR == 1 || /^# run 1: fresh, 1 / { p = 1; print; next } /^# run/ { p = 0 } p' "$COMMANDS_LOG"
  echo '```'
} | tee "$RESULTS/table.md"
exit $failed
