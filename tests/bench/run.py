#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""sonde's overhead benchmark (issue 5): every figure in one run, as a table and as JSON.

    sudo python3 tests/bench/run.py [--quick] [--json out.json] [--only http,unobserved,db,scrape]

Each figure is a ratio or a difference measured in this run, with and without sonde, in
rounds whose conditions alternate (A B A B ..., the order rotated each round); reported
are the median and the min..max spread of the per-round figures, and the machine.

 1. Observed service: go/trade-engine with -pg and -redis (a PostgreSQL and a Redis round
    trip per request), keep-alive. wrk at saturation: throughput with/without sonde. Then
    go/fixed-rate (open loop, no coordinated omission) at half the saturation rate measured
    above: p50 and p99 with/without.
 2. sonde's whole cost per observed round trip: its CPU (/proc/PID/stat) plus the run time
    of its BPF programs (kernel.bpf_stats_enabled, prog ids from /proc/PID/fdinfo), divided
    by the HTTP exchanges and DB operations it counted.
 3. go/trade-engine-instrumented (client_golang middleware), no sonde: the same figures
    beside, as ratios to the plain service.
 4. Unobserved process (tests/bench/unobserved.c, compiled here): ns added per socket
    syscall (1-byte write+read on a socketpair) and per getppid() by sonde running with
    --capture socket and --capture syscalls, next to the floor: empty programs on the same
    hooks (tests/bench/floor.bpf.c, loaded by floor_loader.c), and the same with one tgid
    hash look-up. End to end (thread CPU time, each measure between two without hooks;
    the floors also toggled inside one process) and, far less noisy, the BPF run time per
    syscall of sonde's programs against the floor's (bpf_stats).
 5. Database path: pgbench (-c 4 -j 2, built-in TPC-B-like script, simple protocol) and
    redis-benchmark -P 16 (SET, GET) throughput with/without sonde selecting the client.
 6. Scrape and memory: sonde with --route-cap 1000 fed 1,000 distinct routes; the time to
    GET /metrics with Accept-Encoding: gzip (median of 20, curl); VmRSS after 10 minutes
    of load (--quick: 1); the bytes_memlock of the BPF maps sonde holds, apart.

