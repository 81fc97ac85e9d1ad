# SPDX-License-Identifier: GPL-2.0-only
"""The record section of run.py (--only record, issue 11): what the pieces of an emitting
BPF run cost on this kernel and machine, apart from sonde. record_cost.c runs one program on
tp_btf/sock_send_length for its own sends, in seven modes, the order rotating round by round:
the empty program (a tgid test), a clock read (bpf_ktime_get_ns: every record's timestamp;
tracing programs may not call bpf_ktime_get_coarse_ns), a record's 128 bytes stored into a
per-CPU array slot, a 128-byte ring-buffer record reserved, filled and submitted without a
wake-up, the same through bpf_ringbuf_output from the slot, the reserved record plus a
bpf_ringbuf_query (a fill check), the slot handed to this CPU's perf buffer
(bpf_perf_event_output: no lock shared between CPUs; user space woken only past a
watermark), the sent bytes read from user memory (bpf_probe_read_user), the socket's
local storage looked up, and all of an emitting run's unavoidable steps together. Each row is the mode's run time per run minus the empty program's in the same round (run_time_ns /
run_cnt; bpf_stats' own clock reads are in both and cancel). It tells how much of sonde's
BPF time per round trip (--only cost) is the ring buffer's own price, and what a per-CPU
staging area would cost instead. It runs twice: with one sending thread, and with two at
once, one on each CPU, sharing the one ring as a service's threads do (every mode's row
again, "2 CPUs at once"): the ring's lock and producer position then move between the
CPUs, which a per-CPU perf buffer or slot never does.
"""
import json
import subprocess

from bench_core import log, spread

MODES = ("clock", "slot", "reserve", "output", "reserve_query", "perf", "user", "sk_storage",
         "emit")
LABELS = {
    "clock": "a clock read (bpf_ktime_get_ns)",
    "slot": "128 bytes stored into a per-CPU array slot",
    "reserve": "a 128-byte ring record: reserve, fill, submit (no wake-up)",
    "output": "a 128-byte ring record: bpf_ringbuf_output from the slot",
    "reserve_query": "the ring record + bpf_ringbuf_query (fill check)",
    "perf": "128 bytes stored in the slot + bpf_perf_event_output (per-CPU, no wake-up)",
    "user": "the 64 sent bytes read with bpf_probe_read_user into the slot",
    "sk_storage": "bpf_sk_storage_get of the socket's state",
    "emit": "sonde's least per record: state, clock, ring record, user bytes, submit",
}


def run_modes(tools, rounds, sends, threads):
    """record_cost's JSON and its summary: each mode's ns per run above the empty one's."""
    r = subprocess.run([f"{tools}/record_cost", f"{tools}/record_cost.bpf.o", str(rounds),
                        str(sends), str(threads)], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True, timeout=600)
    if r.returncode != 0:
        raise RuntimeError(f"record_cost failed: {r.stderr}")
    raw = json.loads(r.stdout)
    empty = raw["empty"]["ns_per_run"]
    summary = {"empty_ns": spread(empty)}
    for m in MODES:
        summary[m] = spread([v - e for v, e in zip(raw[m]["ns_per_run"], empty)])
    return raw, summary


def bench_record(cfg, res, tools):
    rounds = max(9, 3 * cfg.cost_rounds)
    # x at most 168 bytes per ring record, two senders, drained after each mode: 16 MiB ring
    sends = 20000
    log(f"record cost: {rounds} rounds x {sends} sends per mode, 1 then 2 sending CPUs")
    raw, summary = run_modes(tools, rounds, sends, 1)
    raw2, summary2 = run_modes(tools, rounds, sends, 2)
    res["record"] = {"raw": raw, "summary": summary, "raw_2cpu": raw2, "summary_2cpu": summary2,
                     "config": {"rounds": rounds, "sends": sends}}


def table_rows(t, res):
    out = res["record"]
    s, c = out["summary"], out["config"]
    t.section(f"what an emitting BPF run's pieces cost (issue 11): one program on "
              f"tp_btf/sock_send_length, {c['rounds']} rounds x {c['sends']} sends per mode, "
              f"ns per run above the empty program's (bpf_stats)")
    t.add("empty program (a tgid test), ns per run, stats' clock reads included",
          s["empty_ns"], "{:.0f}")
    for m in MODES:
        t.add(f"  + {LABELS[m]}, ns", s[m], "{:.0f}")
    if "summary_2cpu" not in out:
        return
    s2 = out["summary_2cpu"]
    t.add("2 CPUs at once: empty program, ns per run", s2["empty_ns"], "{:.0f}")
    for m in MODES:
        t.add(f"  2 CPUs at once: + {LABELS[m]}, ns", s2[m], "{:.0f}")
