# The benchmark device (sourced after lib.sh): one OpenSSH server on
# 127.0.0.1 whose ForceCommand is fanout/device.sh (records each command in
# DIR/commands.log, answers at once). Used by ssh_fanout_vs_ansible.sh and
# remediation_latency.sh.
#
# sshd runs the ForceCommand through the user's login shell, and bash reads
# ~/.bashrc when sshd starts it unless SHLVL says it is nested: SetEnv SHLVL=1
# keeps a developer's rc files (pyenv init here: 0.2 s per command,
# serialised on a lock) out of the device's answer time, for both tools.
#
# start_bench_device DIR: generates keys and known_hosts into DIR, starts
# sshd (recorded in PIDS) and sets ssh_port and user.
start_bench_device() {
  local dev=$1
  mkdir -p "$dev"
  ssh-keygen -q -t ed25519 -N '' -C fanout-host -f "$dev/host_ed25519"
  ssh-keygen -q -t ed25519 -N '' -C fanout-client -f "$dev/id_ed25519"
  cp "$dev/id_ed25519.pub" "$dev/authorized_keys"
  chmod 600 "$dev/authorized_keys"
  : >"$dev/commands.log"
  ssh_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  user=$(id -un)
  echo "[127.0.0.1]:$ssh_port $(cut -d' ' -f1,2 "$dev/host_ed25519.pub")" >"$dev/known_hosts"
  cat >"$dev/sshd_config" <<CONF
ListenAddress 127.0.0.1
Port $ssh_port
HostKey $dev/host_ed25519
PidFile $dev/sshd.pid
AuthorizedKeysFile $dev/authorized_keys
StrictModes no
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
UsePAM no
AllowUsers $user
ForceCommand /bin/sh $ROOT/bench/compare/fanout/device.sh $dev/commands.log
LogLevel ERROR
X11Forwarding no
AllowAgentForwarding no
AllowTcpForwarding no
PermitTunnel no
PrintMotd no
MaxStartups 400
MaxSessions 64
SetEnv SHLVL=1
CONF
  if [ "$(id -u)" -eq 0 ]; then mkdir -p /run/sshd && chmod 755 /run/sshd; fi
  log_cmd /usr/sbin/sshd -D -e -f "$dev/sshd_config"
  /usr/sbin/sshd -D -e -f "$dev/sshd_config" >"$dev/sshd.log" 2>&1 &
  PIDS+=($!)
  for _ in $(seq 50); do ! port_free "$ssh_port" && break; sleep 0.1; done
  if port_free "$ssh_port"; then
    echo "sshd did not start; see $dev/sshd.log" >&2
    return 1
  fi
}

# bench_devices_yaml DIR N: N inventory entries dev001..devN for aiopsd's
# config, all reaching the device started by start_bench_device DIR.
bench_devices_yaml() {
  local dev=$1 n=$2 i
  for i in $(seq 1 "$n"); do
    printf '  - {name: dev%03d, host: 127.0.0.1, port: %s, user: %s, credential: {key_file: %s}}\n' \
      "$i" "$ssh_port" "$user" "$dev/id_ed25519"
  done
}
