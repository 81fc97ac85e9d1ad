# SPDX-License-Identifier: GPL-2.0-only
"""Sections of the benchmark on an observed service: go/trade-engine with -pg and -redis
(a PostgreSQL SELECT and a Redis GET per GET /api/v1/orders/{id}), keep-alive.

bench_http (sections 1-3): throughput, latency and CPU with and without sonde, and beside
them the service instrumented in-process and an A/A arm (the plain service again) as the
noise floor. bench_cost (--only cost): sonde's own cost per observed round trip, quickly,
with one long-running sonde (for A/B comparisons of sonde's builds)."""

import os
import shlex
import statistics
import tempfile

import sonde_it
from bench_core import (ORDERS_PATH, ROUTE, CostMeter, MachineClock, TreeClock, fixed_rate,
                        log, lost_reasons, rotated, spread, start_sonde, subtract_background,
                        task_cpu_ns, wait_idle, watch_background, wrk)

# Conditions of a round: A the plain service, A2 the plain service again (A/A: the noise
# floor of every ratio), B the plain service observed by sonde, C the instrumented one.
CONDS = ["A", "A2", "B", "C"]


def capture_mode(sonde):
    """The capture path sonde runs ("socket" or "syscalls"), from sonde_capture_mode."""
    for labels, v in sonde_it.samples(sonde.scrape(), "sonde_capture_mode"):
        if v == 1:
            return labels.get("mode")
    return None


def start_observer(cfg, res, pid, bin=None, extra=()):
    sonde = start_sonde([f"pid={pid}"], cfg.capture, ["--route", ROUTE, *extra], bin=bin)
    res.setdefault("capture_modes", set()).add(capture_mode(sonde))
    return sonde


def stop_observer(sonde, out):
    """Stops sonde and records its programs' recursion misses (asserted in the table)."""
    try:
        out["recursion_misses_at_stop"] = sum(sonde.recursion_misses().values())
    except OSError:
        out["recursion_misses_at_stop"] = None
    sonde.stop(expect_no_misses=False)


def saturation_arm(cfg, res, cond, svc):
    """wrk at saturation; the service's CPU per request (schedstat); for B, sonde's cost."""
    url = svc.url + ORDERS_PATH
    if cond != "B":
        c0 = task_cpu_ns(svc.pid)
        w = wrk(url, cfg.wrk_seconds, cfg.connections, cfg.threads)
        w["svc_cpu_ns_per_req"] = (task_cpu_ns(svc.pid) - c0) / max(w["requests"], 1)
        return w
    sonde = start_observer(cfg, res, svc.pid)
    w = {}
    try:
        meter = CostMeter(sonde).start()
        c0 = task_cpu_ns(svc.pid)
        w.update(wrk(url, cfg.wrk_seconds, cfg.connections, cfg.threads))
        w["svc_cpu_ns_per_req"] = (task_cpu_ns(svc.pid) - c0) / max(w["requests"], 1)
        w.update(meter.stop(want_http=w["requests"], want_db=2 * w["requests"]).summary())
    finally:
        stop_observer(sonde, w)
    return w


def fixed_rate_arm(cfg, res, cond, svc, rate, stack):
    """go/fixed-rate at rate; latency; CPU per request of the whole machine (/proc/stat),
    of the stack (service, PostgreSQL, Redis, client, sonde) and of the service alone;
    for B, sonde's cost. The clocks stop once sonde (or the service) is idle again."""
    sonde = start_observer(cfg, res, svc.pid) if cond == "B" else None
    fr = {}
    try:
        meter = CostMeter(sonde).start() if sonde else None
        pids = [svc.pid, *stack] + ([sonde.pid] if sonde else [])
        machine, tree = MachineClock().start(), TreeClock(pids).start()
        s0 = task_cpu_ns(svc.pid)
        fr = fixed_rate(svc.addr, rate, cfg.lat_seconds, cfg.lat_warmup, cfg.lat_conns)
        wait_idle(sonde.pid if sonde else svc.pid)
        n = max(fr["completed"], 1)
        fr["machine_cpu_ns_per_req"] = machine.elapsed() / n
        fr["stack_cpu_ns_per_req"] = (tree.elapsed() + fr["client_cpu_ns"]) / n
        fr["svc_cpu_ns_per_req"] = (task_cpu_ns(svc.pid) - s0) / n
        if meter:
            fr.update(meter.stop(want_http=fr["completed"],
                                 want_db=2 * fr["completed"]).summary())
    finally:
        if sonde:
            stop_observer(sonde, fr)
    return fr


