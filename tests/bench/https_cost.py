# SPDX-License-Identifier: GPL-2.0-only
"""The https section of run.py (--only https, issue 12): sonde's cost per HTTPS round trip
against the floor of the uprobe traps it needs, throughput with and without sonde beside
the A/A noise floor, and the traps of unselected processes sharing libssl (must be 0).

Servers: nginx with TLS (2 prefork workers, OpenSSL) and trade-engine -tls-cert (Go
crypto/tls), each driven by wrk over https (keep-alive, at saturation). Per server, rounds
of three windows whose order rotates: A without sonde, A2 without sonde again (A/A), B with
a sonde selecting the server (started afresh, its TLS probes attached, one warm-up second
not measured). In B:

  - hits: runs of sonde's TLS programs (sonde_ssl_*, sonde_go_*: bpf_stats' run_cnt) per
    exchange sonde counted;
  - floor = hits x the cost of one empty uprobe hit here (uprobe_cost.c, measured first):
    the traps alone, charged to the server (neither sonde's CPU nor its programs' run time
    sees them);
  - whole = sonde's CPU (schedstat) + its programs' run time, less the background of
    others' socket I/O watched just before and after the window (CostMeter,
    subtract_background), per exchange counted, + the floor. Target: whole <= floor + 500.

Unselected: while a sonde selects one nginx, curl x20, Python http.client x200 and wrk (2 s)
run against another nginx that it does not select; all load the same libssl. The runs of
sonde's TLS programs meanwhile must be 0 (a libssl uprobe attached without its pid would
trap them all). A control of 20 curl requests to the selected nginx must run them."""

import subprocess
import sys

import observed
import sonde_it
from bench_core import (ORDERS_PATH, CostMeter, log, rotated, spread, start_sonde,
                        subtract_background, watch_background, wrk)
from https_traps import tls_runs, uprobe_cost

CONDS = ["A", "A2", "B"]
TARGET_EXCESS_NS = 500
PY_LOOP = ("import ssl,http.client,sys\nc=ssl._create_unverified_context()\n"
           "h=http.client.HTTPSConnection('127.0.0.1',int(sys.argv[1]),context=c)\n"
           "for i in range(200):\n h.request('GET','/');h.getresponse().read()\n")


def wait_probed(sonde, n):
    """Until sonde says n processes' TLS libraries are probed."""
    sonde_it.wait_for(lambda: sonde_it.value(sonde.scrape(), "sonde_tls_targets",
                                             state="probed") >= n, 30,
                      message=f"{n} TLS targets probed")


def with_sonde(cfg, res, srv, hit_ns):
    """Window B: wrk at saturation against srv["proc"] selected by a fresh sonde; its
    cost figures per exchange counted."""
    url, conns, threads = srv["url"], cfg.connections, cfg.threads
    sonde = start_sonde([f"pid={srv['proc'].pid}"], cfg.capture)
    out = {}
    try:
        res.setdefault("capture_modes", set()).add(observed.capture_mode(sonde))
        wait_probed(sonde, srv["probed"])
        wrk(url, 1, conns, threads)  # a fresh sonde's first connections: not measured
        hits0 = tls_runs(sonde.pid)
        meter = CostMeter(sonde).start(background=cfg.cost_background)
        w = wrk(url, cfg.cost_seconds, conns, threads)
        meter.stop(want_http=w["requests"])
        hits = tls_runs(sonde.pid) - hits0
        out = meter.summary()
        subtract_background([out], watch_background(sonde, cfg.cost_background))
    finally:
        observed.stop_observer(sonde, out)
    n = max(out["round_trips"], 1)
    out.update(wrk=w, rps=w["rps"], tls_hits=hits, hits_per_trip=hits / n,
               floor_ns=hits / n * hit_ns)
    out["whole_ns"] = out["cost_per_round_trip"]["whole_ns_net"] + out["floor_ns"]
    out["excess_ns"] = out["whole_ns"] - out["floor_ns"]
    return out


def server_rounds(cfg, res, name, srv, hit_ns, rounds):
    """rounds x (A, A2, B) against one server, the order rotated; per-round figures."""
    log(f"https {name}: {rounds} rounds x (wrk {cfg.cost_seconds}s without sonde, again "
        f"without (A/A), with sonde), {cfg.connections} connections")
    out = []
    for i in range(rounds):
        rnd = {}
        for cond in rotated(CONDS, i):
            if cond == "B":
                rnd[cond] = with_sonde(cfg, res, srv, hit_ns)
            else:
                rnd[cond] = wrk(srv["url"], cfg.cost_seconds, cfg.connections, cfg.threads)
        b = rnd["B"]
        rnd["ratio"], rnd["aa"] = b["rps"] / rnd["A"]["rps"], rnd["A2"]["rps"] / rnd["A"]["rps"]
        log(f"  round {i + 1}: {b['rps']:.0f} / {rnd['A']['rps']:.0f} req/s = "
            f"{rnd['ratio']:.3f} (A/A {rnd['aa']:.3f}); {b['round_trips']:.0f} exchanges, "
            f"{b['hits_per_trip']:.2f} TLS hits each, floor {b['floor_ns']:.0f} ns, whole "
            f"{b['whole_ns']:.0f} ns; lost {b['lost']:.0f}")
        out.append(rnd)
    return out


