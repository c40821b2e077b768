#!/usr/bin/env bash
# Remediation fan-out (issue 6, comparison 3): one read-only command
# (`show version`) on 200 devices, aiopsd against `ansible` ad-hoc.
#
# The devices: one OpenSSH server on 127.0.0.1 (keys generated into the
# results directory) with 200 inventory entries dev001..dev200 pointing at
# it; each tool opens one connection per entry. Its ForceCommand is
# fanout/device.sh, which records the command and answers at once, as a
# network device's CLI does (tests/harness/device_sim.py starts Python per
# command, ~30 ms of CPU, which would hide the clients' cost).
#   - aiopsd, through the daemon's real path: fanout/driver.py posts one
#     Alertmanager v2 batch of 200 alerts (one per device) to a running
#     aiopsd; one rule (group_by device, run) fires one `ssh` action per
#     alert; the clock stops at the /metrics poll (every 2 ms) that sees the
#     200th action finished. Cold: the daemon's first batch (no session yet).
#     Warm: a second batch right after, on the pooled sessions.
#     ssh.max_sessions 50, as ansible's -f 50.
#   - ansible ad-hoc (Debian `ansible`): `ansible all -f 50 -m raw -a
#     "show version"` (raw: no Python on the device, as for network gear),
#     same key, known_hosts checked; one ControlPath per inventory host so
#     that its ControlPersist (60 s, ansible's default) works per device as
#     it would with 200 real ones. Cold: no control master yet. Warm: the same
#     command again within ControlPersist. Wall time of the command, Python
#     start included (what an operator waits for).
# Only the daemon is pinned (CPU 0, lib.sh's start_aiopsd); ansible and the
# device are not: the device (sshd forks, a shell per command) needs both CPUs.
# Medians over --runs.
#
# Usage: bench/compare/ssh_fanout_vs_ansible.sh [--runs 3] [--devices 200] [--forks 50]
# Needs ansible (scripts/bootstrap --bench); without it, runs aiopsd's side
# only and says so. Prints a markdown table; exits non-zero only if a run
# failed (a batch did not complete, or a tool reported a failed host).
# Results: build/compare/fanout/.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/fanout/device_lib.sh"

runs=3 devices=200 forks=50
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) runs=$2; shift 2 ;;
    --devices) devices=$2; shift 2 ;;
    --forks) forks=$2; shift 2 ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done

PORT=19095
compare_init fanout
build_targets aiopsd
header="$(machine_header)"
have_ansible=1
command -v ansible >/dev/null || { have_ansible=0; echo "ansible not installed (scripts/bootstrap --bench): aiopsd side only" >&2; }

# --- the device -------------------------------------------------------------
dev="$RESULTS/device"
start_bench_device "$dev"

# --- aiopsd config ------------------------------------------------------------
cfg="$RESULTS/aiopsd"
mkdir -p "$cfg"
{
  cat <<YAML
server: {listen: 127.0.0.1:$PORT}
log: {level: warn}
audit: {path: audit.log}
ssh:
  max_sessions: $forks
  max_idle_sessions: 256
  idle_timeout: 5m
  known_hosts: $dev/known_hosts
  policy: {allow: ['show version']}
rules: [rules.yaml]
devices:
YAML
  bench_devices_yaml "$dev" "$devices"
} >"$cfg/aiopsd.yaml"
cat >"$cfg/rules.yaml" <<'YAML'
rules:
  - name: fanout-show-version
    match: {alertname: FanoutCheck}
    group_by: [device, run]
    actions:
      - ssh:
          device: "{{ labels.device }}"
          params: {labels.device: 'dev[0-9]+'}
          commands: ["show version"]
YAML

# --- ansible inventory ----------------------------------------------------------
ans="$RESULTS/ansible"
mkdir -p "$ans"
{
  echo "[devices]"
  for i in $(seq 1 "$devices"); do
    printf 'dev%03d ansible_host=127.0.0.1 ansible_port=%s ansible_control_path=%%(directory)s/dev%03d\n' \
      "$i" "$ssh_port" "$i"
  done
  echo "[devices:vars]"
  echo "ansible_user=$user"
  echo "ansible_ssh_private_key_file=$dev/id_ed25519"
  echo "ansible_ssh_common_args='-o UserKnownHostsFile=$dev/known_hosts -o StrictHostKeyChecking=yes'"
} >"$ans/inventory.ini"
cat >"$ans/ansible.cfg" <<CFG
[defaults]
host_key_checking = True
retry_files_enabled = False
[ssh_connection]
control_path_dir = $ans/cp
CFG

close_masters() {
  local sock
  for sock in "$ans"/cp/dev*; do
    [ -S "$sock" ] && ssh -o ControlPath="$sock" -O exit 127.0.0.1 >/dev/null 2>&1 || true
  done
  rm -rf "$ans/cp"
}
trap 'close_masters; compare_cleanup' EXIT

