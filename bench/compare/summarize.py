#!/usr/bin/env python3
"""Turns the JSON the bench/compare/ runs write into markdown tables.

  summarize.py record RUN.json PRIME.json --target T --mode M --run N ...
      one JSON line per run (driver output plus what the script measured)
  summarize.py intake RUNS.jsonl       aiopsd vs Alertmanager, medians, ratios
  summarize.py e2e RUNS.jsonl          aiopsd alone, by connections and mode
  summarize.py rules AIOPSD.json JRE.json

Exits 1 when a run failed (the driver's "ok" is false or a file is missing),
never because a target was missed.
"""

import argparse
import json
import statistics
import sys


def load(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError) as e:
        print(f"summarize: {path}: {e}", file=sys.stderr)
        return None


def record(a):
    run = load(a.run_json)
    prime = load(a.prime_json) if a.prime_json else None
    out = {
        "target": a.target,
        "mode": a.mode,
        "run": a.run,
        "connections": a.connections,
        "vmhwm_kib": int(a.vmhwm_kib) if a.vmhwm_kib else None,
        "prime_seconds": float(a.prime_seconds) if a.prime_seconds else None,
        "actions": int(a.actions) if a.actions not in (None, "", "null") else None,
        "driver": run,
        "prime": prime,
        "server_cores": None,
        "other_cores": None,
        "ok": bool(run and run.get("ok")) and (prime is None or bool(prime.get("ok"))),
    }
    if a.wall_seconds and float(a.wall_seconds) > 0 and run:
        wall = float(a.wall_seconds)
        server = float(a.server_cpu_seconds)
        driver = run.get("driver_cpu_seconds", 0.0)
        out["server_cores"] = server / wall
        out["other_cores"] = max(0.0, (float(a.busy_cpu_seconds) - server - driver) / wall)
    print(json.dumps(out))
    return 0


