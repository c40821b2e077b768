# Shared helpers of the bench/compare/ scripts (sourced, not run).
# Everything started here listens on loopback only, is recorded in PIDS and
# stopped by the EXIT trap each script installs with `compare_init`.

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
BUILD="$ROOT/build/release"
COMPARE_OUT="$ROOT/build/compare"
ALERT_LOAD="$BUILD/bench/load/alert_load"
AIOPSD="$BUILD/daemon/aiopsd"
PIDS=()
COMMANDS_LOG=""

compare_init() {  # NAME: results go to build/compare/NAME/
  RESULTS="$COMPARE_OUT/$1"
  rm -rf "$RESULTS"
  mkdir -p "$RESULTS"
  COMMANDS_LOG="$RESULTS/commands.txt"
  : >"$COMMANDS_LOG"
  trap compare_cleanup EXIT
  trap 'exit 130' INT TERM
}

compare_cleanup() {
  local pid
  for pid in "${PIDS[@]}"; do
    if kill -0 "$pid" 2>/dev/null; then
      kill -TERM "$pid" 2>/dev/null
      for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      kill -KILL "$pid" 2>/dev/null || true
    fi
  done
}

# Records a command (paths relative to the repository) in commands.txt.
log_cmd() {
  printf '%q ' "$@" | sed -e "s|$ROOT/||g" -e 's/ $//' >>"$COMMANDS_LOG"
  echo >>"$COMMANDS_LOG"
}

# Runs a command in the foreground and records it.
run_logged() {
  log_cmd "$@"
  "$@"
}

build_targets() {
  export CCACHE_BASEDIR="$ROOT"
  (cd "$ROOT" && cmake --preset release >/dev/null &&
    cmake --build --preset release --target "$@" -j2 >"$COMPARE_OUT/build.log" 2>&1) || {
    echo "build failed; see $COMPARE_OUT/build.log" >&2
    return 1
  }
}

# CPU pinning: the server on CPU 0, the driver on CPU 1 (none on one core).
if [ "$(nproc)" -ge 2 ]; then
  PIN_SERVER=(taskset -c 0)
  PIN_DRIVER=(taskset -c 1)
else
  PIN_SERVER=()
  PIN_DRIVER=()
fi

machine_header() {
  echo "- date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "- machine: $(nproc) CPUs, $(lscpu | sed -n 's/^Model name: *//p' | head -1), $(uname -r)"
  echo "- load average before the runs: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "- revision: $(git -C "$ROOT" rev-parse --short HEAD)$(git -C "$ROOT" diff --quiet HEAD -- . 2>/dev/null || echo ' (modified)')"
}

port_free() {  # PORT
  ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

wait_http() {  # URL SECONDS
  local deadline=$((SECONDS + $2))
  until curl -sf -o /dev/null "$1"; do
    [ $SECONDS -lt $deadline ] || return 1
    sleep 0.1
  done
}

vmhwm_kib() {  # PID: peak resident set size in KiB
  sed -n 's/^VmHWM:[[:space:]]*\([0-9]*\) kB/\1/p' "/proc/$1/status"
}

stop_pid() {  # PID
  kill -TERM "$1" 2>/dev/null || return 0
  for _ in $(seq 100); do kill -0 "$1" 2>/dev/null || return 0; sleep 0.1; done
  kill -KILL "$1" 2>/dev/null || true
}

# Starts aiopsd with CONFIG; sets SERVER_PID. Its log goes to LOG.
start_aiopsd() {  # CONFIG PORT LOG
  port_free "$2" || { echo "port $2 is in use" >&2; return 1; }
  log_cmd "${PIN_SERVER[@]}" "$AIOPSD" run --config "$1"
  # taskset execs the daemon: $! is the daemon itself, whose VmHWM we read.
  "${PIN_SERVER[@]}" "$AIOPSD" run --config "$1" >"$3" 2>&1 &
  SERVER_PID=$!
  PIDS+=("$SERVER_PID")
  wait_http "http://127.0.0.1:$2/readyz" 30 || { echo "aiopsd did not start; see $3" >&2; return 1; }
}

# aiopsd is idle when its queue is empty and the audit log stopped growing
# (the engine thread may still be writing the last batch's actions).
wait_aiopsd_idle() {  # PORT AUDIT_LOG TIMEOUT_SECONDS
  local deadline=$((SECONDS + $3)) last=-1 size depth
  while [ $SECONDS -lt $deadline ]; do
    depth=$(curl -sf "http://127.0.0.1:$1/metrics" | awk '/^aiopsd_event_queue_depth /{print $2}')
    size=$(stat -c %s "$2" 2>/dev/null || echo 0)
    if [ "${depth%.*}" = "0" ] && [ "$size" = "$last" ]; then return 0; fi
    last=$size
    sleep 0.5
  done
  return 1
}

# CPU accounting around a timed run, to tell a quiet machine from a busy one:
# all CPUs' busy time, the server's own CPU time and the wall time. The
# driver reports its own CPU time; summarize.py subtracts both and reports
# what everyone else used ("other CPU") next to the figures.
HZ=$(getconf CLK_TCK)
# user + nice + system: process time (irq and softirq time, which our own
# loopback traffic causes, would otherwise count as someone else's).
cpu_busy_ticks() { awk '/^cpu / { print $2 + $3 + $4 }' /proc/stat; }
pid_ticks() { sed 's/^.*) //' "/proc/$1/stat" | awk '{ print $12 + $13 }'; }

measure_begin() {  # SERVER_PID
  M_BUSY0=$(cpu_busy_ticks)
  M_PID0=$(pid_ticks "$1")
  M_T0=$(date +%s.%N)
}

measure_end() {  # SERVER_PID: sets MEASURE_ARGS for `summarize.py record`
  local busy pid t1
  busy=$(cpu_busy_ticks)
  pid=$(pid_ticks "$1")
  t1=$(date +%s.%N)
  MEASURE_ARGS=(
    --busy-cpu-seconds "$(awk -v a="$M_BUSY0" -v b="$busy" -v hz="$HZ" 'BEGIN { printf "%.2f", (b - a) / hz }')"
    --server-cpu-seconds "$(awk -v a="$M_PID0" -v b="$pid" -v hz="$HZ" 'BEGIN { printf "%.2f", (b - a) / hz }')"
    --wall-seconds "$(awk -v a="$M_T0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')"
  )
}

# Waits (at most QUIET_WAIT seconds, default 60) until the rest of the
# machine uses less than QUIET_CORES (default 0.25) of a CPU over a second,
# so a run does not start in the middle of someone's build. Starts anyway
# after the wait; the run's "other CPU" column then shows the noise.
QUIET_CORES=${QUIET_CORES:-0.25}
QUIET_WAIT=${QUIET_WAIT:-60}
wait_quiet() {
  local deadline=$((SECONDS + QUIET_WAIT)) b0 b1 used
  while :; do
    b0=$(cpu_busy_ticks)
    sleep 1
    b1=$(cpu_busy_ticks)
    used=$(awk -v a="$b0" -v b="$b1" -v hz="$HZ" 'BEGIN { printf "%.2f", (b - a) / hz }')
    if awk -v u="$used" -v q="$QUIET_CORES" 'BEGIN { exit !(u < q) }'; then return 0; fi
    if [ $SECONDS -ge $deadline ]; then
      echo "  machine still busy ($used cores used by others); running anyway" >&2
      return 0
    fi
  done
}
