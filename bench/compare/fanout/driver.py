#!/usr/bin/python3
"""Fan-out driver for bench/compare/ssh_fanout_vs_ansible.sh.

Posts one Alertmanager v2 batch of N alerts (alertname=FanoutCheck, one per
device dev001..devN, label run=RUN) to aiopsd, then polls /metrics over one
keep-alive connection every 2 ms until aiopsd_actions_total of the fan-out
rule reaches the expected total. Prints JSON: wall seconds from just before
the POST to the poll that saw the last action finish, and the outcomes.

Usage: driver.py HOST:PORT DEVICES RUN EXPECTED_TOTAL [TIMEOUT_S]
"""
import http.client
import json
import re
import sys
import time

RULE = "fanout-show-version"
LINE = re.compile(r'^aiopsd_actions_total\{([^}]*)\} ([0-9.e+]+)$', re.M)


def actions(conn):
    conn.request("GET", "/metrics")
    body = conn.getresponse().read().decode()
    out = {}
    for labels, value in LINE.findall(body):
        if f'rule="{RULE}"' not in labels:
            continue
        outcome = re.search(r'outcome="([^"]*)"', labels).group(1)
        out[outcome] = out.get(outcome, 0) + int(float(value))
    return out


def main():
    host, port = sys.argv[1].rsplit(":", 1)
    devices, run, expected = int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
    timeout = float(sys.argv[5]) if len(sys.argv) > 5 else 120
    alerts = [{"labels": {"alertname": "FanoutCheck", "device": f"dev{i:03d}", "run": run},
               "annotations": {"summary": "fan-out benchmark"}} for i in range(1, devices + 1)]
    body = json.dumps(alerts).encode()
    post = http.client.HTTPConnection(host, int(port))
    poll = http.client.HTTPConnection(host, int(port))
    actions(poll)  # connect and warm the poll path before the clock starts
    t0 = time.monotonic()
    post.request("POST", "/api/v2/alerts", body, {"Content-Type": "application/json"})
    status = post.getresponse()
    status.read()
    if status.status != 200:
        print(json.dumps({"error": f"POST answered {status.status}"}))
        return 1
    seen = {}
    while time.monotonic() - t0 < timeout:
        seen = actions(poll)
        if sum(seen.values()) >= expected:
            break
        time.sleep(0.002)
    wall = time.monotonic() - t0
    done = sum(seen.values()) >= expected
    print(json.dumps({"seconds": round(wall, 4), "outcomes": seen, "complete": done}))
    return 0 if done else 1


if __name__ == "__main__":
    sys.exit(main())