def read_runs(path):
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def med(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def fmt_num(v, digits=0):
    if v is None:
        return "n/a"
    return f"{v:,.{digits}f}"


QUIET_CORES = 0.25


def group_stats(runs):
    ok = [r for r in runs if r["ok"]]
    # Runs during which other processes used a quarter of a CPU or more are
    # listed, but left out of the medians while at least two quiet runs exist.
    quiet = [r for r in ok if (r.get("other_cores") or 0) < QUIET_CORES]
    used = quiet if len(quiet) >= 2 else ok
    all_rates = [(r["driver"]["alerts_per_s"], r in used) for r in ok]
    ok = used
    d = [r["driver"] for r in ok]
    return {
        "n": len(runs),
        "ok": len(ok),
        "alerts_per_s": med([x["alerts_per_s"] for x in d]),
        "all_rates": all_rates,
        "p50": med([x["latency_ms"]["p50"] for x in d]),
        "p99": med([x["latency_ms"]["p99"] for x in d]),
        "max": med([x["latency_ms"]["max"] for x in d]),
        "rejected": med([x["rejected_alerts"] for x in d]),
        "requests_per_s": med([x["requests_per_s"] for x in d]),
        "rss_mib": med([r["vmhwm_kib"] / 1024 for r in ok if r["vmhwm_kib"]]),
        "prime_s": med([r["prime_seconds"] for r in ok]),
        "actions": med([r["actions"] for r in ok]),
        "server_cores": med([r.get("server_cores") for r in ok]),
        "other_cores": med([r.get("other_cores") for r in ok]),
    }


NOISE_NOTE = ("server CPU: the receiver's own CPU time over the timed run, in cores (it is "
              "pinned to one); other CPU: what every other process on the machine used meanwhile "
              "(0 on a quiet machine). Runs in parentheses had other CPU >= 0.25 cores and are "
              "left out of the medians (when two quiet runs remain).")


def rates_text(rates):
    # Every run; a run left out of the median (busy machine) in parentheses.
    return ", ".join(f"{v / 1000:.1f}k" if used else f"({v / 1000:.1f}k)" for v, used in rates)


def intake(a):
    runs = read_runs(a.runs)
    failed = [r for r in runs if not r["ok"]]
    print("| mode | receiver | accepted alerts/s (median) | runs | p50 ms | p99 ms | "
          "peak RSS MiB | rejected (503) per run | server CPU (cores) | other CPU (cores) | "
          "aiopsd / Alertmanager |")
    print("|---|---|---:|---|---:|---:|---:|---:|---:|---:|---:|")
    ratios = {}
    for mode in ("fresh", "resend"):
        s = {t: group_stats([r for r in runs if r["target"] == t and r["mode"] == mode])
             for t in ("aiopsd", "alertmanager")}
        a_rate, m_rate = s["aiopsd"]["alerts_per_s"], s["alertmanager"]["alerts_per_s"]
        ratio = a_rate / m_rate if a_rate and m_rate else None
        ratios[mode] = ratio
        for t in ("aiopsd", "alertmanager"):
            x = s[t]
            each = rates_text(x["all_rates"])
            print(f"| {mode} | {t} | {fmt_num(x['alerts_per_s'])} | {each} | "
                  f"{fmt_num(x['p50'], 2)} | {fmt_num(x['p99'], 2)} | {fmt_num(x['rss_mib'])} | "
                  f"{fmt_num(x['rejected'])} | {fmt_num(x['server_cores'], 2)} | "
                  f"{fmt_num(x['other_cores'], 2)} | "
                  f"{(f'**{ratio:.1f}x**' if ratio else 'n/a') if t == 'aiopsd' else ''} |")
    print()
    print(NOISE_NOTE)
    print()
    pa = group_stats([r for r in runs if r["target"] == "aiopsd"])
    pm = group_stats([r for r in runs if r["target"] == "alertmanager"])
    print(f"Priming pass ({fmt_num(med([r['prime']['accepted_alerts'] for r in runs if r['prime']]))} "
          f"alerts, first sight, untimed in the table above; until the receiver was idle): "
          f"aiopsd {fmt_num(pa['prime_s'], 1)} s ({fmt_num(pa['actions'])} dry-run actions "
          f"audited), Alertmanager {fmt_num(pm['prime_s'], 1)} s (incl. a fixed 2 s settle).")
    print()
    for mode, ratio in ratios.items():
        verdict = "met" if ratio and ratio >= 5 else "**not met**"
        print(f"- target aiopsd >= 5x Alertmanager, {mode} label sets: "
              f"{f'{ratio:.1f}x' if ratio else 'n/a'}, {verdict}")
    if failed:
        print(f"\n{len(failed)} run(s) FAILED: "
              + ", ".join(f"{r['target']}/{r['mode']}/{r['run']}" for r in failed))
        return 1
    return 0


def e2e(a):
    runs = read_runs(a.runs)
    failed = [r for r in runs if not r["ok"]]
    print("| mode | connections | accepted alerts/s (median) | runs | requests/s | p50 ms | "
          "p99 ms | max ms | rejected (503) per run | peak RSS MiB | server CPU (cores) | "
          "other CPU (cores) |")
    print("|---|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    best = {}
    for mode in ("fresh", "resend"):
        for c in sorted({r["connections"] for r in runs}):
            x = group_stats([r for r in runs if r["mode"] == mode and r["connections"] == c])
            if not x["n"]:
                continue
            each = rates_text(x["all_rates"])
            print(f"| {mode} | {c} | {fmt_num(x['alerts_per_s'])} | {each} | "
                  f"{fmt_num(x['requests_per_s'])} | {fmt_num(x['p50'], 2)} | "
                  f"{fmt_num(x['p99'], 2)} | {fmt_num(x['max'], 2)} | {fmt_num(x['rejected'])} | "
                  f"{fmt_num(x['rss_mib'])} | {fmt_num(x['server_cores'], 2)} | "
                  f"{fmt_num(x['other_cores'], 2)} |")
            if x["alerts_per_s"]:
                best[mode] = max(best.get(mode, 0), x["alerts_per_s"])
    print()
    print(NOISE_NOTE)
    print()
    for mode, rate in best.items():
        verdict = "met" if rate >= 200_000 else "**not met**"
        print(f"- target 200,000 alerts/s, {mode} label sets: best median {rate:,.0f}, {verdict}")
    if failed:
        print(f"\n{len(failed)} run(s) FAILED: "
              + ", ".join(f"{r['mode']}/{r['connections']}/{r['run']}" for r in failed))
        return 1
    return 0


def rules(a):
    ours = [x for x in (load(p) for p in a.aiopsd) if x]
    theirs = [x for x in (load(p) for p in a.jre) if x]
    if not ours or not theirs or len(ours) != len(a.aiopsd) or len(theirs) != len(a.jre):
        return 1
    o_rate = med([x["match_events_per_s"] for x in ours])
    o_proc = med([x["process_events_per_s"] for x in ours])
    t_rate = med([x["events_per_s"] for x in theirs])
    print("| engine | events | events/s (median) | runs | per event | matches per event |")
    print("|---|---:|---:|---|---:|---:|")
    each = ", ".join(f"{x['match_events_per_s'] / 1e6:.2f}M" for x in ours)
    print(f"| aiopsd `rules::Engine::match` | {ours[0]['events']:,} | {o_rate:,.0f} | {each} | "
          f"{1e9 / o_rate:,.0f} ns | {ours[0]['matches'] / ours[0]['events']:.2f} |")
    each = ", ".join(f"{x['process_events_per_s'] / 1e6:.2f}M" for x in ours)
    print(f"| aiopsd `rules::Engine::process` (match + de-dup + decisions) | "
          f"{ours[0]['events']:,} | {o_proc:,.0f} | {each} | {1e9 / o_proc:,.0f} ns | |")
    each = ", ".join(f"{x['events_per_s']:.1f}" for x in theirs)
    print(f"| json-rules-engine {theirs[0]['version']} (Node {theirs[0]['node']}) | "
          f"{theirs[0]['events']:,} | {t_rate:,.1f} | {each} | "
          f"{1e3 / t_rate:,.2f} ms | {theirs[0]['matches'] / theirs[0]['events']:.2f} |")
    ratio = o_rate / t_rate
    print()
    n = min(ours[0]["check_events"], theirs[0]["events"])
    agree = ours[0]["check_events"] == theirs[0]["events"] and \
        ours[0]["check_matches"] == theirs[0]["matches"]
    print(f"- same answers: over the first {n:,} events aiopsd found "
          f"{ours[0]['check_matches']:,} rule matches, json-rules-engine {theirs[0]['matches']:,}"
          f" ({'agree' if agree else 'DIFFER'})")
    verdict = "met" if ratio >= 10_000 else "**not met**"
    print(f"- ratio (match): **{ratio:,.0f}x**; target >= 10,000x: {verdict}")
    return 0 if agree else 1


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("record")
    r.add_argument("run_json")
    r.add_argument("prime_json", nargs="?")
    for name in ("target", "mode", "vmhwm_kib", "prime_seconds", "actions", "busy_cpu_seconds",
                 "server_cpu_seconds", "wall_seconds"):
        r.add_argument("--" + name.replace("_", "-"), dest=name)
    r.add_argument("--run", type=int)
    r.add_argument("--connections", type=int)
    sub.add_parser("intake").add_argument("runs")
    sub.add_parser("e2e").add_argument("runs")
    q = sub.add_parser("rules")
    q.add_argument("--aiopsd", nargs="+", required=True)
    q.add_argument("--jre", nargs="+", required=True)
    a = p.parse_args()
    return {"record": record, "intake": intake, "e2e": e2e, "rules": rules}[a.cmd](a)


if __name__ == "__main__":
    sys.exit(main())