def overloaded(fr, base):
    """The fixed-rate run queued: connections were often still busy when the next request
    was due, or the latencies are far above the unloaded ones (base: a run at a low rate)."""
    return (fr["late_due_to_busy_conn"] > 0.02 * max(fr["completed"], 1)
            or fr["p50_us"] > 2 * base["p50_us"] or fr["p99_us"] > 10 * base["p99_us"]
            or fr["errors"] > 0)


def calibrate_rate(cfg, svc, sat):
    """The rate for the latency rounds: half the saturation rate, unless the plain service
    queues there (the open-loop client wakes once per request and, on this kind of VM, a
    wake-up costs as much CPU as the request): then 0.7x that, at most 4 times."""
    probes = []
    base = fixed_rate(svc.addr, max(50.0, min(200.0, sat / 20)), 3, 1, cfg.lat_conns)
    probes.append({"rate": base["rate"], "p50_us": base["p50_us"], "p99_us": base["p99_us"],
                   "late": base["late_due_to_busy_conn"], "unloaded": True})
    rate = sat * cfg.lat_fraction
    for _ in range(4):
        fr = fixed_rate(svc.addr, rate, 3, 1, cfg.lat_conns)
        probes.append({"rate": rate, "p50_us": fr["p50_us"], "p99_us": fr["p99_us"],
                       "late": fr["late_due_to_busy_conn"],
                       "overloaded": overloaded(fr, base)})
        if not probes[-1]["overloaded"]:
            break
        log(f"  {rate:.0f} req/s queues (p50 {fr['p50_us']:.0f} us, unloaded "
            f"{base['p50_us']:.0f} us; {fr['late_due_to_busy_conn']} late): lower")
        rate *= 0.7
    return rate, probes, base


def ratios(rnd, key, conds=("A2", "B", "C")):
    for c in conds:
        rnd[f"{key}_ratio_{c}"] = rnd[c][key] / rnd["A"][key] if rnd["A"][key] else None


def bench_http(cfg, res, pg, redis, stats):
    """Sections 1-3, with bpf_stats off: they cost the hooked process more than sonde's
    programs' own run time (measured by stats_overhead), and would weigh on B arms only."""
    stats.off()
    try:
        run_http(cfg, res, pg, redis)
    finally:
        stats.on()
    res["http"]["summary"] = summarize_http(res["http"])


