#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""Overhead of sonde on an observed HTTP service, measured in one run.

Rounds alternate without sonde (A) and with sonde observing the service (B), each a wrk
run at saturation against the Go trade-engine over keep-alive connections. Reported:
throughput ratio B/A per round (median and spread), and sonde's whole cost per request in
B rounds: its own CPU time (/proc/PID/stat) plus the run time of its BPF programs
(kernel.bpf_stats_enabled; BPF time is charged to the observed process), divided by the
requests sonde counted. Also checks that sonde lost no event.

    sudo python3 tests/bench/bench_http.py [--rounds 5] [--seconds 10] [--json out.json]
Needs SONDE_BIN (default build/sonde) and the Go test programs (SONDE_GO_BIN).
The complete overhead benchmark (latency, instrumented service, unobserved processes,
databases, scrape and memory) is tests/bench/run.py; it reuses this module's helpers.
"""

import argparse
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration", "lib"))
import sonde_it  # noqa: E402

CLK_TCK = os.sysconf("SC_CLK_TCK")


def proc_cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime + stime


def programs_of(pid):
    """Ids of the BPF programs process pid holds (prog_id lines of its fds' fdinfo)."""
    ids = set()
    for fd in os.listdir(f"/proc/{pid}/fdinfo"):
        try:
            with open(f"/proc/{pid}/fdinfo/{fd}") as f:
                ids.update(int(ln.split()[1]) for ln in f if ln.startswith("prog_id:"))
        except OSError:
            pass
    return ids


def bpf_run_time_ns(pid):
    """Run time of the BPF programs of this sonde only (not of other instances)."""
    total = 0
    for prog_id in programs_of(pid):
        out = subprocess.run(["bpftool", "-j", "prog", "show", "id", str(prog_id)],
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, timeout=30)
        try:
            total += json.loads(out.stdout or b"{}").get("run_time_ns", 0)
        except json.JSONDecodeError:
            return None
    return total


def wrk(url, seconds, connections, threads):
    r = subprocess.run(["wrk", "-t", str(threads), "-c", str(connections), "-d", f"{seconds}s",
                        "--latency", url], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       text=True, timeout=seconds + 60)
    m = re.search(r"^\s*(\d+) requests in", r.stdout, re.M)
    rps = re.search(r"Requests/sec:\s*([\d.]+)", r.stdout)
    errs = re.search(r"Non-2xx or 3xx responses: (\d+)", r.stdout)
    if not m or not rps:
        raise RuntimeError("wrk output not understood:\n" + r.stdout)
    return {"requests": int(m.group(1)), "rps": float(rps.group(1)),
            "non2xx": int(errs.group(1)) if errs else 0}


def counted_requests(metrics):
    return sonde_it.value(metrics, "http_server_request_duration_seconds_count")


def lost_events(metrics):
    return sonde_it.value(metrics, "sonde_events_lost_total")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--connections", type=int, default=8)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--capture", default="auto")
    ap.add_argument("--json", help="also write the results here")
    args = ap.parse_args()
    sonde_it.require_root()
    subprocess.run(["sysctl", "-qw", "kernel.bpf_stats_enabled=1"], check=True)

    svc = sonde_it.start_trade_engine()
    url = svc.url + "/api/v1/orders/42"
    rounds = []
    try:
        wrk(url, 2, args.connections, args.threads)  # warm-up
        for i in range(args.rounds):
            a = wrk(url, args.seconds, args.connections, args.threads)
            sonde = sonde_it.start_sonde(["--select", f"pid={svc.pid}",
                                          "--capture", args.capture,
                                          "--route", "/api/v1/orders/{id}"])
            try:
                cpu0, bpf0 = proc_cpu_seconds(sonde.pid), bpf_run_time_ns(sonde.pid)
                b = wrk(url, args.seconds, args.connections, args.threads)
                sonde_it.wait_for(lambda: counted_requests(sonde.scrape()) >= b["requests"],
                                  15, message="sonde counted every request")
                cpu1, bpf1 = proc_cpu_seconds(sonde.pid), bpf_run_time_ns(sonde.pid)
                m = sonde.scrape()
                counted = counted_requests(m)
                lost = lost_events(m)
            finally:
                sonde.stop()
            user_ns = (cpu1 - cpu0) * 1e9
            bpf_ns = (bpf1 - bpf0) if bpf0 is not None else float("nan")
            rounds.append({
                "round": i + 1, "rps_without": a["rps"], "rps_with": b["rps"],
                "ratio": b["rps"] / a["rps"], "requests_with": b["requests"],
                "counted": counted, "lost_events": lost,
                "sonde_cpu_ns_per_req": user_ns / max(counted, 1),
                "bpf_ns_per_req": bpf_ns / max(counted, 1),
                "whole_cost_ns_per_req": (user_ns + bpf_ns) / max(counted, 1),
            })
            r = rounds[-1]
            print(f"round {i + 1}: {a['rps']:.0f} -> {b['rps']:.0f} req/s "
                  f"(x{r['ratio']:.3f}), counted {counted:.0f}/{b['requests']}, "
                  f"lost {lost:.0f}, cost {r['whole_cost_ns_per_req']:.0f} ns/req "
                  f"(sonde {r['sonde_cpu_ns_per_req']:.0f} + bpf {r['bpf_ns_per_req']:.0f})",
                  flush=True)
    finally:
        svc.stop()

    ratios = [r["ratio"] for r in rounds]
    cost = [r["whole_cost_ns_per_req"] for r in rounds]
    summary = {
        "machine": {"cpus": os.cpu_count(), "kernel": platform.release()},
        "rounds": rounds,
        "throughput_ratio_median": statistics.median(ratios),
        "throughput_ratio_min": min(ratios), "throughput_ratio_max": max(ratios),
        "whole_cost_ns_per_req_median": statistics.median(cost),
        "lost_events_total": sum(r["lost_events"] for r in rounds),
        # wrk stops with up to one request in flight per connection: the service still
        # answers it, so sonde may count up to --connections more than wrk completed.
        "counted_minus_completed_max": max(r["counted"] - r["requests_with"] for r in rounds),
    }
    print()
    print(f"{'figure':44} {'value':>12}")
    print(f"{'throughput with/without sonde (median)':44} {summary['throughput_ratio_median']:12.3f}")
    print(f"{'  spread of per-round ratios (min..max)':44} "
          f"{summary['throughput_ratio_min']:.3f}..{summary['throughput_ratio_max']:.3f}")
    print(f"{'sonde whole cost per request, ns (median)':44} "
          f"{summary['whole_cost_ns_per_req_median']:12.0f}")
    print(f"{'events lost (all rounds)':44} {summary['lost_events_total']:12.0f}")
    print(f"{'counted - wrk completed, max (<= conns)':44} "
          f"{summary['counted_minus_completed_max']:12.0f}")
    print(f"machine: {summary['machine']['cpus']} CPUs, Linux {summary['machine']['kernel']}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(summary, f, indent=2)


if __name__ == "__main__":
    main()
