#!/usr/bin/env bash
# Rule evaluation, aiopsd against json-rules-engine (issue 6, comparison 2).
#
# The same 1,000 rules of three conditions each (alert name or instance,
# severity, job: equality, set membership, a few anchored regexes) and the
# same events, from bench/alert_gen.hpp via compare_inputs:
#   - aiopsd: bench/compare/rules_eval loads rules.yaml with the daemon's
#     loader and times rules::Engine::match on 1,000,000 events (and
#     Engine::process, the daemon's full per-event path, for reference);
#   - json-rules-engine (npm, pinned in bench/compare/jre/package-lock.json,
#     installed into build/compare/jre/ with `npm ci`, run with the machine's
#     node): Engine.run() on the first --jre-events of the same stream,
#     within --jre-seconds. It evaluates every rule for every event.
# Both run alone, pinned to the same CPU, --runs times; medians reported.
# The matches over the events both saw are compared: the engines must agree.
#
# Usage: bench/compare/rules_vs_json_rules_engine.sh [--runs 3]
#          [--events 1000000] [--jre-events 2000] [--jre-seconds 60]
# Skips (exit 0, with a message) when node or npm is missing or the package
# cannot be installed. Exits non-zero only if a run failed or the engines
# disagree. Results: build/compare/rules/.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

runs=3 events=1000000 jre_events=2000 jre_seconds=60
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) runs=$2; shift 2 ;;
    --events) events=$2; shift 2 ;;
    --jre-events) jre_events=$2; shift 2 ;;
    --jre-seconds) jre_seconds=$2; shift 2 ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done

skip() {
  echo "SKIPPED rules_vs_json_rules_engine: $*"
  exit 0
}
command -v node >/dev/null || skip "node is not installed (scripts/bootstrap installs nodejs)"
command -v npm >/dev/null || skip "npm is not installed (scripts/bootstrap installs npm)"

compare_init rules
JRE_DIR="$COMPARE_OUT/jre"
mkdir -p "$JRE_DIR"
cp "$ROOT/bench/compare/jre/package.json" "$ROOT/bench/compare/jre/package-lock.json" "$JRE_DIR/"
if ! (cd "$JRE_DIR" && timeout 300 npm ci --no-audit --no-fund --loglevel=error >"$RESULTS/npm.log" 2>&1); then
  skip "npm ci failed (registry unreachable?); see $RESULTS/npm.log"
fi
echo "(cd build/compare/jre && npm ci --no-audit --no-fund)" >>"$COMMANDS_LOG"

build_targets compare_inputs rules_eval
header="$(machine_header)"
PIN=("${PIN_DRIVER[@]}")
run_logged "$BUILD/bench/compare/compare_inputs" rules-eval "$RESULTS/inputs" --rules 1000 \
  --events "$jre_events"

failed=0
ours=() theirs=()
for run in $(seq "$runs"); do
  wait_quiet
  echo "  run $run: aiopsd, $events events" >&2
  run_logged "${PIN[@]}" "$BUILD/bench/compare/rules_eval" "$RESULTS/inputs/rules.yaml" \
    --events "$events" --check "$jre_events" >"$RESULTS/aiopsd-$run.json" || failed=1
  ours+=("$RESULTS/aiopsd-$run.json")
  wait_quiet
  echo "  run $run: json-rules-engine, up to $jre_events events or ${jre_seconds}s" >&2
  log_cmd env NODE_PATH=build/compare/jre/node_modules "${PIN[@]}" node \
    bench/compare/jre/rules_eval.js "$RESULTS/inputs" "$jre_events" "$jre_seconds"
  NODE_PATH="$JRE_DIR/node_modules" "${PIN[@]}" node "$ROOT/bench/compare/jre/rules_eval.js" \
    "$RESULTS/inputs" "$jre_events" "$jre_seconds" >"$RESULTS/jre-$run.json" || failed=1
  theirs+=("$RESULTS/jre-$run.json")
done

# json-rules-engine may stop early (time budget): compare matches over the
# events it evaluated.
jre_done=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["events"])' "${theirs[0]}")
if [ "$jre_done" != "$jre_events" ]; then
  run_logged "${PIN[@]}" "$BUILD/bench/compare/rules_eval" "$RESULTS/inputs/rules.yaml" \
    --events "$jre_done" --check "$jre_done" >"$RESULTS/aiopsd-check.json" || failed=1
  python3 - "$RESULTS/aiopsd-check.json" "${ours[@]}" <<'EOF'
import json, sys
check = json.load(open(sys.argv[1]))
for p in sys.argv[2:]:
    d = json.load(open(p))
    d["check_events"], d["check_matches"] = check["check_events"], check["check_matches"]
    json.dump(d, open(p, "w"))
EOF
fi

{
  echo "### Rule evaluation: aiopsd vs json-rules-engine"
  echo
  echo "$header"
  echo "- node $(node --version), json-rules-engine $(node -p "require('$JRE_DIR/node_modules/json-rules-engine/package.json').version")"
  echo "- 1,000 rules of 3 conditions; both pinned to ${PIN[*]:-no CPU}; median of $runs runs"
  echo
  python3 "$ROOT/bench/compare/summarize.py" rules --aiopsd "${ours[@]}" --jre "${theirs[@]}" || failed=1
  echo
  echo "Commands:"
  echo '```'
  awk '!seen[$0]++' "$COMMANDS_LOG"
  echo '```'
} | tee "$RESULTS/table.md"
exit $failed