def run_http(cfg, res, pg, redis):
    plain = sonde_it.start_trade_engine(pg=pg.dsn, redis=redis.addr)
    instr = sonde_it.start_trade_engine(pg=pg.dsn, redis=redis.addr,
                                        program="trade-engine-instrumented")
    services = {"A": plain, "A2": plain, "B": plain, "C": instr}
    stack = [pg.pid, redis.pid]
    out = {"saturation_rounds": [], "latency_rounds": [], "config": {
        "wrk_connections": cfg.connections, "wrk_threads": cfg.threads,
        "wrk_seconds": cfg.wrk_seconds, "latency_seconds": cfg.lat_seconds,
        "latency_warmup": cfg.lat_warmup, "latency_conns": cfg.lat_conns,
        "capture": cfg.capture, "path": ORDERS_PATH, "conditions": CONDS}}
    res["http"] = out
    try:
        for svc in (plain, instr):  # warm-up: pools filled, code paged in
            wrk(svc.url + ORDERS_PATH, 2, cfg.connections, cfg.threads)
        log(f"1. saturation: {cfg.sat_rounds} rounds x (A plain, A2 plain again, B plain + "
            f"sonde, C instrumented), wrk {cfg.wrk_seconds}s each, order rotated")
        for i in range(cfg.sat_rounds):
            rnd = {"round": i + 1, "order": rotated(CONDS, i)}
            for cond in rnd["order"]:
                rnd[cond] = saturation_arm(cfg, res, cond, services[cond])
            ratios(rnd, "rps")
            ratios(rnd, "svc_cpu_ns_per_req")
            out["saturation_rounds"].append(rnd)
            b = rnd["B"]
            log(f"  round {i + 1} ({'/'.join(rnd['order'])}): req/s A {rnd['A']['rps']:.0f}, "
                f"A2 x{rnd['rps_ratio_A2']:.3f}, B x{rnd['rps_ratio_B']:.3f}, C "
                f"x{rnd['rps_ratio_C']:.3f}; sonde counted {b['counted']['http']:.0f} http "
                f"+ {b['counted']['db']:.0f} db (wrk {b['requests']}), lost "
                f"{b['lost']:.0f}, misses {b['recursion_misses']}, "
                f"{b['cost_per_round_trip']['whole_ns']:.0f} ns/round trip")

        sat = statistics.median(r["A"]["rps"] for r in out["saturation_rounds"])
        out["saturation_rps_plain_median"] = sat
        rate, out["latency_calibration"], unloaded = calibrate_rate(cfg, plain, sat)
        out["latency_rate"] = rate
        out["latency_fraction_of_saturation"] = rate / sat
        log(f"1. fixed rate {rate:.0f} req/s ({rate / sat:.2f} of {sat:.0f}): {cfg.rounds} "
            f"rounds x (A, A2, B, C), fixed-rate {cfg.lat_seconds}s + {cfg.lat_warmup}s "
            "warm-up each")
        for i in range(cfg.rounds):
            rnd = {"round": i + 1, "order": rotated(CONDS, i)}
            for cond in rnd["order"]:
                rnd[cond] = fixed_rate_arm(cfg, res, cond, services[cond], rate, stack)
            rnd["overloaded"] = {c: overloaded(rnd[c], unloaded) for c in CONDS}
            for key in ("p50_us", "p99_us", "machine_cpu_ns_per_req", "stack_cpu_ns_per_req",
                        "svc_cpu_ns_per_req"):
                ratios(rnd, key)
            out["latency_rounds"].append(rnd)
            log(f"  round {i + 1} ({'/'.join(rnd['order'])}): p99 us A "
                f"{rnd['A']['p99_us']:.0f}, A2 {rnd['A2']['p99_us']:.0f}, B "
                f"{rnd['B']['p99_us']:.0f}, C {rnd['C']['p99_us']:.0f}; machine CPU/req "
                f"x{rnd['machine_cpu_ns_per_req_ratio_A2']:.3f} (A2), "
                f"x{rnd['machine_cpu_ns_per_req_ratio_B']:.3f} (B); lost "
                f"{rnd['B']['lost']:.0f}, misses {rnd['B']['recursion_misses']}"
                + (f"; queued: {','.join(c for c in CONDS if rnd['overloaded'][c])}"
                   if any(rnd["overloaded"].values()) else ""))
    finally:
        plain.stop()
        instr.stop()


def misses(run):
    """Recursion misses of one sonde run: its programs' counters are cumulative, so the
    larger of the meter's reading and the one just before sonde stopped."""
    return max(run.get("recursion_misses") or 0, run.get("recursion_misses_at_stop") or 0)


def summarize_http(out):
    sr, lr = out["saturation_rounds"], out["latency_rounds"]
    s = {}
    for key in ("rps", "svc_cpu_ns_per_req"):
        for c in ("A2", "B", "C"):
            s[f"sat_{key}_ratio_{c}"] = spread(r[f"{key}_ratio_{c}"] for r in sr)
        for c in CONDS:
            s[f"sat_{key}_{c}"] = spread(r[c][key] for r in sr)
    for key in ("p50_us", "p99_us", "machine_cpu_ns_per_req", "stack_cpu_ns_per_req",
                "svc_cpu_ns_per_req"):
        for c in ("A2", "B", "C"):
            s[f"fr_{key}_ratio_{c}"] = spread(r[f"{key}_ratio_{c}"] for r in lr)
        for c in CONDS:
            s[f"fr_{key}_{c}"] = spread(r[c][key] for r in lr)
    for name, rounds in (("sat", sr), ("fr", lr)):
        b = [r["B"] for r in rounds]
        for k in ("whole_ns", "sonde_cpu_ns", "bpf_ns", "bpf_runs"):
            s[f"{name}_cost_{k}"] = spread(x["cost_per_round_trip"][k] for x in b)
        s[f"{name}_events_per_round_trip"] = spread(x["events_per_round_trip"] for x in b)
        s[f"{name}_round_trips_per_request"] = spread(
            x["round_trips"] / max(x["counted"]["http"], 1) for x in b)
    every_b = [r["B"] for r in sr + lr]
    s["lost_events"] = sum(x["lost"] for x in every_b)
    s["recursion_misses"] = sum(misses(x) for x in every_b)
    s["sonde_runs"] = len(every_b)
    s["bpf_stats_off"] = all(x["bpf_runs"] == 0 for x in every_b)
    s["latency_rounds_queued"] = {c: sum(r["overloaded"][c] for r in lr) for c in CONDS}
    s["latency_errors"] = sum(r[c]["errors"] + r[c]["non2xx"] for r in lr for c in CONDS)
    s["saturation_non2xx"] = sum(r[c]["non2xx"] for r in sr for c in CONDS)
    return s


