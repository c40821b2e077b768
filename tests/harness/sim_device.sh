#!/usr/bin/env bash
# A simulated network device: a real OpenSSH server on 127.0.0.1 whose
# ForceCommand is device_sim.py. Used by the tests (tests/harness/sshd_fixture)
# and by scripts/demo.
#
#   sim_device.sh start DIR [PORT]   generate keys (once) and config in DIR, then exec sshd
#   sim_device.sh stop DIR           stop the sshd started for DIR
#
# Before exec, prints port=, user=, key=, known_hosts=, shell= lines.
# AIOPSD_SIM_ISOLATION=environment skips the mount namespace (tests of the
# fallback that non-root users get).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cmd=${1:-}
dir=${2:-}
[ -n "$cmd" ] && [ -n "$dir" ] || { echo "usage: $0 start|stop DIR [PORT]" >&2; exit 2; }

case "$cmd" in
stop)
  [ -f "$dir/sshd.pid" ] && kill "$(cat "$dir/sshd.pid")" 2>/dev/null || true
  exit 0
  ;;
start) ;;
*) echo "usage: $0 start|stop DIR [PORT]" >&2; exit 2 ;;
esac

mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
port=${3:-}
if [ -z "$port" ]; then
  port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
fi
user=$(id -un)

[ -f "$dir/host_ed25519" ] || ssh-keygen -q -t ed25519 -N '' -C sim-device-host -f "$dir/host_ed25519"
[ -f "$dir/id_ed25519" ] || ssh-keygen -q -t ed25519 -N '' -C aiopsd -f "$dir/id_ed25519"
cp "$dir/id_ed25519.pub" "$dir/authorized_keys"
chmod 600 "$dir/authorized_keys" "$dir/id_ed25519" "$dir/host_ed25519"
echo "[127.0.0.1]:$port $(cut -d' ' -f1,2 "$dir/host_ed25519.pub")" >"$dir/known_hosts"
touch "$dir/commands.log"

cat >"$dir/sshd_config" <<CONF
ListenAddress 127.0.0.1
Port $port
HostKey $dir/host_ed25519
PidFile $dir/sshd.pid
AuthorizedKeysFile $dir/authorized_keys
StrictModes no
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
UsePAM no
AllowUsers $user
ForceCommand /usr/bin/python3 $here/device_sim.py $dir/commands.log
# sshd runs ForceCommand through the login shell of \$user; bash started by
# sshd reads ~/.bashrc even when not interactive. The host's rc files must
# never run here (they may be slow, take locks, or print): HOME points into
# DIR, SHLVL=1 makes bash skip the rc files it reads for sshd, and
# ~/.ssh/rc is off. As root, the shell itself is /bin/sh (see below).
PermitUserRC no
SetEnv HOME=$dir SHLVL=1
LogLevel VERBOSE
X11Forwarding no
AllowAgentForwarding no
AllowTcpForwarding no
PermitTunnel no
PrintMotd no
MaxStartups 200
MaxSessions 64
CONF

if [ "$(id -u)" -eq 0 ]; then mkdir -p /run/sshd && chmod 755 /run/sshd; fi
echo "port=$port"
echo "user=$user"
echo "key=$dir/id_ed25519"
echo "known_hosts=$dir/known_hosts"

# As root, sshd runs in a mount namespace of its own where /etc/passwd gives
# $user the shell /bin/sh and the home DIR: no rc file of the host's is read,
# whatever root's shell is, and the host's /etc/passwd is untouched (the bind
# mount exists only in that namespace and goes away with sshd).
if [ "${AIOPSD_SIM_ISOLATION:-auto}" = auto ] && [ "$(id -u)" -eq 0 ] && unshare --mount --propagation private true 2>/dev/null; then
  awk -F: -v OFS=: -v u="$user" -v h="$dir" '$1 == u { $6 = h; $7 = "/bin/sh" } { print }' \
    /etc/passwd >"$dir/passwd"
  chmod 644 "$dir/passwd"
  echo "shell=/bin/sh (private mount namespace)"
  exec unshare --mount --propagation private -- /bin/sh -c \
    'mount --bind "$1" /etc/passwd && exec /usr/sbin/sshd -D -e -f "$2"' sh "$dir/passwd" "$dir/sshd_config"
fi
echo "shell=$(getent passwd "$user" | cut -d: -f7) (HOME=$dir, SHLVL=1)"
exec /usr/sbin/sshd -D -e -f "$dir/sshd_config"
