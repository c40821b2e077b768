#!/usr/bin/env bash
# A simulated network device: a real OpenSSH server on 127.0.0.1 whose
# ForceCommand is device_sim.py. Used by the tests (tests/harness/sshd_fixture)
# and by scripts/demo.
#
#   sim_device.sh start DIR [PORT]   generate keys (once) and config in DIR, then exec sshd
#   sim_device.sh stop DIR           stop the sshd started for DIR
#
# Before exec, prints port=, user=, key=, known_hosts= lines.
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
exec /usr/sbin/sshd -D -e -f "$dir/sshd_config"