# --------------------------------------------------------------------------- --only cost

COST_FIGURES = ("whole_ns", "sonde_cpu_ns", "bpf_ns", "bpf_runs", "whole_ns_net", "bpf_ns_net",
                "bpf_runs_net")


def cost_round(cfg, sonde, kind, svc, rate):
    """One window of load on the observed service with sonde running, after a window of
    none (the background): wrk at saturation or go/fixed-rate at rate; sonde's cost per
    round trip it counted."""
    meter = CostMeter(sonde).start(background=cfg.cost_background)
    if kind == "saturation":
        w = wrk(svc.url + ORDERS_PATH, cfg.cost_seconds, cfg.connections, cfg.threads)
        done = w["requests"]
        load = {"rps": w["rps"], "requests": done, "non2xx": w["non2xx"]}
    else:
        fr = fixed_rate(svc.addr, rate, cfg.cost_seconds, 0.5, cfg.lat_conns)
        done = fr["completed"]
        load = {"rate": rate, "requests": done, "p99_us": fr["p99_us"],
                "errors": fr["errors"], "non2xx": fr["non2xx"]}
    got = meter.stop(want_http=done, want_db=2 * done).summary()
    got["load"] = load
    return got


def cost_windows(cfg, sonde, svc, rate, i, seq):
    """A round of one sonde: a window at saturation and one at rate, the order rotated;
    each window is appended to seq too (this sonde's windows in time order)."""
    rnd = {}
    for kind in rotated(["saturation", "half"], i):
        rnd[kind] = cost_round(cfg, sonde, kind, svc, rate)
        seq.append(rnd[kind])
    return rnd


def end_of_sonde_run(cfg, sonde, seq, out):
    """The background after this sonde's last window, subtracted from its windows; then
    sonde is stopped, its recursion misses recorded in out."""
    try:
        subtract_background(seq, watch_background(sonde, cfg.cost_background))
    finally:
        stop_observer(sonde, out)