Needs root, bpftool, wrk, curl, clang, cc + libbpf-dev, PostgreSQL (initdb, pgbench),
redis-server/redis-benchmark, go (the Go programs are built by tests/integration/go/build.sh
unless SONDE_GO_BIN names a directory holding them). sonde: --sonde, else SONDE_BIN, else
build/sonde. Every load is bounded in count or time; --quick takes under 10 minutes.
"""

import argparse
import datetime
import glob
import http.client
import json
import os
import platform
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(HERE, "..", "integration", "lib"))
sys.path.insert(0, HERE)
import sonde_it  # noqa: E402
from bench_http import proc_cpu_seconds, programs_of, wrk  # noqa: E402

ORDERS_PATH = "/api/v1/orders/42"
ROUTE = "/api/v1/orders/{id}"
T0 = time.monotonic()


def log(msg):
    print(f"[{time.monotonic() - T0:6.0f}s] {msg}", flush=True)


# --------------------------------------------------------------------------- statistics

def spread(values):
    """{median, min, max, n} of the finite values (None when there is none)."""
    vals = [v for v in values if v is not None and v == v]
    if not vals:
        return None
    return {"median": statistics.median(vals), "min": min(vals), "max": max(vals),
            "n": len(vals)}


def rotated(conds, i):
    k = i % len(conds)
    return conds[k:] + conds[:k]


# --------------------------------------------------------------------------- machine

def read_first(path, default=""):
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError:
        return default


def cpu_model():
    for line in read_first("/proc/cpuinfo").splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def other_sondes(mine=()):
    """[(pid, args)] of sonde processes this run did not start (they slow the machine)."""
    out = []
    for comm in glob.glob("/proc/[0-9]*/comm"):
        pid = int(comm.split("/")[2])
        if pid in mine or read_first(comm) != "sonde":
            continue
        args = read_first(f"/proc/{pid}/cmdline").replace("\0", " ").strip()
        out.append({"pid": pid, "args": args})
    return out


def machine_info():
    return {
        "nproc": os.cpu_count(), "kernel": platform.release(), "cpu_model": cpu_model(),
        "loadavg": read_first("/proc/loadavg"),
        "bpf_stats_enabled": read_first("/proc/sys/kernel/bpf_stats_enabled"),
        "other_sonde_processes": other_sondes(),
        "bpf_programs_loaded": len(json.loads(subprocess.run(
            ["bpftool", "-j", "prog", "show"], stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL, timeout=60).stdout or b"[]")),
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }


# --------------------------------------------------------------------------- processes

def go_version():
    r = subprocess.run(["go", "version"], stdout=subprocess.PIPE, text=True, timeout=30)
    return r.stdout.strip()


class Service(sonde_it.Proc):
    """go/trade-engine or go/trade-engine-instrumented on 127.0.0.1:PORT."""

    def __init__(self, program, pg=None, redis=None):
        argv = [sonde_it.go_bin(program), "-addr", "127.0.0.1:0"]
        if pg:
            argv += ["-pg", pg]
        if redis:
            argv += ["-redis", redis]
        super().__init__(argv, name=program)
        try:
            listen = sonde_it.wait_for(self._listening, 30, message=f"{program} address")
            self.addr = listen
            self.url = "http://" + listen
            sonde_it.wait_for(lambda: sonde_it.http_get(self.url + "/healthz")[0] == 200,
                              30, message=f"{program} /healthz")
        except Exception:
            self.stop()
            raise

    def _listening(self):
        self.check_running()
        for line in self.stdout().splitlines():
            if line.startswith("listening "):
                return line.split()[1]
        return None


def start_sonde(select, capture, extra=()):
    args = []
    for s in select:
        args += ["--select", s]
    return sonde_it.start_sonde(args + ["--capture", capture, *extra], ready_timeout=60)


def sonde_counts(m):
    """What sonde counted: HTTP server exchanges, DB operations, events lost/received."""
    return {
        "http": sonde_it.value(m, "http_server_request_duration_seconds_count"),
        "db": sonde_it.value(m, "db_client_operation_duration_seconds_count"),
        "lost": sonde_it.value(m, "sonde_events_lost_total"),
        "events": sonde_it.value(m, "sonde_events_received_total"),
    }


class CostMeter:
    """sonde's CPU time, and the run time and run count of its BPF programs (bpf_stats),
    between start() and stop()."""

    def __init__(self, sonde):
        self.sonde = sonde

    def _bpf(self):
        st = prog_stats(self.sonde.pid)
        return sum(c for c, _ in st.values()), sum(t for _, t in st.values())

    def start(self):
        self.cpu0 = proc_cpu_seconds(self.sonde.pid)
        self.runs0, self.bpf0 = self._bpf()

    def stop(self):
        cpu1 = proc_cpu_seconds(self.sonde.pid)
        runs1, bpf1 = self._bpf()
        self.user_ns = (cpu1 - self.cpu0) * 1e9
        self.bpf_ns = bpf1 - self.bpf0
        self.runs = runs1 - self.runs0
        return self

    def per(self, n):
        n = max(n, 1)
        return {"sonde_cpu_ns": self.user_ns / n, "bpf_ns": self.bpf_ns / n,
                "whole_ns": (self.user_ns + self.bpf_ns) / n, "bpf_runs": self.runs / n}


def wait_counted(sonde, want_http=0, want_db=0, timeout=20):
    """Scrapes until sonde counted at least what the load completed (or timeout)."""
    def enough():
        c = sonde_counts(sonde.scrape())
        return c if c["http"] >= want_http and c["db"] >= want_db else None
    try:
        return sonde_it.wait_for(enough, timeout, interval=0.2)
    except sonde_it.WaitTimeout:
        return sonde_counts(sonde.scrape())


def vm_rss_kb(pid):
    for line in read_first(f"/proc/{pid}/status").splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return None


def bpf_map_rss_kb(pid):
    """Rss of the BPF map mappings of pid (/proc/PID/smaps; a ring buffer's data pages are
    mapped twice, so they count twice in VmRSS)."""
    total, in_map = 0, False
    try:
        with open(f"/proc/{pid}/smaps") as f:
            for line in f:
                if re.match(r"^[0-9a-f]+-[0-9a-f]+ ", line):
                    in_map = "bpf-map" in line or "bpf_map" in line
                elif in_map and line.startswith("Rss:"):
                    total += int(line.split()[1])
    except OSError:
        return None
    return total


def bpf_maps_of(pid):
    """[{id, name, type, bytes_memlock}] of the BPF maps process pid holds fds of."""
    ids = set()
    for fd in os.listdir(f"/proc/{pid}/fdinfo"):
        try:
            with open(f"/proc/{pid}/fdinfo/{fd}") as f:
                ids.update(int(ln.split()[1]) for ln in f if ln.startswith("map_id:"))
        except OSError:
            pass
    maps = []
    for map_id in sorted(ids):
        r = subprocess.run(["bpftool", "-j", "map", "show", "id", str(map_id)],
                           stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, timeout=30)
        try:
            j = json.loads(r.stdout or b"{}")
        except json.JSONDecodeError:
            continue
        maps.append({"id": map_id, "name": j.get("name", ""), "type": j.get("type", ""),
                     "max_entries": j.get("max_entries"),
                     "bytes_memlock": int(j.get("bytes_memlock", 0))})
    return maps


def fixed_rate(addr, rate, seconds, warmup, conns, paths=(ORDERS_PATH,)):
    argv = [sonde_it.go_bin("fixed-rate"), "-addr", addr, "-rate", f"{rate:.1f}",
            "-conns", str(conns), "-duration", f"{seconds}s", "-warmup", f"{warmup}s",
            "-paths", ",".join(paths)]
    r = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                       timeout=seconds + warmup + 60)
    try:
        return json.loads(r.stdout)
    except ValueError:
        raise RuntimeError(f"fixed-rate failed (exit {r.returncode}): {r.stdout}{r.stderr}")


# --------------------------------------------------------------------------- builds

def build_bench_tools(outdir):
    """Compiles the unobserved-process loop, the floor BPF objects and their loader."""
    inc = f"/usr/include/{subprocess.run(['gcc', '-dumpmachine'], stdout=subprocess.PIPE, text=True).stdout.strip()}"
    bpf_flags = ["-O2", "-g", "-target", "bpf", "-Wall", "-I" + inc]
    steps = [
        ["cc", "-O2", "-Wall", "-o", f"{outdir}/unobserved", f"{HERE}/unobserved.c"],
        ["cc", "-O2", "-Wall", "-o", f"{outdir}/floor_loader", f"{HERE}/floor_loader.c",
         "-lbpf"],
        ["clang", *bpf_flags, "-c", f"{HERE}/floor.bpf.c", "-o", f"{outdir}/floor.bpf.o"],
        ["clang", *bpf_flags, "-DFLOOR_LOOKUP", "-c", f"{HERE}/floor.bpf.c",
         "-o", f"{outdir}/floor_lookup.bpf.o"],
    ]
    for argv in steps:
        r = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                           timeout=120)
        if r.returncode != 0:
            raise RuntimeError(f"{' '.join(argv)} failed:\n{r.stdout}")


# --------------------------------------------------------------------------- 1-3: HTTP

def overloaded(fr, base):
    """The fixed-rate run queued: connections were often still busy when the next request
    was due, or the latencies are far above the unloaded ones (base: a run at a low rate)."""
    return (fr["late_due_to_busy_conn"] > 0.02 * max(fr["completed"], 1)
            or fr["p50_us"] > 2 * base["p50_us"] or fr["p99_us"] > 10 * base["p99_us"]
            or fr["errors"] > 0)


def calibrate_rate(cfg, svc, sat):
    """The rate for the latency rounds: half the saturation rate, unless the plain service
    queues there (the open-loop client wakes once per request and, on this kind of VM, a
    wake-up costs as much CPU as the request; the service also costs more per request at
    low load than at saturation): then 0.7x that, at most 4 times."""
    probes = []
    base = fixed_rate(svc.addr, max(50.0, min(200.0, sat / 20)), 3, 1, cfg.lat_conns)
    probes.append({"rate": base["rate"], "p50_us": base["p50_us"], "p99_us": base["p99_us"],
                   "late": base["late_due_to_busy_conn"], "unloaded": True})
    rate = sat * cfg.lat_fraction
    for _ in range(4):
        fr = fixed_rate(svc.addr, rate, 3, 1, cfg.lat_conns)
        probes.append({"rate": rate, "p50_us": fr["p50_us"], "p99_us": fr["p99_us"],
                       "late": fr["late_due_to_busy_conn"], "overloaded": overloaded(
                           fr, base)})
        if not probes[-1]["overloaded"]:
            break
        log(f"  {rate:.0f} req/s queues (p50 {fr['p50_us']:.0f} us, unloaded "
            f"{base['p50_us']:.0f} us; {fr['late_due_to_busy_conn']} late): lower")
        rate *= 0.7
    return rate, probes, base


def bench_http(cfg, res, pg, redis):
    plain = Service("trade-engine", pg.dsn, redis.addr)
    instr = Service("trade-engine-instrumented", pg.dsn, redis.addr)
    services = {"A": plain, "C": instr}
    out = {"saturation_rounds": [], "latency_rounds": [], "config": {
        "wrk_connections": cfg.connections, "wrk_threads": cfg.threads,
        "wrk_seconds": cfg.wrk_seconds, "latency_seconds": cfg.lat_seconds,
        "latency_conns": cfg.lat_conns, "capture": cfg.capture, "path": ORDERS_PATH}}
    res["http"] = out
    try:
        for svc in (plain, instr):  # warm-up: pools filled, code paged in
            wrk(svc.url + ORDERS_PATH, 2, cfg.connections, cfg.threads)

        log(f"1. saturation: {cfg.sat_rounds} rounds x (A plain, B plain+sonde, "
            f"C instrumented), wrk {cfg.wrk_seconds}s each")
        for i in range(cfg.sat_rounds):
            rnd = {"round": i + 1, "order": ""}
            for cond in rotated(["A", "B", "C"], i):
                rnd["order"] += cond
                svc = services.get(cond, plain)
                url = svc.url + ORDERS_PATH
                if cond != "B":
                    c0 = proc_cpu_seconds(svc.pid)
                    w = wrk(url, cfg.wrk_seconds, cfg.connections, cfg.threads)
                    w["svc_cpu_ns_per_req"] = ((proc_cpu_seconds(svc.pid) - c0) * 1e9
                                               / max(w["requests"], 1))
                    rnd[cond] = w
                    continue
                sonde = start_sonde([f"pid={plain.pid}"], cfg.capture, ["--route", ROUTE])
                try:
                    meter = CostMeter(sonde)
                    meter.start()
                    c0 = proc_cpu_seconds(plain.pid)
                    w = wrk(url, cfg.wrk_seconds, cfg.connections, cfg.threads)
                    w["svc_cpu_ns_per_req"] = ((proc_cpu_seconds(plain.pid) - c0) * 1e9
                                               / max(w["requests"], 1))
                    counts = wait_counted(sonde, want_http=w["requests"],
                                          want_db=2 * w["requests"])
                    meter.stop()
                finally:
                    sonde.stop()
                w["counted"] = counts
                trips = counts["http"] + counts["db"]
                w["round_trips_counted"] = trips
                w["cost_per_round_trip"] = meter.per(trips)
                w["cost_per_request"] = meter.per(counts["http"])
                w["events_per_round_trip"] = counts["events"] / max(trips, 1)
                rnd["B"] = w
            rnd["throughput_ratio_sonde"] = rnd["B"]["rps"] / rnd["A"]["rps"]
            rnd["throughput_ratio_instrumented"] = rnd["C"]["rps"] / rnd["A"]["rps"]
            out["saturation_rounds"].append(rnd)
            b = rnd["B"]
            log(f"  round {i + 1} ({rnd['order']}): plain {rnd['A']['rps']:.0f}, "
                f"+sonde {b['rps']:.0f} (x{rnd['throughput_ratio_sonde']:.3f}), "
                f"instrumented {rnd['C']['rps']:.0f} "
                f"(x{rnd['throughput_ratio_instrumented']:.3f}) req/s; sonde counted "
                f"{b['counted']['http']:.0f} http + {b['counted']['db']:.0f} db "
                f"(wrk {b['requests']}), lost {b['counted']['lost']:.0f}, "
                f"{b['cost_per_round_trip']['whole_ns']:.0f} ns/round trip")

        sat = statistics.median(r["A"]["rps"] for r in out["saturation_rounds"])
        out["saturation_rps_plain_median"] = sat
        rate, out["latency_calibration"], unloaded = calibrate_rate(cfg, plain, sat)
        out["latency_rate"] = rate
        out["latency_fraction_of_saturation"] = rate / sat
        log(f"1. latency at {rate:.0f} req/s ({rate / sat:.2f} of {sat:.0f}): {cfg.rounds} "
            f"rounds, fixed-rate {cfg.lat_seconds}s + {cfg.lat_warmup}s warm-up each")
        for i in range(cfg.rounds):
            rnd = {"round": i + 1, "order": ""}
            for cond in rotated(["A", "B", "C"], i):
                rnd["order"] += cond
                svc = services.get(cond, plain)
                if cond != "B":
                    rnd[cond] = fixed_rate(svc.addr, rate, cfg.lat_seconds, cfg.lat_warmup,
                                           cfg.lat_conns)
                    continue
                sonde = start_sonde([f"pid={plain.pid}"], cfg.capture, ["--route", ROUTE])
                try:
                    meter = CostMeter(sonde)
                    meter.start()
                    fr = fixed_rate(svc.addr, rate, cfg.lat_seconds, cfg.lat_warmup,
                                    cfg.lat_conns)
                    counts = wait_counted(sonde, want_http=fr["completed"],
                                          want_db=2 * fr["completed"])
                    meter.stop()
                finally:
                    sonde.stop()
                fr["counted"] = counts
                trips = counts["http"] + counts["db"]
                fr["cost_per_round_trip"] = meter.per(trips)
                rnd["B"] = fr
            rnd["overloaded"] = {c: overloaded(rnd[c], unloaded) for c in "ABC"}
            for k in ("p50", "p99"):
                rnd[f"{k}_ratio_sonde"] = rnd["B"][f"{k}_us"] / rnd["A"][f"{k}_us"]
                rnd[f"{k}_ratio_instrumented"] = rnd["C"][f"{k}_us"] / rnd["A"][f"{k}_us"]
            out["latency_rounds"].append(rnd)
            log(f"  round {i + 1} ({rnd['order']}): p50/p99 us plain "
                f"{rnd['A']['p50_us']:.0f}/{rnd['A']['p99_us']:.0f}, +sonde "
                f"{rnd['B']['p50_us']:.0f}/{rnd['B']['p99_us']:.0f}, instrumented "
                f"{rnd['C']['p50_us']:.0f}/{rnd['C']['p99_us']:.0f}; errors "
                f"{rnd['A']['errors']}/{rnd['B']['errors']}/{rnd['C']['errors']}, "
                f"lost {rnd['B']['counted']['lost']:.0f}"
                + (f"; queued: {''.join(c for c in 'ABC' if rnd['overloaded'][c])}"
                   if any(rnd["overloaded"].values()) else ""))
    finally:
        plain.stop()
        instr.stop()

    sr, lr = out["saturation_rounds"], out["latency_rounds"]
    out["summary"] = {
        "throughput_ratio_sonde": spread(r["throughput_ratio_sonde"] for r in sr),
        "throughput_ratio_instrumented": spread(r["throughput_ratio_instrumented"]
                                                for r in sr),
        "rps_plain": spread(r["A"]["rps"] for r in sr),
        "rps_sonde": spread(r["B"]["rps"] for r in sr),
        "rps_instrumented": spread(r["C"]["rps"] for r in sr),
        "whole_cost_ns_per_round_trip": spread(r["B"]["cost_per_round_trip"]["whole_ns"]
                                               for r in sr),
        "sonde_cpu_ns_per_round_trip": spread(r["B"]["cost_per_round_trip"]["sonde_cpu_ns"]
                                              for r in sr),
        "bpf_ns_per_round_trip": spread(r["B"]["cost_per_round_trip"]["bpf_ns"] for r in sr),
        "bpf_runs_per_round_trip": spread(r["B"]["cost_per_round_trip"]["bpf_runs"]
                                          for r in sr),
        "whole_cost_ns_per_request": spread(r["B"]["cost_per_request"]["whole_ns"]
                                            for r in sr),
        "whole_cost_ns_per_round_trip_half_load": spread(
            r["B"]["cost_per_round_trip"]["whole_ns"] for r in lr),
        "round_trips_per_request": spread(
            r["B"]["round_trips_counted"] / max(r["B"]["counted"]["http"], 1) for r in sr),
        "events_per_round_trip": spread(r["B"]["events_per_round_trip"] for r in sr),
        "svc_cpu_ns_per_req_plain": spread(r["A"]["svc_cpu_ns_per_req"] for r in sr),
        "svc_cpu_ns_per_req_sonde": spread(r["B"]["svc_cpu_ns_per_req"] for r in sr),
        "svc_cpu_ns_per_req_instrumented": spread(r["C"]["svc_cpu_ns_per_req"] for r in sr),
        "lost_events": sum(r["B"]["counted"]["lost"] for r in sr + lr),
        "p50_us_plain": spread(r["A"]["p50_us"] for r in lr),
        "p99_us_plain": spread(r["A"]["p99_us"] for r in lr),
        "p50_us_sonde": spread(r["B"]["p50_us"] for r in lr),
        "p99_us_sonde": spread(r["B"]["p99_us"] for r in lr),
        "p50_us_instrumented": spread(r["C"]["p50_us"] for r in lr),
        "p99_us_instrumented": spread(r["C"]["p99_us"] for r in lr),
        "p50_ratio_sonde": spread(r["p50_ratio_sonde"] for r in lr),
        "p99_ratio_sonde": spread(r["p99_ratio_sonde"] for r in lr),
        "p50_ratio_instrumented": spread(r["p50_ratio_instrumented"] for r in lr),
        "p99_ratio_instrumented": spread(r["p99_ratio_instrumented"] for r in lr),
        "latency_rounds_queued": {c: sum(r["overloaded"][c] for r in lr) for c in "ABC"},
        "latency_errors": sum(r[c]["errors"] + r[c]["non2xx"] for r in lr for c in "ABC"),
        "saturation_non2xx": sum(r[c]["non2xx"] for r in sr for c in "ABC"),
    }


# --------------------------------------------------------------------------- 4: unobserved

def prog_stats(pid):
    """{program name: (run_cnt, run_time_ns)} of the BPF programs process pid holds."""
    out = {}
    for prog_id in programs_of(pid):
        r = subprocess.run(["bpftool", "-j", "prog", "show", "id", str(prog_id)],
                           stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, timeout=30)
        try:
            j = json.loads(r.stdout or b"{}")
        except json.JSONDecodeError:
            continue
        if "name" in j:
            out[j["name"]] = (j.get("run_cnt", 0), j.get("run_time_ns", 0))
    return out


# The programs one 1-byte write + one 1-byte read run, per capture path ({p}: sonde|floor).
HOOK_PROGS = {"socket": ["{p}_sock_send", "{p}_sock_recv"],
              "syscalls": ["{p}_enter_write", "{p}_exit_write", "{p}_enter_read",
                           "{p}_exit_read"]}


def body_ns_per_syscall(before, after, prefix, mode):
    """BPF run time per socket syscall of the loop: the mean run time of each program a
    write and a read run (bpf_stats), summed, halved. Other processes run them too (they
    are not selected either, so they take the same path)."""
    total = 0.0
    for name in (n.format(p=prefix) for n in HOOK_PROGS[mode]):
        if name not in before or name not in after:
            return None
        cnt = after[name][0] - before[name][0]
        if cnt <= 0:
            return None
        total += (after[name][1] - before[name][1]) / cnt
    return total / 2


def bench_unobserved(cfg, res, tools):
    target = Service("trade-engine")  # what sonde selects; the loop process is not it
    out = {"rounds": [], "config": {
        "iterations": cfg.unobs_iters, "reps": cfg.unobs_reps, "pairs": cfg.unobs_pairs,
        "toggle": cfg.unobs_toggle, "unit": "ns of thread CPU time per syscall"}}
    res["unobserved"] = out
    keys = ("socket_ns", "getppid_ns")

    def measure():
        r = subprocess.run([f"{tools}/unobserved", str(cfg.unobs_iters), str(cfg.unobs_reps)],
                           stdout=subprocess.PIPE, text=True, timeout=300, check=True)
        return json.loads(r.stdout)

    def measured_with(proc, prefix, mode):
        before = prog_stats(proc.pid)
        m = measure()
        m["bpf_ns_per_syscall"] = body_ns_per_syscall(before, prog_stats(proc.pid), prefix,
                                                      mode)
        return m

    def with_floor(mode):
        p = sonde_it.start_process([f"{tools}/floor_loader", f"{tools}/floor.bpf.o", mode,
                                    "hold"], name="floor_loader")
        try:
            sonde_it.wait_for(lambda: p.check_running() or "ready" in p.stdout(), 60,
                              message="floor_loader ready")
            return measured_with(p, "floor", mode)
        finally:
            p.stop()

    def with_sonde(mode):
        s = start_sonde([f"pid={target.pid}"], mode)
        try:
            m = measured_with(s, "sonde", mode)
            m["tracked_processes"] = sonde_it.value(s.scrape(), "sonde_tracked_processes")
        finally:
            s.stop()
        return m

    def toggled(obj, mode):
        reps, block = cfg.unobs_toggle[mode]
        r = subprocess.run([f"{tools}/floor_loader", f"{tools}/{obj}", mode, "toggle",
                            str(cfg.unobs_iters), str(reps), str(block)],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                           timeout=600)
        if r.returncode != 0:
            raise RuntimeError(f"floor_loader toggle failed: {r.stderr}")
        return json.loads(r.stdout)

    log(f"4. unobserved process: {cfg.rounds} rounds x 2 capture paths x {cfg.unobs_pairs} x "
        "(floor, sonde) each between two measures without hooks; then floors toggled "
        "in-process")
    conds = [f"{c}_{m}" for m in ("socket", "syscalls") for c in ("floor", "sonde")]
    try:
        for i in range(cfg.rounds):
            # N X N X ... N: every measure with hooks sits between two without; a slow
            # drift of the machine's speed cancels out of X - (N_before + N_after) / 2.
            seq = []
            for mode in rotated(["socket", "syscalls"], i):
                for j in range(cfg.unobs_pairs):
                    for c in rotated(["floor", "sonde"], i + j):
                        seq.append(("none", measure()))
                        seq.append((f"{c}_{mode}", with_floor(mode) if c == "floor"
                                    else with_sonde(mode)))
            seq.append(("none", measure()))
            rnd = {"round": i + 1, "sequence": seq}
            added = {c: {k: [] for k in keys} for c in conds}
            for n, (c, m) in enumerate(seq):
                if c != "none":
                    for k in keys:
                        added[c][k].append(m[k] - (seq[n - 1][1][k] + seq[n + 1][1][k]) / 2)
            rnd["base"] = {k: statistics.median(m[k] for c, m in seq if c == "none")
                           for k in keys}
            for c in conds:
                bpf = [m["bpf_ns_per_syscall"] for cc, m in seq
                       if cc == c and m.get("bpf_ns_per_syscall") is not None]
                rnd[c] = {"added_socket_ns": statistics.median(added[c]["socket_ns"]),
                          "added_getppid_ns": statistics.median(added[c]["getppid_ns"]),
                          "bpf_ns_per_syscall": statistics.median(bpf) if bpf else None,
                          "tracked_processes": max(
                              [m.get("tracked_processes", 1) for cc, m in seq if cc == c])}
            # The machine's noise: how far the measures without hooks stray from their
            # median (median absolute deviation).
            nones = [m for c, m in seq if c == "none"]
            rnd["noise"] = {k: statistics.median(abs(m[k] - rnd["base"][k]) for m in nones)
                            for k in keys}
            rnd["toggled"] = {f"{o}_{mode}": toggled(f"{o}.bpf.o", mode)
                              for mode in ("socket", "syscalls")
                              for o in ("floor", "floor_lookup")}
            out["rounds"].append(rnd)
            log(f"  round {i + 1}: none {rnd['base']['socket_ns']:.0f}/"
                f"{rnd['base']['getppid_ns']:.0f} ns (socket/getppid, +-"
                f"{rnd['noise']['socket_ns']:.0f}/{rnd['noise']['getppid_ns']:.0f}); added: "
                + ", ".join(f"{c} {rnd[c]['added_socket_ns']:+.0f}/"
                            f"{rnd[c]['added_getppid_ns']:+.0f} (bpf "
                            f"{rnd[c]['bpf_ns_per_syscall'] or float('nan'):.0f})"
                            for c in conds)
                + "; toggled: " + ", ".join(
                    f"{c} {t['added_socket_ns']:+.0f}/{t['added_getppid_ns']:+.0f}"
                    for c, t in rnd["toggled"].items()))
    finally:
        target.stop()

    rs = out["rounds"]
    summ = {"base_socket_ns": spread(r["base"]["socket_ns"] for r in rs),
            "base_getppid_ns": spread(r["base"]["getppid_ns"] for r in rs),
            "noise_socket_ns": spread(r["noise"]["socket_ns"] for r in rs),
            "noise_getppid_ns": spread(r["noise"]["getppid_ns"] for r in rs)}
    for c in conds:
        for k in ("added_socket_ns", "added_getppid_ns", "bpf_ns_per_syscall"):
            summ[f"{c}_{k}"] = spread(r[c][k] for r in rs)
    for c in rs[0]["toggled"] if rs else ():
        for k in ("added_socket_ns", "added_getppid_ns", "bpf_ns_per_syscall"):
            summ[f"toggled_{c}_{k}"] = spread(r["toggled"][c][k] for r in rs)
    for mode in ("socket", "syscalls"):
        summ[f"sonde_minus_floor_bpf_ns_{mode}"] = spread(
            r[f"sonde_{mode}"]["bpf_ns_per_syscall"] - r[f"floor_{mode}"]["bpf_ns_per_syscall"]
            for r in rs if None not in (r[f"sonde_{mode}"]["bpf_ns_per_syscall"],
                                        r[f"floor_{mode}"]["bpf_ns_per_syscall"]))
        for k in ("socket", "getppid"):
            summ[f"sonde_minus_floor_{k}_ns_{mode}"] = spread(
                r[f"sonde_{mode}"][f"added_{k}_ns"] - r[f"floor_{mode}"][f"added_{k}_ns"]
                for r in rs)
    summ["unobserved_process_tracked"] = any(
        r[c]["tracked_processes"] != 1 for r in rs for c in conds if c.startswith("sonde_"))
    out["summary"] = summ


# --------------------------------------------------------------------------- 5: databases

def pgbench_tps(out):
    m = re.search(r"tps = ([\d.]+) \(without initial connection time\)", out)
    n = re.search(r"number of transactions actually processed: (\d+)", out)
    if not m or not n:
        raise RuntimeError("pgbench output not understood:\n" + out)
    return float(m.group(1)), int(n.group(1))


def redis_rps(out):
    """{command: requests per second} from redis-benchmark -q output."""
    got = {}
    # Progress lines end in \r and say "rps=": only the final lines match.
    for cmd, rps in re.findall(r"(\w+): ([\d.]+) requests per second", out.replace("\r", "\n")):
        got[cmd] = float(rps)
    if not got:
        raise RuntimeError("redis-benchmark output not understood:\n" + out)
    return got


def gated_run(argv, timeout, sonde_args=None, capture="auto"):
    """Runs argv in a process that sonde selects by pid before it execs argv: a shell waits
    for a gate file, then execs the client (same pid). Selecting by comm would race with
    the client's first connections (sonde adopts a process after seeing its exec). With
    sonde_args None the gate opens at once (same process structure, no sonde). Returns
    (output, CostMeter or None, sonde counts or None)."""
    gate_dir = tempfile.mkdtemp(prefix="sonde-bench-gate-")
    gate = os.path.join(gate_dir, "open")
    script = 'while [ ! -e "$0" ]; do sleep 0.02; done; exec "$@"'
    p = subprocess.Popen(["sh", "-c", script, gate, *argv], stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, text=True)
    sonde = meter = counts = None
    try:
        if sonde_args is not None:
            sonde = start_sonde([f"pid={p.pid}"], capture)
            sonde_it.wait_for(lambda: sonde_it.value(sonde.scrape(),
                                                     "sonde_tracked_processes") >= 1,
                              20, message="sonde to track the client")
            meter = CostMeter(sonde)
            meter.start()
        open(gate, "w").close()
        out, _ = p.communicate(timeout=timeout)
        if p.returncode != 0:
            raise RuntimeError(f"{argv[0]} failed ({p.returncode}):\n{out}")
        if sonde is not None:
            counts = sonde_args(out, sonde)
            meter.stop()
        return out, meter, counts
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
        if sonde is not None:
            sonde.stop()
        if os.path.exists(gate):
            os.unlink(gate)
        os.rmdir(gate_dir)


def bench_db(cfg, res, pg, redis):
    out = {"pgbench_rounds": [], "redis_rounds": [], "config": {
        "pgbench": f"-c 4 -j 2 -T {cfg.pg_seconds} (tpcb-like, simple protocol)",
        "redis_benchmark": f"-P 16 -n {cfg.redis_requests} -t set,get -q",
        "selection": "--select pid=N of a shell that then execs the client"}}
    res["db"] = out
    pg.pgbench("-i", "-q", "-s", "1", timeout=300)
    pgbench_argv = [os.path.join(pg.bindir, "pgbench"), "-h", pg.host, "-p", str(pg.port),
                    "-U", "postgres", "-c", "4", "-j", "2", "-T", str(cfg.pg_seconds),
                    "postgres"]
    redis_argv = ["redis-benchmark", "-h", redis.host, "-p", str(redis.port), "-P", "16",
                  "-n", str(cfg.redis_requests), "-t", "set,get", "-q"]
    redis_commands = 2 * sonde_it.Redis.benchmark_commands(cfg.redis_requests, 16)

    def pg_counts(text, sonde):
        # tpcb-like: BEGIN, UPDATE, SELECT, UPDATE, UPDATE, INSERT, END per transaction
        return wait_counted(sonde, want_db=7 * pgbench_tps(text)[1])

    def redis_counts(text, sonde):
        return wait_counted(sonde, want_db=redis_commands)

    def run_pgbench(observed):
        text, meter, counts = gated_run(pgbench_argv, cfg.pg_seconds + 120,
                                        pg_counts if observed else None, cfg.capture)
        tps, txns = pgbench_tps(text)
        r = {"tps": tps, "transactions": txns, "ops_expected": 7 * txns}
        if observed:
            r["counted"] = counts
            r["cost_per_op"] = meter.per(counts["db"])
        return r

    def run_redis(observed):
        text, meter, counts = gated_run(redis_argv, 300, redis_counts if observed else None,
                                        cfg.capture)
        rps = redis_rps(text)
        r = {"rps": rps, "rps_total": sum(rps.values()) / len(rps),
             "commands": redis_commands}
        if observed:
            r["counted"] = counts
            r["cost_per_op"] = meter.per(counts["db"])
        return r

    log(f"5. databases: {cfg.rounds} rounds x pgbench {cfg.pg_seconds}s and redis-benchmark "
        f"-P 16 -n {cfg.redis_requests}, without (A) and with (B) sonde selecting the client")
    for i in range(cfg.rounds):
        rnd = {"round": i + 1}
        for cond in rotated(["A", "B"], i):
            rnd[cond] = run_pgbench(cond == "B")
        rnd["ratio"] = rnd["B"]["tps"] / rnd["A"]["tps"]
        out["pgbench_rounds"].append(rnd)
        rr = {"round": i + 1}
        for cond in rotated(["A", "B"], i):
            rr[cond] = run_redis(cond == "B")
        rr["ratio"] = rr["B"]["rps_total"] / rr["A"]["rps_total"]
        out["redis_rounds"].append(rr)
        log(f"  round {i + 1}: pgbench {rnd['A']['tps']:.0f} -> {rnd['B']['tps']:.0f} tps "
            f"(x{rnd['ratio']:.3f}; counted {rnd['B']['counted']['db']:.0f} of "
            f"{rnd['B']['ops_expected']} ops, lost {rnd['B']['counted']['lost']:.0f}); "
            f"redis {rr['A']['rps_total']:.0f} -> {rr['B']['rps_total']:.0f} cmd/s "
            f"(x{rr['ratio']:.3f}; counted {rr['B']['counted']['db']:.0f} of "
            f"{rr['B']['commands']}, lost {rr['B']['counted']['lost']:.0f})")
    pr, rr = out["pgbench_rounds"], out["redis_rounds"]
    out["summary"] = {
        "pgbench_ratio": spread(r["ratio"] for r in pr),
        "pgbench_tps_without": spread(r["A"]["tps"] for r in pr),
        "pgbench_tps_with": spread(r["B"]["tps"] for r in pr),
        "pgbench_counted_fraction": spread(r["B"]["counted"]["db"] / max(r["B"]["ops_expected"], 1)
                                           for r in pr),
        "pgbench_cost_ns_per_op": spread(r["B"]["cost_per_op"]["whole_ns"] for r in pr),
        "redis_ratio": spread(r["ratio"] for r in rr),
        "redis_rps_without": spread(r["A"]["rps_total"] for r in rr),
        "redis_rps_with": spread(r["B"]["rps_total"] for r in rr),
        "redis_counted_fraction": spread(r["B"]["counted"]["db"] / max(r["B"]["commands"], 1)
                                         for r in rr),
        "redis_cost_ns_per_op": spread(r["B"]["cost_per_op"]["whole_ns"] for r in rr),
        "lost_events": sum(r["B"]["counted"]["lost"] for r in pr + rr),
    }


# --------------------------------------------------------------------------- 6: scrape, RSS

def route_words(n):
    """n distinct path segments of letters that route templating keeps as they are."""
    words, i = [], 0
    letters = "ghijklmnopqrstuvwxyz"  # no hex digits: never taken for {hex}
    while len(words) < n:
        w, k = "", i
        for _ in range(3):
            w = letters[k % len(letters)] + w
            k //= len(letters)
        words.append("r" + w)
        i += 1
    return words


def curl_time(url, gzip):
    argv = ["curl", "-s", "-o", "/dev/null", "-w", "%{http_code} %{time_total} %{size_download}",
            "--max-time", "30", url]
    if gzip:
        argv[1:1] = ["-H", "Accept-Encoding: gzip"]
    r = subprocess.run(argv, stdout=subprocess.PIPE, text=True, timeout=60)
    code, t, size = r.stdout.split()
    if code != "200":
        raise RuntimeError(f"scrape answered {code}")
    return float(t) * 1e3, int(size)


def bench_scrape(cfg, res, pg, redis, rate):
    out = {"config": {"route_cap": 1000, "load_seconds": cfg.rss_seconds, "rate": rate,
                      "scrapes": 20}}
    res["scrape"] = out
    svc = Service("trade-engine", pg.dsn, redis.addr)
    sonde = start_sonde([f"pid={svc.pid}"], cfg.capture, ["--route-cap", "1000"])
    try:
        out["rss_kb_start"] = vm_rss_kb(sonde.pid)
        host, port = svc.addr.rsplit(":", 1)
        words = route_words(999)
        paths = [ORDERS_PATH] + [f"/bench/{w}" for w in words]
        conn = http.client.HTTPConnection(host, int(port), timeout=10)
        for p in paths:  # 1,000 distinct routes: /api/v1/orders/{id} and 999 /bench/rxxx
            conn.request("GET", p)
            conn.getresponse().read()
        conn.close()

        def label_sets():
            m = sonde.scrape()
            sets = {k for k in m if k[0] == "http_server_request_duration_seconds_count"}
            return len(sets) if len(sets) >= 1000 else None
        try:
            sonde_it.wait_for(label_sets, 20, interval=0.5)
        except sonde_it.WaitTimeout:
            pass
        log(f"6. scrape and memory: 1,000 routes fed; {cfg.rss_seconds}s of load at "
            f"{rate:.0f} req/s (fixed-rate), VmRSS sampled")
        mix = []
        for w in words:
            mix += [ORDERS_PATH, f"/bench/{w}"]
        samples = []
        p = subprocess.Popen([sonde_it.go_bin("fixed-rate"), "-addr", svc.addr, "-rate",
                              f"{rate:.1f}", "-conns", str(cfg.lat_conns), "-duration",
                              f"{cfg.rss_seconds}s", "-warmup", "0s", "-paths", ",".join(mix)],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            deadline = time.monotonic() + cfg.rss_seconds + 60
            t_start = time.monotonic()
            while p.poll() is None and time.monotonic() < deadline:
                samples.append((round(time.monotonic() - t_start), vm_rss_kb(sonde.pid)))
                time.sleep(min(10, max(1, cfg.rss_seconds / 30)))
            load_out, _ = p.communicate(timeout=max(1, deadline - time.monotonic()))
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
        out["load"] = json.loads(load_out) if load_out.strip() else None
        out["rss_samples_kb"] = samples
        out["rss_kb_end"] = vm_rss_kb(sonde.pid)
        out["rss_kb_bpf_map_mappings"] = bpf_map_rss_kb(sonde.pid)
        out["rss_kb_max_sampled"] = max([s[1] for s in samples] + [out["rss_kb_end"]])
        maps = bpf_maps_of(sonde.pid)
        out["bpf_maps"] = maps
        out["bpf_maps_bytes_memlock"] = sum(m["bytes_memlock"] for m in maps)

        _, text = sonde_it.scrape_raw(sonde.metrics_url)
        lines = [ln for ln in text.splitlines() if ln and not ln.startswith("#")]
        m = sonde_it.parse_prometheus_text(text)
        out["scrape_lines"] = len(lines)
        out["scrape_bytes"] = len(text.encode())
        out["duration_label_sets"] = len(
            {k for k in m if k[0] == "http_server_request_duration_seconds_count"})
        counts = sonde_counts(m)
        out["counted"] = counts
        out["routes_overflowed"] = sonde_it.value(m, "sonde_http_routes_overflowed_total")
        gz = [curl_time(sonde.metrics_url, True) for _ in range(20)]
        plain = [curl_time(sonde.metrics_url, False) for _ in range(20)]
        out["scrape_gzip_ms"] = spread(t for t, _ in gz)
        out["scrape_gzip_bytes"] = gz[-1][1]
        out["scrape_plain_ms"] = spread(t for t, _ in plain)
        log(f"  RSS {out['rss_kb_end'] / 1024:.1f} MiB (max {out['rss_kb_max_sampled'] / 1024:.1f}"
            f"), BPF maps {out['bpf_maps_bytes_memlock'] / 1048576:.1f} MiB; scrape "
            f"{out['scrape_lines']} lines, {out['duration_label_sets']} label sets: gzip "
            f"{out['scrape_gzip_ms']['median']:.1f} ms, plain "
            f"{out['scrape_plain_ms']['median']:.1f} ms; lost {counts['lost']:.0f}")
    finally:
        sonde.stop()
        svc.stop()


# --------------------------------------------------------------------------- report

def verdict(ok):
    return "PASS" if ok else "FAIL"


def fmt_spread(s, fmt="{:.3f}", scale=1.0):
    if not s:
        return "n/a", "n/a"
    return (fmt.format(s["median"] * scale),
            f"{fmt.format(s['min'] * scale)}..{fmt.format(s['max'] * scale)}")


def build_table(res):
    """[(figure, median, spread, target, verdict)] rows; verdict '' = informative."""
    rows = []

    def add(name, s, fmt="{:.3f}", target="", ok=None, scale=1.0):
        med, spr = fmt_spread(s, fmt, scale)
        rows.append((name, med, spr, target, "" if ok is None or not s else verdict(ok)))

    def section(title):
        rows.append((title, None, None, None, None))

    h = res.get("http", {}).get("summary")
    if h:
        section("1. observed service (trade-engine -pg -redis, keep-alive)")
        add("throughput with/without sonde (wrk)", h["throughput_ratio_sonde"],
            target=">= 0.98", ok=h["throughput_ratio_sonde"]["median"] >= 0.98)
        add("  req/s without sonde", h["rps_plain"], "{:.0f}")
        add("  req/s with sonde", h["rps_sonde"], "{:.0f}")
        rate = res["http"].get("latency_rate", 0)
        add(f"p50 with/without at {rate:.0f} req/s", h["p50_ratio_sonde"])
        add(f"p99 with/without at {rate:.0f} req/s", h["p99_ratio_sonde"], target="<= 1.05",
            ok=h["p99_ratio_sonde"]["median"] <= 1.05)
        q = h["latency_rounds_queued"]
        rows.append((f"  rounds that queued (p50 > 2x or p99 > 10x unloaded, or > 2% late): "
                     f"plain {q['A']}, sonde {q['B']}, instrumented {q['C']} of "
                     f"{len(res['http']['latency_rounds'])}", None, None, None, None))
        add("  p50 without sonde, us", h["p50_us_plain"], "{:.0f}")
        add("  p50 with sonde, us", h["p50_us_sonde"], "{:.0f}")
        add("  p99 without sonde, us", h["p99_us_plain"], "{:.0f}")
        add("  p99 with sonde, us", h["p99_us_sonde"], "{:.0f}")
        section("2. sonde's whole cost per observed round trip")
        add("sonde CPU + BPF, ns per round trip", h["whole_cost_ns_per_round_trip"], "{:.0f}",
            target="<= 1000", ok=h["whole_cost_ns_per_round_trip"]["median"] <= 1000)
        add("  of which sonde process CPU", h["sonde_cpu_ns_per_round_trip"], "{:.0f}")
        add("  of which BPF programs (bpf_stats run time)", h["bpf_ns_per_round_trip"],
            "{:.0f}")
        add("  BPF program runs per round trip (all processes)", h["bpf_runs_per_round_trip"],
            "{:.1f}")
        fl = (res.get("unobserved", {}).get("summary") or {}).get(
            "floor_socket_bpf_ns_per_syscall")
        if fl and h["bpf_runs_per_round_trip"]:
            add("  of BPF: runs x an empty program's run time", {
                k: h["bpf_runs_per_round_trip"]["median"] * fl[k] for k in ("median", "min", "max")},
                "{:.0f}")
        add("  round trips per request (HTTP + DB)", h["round_trips_per_request"], "{:.2f}")
        add("  ring buffer events per round trip", h["events_per_round_trip"], "{:.2f}")
        add("  same at half load, ns per round trip",
            h["whole_cost_ns_per_round_trip_half_load"], "{:.0f}")
        add("  service CPU per request, ns: plain", h["svc_cpu_ns_per_req_plain"], "{:.0f}")
        add("    with sonde (BPF time lands here)", h["svc_cpu_ns_per_req_sonde"], "{:.0f}")
        add("events lost (every sonde run of 1-2)", {"median": h["lost_events"],
            "min": h["lost_events"], "max": h["lost_events"]}, "{:.0f}", target="0",
            ok=h["lost_events"] == 0)
        section("3. instrumented service (client_golang middleware), no sonde")
        add("throughput instrumented/plain (wrk)", h["throughput_ratio_instrumented"])
        add("p50 instrumented/plain at half load", h["p50_ratio_instrumented"])
        add("p99 instrumented/plain at half load", h["p99_ratio_instrumented"])
        add("  p50 instrumented, us", h["p50_us_instrumented"], "{:.0f}")
        add("  p99 instrumented, us", h["p99_us_instrumented"], "{:.0f}")
        add("  service CPU per request, ns", h["svc_cpu_ns_per_req_instrumented"], "{:.0f}")
    u = res.get("unobserved", {}).get("summary")
    if u:
        section("4. unobserved process: ns added per syscall (thread CPU time, median of "
                "reps' fastest)")
        add("  baseline: socket write/read, ns", u["base_socket_ns"], "{:.0f}")
        add("  baseline: getppid, ns", u["base_getppid_ns"], "{:.0f}")
        add("  noise (MAD of baseline): socket", u["noise_socket_ns"], "{:.0f}")
        add("  noise (MAD of baseline): getppid", u["noise_getppid_ns"], "{:.0f}")
        noise_g = u["noise_getppid_ns"]["median"] if u["noise_getppid_ns"] else 0
        for mode in ("socket", "syscalls"):
            rows.append((f" --capture {mode}", None, None, None, None))
            add("  floor (empty progs) toggled: socket +ns",
                u.get(f"toggled_floor_{mode}_added_socket_ns"), "{:+.0f}")
            add("  floor toggled: getppid +ns",
                u.get(f"toggled_floor_{mode}_added_getppid_ns"), "{:+.0f}")
            add("  floor + tgid hash look-up toggled: socket +ns",
                u.get(f"toggled_floor_lookup_{mode}_added_socket_ns"), "{:+.0f}")
            add("  floor held: socket +ns", u[f"floor_{mode}_added_socket_ns"], "{:+.0f}")
            add("  sonde: socket +ns", u[f"sonde_{mode}_added_socket_ns"], "{:+.0f}")
            add("  sonde - floor held: socket ns", u[f"sonde_minus_floor_socket_ns_{mode}"],
                "{:+.0f}")
            add("  BPF run time per socket syscall: floor", u[f"floor_{mode}_bpf_ns_per_syscall"],
                "{:.0f}")
            add("  BPF run time per socket syscall: floor+look-up",
                u.get(f"toggled_floor_lookup_{mode}_bpf_ns_per_syscall"), "{:.0f}")
            add("  BPF run time per socket syscall: sonde", u[f"sonde_{mode}_bpf_ns_per_syscall"],
                "{:.0f}")
            s_ = u[f"sonde_minus_floor_bpf_ns_{mode}"]
            add(f"sonde - floor, {mode}: BPF ns per socket syscall", s_, "{:+.0f}",
                target="<= +20", ok=s_ and s_["median"] <= 20)
            g = u[f"sonde_{mode}_added_getppid_ns"]
            tol = max(10.0, noise_g)
            add(f"sonde {mode}: getppid +ns", g, "{:+.0f}", target=f"+0 (<= {tol:.0f})",
                ok=g["median"] <= tol)
    d = res.get("db", {}).get("summary")
    if d:
        section("5. database clients observed (with/without sonde)")
        add("pgbench tps with/without", d["pgbench_ratio"], target=">= 0.98",
            ok=d["pgbench_ratio"]["median"] >= 0.98)
        add("  tps without sonde", d["pgbench_tps_without"], "{:.0f}")
        add("  ops counted / ops run", d["pgbench_counted_fraction"], "{:.3f}")
        add("  sonde CPU + BPF, ns per operation", d["pgbench_cost_ns_per_op"], "{:.0f}",
            target="<= 1000", ok=d["pgbench_cost_ns_per_op"]["median"] <= 1000)
        add("redis-benchmark -P 16 with/without", d["redis_ratio"], target=">= 0.98",
            ok=d["redis_ratio"]["median"] >= 0.98)
        add("  commands/s without sonde", d["redis_rps_without"], "{:.0f}")
        add("  commands counted / sent", d["redis_counted_fraction"], "{:.3f}")
        add("  sonde CPU + BPF, ns per command", d["redis_cost_ns_per_op"], "{:.0f}",
            target="<= 1000", ok=d["redis_cost_ns_per_op"]["median"] <= 1000)
        add("events lost (db runs)", {"median": d["lost_events"], "min": d["lost_events"],
                                      "max": d["lost_events"]}, "{:.0f}", target="0",
            ok=d["lost_events"] == 0)
    s = res.get("scrape")
    if s and "scrape_gzip_ms" in s:
        section(f"6. scrape ({s['duration_label_sets']} label sets, {s['scrape_lines']} lines, "
                f"{s['scrape_bytes'] / 1e6:.1f} MB, gzip {s['scrape_gzip_bytes'] / 1e3:.0f} kB) "
                "and memory")
        add("render + gzip /metrics, ms (20 scrapes)", s["scrape_gzip_ms"], "{:.1f}",
            target="<= 20", ok=s["scrape_gzip_ms"]["median"] <= 20)
        add("  without gzip, ms", s["scrape_plain_ms"], "{:.1f}")
        one = lambda v: {"median": v, "min": v, "max": v}  # noqa: E731
        add(f"sonde VmRSS after {s['config']['load_seconds']}s of load, MiB",
            one(s["rss_kb_end"] / 1024), "{:.1f}", target="<= 32",
            ok=s["rss_kb_end"] / 1024 <= 32)
        add("  max VmRSS sampled during load, MiB", one(s["rss_kb_max_sampled"] / 1024),
            "{:.1f}")
        if s.get("rss_kb_bpf_map_mappings") is not None:
            add("  of which BPF map mappings (ring buffer twice)",
                one(s["rss_kb_bpf_map_mappings"] / 1024), "{:.1f}")
            add("  VmRSS without BPF map mappings, MiB",
                one((s["rss_kb_end"] - s["rss_kb_bpf_map_mappings"]) / 1024), "{:.1f}")
        add("BPF maps held by sonde (memlock), MiB", one(s["bpf_maps_bytes_memlock"] / 1048576),
            "{:.1f}")
        add("events lost (scrape/RSS run)", one(s["counted"]["lost"]), "{:.0f}", target="0",
            ok=s["counted"]["lost"] == 0)
    return rows


def print_table(res):
    rows = build_table(res)
    out = []
    w = max([len(r[0]) for r in rows if r[1] is not None] + [40])
    out.append(f"{'figure':{w}}  {'median':>9}  {'spread min..max':>19}  {'target':>11}  verdict")
    for name, med, spr, target, v in rows:
        if med is None:
            out.append(name)
            continue
        out.append(f"{name:{w}}  {med:>9}  {spr:>19}  {target:>11}  {v}")
    m = res["machine"]
    out.append(f"machine: {m['nproc']} CPUs ({m['cpu_model']}), Linux {m['kernel']}, load "
               f"{m['loadavg']} at start; {len(m['other_sonde_processes'])} other sonde "
               f"processes, {m['bpf_programs_loaded']} BPF programs loaded at start")
    text = "\n".join(out)
    print(text)
    return text


# --------------------------------------------------------------------------- main

def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="shorter rounds; under 10 minutes")
    ap.add_argument("--json", help="also write every result here")
    ap.add_argument("--only", default="http,unobserved,db,scrape",
                    help="comma-separated sections: http (1-3), unobserved (4), db (5), "
                         "scrape (6)")
    ap.add_argument("--rounds", type=int, help="rounds per figure (default 5, quick 3)")
    ap.add_argument("--capture", default="auto", help="sonde's --capture for 1-3, 5, 6")
    ap.add_argument("--sonde", help="sonde binary (default: $SONDE_BIN, else build/sonde)")
    ap.add_argument("--connections", type=int, default=8, help="wrk connections")
    ap.add_argument("--threads", type=int, default=2, help="wrk threads")
    ap.add_argument("--rss-seconds", type=int, help="load before reading RSS (600, quick 60)")
    ap.add_argument("--latency-fraction", type=float, default=0.5,
                    help="latency rounds' rate as a fraction of the saturation rate (lowered "
                         "while the plain service queues at it)")
    cfg = ap.parse_args()
    q = cfg.quick
    cfg.rounds = cfg.rounds or (3 if q else 5)
    cfg.sat_rounds = cfg.rounds + (1 if q else 3)  # throughput: short runs, more rounds
    cfg.wrk_seconds = 4 if q else 10
    cfg.lat_seconds, cfg.lat_warmup, cfg.lat_conns = (6, 1, 32) if q else (20, 2, 32)
    cfg.lat_fraction = cfg.latency_fraction
    cfg.unobs_iters, cfg.unobs_reps, cfg.unobs_pairs = (2000, 40, 2) if q else (2000, 80, 4)
    # floor_loader toggle: (repetitions, block) per capture path; syscall tracepoints
    # detach slowly (an RCU grace period per program), so fewer toggles there.
    cfg.unobs_toggle = ({"socket": (12, 3), "syscalls": (4, 3)} if q
                        else {"socket": (30, 4), "syscalls": (10, 4)})
    cfg.pg_seconds = 5 if q else 10
    cfg.redis_requests = 1500000 if q else 4000000
    cfg.rss_seconds = cfg.rss_seconds or (60 if q else 600)
    sections = set(cfg.only.split(","))
    unknown = sections - {"http", "unobserved", "db", "scrape"}
    if unknown:
        ap.error(f"unknown sections: {', '.join(sorted(unknown))}")

    sonde_it.require_root()
    sonde_bin = cfg.sonde or os.environ.get("SONDE_BIN") or os.path.join(REPO, "build", "sonde")
    if not os.access(sonde_bin, os.X_OK):
        sys.exit(f"run.py: no sonde binary at {sonde_bin}: build it (cmake; make sonde) and "
                 "pass --sonde or SONDE_BIN")
    os.environ["SONDE_BIN"] = os.path.abspath(sonde_bin)
    subprocess.run(["sysctl", "-qw", "kernel.bpf_stats_enabled=1"], check=True)

    res = {"command": " ".join(sys.argv), "quick": q, "sonde": os.environ["SONDE_BIN"],
           "machine": machine_info()}
    log(f"machine: {res['machine']['nproc']} CPUs, {res['machine']['cpu_model']}, Linux "
        f"{res['machine']['kernel']}, load {res['machine']['loadavg']}")
    log("building the Go programs and the bench tools")
    for prog in ("trade-engine", "trade-engine-instrumented", "fixed-rate"):
        if not os.access(sonde_it.go_bin(prog), os.X_OK):
            sys.exit(f"run.py: {prog} was not built: is it in tests/integration/go/build.sh?")
    res["go"] = go_version()
    tools = tempfile.mkdtemp(prefix="sonde-bench-")
    build_bench_tools(tools)

    pg = redis = None
    try:
        if sections & {"http", "db", "scrape"}:
            pg = sonde_it.start_postgres(settings={"log_statement": "none",
                                                   "pg_stat_statements.track": "none"})
            redis = sonde_it.start_redis()
        if "http" in sections:
            bench_http(cfg, res, pg, redis)
        if "unobserved" in sections:
            bench_unobserved(cfg, res, tools)
        if "db" in sections:
            bench_db(cfg, res, pg, redis)
        if "scrape" in sections:
            rate = res.get("http", {}).get("latency_rate") or 1000.0
            bench_scrape(cfg, res, pg, redis, rate)
    finally:
        for p in (redis, pg):
            if p:
                p.stop()
        for f in glob.glob(os.path.join(tools, "*")):
            os.unlink(f)
        os.rmdir(tools)
        res["machine"]["loadavg_end"] = read_first("/proc/loadavg")
        res["elapsed_s"] = round(time.monotonic() - T0)
        print()
        res["table"] = print_table(res)
        print(f"elapsed {res['elapsed_s']} s")
        if cfg.json:
            with open(cfg.json, "w") as f:
                json.dump(res, f, indent=2)


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    main()
