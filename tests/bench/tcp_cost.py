# SPDX-License-Identifier: GPL-2.0-only
"""The tcp section of run.py (--only tcp, issue 13): what TCP health (--tcp-health=on: its
part of the always-loaded inet_sock_set_state program, bpf/tcp.bpf.h, the reset programs of
bpf/tcp.bpf.c, and sonde's reading of their sums) costs per connection, and that it adds nothing
on the data path.

Load: tcp_churn.c, both ends of each loopback connection in one process (connect, accept,
close; no data), and its round-trip mode (one connection, 1-byte round trips); each window
holds its load alone (it waits at a gate once started: sonde's work on a new process, such
as reading its listeners, is not a per-connection cost). Rounds of
two arms whose order alternates, each with a fresh sonde selecting comm=tcp_churn on the
capture path asked for: ON (--tcp-health=on) and OFF (--tcp-health=off: the reset
programs are not loaded, the state program skips TCP health). In each arm, after a warm-up not measured:

  - selected: tcp_churn connect N. sonde's CPU (schedstat) plus the run time of all its
    BPF programs (bpf_stats), less the background of others' I/O watched just before,
    per selected connection (2 per pair: the client's outbound one and the server's
    inbound one). ON must count exactly N established outbound connections and N inbound
    ones. TCP health's cost per connection = ON - OFF, split into BPF run time and
    sonde's CPU (target <= 300 ns; the owner's socket storage and two clock reads take
    most, the per-owner sums the rest: tests/bench/README.md).
  - unselected: the same binary under another name (comm tcp_other) churns N: the runs
    and run time of the TCP programs (state and reset) per connection, ON and OFF: the
    ON - OFF run time is TCP health's price for every other socket (target <= 300 ns);
  - data path: tcp_churn roundtrip M and 2M, selected and unselected: runs of the TCP
    programs in each window (the window's one connection opens and closes) and per round
    trip, (runs at 2M - runs at M) / M: +0 on the data path (a program there would run at
    least once per round trip; other processes' connections, their rate watched just
    before each window printed beside, could add a few runs)."""

import json
import os
import shutil
import subprocess
import time

import observed
import sonde_it
from bench_core import log, spread, start_sonde, task_cpu_ns, wait_idle

TARGET_NS = 300
# A program on the data path runs at least once per round trip; a few runs in a window are
# other processes' connection changes (the background figure beside it says how many), so
# the verdict is on the median over windows, 1,000 times below the least a data-path
# program would show.
DATA_RUNS_MAX = 0.001
N_CONNECT, N_ROUNDTRIP, N_WARMUP = 10000, 20000, 500
# Program names, cut to 15 characters: the reset programs of bpf/tcp.bpf.c, loaded only
# with TCP health on, and the state program (process.bpf.c's sonde_sock_state), always.
RESET_PREFIX = "sonde_tcp_"
STATE_NAME = "sonde_sock_stat"


def prog_names():
    """{prog id: name} of every loaded BPF program (bpftool)."""
    out = subprocess.run(["bpftool", "-j", "prog", "show"], stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL, timeout=60).stdout
    return {p["id"]: p.get("name", "") for p in json.loads(out or b"[]")}