def bench_cost(cfg, res, pg, redis, key="cost", compare=None):
    """sonde's cost per observed round trip at saturation and at half load, in
    cfg.cost_rounds rounds of (saturation, half load), the order alternating, stored in
    res[key]. One sonde for all rounds; with a compare build ((binary, extra arguments):
    cfg.compare and cfg.compare_args unless given) the two alternate round by round, each
    started afresh, and their per-round ratios compare / sonde are reported."""
    if compare is None and (cfg.compare or cfg.compare_args):
        compare = (os.path.abspath(cfg.compare or os.environ["SONDE_BIN"]),
                   shlex.split(cfg.compare_args or ""))
    builds = {"sonde": (None, [])}
    if compare:
        builds["compare"] = compare
    svc = sonde_it.start_trade_engine(pg=pg.dsn, redis=redis.addr)
    out = {"rounds": [], "builds": {
        "sonde": os.environ.get("SONDE_BIN"),
        "compare": compare and " ".join([compare[0], *compare[1]])}, "config": {
        "seconds": cfg.cost_seconds, "rounds": cfg.cost_rounds, "capture": cfg.capture,
        "background_seconds": cfg.cost_background, "wrk_connections": cfg.connections,
        "wrk_threads": cfg.threads, "fixed_rate_conns": cfg.lat_conns}}
    res[key] = out
    sonde = None
    try:
        wrk(svc.url + ORDERS_PATH, 1, cfg.connections, cfg.threads)  # warm-up
        sat = [wrk(svc.url + ORDERS_PATH, cfg.cost_seconds, cfg.connections, cfg.threads)
               for _ in range(2)]
        out["saturation_rps_without_sonde"] = statistics.median(w["rps"] for w in sat)
        half = out["half_load_rate"] = out["saturation_rps_without_sonde"] / 2
        log(f"cost, --capture {cfg.capture}: {cfg.cost_rounds} rounds x (wrk "
            f"{cfg.cost_seconds}s at saturation, fixed-rate {cfg.cost_seconds}s at {half:.0f} "
            f"req/s = half of {out['saturation_rps_without_sonde']:.0f} without sonde), each "
            f"after {cfg.cost_background:g}s without load"
            + ("; builds sonde and compare alternate" if compare else ""))
        seq = []
        if not compare:
            sonde = start_observer(cfg, res, svc.pid)
            out["capture_mode"] = capture_mode(sonde)
            wrk(svc.url + ORDERS_PATH, 1, cfg.connections, cfg.threads)  # as with --compare
        for i in range(cfg.cost_rounds):
            rnd = {"round": i + 1}
            for name in rotated(list(builds), i):
                if compare:
                    sonde, seq = start_observer(cfg, res, svc.pid, *builds[name]), []
                    out["capture_mode"] = capture_mode(sonde)
                    # A fresh sonde's first load costs it more (connections and series
                    # first seen): not measured, as the single sonde's is not either.
                    wrk(svc.url + ORDERS_PATH, 1, cfg.connections, cfg.threads)
                rnd[name] = cost_windows(cfg, sonde, svc, half, i, seq)
                if compare:
                    s_, sonde = sonde, None
                    end_of_sonde_run(cfg, s_, seq, rnd[name])
                log(f"  round {i + 1} {name}: " + "; ".join(
                    _cost_line(k, rnd[name][k]) for k in ("saturation", "half")))
            out["rounds"].append(rnd)
        if sonde:
            s_, sonde = sonde, None
            end_of_sonde_run(cfg, s_, seq, out)
    finally:
        if sonde:
            stop_observer(sonde, out)
        svc.stop()
    out["summary"] = {name: summarize_cost(out, name) for name in builds}
    if compare:
        out["summary"]["ratio"] = compare_ratios(out)


EVENTS_FILTER = "sample=0.01"


def bench_events(cfg, res, pg, redis):
    """Issue 14's figure: the cost section with request events off (sonde) and on
    (compare: the same binary with --events FILE --events-filter sample=0.01, a filter that
    passes 1 % of exchanges and operations), alternating round by round. The events file
    is on local disk and its lines are counted."""
    fd, path = tempfile.mkstemp(prefix="sonde-bench-events-", suffix=".jsonl")
    os.close(fd)
    try:
        bench_cost(cfg, res, pg, redis, key="events", compare=(
            os.environ["SONDE_BIN"], ["--events", path, "--events-filter", EVENTS_FILTER]))
        with open(path, "rb") as f:
            res["events"]["lines_written"] = sum(1 for _ in f)
    finally:
        os.unlink(path)
    res["events"]["filter"] = EVENTS_FILTER


def compare_ratios(out):
    """Per-round ratios compare/sonde of the cost figures."""
    s = {}
    for kind in ("saturation", "half"):
        for k in ("whole_ns", "whole_ns_net", "sonde_cpu_ns", "bpf_ns_net", "bpf_runs"):
            s[f"{kind}_{k}"] = spread(
                r["compare"][kind]["cost_per_round_trip"][k]
                / r["sonde"][kind]["cost_per_round_trip"][k] for r in out["rounds"]
                if r["sonde"][kind]["cost_per_round_trip"][k] > 0)
    return s