failed=0
declare -a a_cold a_warm s_cold s_warm
for run in $(seq "$runs"); do
  wait_quiet
  # aiopsd: a new daemon per run, so its first batch is cold.
  rm -f "$cfg/audit.log"
  start_aiopsd "$cfg/aiopsd.yaml" "$PORT" "$RESULTS/aiopsd-$run.log" || { failed=1; break; }
  pid=$SERVER_PID
  echo "  run $run: aiopsd cold" >&2
  log_cmd bench/compare/fanout/driver.py "127.0.0.1:$PORT" "$devices" "$run-cold" "$devices"
  python3 "$ROOT/bench/compare/fanout/driver.py" "127.0.0.1:$PORT" "$devices" "$run-cold" \
    "$devices" >"$RESULTS/aiopsd-cold-$run.json" || failed=1
  echo "  run $run: aiopsd warm" >&2
  log_cmd bench/compare/fanout/driver.py "127.0.0.1:$PORT" "$devices" "$run-warm" "$((2 * devices))"
  python3 "$ROOT/bench/compare/fanout/driver.py" "127.0.0.1:$PORT" "$devices" "$run-warm" \
    "$((2 * devices))" >"$RESULTS/aiopsd-warm-$run.json" || failed=1
  curl -sf "http://127.0.0.1:$PORT/metrics" | grep '^aiopsd_ssh_sessions' >"$RESULTS/aiopsd-pool-$run.txt" || true
  stop_pid "$pid"
  a_cold+=("$RESULTS/aiopsd-cold-$run.json")
  a_warm+=("$RESULTS/aiopsd-warm-$run.json")

  [ $have_ansible -eq 1 ] || continue
  close_masters
  for mode in cold warm; do
    wait_quiet
    echo "  run $run: ansible $mode" >&2
    log_cmd env ANSIBLE_CONFIG=build/compare/fanout/ansible/ansible.cfg ansible all \
      -i build/compare/fanout/ansible/inventory.ini -f "$forks" -m raw -a "show version"
    t0=$(date +%s.%N)
    rc=0
    ANSIBLE_CONFIG="$ans/ansible.cfg" ansible all -i "$ans/inventory.ini" -f "$forks" -m raw \
      -a "show version" >"$RESULTS/ansible-$mode-$run.out" 2>&1 || rc=$?
    t1=$(date +%s.%N)
    ok=$(grep -c '| CHANGED | rc=0' "$RESULTS/ansible-$mode-$run.out" || true)
    [ "$rc" -eq 0 ] && [ "$ok" -eq "$devices" ] || { failed=1; echo "ansible $mode run $run: rc=$rc, $ok ok" >&2; }
    python3 -c 'import json,sys; print(json.dumps({"seconds": round(float(sys.argv[2]) - float(sys.argv[1]), 4), "ok": int(sys.argv[3]), "rc": int(sys.argv[4])}))' \
      "$t0" "$t1" "$ok" "$rc" >"$RESULTS/ansible-$mode-$run.json"
    if [ $mode = cold ]; then s_cold+=("$RESULTS/ansible-$mode-$run.json"); else s_warm+=("$RESULTS/ansible-$mode-$run.json"); fi
  done
  close_masters
done

received=$(wc -l <"$dev/commands.log")
expected=$((runs * devices * 2 * (1 + have_ansible)))
[ "$received" -eq "$expected" ] || { failed=1; echo "the device received $received commands, expected $expected" >&2; }

echo "## Remediation fan-out: aiopsd vs ansible ad-hoc ($devices devices, one command each)"
echo
echo "$header"
echo "- device: one OpenSSH server on 127.0.0.1, $devices inventory entries, ForceCommand bench/compare/fanout/device.sh"
echo "- aiopsd: ssh.max_sessions $forks; ansible $(ansible --version 2>/dev/null | head -1 | sed 's/^ansible //') -f $forks -m raw"
echo "- commands received by the device: $received (expected $expected)"
echo
python3 - "$devices" "${#a_cold[@]}" "${a_cold[@]}" "${#a_warm[@]}" "${a_warm[@]}" \
  "${#s_cold[@]}" "${s_cold[@]}" "${#s_warm[@]}" "${s_warm[@]}" <<'PY'
import json, statistics, sys
args = sys.argv[1:]
devices = int(args.pop(0))
groups = []
for _ in range(4):
    n = int(args.pop(0)); groups.append([json.load(open(p)) for p in args[:n]]); del args[:n]
names = ["aiopsd cold (first batch, new sessions)", "aiopsd warm (pooled sessions)",
         "ansible cold (no control master)", "ansible warm (ControlPersist masters)"]
med = []
print("| tool | wall s (median) | runs | commands/s |")
print("|---|---:|---|---:|")
for name, g in zip(names, groups):
    if not g:
        med.append(None); continue
    secs = [r["seconds"] for r in g]
    m = statistics.median(secs); med.append(m)
    print(f"| {name} | {m:.3f} | {', '.join(f'{s:.3f}' for s in secs)} | {devices / m:,.0f} |")
print()
def ratio(a, b, label):
    if med[a] and med[b]:
        r = med[a] / med[b]
        print(f"- {label}: **{r:.1f}x** (target >= 10x: {'met' if r >= 10 else 'not met'})")
ratio(2, 0, "ansible cold / aiopsd cold")
ratio(3, 1, "ansible warm / aiopsd warm")
ratio(2, 1, "ansible cold / aiopsd warm")
if med[0] and med[1]:
    print(f"- aiopsd cold / warm: {med[0] / med[1]:.1f}x (what the pool saves)")
PY
echo
echo "Commands (build/compare/fanout/commands.txt):"
echo '```'
sort -u "$COMMANDS_LOG"
echo '```'
exit $failed