def unselected_traps(cfg, sel, other):
    """Runs of sonde's TLS programs while unselected processes sharing libssl talk TLS to
    an unselected nginx (must be 0), and for 20 curl requests to the selected one."""
    sonde = start_sonde([f"pid={sel.pid}"], cfg.capture)
    out = {}
    try:
        wait_probed(sonde, 3)
        before = tls_runs(sonde.pid)
        subprocess.run([sys.executable, "-c", PY_LOOP, str(other.port)], check=True,
                       timeout=120)
        for _ in range(20):
            subprocess.run(["curl", "-sk", "-o", "/dev/null", other.url + "/"], check=True,
                           timeout=30)
        w = wrk(other.url + "/", 2, 2, 1)
        out["unselected_requests"] = 200 + 20 + w["requests"]
        out["unselected_runs"] = tls_runs(sonde.pid) - before
        before = tls_runs(sonde.pid)
        for _ in range(20):
            subprocess.run(["curl", "-sk", "-o", "/dev/null", sel.url + "/"], check=True,
                           timeout=30)
        out["selected_control_runs"] = tls_runs(sonde.pid) - before
    finally:
        observed.stop_observer(sonde, out)
    log(f"https unselected: {out['unselected_runs']} TLS program runs for "
        f"{out['unselected_requests']} requests of unselected processes (must be 0); "
        f"control: {out['selected_control_runs']} for 20 curl requests to the selected nginx")
    return out


def bench_https(cfg, res, tools):
    """The section, stored in res["https"]."""
    rounds = 3 if cfg.quick else 4
    out = res["https"] = {"config": {
        "rounds": rounds, "seconds": cfg.cost_seconds, "capture": cfg.capture,
        "background_seconds": cfg.cost_background, "wrk_connections": cfg.connections,
        "wrk_threads": cfg.threads, "target_excess_ns": TARGET_EXCESS_NS}, "servers": {}}
    hit_ns, raw = uprobe_cost(tools)
    out["empty_uprobe_hit_ns"], out["uprobe_cost_raw"] = hit_ns, raw
    log(f"https: one empty uprobe hit {hit_ns:.0f} ns (median of {len(raw['with_ns'])})")
    sel = other = te = None
    try:
        sel = sonde_it.start_nginx(workers=2, keepalive_requests=1000000, tls=True)
        other = sonde_it.start_nginx(workers=2, keepalive_requests=1000000, tls=True)
        te = sonde_it.start_trade_engine(tls=True)
        out["unselected"] = unselected_traps(cfg, sel, other)
        servers = {"nginx": {"proc": sel, "url": sel.url + "/", "probed": 3},
                   "go": {"proc": te, "url": te.url + ORDERS_PATH, "probed": 1}}
        for name, srv in servers.items():
            out["servers"][name] = {"rounds": server_rounds(cfg, res, name, srv, hit_ns,
                                                            rounds)}
    finally:
        for p in (sel, other, te):
            if p:
                p.stop()
    out["summary"] = summarize(out)


def summarize(out):
    s = {"empty_uprobe_hit_ns": out["empty_uprobe_hit_ns"],
         "unselected_runs": out["unselected"]["unselected_runs"],
         "selected_control_runs": out["unselected"]["selected_control_runs"],
         "lost_events": 0, "recursion_misses": 0}
    for name, srv in out["servers"].items():
        bs = [r["B"] for r in srv["rounds"]]
        s[name] = {k: spread([b[k] for b in bs]) for k in
                   ("hits_per_trip", "floor_ns", "whole_ns", "excess_ns")}
        s[name]["ratio"] = spread([r["ratio"] for r in srv["rounds"]])
        s[name]["aa"] = spread([r["aa"] for r in srv["rounds"]])
        s["lost_events"] += sum(b["lost"] for b in bs)
        s["recursion_misses"] += sum(b.get("recursion_misses_at_stop") or 0 for b in bs)
    return s


def table_rows(t, res):
    out = res["https"]
    s, c = out["summary"], out["config"]
    t.section(f"HTTPS (issue 12), --capture {c['capture']}: wrk over TLS keep-alive "
              f"({c['wrk_connections']} connections, {c['seconds']} s windows, "
              f"{c['rounds']} rounds); whole = sonde CPU + BPF run time (net of "
              f"background) + floor, per exchange counted")
    t.add_value("empty uprobe hit here (uprobe_cost.c), ns", s["empty_uprobe_hit_ns"])
    for name in ("nginx", "go"):
        if name not in s:
            continue
        f = s[name]
        floor = f["floor_ns"]["median"] if f["floor_ns"] else 0
        t.add(f"{name}: TLS uprobe hits per HTTPS round trip", f["hits_per_trip"], "{:.2f}")
        t.add(f"{name}: floor = hits x empty hit, ns", f["floor_ns"], "{:.0f}")
        whole = f["whole_ns"]
        t.add(f"{name}: whole cost per HTTPS round trip, ns", whole, "{:.0f}",
              target=f"<={floor + TARGET_EXCESS_NS:.0f}",
              ok=bool(whole) and whole["median"] <= floor + TARGET_EXCESS_NS)
        t.add(f"{name}: whole - floor (sonde's own work), ns", f["excess_ns"], "{:.0f}")
        t.add(f"{name}: throughput with / without sonde", f["ratio"], aa=f["aa"])
    u = s["unselected_runs"]
    t.add_value("unselected processes sharing libssl: TLS traps", u, target="0", ok=u == 0)
    t.add_value("  control: TLS runs of 20 curl requests to the selected nginx",
                s["selected_control_runs"], target=">0", ok=s["selected_control_runs"] > 0)


def must_hold(res):
    """Unselected traps, lost events and recursion misses of the https section: all 0."""
    s = res.get("https", {}).get("summary")
    if not s:
        return []
    bad = [f"https: {k} {s[k]:.0f}" for k in ("unselected_runs", "lost_events",
                                               "recursion_misses") if s[k]]
    if not s["selected_control_runs"]:
        bad.append("https: the selected control ran no TLS program (the count is blind)")
    return bad