def _cost_line(kind, r):
    c = r["cost_per_round_trip"]
    return (f"{kind} {c['whole_ns']:.0f} ns/round trip raw (sonde {c['sonde_cpu_ns']:.0f} + "
            f"BPF {c['bpf_ns']:.0f}, {c['bpf_runs']:.1f} runs), {r['round_trips']:.0f} "
            f"round trips, background {r['background']['bpf_runs_per_s']:.0f} runs/s, "
            f"lost {r['lost']:.0f}"
            + (f" ({lost_reasons(r['counted'])})" if r["lost"] else "")
            + f", misses {r['recursion_misses']}")


def summarize_cost(out, name):
    rs = [r[name] for r in out["rounds"]]
    s = {}
    for kind in ("saturation", "half"):
        for k in COST_FIGURES:
            s[f"{kind}_{k}"] = spread(r[kind]["cost_per_round_trip"][k] for r in rs)
        s[f"{kind}_round_trips_per_request"] = spread(
            r[kind]["round_trips"] / max(r[kind]["counted"]["http"], 1) for r in rs)
        s[f"{kind}_events_per_round_trip"] = spread(r[kind]["events_per_round_trip"]
                                                    for r in rs)
        s[f"{kind}_counted_per_completed"] = spread(
            r[kind]["counted"]["http"] / max(r[kind]["load"]["requests"], 1) for r in rs)
        s[f"{kind}_background_bpf_runs_per_s"] = spread(
            r[kind]["background"]["bpf_runs_per_s"] for r in rs)
        s[f"{kind}_background_sonde_cpu_ns_per_s"] = spread(
            r[kind]["background"]["sonde_cpu_ns_per_s"] for r in rs)
    windows = [r[k] for r in rs for k in ("saturation", "half")]
    s["lost_events"] = sum(w["lost"] for w in windows)
    # Counters are cumulative per sonde: the largest reading of each sonde run.
    kinds = ("saturation", "half")
    s["recursion_misses"] = (sum(max(misses(r), *(misses(r[k]) for k in kinds)) for r in rs)
                             if out["builds"]["compare"]
                             else max([misses(w) for w in windows] + [misses(out)]))
    s["sonde_runs"] = len(rs) if out["builds"]["compare"] else 1
    s["load_errors"] = sum(w["load"].get("errors", 0) + w["load"]["non2xx"] for w in windows)
    return s


# --------------------------------------------------------------------------- report

def scaled(s, k):
    return {q: v * k for q, v in s.items() if q != "n"} if s and k is not None else None


def _le_target(s, target):
    return bool(s) and s["median"] <= target


def cost_rows(t, s, loads, stats):
    """Rows of sonde's cost per observed round trip. s: {f"{load}_{figure}": spread} for
    each load in loads ({load: label}), figures COST_FIGURES; stats: the bpf_stats
    overhead summary of the capture path, or None."""
    for load, label in loads.items():
        v = s[f"{load}_whole_ns_net"]
        t.add(f"whole cost: sonde CPU + BPF run time, ns per round trip, {label}", v,
              "{:.0f}", "<= 1000", _le_target(v, 1000))
    for load, label in loads.items():
        v = s[f"{load}_sonde_cpu_ns"]
        t.add(f"sonde process alone, ns per round trip, {label}", v, "{:.0f}", "<= 300",
              _le_target(v, 300))
    for load, label in loads.items():
        t.add(f"BPF run time, ns per round trip, {label}", s[f"{load}_bpf_ns_net"], "{:.0f}")
    for load, label in loads.items():
        t.add(f"  BPF program runs per round trip, {label}", s[f"{load}_bpf_runs_net"],
              "{:.1f}")
    t.note("  (BPF figures net of others' I/O: the rate of the window without load before "
           "each window, subtracted; raw:)")
    for load, label in loads.items():
        t.add(f"  raw whole cost, {label}", s[f"{load}_whole_ns"], "{:.0f}")
        t.add(f"  raw BPF runs per round trip, {label}", s[f"{load}_bpf_runs"], "{:.1f}")
    first = next(iter(loads))
    runs = s[f"{first}_bpf_runs_net"]
    r = stats and stats.get("run_time_ns_per_run")
    d = stats and stats.get("hook_ns_per_run_stats_off")
    if r and runs:
        t.add(f"  of BPF: bpf_stats' clock reads, runs x {r['median']:.0f} ns (an empty "
              f"program's run time), {loads[first]}", scaled(runs, r["median"]), "{:.0f}")
        t.add(f"  whole cost without those clock reads, {loads[first]}",
              {q: s[f"{first}_whole_ns_net"][q] - runs["median"] * r["median"]
               for q in ("median", "p25", "p75", "min", "max")}, "{:.0f}")
    if d and runs:
        t.add(f"  not in run time: hook dispatch, runs x {d['median']:.0f} ns (an empty "
              f"program end to end, stats off), {loads[first]}", scaled(runs, d["median"]),
              "{:.0f}")
    for load, label in loads.items():
        t.add(f"  round trips counted per request (HTTP + DB), {label}",
              s[f"{load}_round_trips_per_request"], "{:.2f}")
        t.add(f"  ring buffer events per round trip, {label}",
              s[f"{load}_events_per_round_trip"], "{:.2f}")


