#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""sonde's overhead benchmark (issues 5 and 11): every figure in one run, as a table and as
JSON.

    python3 tests/bench/run.py [--quick] [--json out.json] [--only http,unobserved,db,scrape]
    python3 tests/bench/run.py --only cost [--capture socket|syscalls]   # ~2-3 min
    python3 tests/bench/run.py --only events [--capture socket|syscalls] # ~4 min
    python3 tests/bench/run.py --only https [--capture socket|syscalls]  # ~3-4 min
    python3 tests/bench/run.py --only tcp [--capture socket|syscalls]    # ~2 min

Each figure is a ratio or a difference measured in this run, with and without sonde, in
many short rounds whose conditions alternate (the order rotated each round); reported are
the median, the interquartile range and the min..max of the per-round figures, and beside
each ratio the A/A ratio (the plain service against itself, both arms without sonde):
the noise floor of this machine in this run.

 1. Observed service: go/trade-engine with -pg and -redis, keep-alive. wrk at saturation:
    throughput and service CPU per request. go/fixed-rate (open loop) at half the
    saturation rate: p50, p99, and CPU per request of the whole machine (/proc/stat), of
    the stack (service, PostgreSQL, Redis, client, sonde) and of the service.
 2. sonde's whole cost per observed round trip: its CPU (schedstat, ns) plus the run time
    of its BPF programs (bpf_stats; prog ids and counters from /proc/PID/fdinfo), divided
    by the HTTP exchanges and DB operations it counted, at saturation and at the fixed
    rate; events lost and recursion_misses (both must be 0).
 3. go/trade-engine-instrumented (client_golang middleware), no sonde: the same figures
    beside, as ratios to the plain service.
 4. Unobserved process (unobserved.c): ns added per socket syscall and per getppid() by
    sonde on each capture path, next to the floor (empty programs, floor.bpf.c).
 5. Database clients: pgbench and redis-benchmark -P 16 with/without sonde selecting them.
 6. Scrape and memory: 1,000 label sets; GET /metrics with gzip; VmRSS after load.
 cost (--only cost): section 2 alone, fast, with one sonde for all rounds: for A/B
    comparisons of sonde's builds on one capture path (--compare, --compare-args).
 events (--only events, not in the default): section 2 with request events off and on
    (--events FILE --events-filter sample=0.01), alternating: the ratio of the whole cost.
 https (--only https, not in the default): HTTPS through uprobes (https_cost.py), nginx
    and Go: sonde's whole cost per HTTPS round trip next to the floor of its uprobe traps,
    throughput with/without sonde beside A/A; traps of unselected libssl users (must be 0).
 tcp (--only tcp, not in the default): TCP health's cost per connection (--tcp-health on
    against off, tcp_cost.py) and its program runs on the data path (must be 0).
 record (--only record, not in the default): what a ring-buffer record, a clock read and
    a per-CPU slot cost one BPF program on this machine, without sonde (record_cost.py).
bpf_stats are held on through a BPF_ENABLE_STATS descriptor (the sysctl is left as it
was); their own overhead per program run is measured at the end, on each capture path
used, by toggling the floor with stats on and off.

Needs root, bpftool, wrk, curl, clang, cc + libbpf-dev, PostgreSQL (initdb, pgbench),
redis-server/redis-benchmark, go (the Go programs are built by tests/integration/go/build.sh
unless SONDE_GO_BIN names a directory holding them). sonde: --sonde, else SONDE_BIN, else
build/sonde. Every load is bounded in count or time.
"""

import argparse
import glob
import http.client
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time

from bench_core import (ORDERS_PATH, REPO, T0, BpfStats, CostMeter, Table, build_bench_tools,
                        floor_toggled, go_version, log, machine_info, read_first, rotated,
                        sonde_counts, spread, start_sonde, stats_overhead)
import https_cost
import observed
import sonde_it
import record_cost
import tcp_cost


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
    maps = []
    for map_id in sorted(sonde_it.bpf_objects_of(pid)["map"]):
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



# --------------------------------------------------------------------------- 4: unobserved

_prog_names = {}


def prog_stats(pid):
    """{program name: (run_cnt, run_time_ns)} of the BPF programs process pid holds: the
    counters from its fdinfo, each program's name asked of bpftool once."""
    out = {}
    for prog_id, st in sonde_it.bpf_programs_of(pid).items():
        if prog_id not in _prog_names:
            r = subprocess.run(["bpftool", "-j", "prog", "show", "id", str(prog_id)],
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, timeout=30)
            try:
                _prog_names[prog_id] = json.loads(r.stdout or b"{}").get("name")
            except json.JSONDecodeError:
                _prog_names[prog_id] = None
        if _prog_names[prog_id] and "run_cnt" in st:
            out[_prog_names[prog_id]] = (st["run_cnt"], st["run_time_ns"])
    return out


