#!/usr/bin/python3
"""ForceCommand device simulator: answers like a generic network CLI and
records every command it receives (one JSON line each) to the log in argv[1]."""
import fcntl
import json
import os
import re
import signal
import sys
import time

RUNNING_CONFIG = """hostname sim-switch
snmp-server community s3cr3t-community ro
username admin privilege 15 password 7 0822455D0A16
enable secret 5 $1$mERr$hx5rVt7rPNoS4wqbXKX7m0
interface 1/1/1
 description uplink
!
end"""

VERSION = "Generic Network OS 9.4.1 (sim), uptime 12 days"
BGP = """BGP router identifier 10.0.0.1, local AS number 65001
Neighbor        V    AS MsgRcvd MsgSent   Up/Down  State/PfxRcd
10.0.0.2        4 65002    1200    1180  12d03h       240
10.0.0.3        4 65003      10      12  00:00:12   Active"""
POE = """Port  Max(mW) Actual(mW) Status   Priority Class Type
1/1/1   30000      15420 Powered  High     4     802.3at
1/1/2   30000          0 Searching Low     0     -"""


def record(log, command):
    with open(log, "a", encoding="utf-8") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        f.write(json.dumps({"command": command, "time": time.time()}) + "\n")
        f.flush()
        fcntl.flock(f, fcntl.LOCK_UN)


def answer(cmd):
    """Returns (stdout, stderr, exit status)."""
    if m := re.fullmatch(r"sleep (\d+)", cmd):
        time.sleep(int(m.group(1)))
        return "slept\n", "", 0
    if cmd == "crash":  # dies by a signal, as a wedged CLI process might
        os.kill(os.getpid(), signal.SIGKILL)
    if m := re.fullmatch(r"show interface (\S+) status", cmd):
        return f"Interface {m.group(1)} is \x1b[31mdown\x1b[0m, line protocol is down\n", "", 0
    if re.fullmatch(r"show (poe|lanpower)( .*)?", cmd):
        return POE + "\n", "", 0
    if cmd in ("show bgp summary", "show ip bgp summary"):
        return BGP + "\n", "", 0
    if m := re.fullmatch(r"show logging last (\d+)", cmd):
        return "".join(f"log line {i}\n" for i in range(int(m.group(1)))), "", 0
    if m := re.fullmatch(r"show marker (\S+)", cmd):  # load tests: a tagged no-op
        return f"marker {m.group(1)}\n", "", 0
    if cmd == "show version":
        return VERSION + "\n", "", 0
    if cmd == "show running-config":
        return RUNNING_CONFIG + "\n", "", 0
    if m := re.fullmatch(r"show big (\d+)", cmd):
        return "x" * int(m.group(1)), "", 0
    if re.fullmatch(r"interface \S+ (no )?shutdown|clear bgp neighbor \S+|restart service \S+", cmd):
        return "OK\n", "", 0
    return "", "% Invalid input detected\n", 1


def main():
    log = sys.argv[1] if len(sys.argv) > 1 else "/dev/null"
    cmd = os.environ.get("SSH_ORIGINAL_COMMAND", "")
    record(log, cmd)
    out, err, status = answer(cmd)
    sys.stdout.write(out)
    sys.stdout.flush()
    sys.stderr.write(err)
    sys.stderr.flush()
    sys.exit(status)


if __name__ == "__main__":
    main()