def must_be_zero_rows(t, lost, recursion, runs):
    t.add_value(f"events lost (every window, {runs} sonde runs)", lost, target="0",
                ok=lost == 0)
    t.add_value(f"recursion_misses of sonde's programs ({runs} sonde runs)", recursion,
                target="0", ok=recursion == 0)


def stats_rows(t, res):
    """How bpf_stats' own cost was measured, per capture path."""
    for mode, o in sorted(res.get("bpf_stats_overhead", {}).items()):
        s = o["summary"]
        t.section(f"bpf_stats' own cost per program run, --capture {mode} (floor toggled "
                  f"in-process, stats on vs off; {s['pairs_stats_really_off']} of "
                  f"{s['pairs']} pairs with stats really off)")
        t.add("  run time an empty program shows (clock reads), ns", s["run_time_ns_per_run"],
              "{:.0f}")
        t.add("  empty program on the hook, end to end, stats off, ns",
              s["hook_ns_per_run_stats_off"], "{:+.0f}")
        t.add("  same, stats on, ns", s["hook_ns_per_run_stats_on"], "{:+.0f}")
        t.add("  stats' whole cost per run (on - off), ns", s["stats_ns_per_run"], "{:+.0f}")


def http_rows(t, res):
    h = res["http"]["summary"]
    rate = res["http"]["latency_rate"]
    t.section("1. observed service (trade-engine -pg -redis, keep-alive); ratios per round; "
              "A/A: the plain service against itself; bpf_stats "
              + ("off" if h["bpf_stats_off"] else "ON (could not turn them off)"))

    def ratio(name, key, target=None, op=None, c="B"):
        s, aa = h[f"{key}_ratio_{c}"], h[f"{key}_ratio_A2"]
        ok = None if target is None or not s else op(s["median"], target)
        t.add(name, s, target=f"{'>=' if op is _ge else '<='} {target}" if target else "",
              ok=ok, aa=aa, target_value=target)

    ratio("throughput with/without sonde (wrk)", "sat_rps", 0.98, _ge)
    t.add("  req/s without sonde", h["sat_rps_A"], "{:.0f}")
    t.add("  req/s with sonde", h["sat_rps_B"], "{:.0f}")
    ratio("service CPU per request with/without, saturation", "sat_svc_cpu_ns_per_req")
    ratio(f"p50 with/without at {rate:.0f} req/s", "fr_p50_us")
    ratio(f"p99 with/without at {rate:.0f} req/s", "fr_p99_us", 1.05, _le)
    ratio(f"machine CPU per request with/without at {rate:.0f} req/s (/proc/stat)",
          "fr_machine_cpu_ns_per_req", 1.05, _le)
    ratio("stack CPU per request with/without (service, PG, Redis, client, sonde)",
          "fr_stack_cpu_ns_per_req")
    ratio("service CPU per request with/without (BPF time lands here)",
          "fr_svc_cpu_ns_per_req")
    q = h["latency_rounds_queued"]
    t.note("  fixed-rate rounds that queued (p50 > 2x or p99 > 10x unloaded, or > 2% late): "
           + ", ".join(f"{c} {q[c]}" for c in CONDS)
           + f" of {len(res['http']['latency_rounds'])}")
    for k in ("p50", "p99"):
        for c, what in (("A", "without sonde"), ("B", "with sonde")):
            t.add(f"  {k} {what}, us", h[f"fr_{k}_us_{c}"], "{:.0f}")
    for c, what in (("A", "without sonde"), ("B", "with sonde")):
        t.add(f"  machine CPU per request {what}, ns", h[f"fr_machine_cpu_ns_per_req_{c}"],
              "{:.0f}")
        t.add(f"  stack CPU per request {what}, ns", h[f"fr_stack_cpu_ns_per_req_{c}"],
              "{:.0f}")
    t.section("2. sonde in those rounds (its whole cost: the cost section)")
    for load, label in (("sat", "saturation"), ("fr", f"{rate:.0f} req/s")):
        t.add(f"  sonde process alone, ns per round trip, {label}",
              h[f"{load}_cost_sonde_cpu_ns"], "{:.0f}")
        t.add(f"  round trips counted per request, {label}",
              h[f"{load}_round_trips_per_request"], "{:.2f}")
    must_be_zero_rows(t, h["lost_events"], h["recursion_misses"], h["sonde_runs"])
    t.section("3. instrumented service (client_golang middleware), no sonde")
    ratio("throughput instrumented/plain (wrk)", "sat_rps", c="C")
    ratio("p50 instrumented/plain at the fixed rate", "fr_p50_us", c="C")
    ratio("p99 instrumented/plain at the fixed rate", "fr_p99_us", c="C")
    ratio("machine CPU per request instrumented/plain", "fr_machine_cpu_ns_per_req", c="C")
    ratio("service CPU per request instrumented/plain", "fr_svc_cpu_ns_per_req", c="C")