# The programs one 1-byte write + one 1-byte read run, per capture path ({p}: sonde|floor).
HOOK_PROGS = {"socket": ["{p}_sock_send", "{p}_sock_recv"],
              "syscalls": ["{p}_exit_write", "{p}_exit_read"]}


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
    target = sonde_it.start_trade_engine()  # what sonde selects; the loop process is not it
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
        m = {}
        try:
            m.update(measured_with(s, "sonde", mode))
            m["tracked_processes"] = sonde_it.value(s.scrape(), "sonde_tracked_processes")
        finally:
            observed.stop_observer(s, m)
        return m

    def toggled(obj, mode):
        return floor_toggled(tools, obj, mode, cfg.unobs_iters, *cfg.unobs_toggle[mode])

    log(f"4. unobserved process: {cfg.unobs_rounds} rounds x 2 capture paths x {cfg.unobs_pairs} x "
        "(floor, sonde) each between two measures without hooks; then floors toggled "
        "in-process")
    conds = [f"{c}_{m}" for m in ("socket", "syscalls") for c in ("floor", "sonde")]
    try:
        for i in range(cfg.unobs_rounds):
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
    summ["recursion_misses"] = sum(m.get("recursion_misses_at_stop") or 0
                                   for r in rs for _, m in r["sequence"])
    summ["sonde_runs"] = sum(c.startswith("sonde_") for r in rs for c, _ in r["sequence"])
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


def gated_run(argv, timeout, want_db=None, capture="auto", bin=None):
    """Runs argv in a process that sonde selects by pid before it execs argv: a shell waits
    for a gate file, then execs the client (same pid). Selecting by comm would race with
    the client's first connections (sonde adopts a process after seeing its exec).
    want_db(output): the operations sonde must count; None: no sonde (the gate opens at
    once, same process structure). bin: the sonde binary (default: start_sonde's). Returns
    (output, sonde's figures or None)."""
    gate_dir = tempfile.mkdtemp(prefix="sonde-bench-gate-")
    gate = os.path.join(gate_dir, "open")
    script = 'while [ ! -e "$0" ]; do sleep 0.02; done; exec "$@"'
    p = subprocess.Popen(["sh", "-c", script, gate, *argv], stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, text=True)
    sonde, got = None, {}
    try:
        if want_db is not None:
            sonde = start_sonde([f"pid={p.pid}"], capture, bin=bin)
            sonde_it.wait_for(lambda: sonde_it.value(sonde.scrape(),
                                                     "sonde_tracked_processes") >= 1,
                              20, message="sonde to track the client")
            meter = CostMeter(sonde).start()
        open(gate, "w").close()
        out, _ = p.communicate(timeout=timeout)
        if p.returncode != 0:
            raise RuntimeError(f"{argv[0]} failed ({p.returncode}):\n{out}")
        if sonde is not None:
            got.update(meter.stop(want_db=want_db(out)).summary())
            got["cost_per_op"] = meter.per(got["counted"]["db"])
        return out, got if sonde else None
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
        if sonde is not None:
            observed.stop_observer(sonde, got)
        if os.path.exists(gate):
            os.unlink(gate)
        os.rmdir(gate_dir)