class Clocks:
    """sonde's CPU, and runs and run time of its programs, all and TCP health's apart."""

    def __init__(self, sonde):
        self.sonde = sonde
        names = prog_names()
        mine = sonde_it.bpf_programs_of(sonde.pid)
        self.reset_ids = {i for i in mine if names.get(i, "").startswith(RESET_PREFIX)}
        self.tcp_ids = self.reset_ids | {i for i in mine
                                         if names.get(i, "").startswith(STATE_NAME)}

    def read(self):
        st = sonde_it.bpf_programs_of(self.sonde.pid)
        tcp = [s for i, s in st.items() if i in self.tcp_ids]
        return {"cpu": task_cpu_ns(self.sonde.pid),
                "bpf_ns": sum(s.get("run_time_ns", 0) for s in st.values()),
                "tcp_ns": sum(s.get("run_time_ns", 0) for s in tcp),
                "tcp_runs": sum(s.get("run_cnt", 0) for s in tcp),
                "misses": sum(s.get("recursion_misses", 0) for s in st.values())}

    def window(self, argv, background=1.0):
        """Runs argv (tcp_churn, gated) with its load inside a measured window (its start,
        and sonde's work on its exec, stay outside): deltas, the background rate of BPF
        run time subtracted, and tcp_churn's JSON."""
        p = subprocess.Popen([*argv, "gate"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
        try:
            if p.stdout.readline().strip() != "ready":
                raise RuntimeError(f"{' '.join(argv)}: {p.stderr.read()}")
            wait_idle(self.sonde.pid)
            b0, tb = self.read(), time.monotonic()
            time.sleep(background)
            c0, t0 = self.read(), time.monotonic()
            out, err = p.communicate("go\n", timeout=300)
            seconds = time.monotonic() - t0
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
        if p.returncode != 0:
            raise RuntimeError(f"{' '.join(argv)}: {err}")
        t_run = json.loads(out)
        wait_idle(self.sonde.pid)
        c1 = self.read()
        d = {k: c1[k] - c0[k] for k in c0}
        d["misses"] = c1["misses"]
        d["load"] = t_run
        # others' I/O runs sonde's programs too: their rate just before, over the load
        bg = {k: (c0[k] - b0[k]) / (t0 - tb) * seconds for k in ("bpf_ns", "tcp_runs")}
        d["background_bpf_ns"], d["background_tcp_runs"] = bg["bpf_ns"], bg["tcp_runs"]
        d["whole_ns"] = d["cpu"] + d["bpf_ns"] - d["background_bpf_ns"]
        return d


def counts(sonde):
    m = sonde.scrape()
    return (sonde_it.value(m, "tcp_client_connections_total", outcome="established"),
            sonde_it.value(m, "tcp_server_connections_total"),
            sonde_it.value(m, "sonde_events_lost_total"))


def arm(cfg, tools, health):
    churn, other = f"{tools}/tcp_churn", f"{tools}/tcp_other"
    sonde = start_sonde(["comm=tcp_churn"], cfg.capture, extra=["--tcp-health", health])
    try:
        mode = observed.capture_mode(sonde)
        subprocess.run([churn, "connect", str(N_WARMUP)], stdout=subprocess.DEVNULL,
                       check=True, timeout=60)
        wait_idle(sonde.pid)
        # sonde adds the kernel's sums once a second: the warm-up counted in full before
        # the window's first reading, or its tail lands in the window's count
        sonde_it.wait_for(lambda: health == "off" or counts(sonde)[:2] >= (
            N_WARMUP, N_WARMUP), 20, interval=0.2, message="the warm-up counted")
        clocks = Clocks(sonde)
        if (health == "on") != bool(clocks.reset_ids):
            raise RuntimeError(f"--tcp-health={health}: reset programs {clocks.reset_ids}")
        out = {"capture": mode}
        c0 = counts(sonde)
        out["selected"] = clocks.window([churn, "connect", str(N_CONNECT)])
        sonde_it.wait_for(lambda: health == "off" or counts(sonde)[:2] >= (
            c0[0] + N_CONNECT, c0[1] + N_CONNECT), 20, interval=0.2,
            message="TCP health counted every connection")
        c1 = counts(sonde)
        out["counted"] = {"outbound": c1[0] - c0[0], "inbound": c1[1] - c0[1],
                          "lost": c1[2] - c0[2]}
        out["unselected"] = clocks.window([other, "connect", str(N_CONNECT)])
        for name, binary in (("selected", churn), ("unselected", other)):
            for k in (1, 2):
                out[f"data_{name}_{k}"] = clocks.window([binary, "roundtrip",
                                                         str(k * N_ROUNDTRIP)])
        return out
    finally:
        sonde.stop()


def bench_tcp(cfg, res, tools):
    subprocess.run(["cc", "-O2", "-Wall", "-o", f"{tools}/tcp_churn",
                    os.path.join(os.path.dirname(__file__), "tcp_churn.c")], check=True,
                   timeout=120)
    shutil.copy(f"{tools}/tcp_churn", f"{tools}/tcp_other")
    rounds = []
    for i in range(cfg.cost_rounds):
        order = ("on", "off") if i % 2 == 0 else ("off", "on")
        rnd = {}
        for health in order:
            log(f"tcp round {i + 1}/{cfg.cost_rounds}: --tcp-health={health}")
            rnd[health] = arm(cfg, tools, health)
            res.setdefault("capture_modes", set()).add(rnd[health]["capture"])
        rounds.append(rnd)
    out = {"config": {"connections": N_CONNECT, "roundtrips": N_ROUNDTRIP,
                      "rounds": cfg.cost_rounds, "capture": cfg.capture}, "rounds": rounds}
    out["summary"] = summarize(rounds)
    res["tcp"] = out


def summarize(rounds):
    per_conn = 2 * N_CONNECT  # each pair: one outbound, one inbound connection selected

    on = [r["on"]["selected"]["whole_ns"] / per_conn for r in rounds]
    off = [r["off"]["selected"]["whole_ns"] / per_conn for r in rounds]
    s = {"whole_on_ns": spread(on), "whole_off_ns": spread(off),
         "cost_ns": spread([a - b for a, b in zip(on, off)]),
         "bpf_cost_ns": on_off(rounds, "selected", "bpf_ns", per_conn, "background_bpf_ns"),
         "cpu_cost_ns": on_off(rounds, "selected", "cpu", per_conn),
         "tcp_prog_ns": spread([r["on"]["selected"]["tcp_ns"] / per_conn for r in rounds]),
         "tcp_runs": spread([r["on"]["selected"]["tcp_runs"] / per_conn for r in rounds]),
         "tcp_runs_off": spread([r["off"]["selected"]["tcp_runs"] / per_conn
                                 for r in rounds]),
         "unselected_tcp_runs": spread([r["on"]["unselected"]["tcp_runs"] / per_conn
                                        for r in rounds]),
         "unselected_tcp_runs_off": spread([r["off"]["unselected"]["tcp_runs"] / per_conn
                                            for r in rounds]),
         "unselected_tcp_ns": on_off(rounds, "unselected", "tcp_ns", per_conn),
         "data_window_runs": spread([r["on"][f"data_{k}_1"]["tcp_runs"] for r in rounds
                                     for k in ("selected", "unselected")]),
         "data_tcp_runs": spread([(r["on"][f"data_{k}_2"]["tcp_runs"]
                                   - r["on"][f"data_{k}_1"]["tcp_runs"]) / N_ROUNDTRIP
                                  for r in rounds for k in ("selected", "unselected")]),
         "data_background_runs": spread([r["on"][f"data_{k}_{n}"]["background_tcp_runs"]
                                         for r in rounds for k in ("selected", "unselected")
                                         for n in (1, 2)]),
         "miscounted": sum(1 for r in rounds if (r["on"]["counted"]["outbound"],
                                                 r["on"]["counted"]["inbound"])
                           != (N_CONNECT, N_CONNECT)),
         "lost_events": sum(r[a]["counted"]["lost"] for r in rounds for a in ("on", "off")),
         "recursion_misses": max(r[a][k]["misses"] for r in rounds for a in ("on", "off")
                                 for k in ("selected", "unselected"))}
    return s


def on_off(rounds, window, key, per, less=None):
    """Spread over rounds of (ON - OFF) / per for one window's counter (less: a background
    figure subtracted from each arm first)."""
    def arm_value(r, a):
        w = r[a][window]
        return (w[key] - (w[less] if less else 0)) / per

    return spread([arm_value(r, "on") - arm_value(r, "off") for r in rounds])


def table_rows(t, res):
    out = res["tcp"]
    s, c = out["summary"], out["config"]
    t.section(f"TCP health (issue 13), --capture {c['capture']}: {c['connections']} loopback "
              f"connections per window, both ends selected (2 connections per pair), "
              f"{c['rounds']} rounds, --tcp-health=on vs off")
    t.add("whole cost per connection, --tcp-health=on, ns", s["whole_on_ns"], "{:.0f}")
    t.add("whole cost per connection, --tcp-health=off, ns", s["whole_off_ns"], "{:.0f}")
    cost = s["cost_ns"]
    t.add("TCP health's cost per connection (on - off), ns", cost, "{:.0f}",
          target=f"<={TARGET_NS}", ok=bool(cost) and cost["median"] <= TARGET_NS)
    t.add("  of it: BPF run time (on - off), ns", s["bpf_cost_ns"], "{:.0f}")
    t.add("  of it: sonde's CPU (on - off), ns", s["cpu_cost_ns"], "{:.0f}")
    t.add("  TCP state and reset programs' run time per connection (on), ns",
          s["tcp_prog_ns"], "{:.0f}")
    t.add("  TCP program runs per connection, on", s["tcp_runs"], "{:.2f}")
    t.add("  TCP program runs per connection, off", s["tcp_runs_off"], "{:.2f}")
    t.add("unselected connection: TCP program runs, on", s["unselected_tcp_runs"], "{:.2f}")
    t.add("unselected connection: TCP program runs, off", s["unselected_tcp_runs_off"],
          "{:.2f}")
    u = s["unselected_tcp_ns"]
    t.add("unselected connection: TCP programs' run time (on - off), ns", u, "{:.0f}",
          target=f"<={TARGET_NS}", ok=bool(u) and u["median"] <= TARGET_NS)
    t.add(f"data path: TCP program runs in a window of {c['roundtrips']} round trips on one "
          "connection (its own state changes)", s["data_window_runs"], "{:.0f}")
    d = s["data_tcp_runs"]
    t.add(f"  runs per round trip: (runs at 2x{c['roundtrips']} - runs at {c['roundtrips']}) "
          "/ round trips", d, "{:.5f}", target=f"<{DATA_RUNS_MAX}",
          ok=bool(d) and abs(d["median"]) < DATA_RUNS_MAX)
    t.add("  others' connections meanwhile: expected runs per window (rate before)",
          s["data_background_runs"], "{:.2f}")
    t.add_value("rounds whose TCP health count was not exact", s["miscounted"], target="0",
                ok=s["miscounted"] == 0)


def must_hold(res):
    s = res.get("tcp", {}).get("summary")
    if not s:
        return []
    bad = [f"tcp: {k} {s[k]:.0f}" for k in ("miscounted", "lost_events", "recursion_misses")
           if s[k]]
    if abs(s["data_tcp_runs"]["median"]) >= DATA_RUNS_MAX:
        bad.append(f"tcp: TCP program runs per data round trip {s['data_tcp_runs']}")
    return bad