def cost_table_rows(t, res, key="cost"):
    c = res[key]
    mode = c.get("capture_mode")
    stats = res.get("bpf_stats_overhead", {}).get(mode, {}).get("summary")
    for name, s in c["summary"].items():
        if name == "ratio":
            continue
        t.section(f"cost of {name} ({c['builds'][name]}): --capture {c['config']['capture']} "
                  f"({mode} path), {len(c['rounds'])} rounds x {c['config']['seconds']}s at "
                  f"saturation (wrk -t{c['config']['wrk_threads']} "
                  f"-c{c['config']['wrk_connections']}) and at {c['half_load_rate']:.0f} req/s "
                  f"(half of {c['saturation_rps_without_sonde']:.0f} without sonde); bpf_stats on")
        cost_rows(t, s, {"saturation": "saturation", "half": "half load"}, stats)
        t.add("  requests counted / completed by the client, saturation",
              s["saturation_counted_per_completed"], "{:.3f}")
        t.add("  without load: BPF runs per second (others' I/O)",
              s["saturation_background_bpf_runs_per_s"], "{:.0f}")
        t.add("  without load: sonde CPU, us per second",
              scaled(s["saturation_background_sonde_cpu_ns_per_s"], 1e-3), "{:.0f}")
        must_be_zero_rows(t, s["lost_events"], s["recursion_misses"], s["sonde_runs"])
    r = c["summary"].get("ratio")
    if r:
        if key == "events":
            t.section(f"cost with request events on (compare: --events-filter {c['filter']}, "
                      f"{c.get('lines_written', 0)} lines written) / off (sonde), per-round "
                      "ratios")
            for kind, label in (("saturation", "saturation"), ("half", "half load")):
                v = r[f"{kind}_whole_ns_net"]
                t.add(f"  whole cost, events on / off, {label}", v, "{:.3f}", "<= 1.05",
                      _le_target(v, 1.05))
        else:
            t.section("cost, compare / sonde (per-round ratios; the same binary twice gives "
                      "the noise)")
        for kind, label in (("saturation", "saturation"), ("half", "half load")):
            t.add(f"  whole cost, {label}", r[f"{kind}_whole_ns_net"])
            t.add(f"  sonde process alone, {label}", r[f"{kind}_sonde_cpu_ns"])
            t.add(f"  BPF run time, {label}", r[f"{kind}_bpf_ns_net"])
            t.add(f"  raw whole cost, {label}", r[f"{kind}_whole_ns"])
            t.add(f"  raw BPF runs, {label}", r[f"{kind}_bpf_runs"])


def _ge(a, b):
    return a >= b


def _le(a, b):
    return a <= b