def bench_db(cfg, res, pg, redis):
    out = {"pgbench_rounds": [], "redis_rounds": [], "config": {
        "pgbench": f"-c 4 -j 2 -M extended -T {cfg.pg_seconds} (tpcb-like)",
        "redis_benchmark": f"-P 16 -n {cfg.redis_requests} -t set,get -q",
        "selection": "--select pid=N of a shell that then execs the client",
        "conditions": "A without sonde, A2 without sonde again (A/A), B with sonde"}}
    res["db"] = out
    pg.pgbench("-i", "-q", "-s", "1", timeout=300)
    pgbench_argv = [os.path.join(pg.bindir, "pgbench"), "-h", pg.host, "-p", str(pg.port),
                    "-U", "postgres", "-c", "4", "-j", "2", "-M", "extended",
                    "-T", str(cfg.pg_seconds),
                    "postgres"]
    redis_argv = ["redis-benchmark", "-h", redis.host, "-p", str(redis.port), "-P", "16",
                  "-n", str(cfg.redis_requests), "-t", "set,get", "-q"]
    redis_commands = 2 * sonde_it.Redis.benchmark_commands(cfg.redis_requests, 16)

    def run_pgbench(observed_):
        # tpcb-like: BEGIN, UPDATE, SELECT, UPDATE, UPDATE, INSERT, END per transaction
        text, got = gated_run(pgbench_argv, cfg.pg_seconds + 120,
                              (lambda t: 7 * pgbench_tps(t)[1]) if observed_ else None,
                              cfg.capture)
        tps, txns = pgbench_tps(text)
        return dict(got or {}, tps=tps, transactions=txns, ops_expected=7 * txns)

    def run_redis(observed_):
        text, got = gated_run(redis_argv, 300,
                              (lambda t: redis_commands) if observed_ else None, cfg.capture)
        rps = redis_rps(text)
        return dict(got or {}, rps=rps, rps_total=sum(rps.values()) / len(rps),
                    commands=redis_commands)

    log(f"5. databases: {cfg.db_rounds} rounds x pgbench {cfg.pg_seconds}s and "
        f"redis-benchmark -P 16 -n {cfg.redis_requests}, without (A, A2) and with (B) sonde "
        "selecting the client")
    for i in range(cfg.db_rounds):
        rnd, rr = {"round": i + 1}, {"round": i + 1}
        for cond in rotated(["A", "A2", "B"], i):
            rnd[cond] = run_pgbench(cond == "B")
        for cond in rotated(["A", "A2", "B"], i):
            rr[cond] = run_redis(cond == "B")
        for r, key in ((rnd, "tps"), (rr, "rps_total")):
            r["ratio"] = r["B"][key] / r["A"][key]
            r["ratio_A2"] = r["A2"][key] / r["A"][key]
        out["pgbench_rounds"].append(rnd)
        out["redis_rounds"].append(rr)
        log(f"  round {i + 1}: pgbench {rnd['A']['tps']:.0f} tps, A2 x{rnd['ratio_A2']:.3f}, "
            f"B x{rnd['ratio']:.3f} (counted {rnd['B']['counted']['db']:.0f} of "
            f"{rnd['B']['ops_expected']} ops, lost {rnd['B']['lost']:.0f}); redis "
            f"{rr['A']['rps_total']:.0f} cmd/s, A2 x{rr['ratio_A2']:.3f}, B "
            f"x{rr['ratio']:.3f} (counted {rr['B']['counted']['db']:.0f} of "
            f"{rr['B']['commands']}, lost {rr['B']['lost']:.0f})")
    pr, rr = out["pgbench_rounds"], out["redis_rounds"]
    out["summary"] = {
        "pgbench_ratio": spread(r["ratio"] for r in pr),
        "pgbench_ratio_A2": spread(r["ratio_A2"] for r in pr),
        "pgbench_tps_without": spread(r["A"]["tps"] for r in pr),
        "pgbench_tps_with": spread(r["B"]["tps"] for r in pr),
        "pgbench_counted_fraction": spread(r["B"]["counted"]["db"]
                                           / max(r["B"]["ops_expected"], 1) for r in pr),
        "pgbench_sonde_cpu_ns_per_op": spread(r["B"]["cost_per_op"]["sonde_cpu_ns"]
                                              for r in pr),
        "redis_ratio": spread(r["ratio"] for r in rr),
        "redis_ratio_A2": spread(r["ratio_A2"] for r in rr),
        "redis_rps_without": spread(r["A"]["rps_total"] for r in rr),
        "redis_rps_with": spread(r["B"]["rps_total"] for r in rr),
        "redis_counted_fraction": spread(r["B"]["counted"]["db"] / max(r["B"]["commands"], 1)
                                         for r in rr),
        "redis_sonde_cpu_ns_per_op": spread(r["B"]["cost_per_op"]["sonde_cpu_ns"]
                                            for r in rr),
        "lost_events": sum(r["B"]["lost"] for r in pr + rr),
        "recursion_misses": sum(observed.misses(r["B"]) for r in pr + rr),
        "sonde_runs": len(pr) + len(rr),
        "bpf_stats_off": all(r["B"]["bpf_runs"] == 0 for r in pr + rr),
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
    svc = sonde_it.start_trade_engine(pg=pg.dsn, redis=redis.addr)
    sonde = start_sonde([f"pid={svc.pid}"], cfg.capture, ["--route-cap", "1000"])
    try:
        out["rss_kb_start"] = vm_rss_kb(sonde.pid)
        host, port = svc.host, svc.port
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
        observed.stop_observer(sonde, out)
        svc.stop()


# --------------------------------------------------------------------------- report

def unobserved_rows(t, u):
    t.section("4. unobserved process: ns added per syscall (thread CPU time, median of "
              "reps' fastest)")
    t.add("  baseline: socket write/read, ns", u["base_socket_ns"], "{:.0f}")
    t.add("  baseline: getppid, ns", u["base_getppid_ns"], "{:.0f}")
    t.add("  noise (MAD of baseline): socket", u["noise_socket_ns"], "{:.0f}")
    t.add("  noise (MAD of baseline): getppid", u["noise_getppid_ns"], "{:.0f}")
    noise_g = u["noise_getppid_ns"]["median"] if u["noise_getppid_ns"] else 0
    for mode in ("socket", "syscalls"):
        t.note(f" --capture {mode}")
        t.add("  floor (empty progs) toggled: socket +ns",
              u.get(f"toggled_floor_{mode}_added_socket_ns"), "{:+.0f}")
        t.add("  floor toggled: getppid +ns", u.get(f"toggled_floor_{mode}_added_getppid_ns"),
              "{:+.0f}")
        t.add("  floor + tgid hash look-up toggled: socket +ns",
              u.get(f"toggled_floor_lookup_{mode}_added_socket_ns"), "{:+.0f}")
        t.add("  floor held: socket +ns", u[f"floor_{mode}_added_socket_ns"], "{:+.0f}")
        t.add("  sonde: socket +ns", u[f"sonde_{mode}_added_socket_ns"], "{:+.0f}")
        t.add("  sonde - floor held: socket ns", u[f"sonde_minus_floor_socket_ns_{mode}"],
              "{:+.0f}")
        t.add("  BPF run time per socket syscall: floor", u[f"floor_{mode}_bpf_ns_per_syscall"],
              "{:.0f}")
        t.add("  BPF run time per socket syscall: floor+look-up",
              u.get(f"toggled_floor_lookup_{mode}_bpf_ns_per_syscall"), "{:.0f}")
        t.add("  BPF run time per socket syscall: sonde", u[f"sonde_{mode}_bpf_ns_per_syscall"],
              "{:.0f}")
        s_ = u[f"sonde_minus_floor_bpf_ns_{mode}"]
        t.add(f"sonde - floor, {mode}: BPF ns per socket syscall", s_, "{:+.0f}",
              target="<= +20", ok=bool(s_) and s_["median"] <= 20)
        g = u[f"sonde_{mode}_added_getppid_ns"]
        tol = max(10.0, noise_g)
        t.add(f"sonde {mode}: getppid +ns", g, "{:+.0f}", target=f"+0 (<= {tol:.0f})",
              ok=bool(g) and g["median"] <= tol)
    t.add_value(f"recursion_misses (each of {u['sonde_runs']} sonde runs)",
                u["recursion_misses"], target="0", ok=u["recursion_misses"] == 0)


def db_rows(t, d):
    t.section("5. database clients observed (with/without sonde; A/A: without, twice); "
              f"bpf_stats {'off' if d['bpf_stats_off'] else 'ON (could not turn them off)'}")
    t.add("pgbench -M extended tps with/without", d["pgbench_ratio"], target=">= 0.95",
          ok=d["pgbench_ratio"]["median"] >= 0.95, aa=d["pgbench_ratio_A2"], target_value=0.95)
    t.add("  tps without sonde", d["pgbench_tps_without"], "{:.0f}")
    t.add("  ops counted / ops run", d["pgbench_counted_fraction"], "{:.3f}")
    t.add("  sonde process alone, ns per operation", d["pgbench_sonde_cpu_ns_per_op"], "{:.0f}")
    t.add("redis-benchmark -P 16 with/without", d["redis_ratio"], target=">= 0.97",
          ok=d["redis_ratio"]["median"] >= 0.97, aa=d["redis_ratio_A2"], target_value=0.97)
    t.add("  commands/s without sonde", d["redis_rps_without"], "{:.0f}")
    t.add("  commands counted / sent", d["redis_counted_fraction"], "{:.3f}")
    t.add("  sonde process alone, ns per command", d["redis_sonde_cpu_ns_per_op"], "{:.0f}")
    t.add_value("events lost (db runs)", d["lost_events"], target="0", ok=d["lost_events"] == 0)
    t.add_value(f"recursion_misses (each of {d['sonde_runs']} sonde runs)",
                d["recursion_misses"], target="0", ok=d["recursion_misses"] == 0)


def scrape_rows(t, s):
    t.section(f"6. scrape ({s['duration_label_sets']} label sets, {s['scrape_lines']} lines, "
              f"{s['scrape_bytes'] / 1e6:.1f} MB, gzip {s['scrape_gzip_bytes'] / 1e3:.0f} kB) "
              "and memory")
    t.add("render + gzip /metrics, ms (20 scrapes)", s["scrape_gzip_ms"], "{:.1f}",
          target="<= 20", ok=s["scrape_gzip_ms"]["median"] <= 20)
    t.add("  without gzip, ms", s["scrape_plain_ms"], "{:.1f}")
    mib = s["rss_kb_end"] / 1024
    t.add_value(f"sonde VmRSS after {s['config']['load_seconds']}s of load, MiB", mib, "{:.1f}",
                target="<= 32", ok=mib <= 32)
    t.add_value("  max VmRSS sampled during load, MiB", s["rss_kb_max_sampled"] / 1024, "{:.1f}")
    if s.get("rss_kb_bpf_map_mappings") is not None:
        t.add_value("  of which BPF map mappings (ring buffer twice)",
                    s["rss_kb_bpf_map_mappings"] / 1024, "{:.1f}")
        t.add_value("  VmRSS without BPF map mappings, MiB",
                    (s["rss_kb_end"] - s["rss_kb_bpf_map_mappings"]) / 1024, "{:.1f}")
    t.add_value("BPF maps held by sonde (memlock), MiB", s["bpf_maps_bytes_memlock"] / 1048576,
                "{:.1f}")
    lost = s["counted"]["lost"]
    t.add_value("events lost (scrape/RSS run)", lost, target="0", ok=lost == 0)
    m = observed.misses(s)
    t.add_value("recursion_misses (scrape/RSS run)", m, target="0", ok=m == 0)


def print_table(res):
    t = Table()
    if res.get("cost", {}).get("summary", {}).get("sonde"):
        observed.cost_table_rows(t, res)
    if res.get("events", {}).get("summary", {}).get("sonde"):
        observed.cost_table_rows(t, res, "events")
    if res.get("https", {}).get("summary"):
        https_cost.table_rows(t, res)
    if res.get("tcp", {}).get("summary"):
        tcp_cost.table_rows(t, res)
    if res.get("record", {}).get("summary"):
        record_cost.table_rows(t, res)
    if res.get("http", {}).get("summary"):
        observed.http_rows(t, res)
    if res.get("unobserved", {}).get("summary"):
        unobserved_rows(t, res["unobserved"]["summary"])
    if res.get("db", {}).get("summary"):
        db_rows(t, res["db"]["summary"])
    if res.get("scrape", {}).get("scrape_gzip_ms"):
        scrape_rows(t, res["scrape"])
    observed.stats_rows(t, res)
    m = res["machine"]
    t.note(f"machine: {m['nproc']} CPUs ({m['cpu_model']}), Linux {m['kernel']}, load "
           f"{m['loadavg']} at start, {m.get('loadavg_end', '?')} at the end; "
           f"{len(m['other_sonde_processes'])} other sonde processes, "
           f"{m['bpf_programs_loaded']} BPF programs loaded at start; "
           f"kernel.bpf_stats_enabled {m['bpf_stats_enabled_sysctl']} before, "
           f"{res.get('bpf_stats_sysctl_after', '?')} after")
    text = t.render()
    print(text)
    return text


def must_hold(res):
    """Lost events and recursion misses of every section: both must be 0."""
    bad = []
    summaries = [(f"{sec} {name}", s) for sec in ("cost", "events") for name, s in
                 (res.get(sec, {}).get("summary") or {}).items() if name != "ratio"]
    summaries += [(sec, res.get(sec, {}).get("summary") or {})
                  for sec in ("http", "unobserved", "db")]
    for sec, s in summaries:
        for k in ("lost_events", "recursion_misses"):
            if s.get(k):
                bad.append(f"{sec}: {k} {s[k]:.0f}")
    sc = res.get("scrape", {})
    if sc.get("counted", {}).get("lost") or observed.misses(sc):
        bad.append("scrape: lost events or recursion misses")
    return bad + https_cost.must_hold(res) + tcp_cost.must_hold(res)


# --------------------------------------------------------------------------- main

SECTIONS = ("cost", "events", "https", "tcp", "record", "http", "unobserved", "db",
            "scrape")


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer, shorter rounds")
    ap.add_argument("--json", help="also write every result here")
    ap.add_argument("--only", default="cost,http,unobserved,db,scrape",
                    help="comma-separated sections: cost (sonde's cost alone, ~2-3 min), "
                         "events (the cost with request events on / off, ~4 min; not in the "
                         "default), https (HTTPS through uprobes, ~3-4 min; not in the "
                         "default), tcp (TCP health's cost per connection, ~2 min; not in the "
                         "default), record (what a ring record costs a BPF program, "
                         "~1 min; not in the default), http (1-3), unobserved (4), db (5), "
                         "scrape (6)")
    ap.add_argument("--rounds", type=int, help="fixed-rate rounds (default 10, quick 4)")
    ap.add_argument("--capture", default="auto", help="sonde's --capture (all but section 4)")
    ap.add_argument("--sonde", help="sonde binary (default: $SONDE_BIN, else build/sonde)")
    ap.add_argument("--connections", type=int, default=8, help="wrk connections")
    ap.add_argument("--threads", type=int, default=2, help="wrk threads")
    ap.add_argument("--rss-seconds", type=int, help="load before reading RSS (600, quick 60)")
    ap.add_argument("--latency-fraction", type=float, default=0.5,
                    help="fixed rate as a fraction of the saturation rate (lowered while the "
                         "plain service queues at it)")
    ap.add_argument("--cost-rounds", type=int,
                    help="rounds of the cost section (6 alone or with --quick, else 10)")
    ap.add_argument("--cost-seconds", type=int, default=3,
                    help="seconds of each load window of --only cost")
    ap.add_argument("--compare", metavar="SONDE",
                    help="cost section: another sonde binary; the two alternate round by "
                         "round and their ratios are reported")
    ap.add_argument("--compare-args", metavar="ARGS",
                    help="cost section: extra sonde arguments of the compare build (one "
                         "string, split as a shell would); without --compare, the compare "
                         "build is --sonde's binary with these arguments")
    ap.add_argument("--cost-background", type=float, default=1.0,
                    help="seconds without load before each cost window (others' I/O rate)")
    cfg = ap.parse_args()
    q = cfg.quick
    cfg.rounds = cfg.rounds or (4 if q else 10)
    cfg.sat_rounds = cfg.rounds + (2 if q else 6)  # throughput: short runs, more rounds
    cfg.wrk_seconds = 3 if q else 4
    cfg.lat_seconds, cfg.lat_warmup, cfg.lat_conns = (5, 1, 32) if q else (8, 1, 32)
    cfg.lat_fraction = cfg.latency_fraction
    cfg.unobs_rounds = 3 if q else 5
    cfg.unobs_iters, cfg.unobs_reps, cfg.unobs_pairs = (2000, 40, 2) if q else (2000, 80, 4)
    # floor_loader toggle: (repetitions, block) per capture path; syscall tracepoints
    # detach slowly (an RCU grace period per program), so fewer toggles there.
    cfg.unobs_toggle = ({"socket": (12, 3), "syscalls": (4, 3)} if q
                        else {"socket": (30, 4), "syscalls": (10, 4)})
    cfg.db_rounds = 3 if q else 6
    cfg.pg_seconds = 4 if q else 5
    cfg.redis_requests = 500000 if q else 1000000
    cfg.rss_seconds = cfg.rss_seconds or (60 if q else 600)
    cfg.sections = set(cfg.only.split(","))
    alone = cfg.sections <= {"cost", "events", "tcp", "record"}
    cfg.cost_rounds = cfg.cost_rounds or (6 if q or alone else 10)
    unknown = cfg.sections - set(SECTIONS)
    if unknown:
        ap.error(f"unknown sections: {', '.join(sorted(unknown))}")
    if cfg.capture not in ("auto", "socket", "syscalls"):
        ap.error("--capture: auto, socket or syscalls")
    return cfg


def run_sections(cfg, res, tools, stats):
    pg = redis = None
    try:
        if cfg.sections & {"cost", "events", "http", "db", "scrape"}:
            pg = sonde_it.start_postgres(settings={"log_statement": "none",
                                                   "pg_stat_statements.track": "none"})
            redis = sonde_it.start_redis()
        if "cost" in cfg.sections:
            observed.bench_cost(cfg, res, pg, redis)
        if "events" in cfg.sections:
            observed.bench_events(cfg, res, pg, redis)
        if "https" in cfg.sections:
            https_cost.bench_https(cfg, res, tools)
        if "tcp" in cfg.sections:
            tcp_cost.bench_tcp(cfg, res, tools)
        if "record" in cfg.sections:
            record_cost.bench_record(cfg, res, tools)
        if "http" in cfg.sections:
            observed.bench_http(cfg, res, pg, redis, stats)
        if "unobserved" in cfg.sections:
            bench_unobserved(cfg, res, tools)
        if "db" in cfg.sections:
            stats.off()  # as in sections 1-3
            try:
                bench_db(cfg, res, pg, redis)
            finally:
                stats.on()
        if "scrape" in cfg.sections:
            rate = res.get("http", {}).get("latency_rate") or 1000.0
            bench_scrape(cfg, res, pg, redis, rate)
    finally:
        for p in (redis, pg):
            if p:
                p.stop()
    # bpf_stats' own cost, on each capture path a sonde ran (and both for section 4).
    modes = set(m for m in res.get("capture_modes", ()) if m)
    if "unobserved" in cfg.sections:
        modes |= {"socket", "syscalls"}
    res["bpf_stats_overhead"] = {}
    for mode in sorted(modes):
        log(f"bpf_stats' own cost on the {mode} path: floor toggled, stats on and off")
        res["bpf_stats_overhead"][mode] = stats_overhead(
            stats, tools, mode, pairs=3, reps=30 if mode == "socket" else 6)


def main():
    cfg = parse_args()
    sonde_it.require_root()
    sonde_bin = cfg.sonde or os.environ.get("SONDE_BIN") or os.path.join(REPO, "build", "sonde")
    if not os.access(sonde_bin, os.X_OK):
        sys.exit(f"run.py: no sonde binary at {sonde_bin}: build it (cmake; make sonde) and "
                 "pass --sonde or SONDE_BIN")
    os.environ["SONDE_BIN"] = os.path.abspath(sonde_bin)
    res = {"command": " ".join(sys.argv), "quick": cfg.quick, "sonde": os.environ["SONDE_BIN"],
           "machine": machine_info()}
    log(f"machine: {res['machine']['nproc']} CPUs, {res['machine']['cpu_model']}, Linux "
        f"{res['machine']['kernel']}, load {res['machine']['loadavg']}")
    for prog in ("trade-engine", "trade-engine-instrumented", "fixed-rate"):
        if not os.access(sonde_it.go_bin(prog), os.X_OK):
            sys.exit(f"run.py: {prog} was not built: is it in tests/integration/go/build.sh?")
    res["go"] = go_version()
    tools = tempfile.mkdtemp(prefix="sonde-bench-")
    stats = BpfStats()
    try:
        build_bench_tools(tools)
        stats.on()
        run_sections(cfg, res, tools, stats)
    finally:
        res["bpf_stats_sysctl_after"] = stats.restore()
        for f in glob.glob(os.path.join(tools, "*")):
            os.unlink(f)
        os.rmdir(tools)
        res["capture_modes"] = sorted(m for m in res.get("capture_modes", ()) if m)
        res["machine"]["loadavg_end"] = read_first("/proc/loadavg")
        res["elapsed_s"] = round(time.monotonic() - T0)
        print()
        res["table"] = print_table(res)
        print(f"elapsed {res['elapsed_s']} s")
        if cfg.json:
            with open(cfg.json, "w") as f:
                json.dump(res, f, indent=2)
    bad = must_hold(res)
    if bad:
        sys.exit("run.py: must be 0 and is not: " + "; ".join(bad))


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    main()
