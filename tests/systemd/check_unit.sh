#!/usr/bin/env bash
# The installed unit, sysusers and tmpfiles entries: each parses, and the
# unit's sandboxing scores at most 2.5 in `systemd-analyze security`
# (issue: safe automation and operations). Run with the build directory.
set -euo pipefail
build=$1
src=$(cd "$(dirname "$0")/../.." && pwd)
unit="$build/systemd/aiopsd.service"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

grep -q "^ExecStart=/.*/bin/aiopsd run --config /etc/aiopsd/aiopsd.yaml$" "$unit"
if grep -q "@AIOPSD" "$unit"; then echo "unsubstituted placeholder in $unit"; exit 1; fi

# Resource ceilings a production daemon needs (issue 11): descriptors, no core
# dumps (they would hold secrets and device output), a memory ceiling.
grep -q "^LimitNOFILE=[0-9]\+$" "$unit" || { echo "no LimitNOFILE in $unit"; exit 1; }
grep -q "^LimitCORE=0$" "$unit" || { echo "no LimitCORE=0 in $unit"; exit 1; }
grep -q "^MemoryMax=[0-9]\+[KMG]$" "$unit" || { echo "no MemoryMax in $unit"; exit 1; }

# --offline: no running systemd needed. Exposure is printed as "... level for aiopsd.service: 1.8 OK".
cp "$unit" "$tmp/aiopsd.service"
out=$(systemd-analyze security --offline=true --no-pager "$tmp/aiopsd.service" 2>&1)
score=$(sed -n 's/.*Overall exposure level for aiopsd.service: \([0-9.]*\).*/\1/p' <<<"$out")
echo "exposure: $score"
[ -n "$score" ] || { echo "$out"; exit 1; }
awk -v s="$score" 'BEGIN { exit !(s <= 2.5) }' || { echo "$out"; echo "exposure $score > 2.5"; exit 1; }

# The unit file itself (unknown directives, bad values) with the daemon in place.
systemd-analyze verify --man=no "$tmp/aiopsd.service" 2>&1 | grep -v "aiopsd: command not found\|is not executable\|Command .* is not executable\|No such file" | tee "$tmp/verify" || true
if grep -qi "unknown key\|failed to parse\|invalid" "$tmp/verify"; then exit 1; fi

# sysusers and tmpfiles entries apply to an empty root: the user first, then
# the directories owned by it (tmpfiles resolves owners in that root).
mkdir -p "$tmp/root/etc"
systemd-sysusers --root="$tmp/root" "$src/systemd/aiopsd.sysusers" 2>"$tmp/su" || { cat "$tmp/su"; exit 1; }
grep -q "^aiopsd:" "$tmp/root/etc/passwd"
systemd-tmpfiles --root="$tmp/root" --create "$src/systemd/aiopsd.tmpfiles" 2>"$tmp/tf" || { cat "$tmp/tf"; exit 1; }
[ "$(stat -c %a "$tmp/root/var/lib/aiopsd")" = 750 ]
echo "unit, sysusers and tmpfiles entries OK"
