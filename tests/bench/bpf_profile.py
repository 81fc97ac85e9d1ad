#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""Where sonde's kernel time goes, instruction by instruction (issue 11).

bpf_stats give one run time per program; this says what inside a run costs it. The
trade-engine (with PostgreSQL and Redis) runs under wrk at saturation while sonde observes it
and `perf record -a -g` samples both CPUs. Every sample whose call chain holds one of sonde's
programs is charged to that program: to the program's own code (by offset into its JIT
image) or to the kernel function the sample landed in (the helpers it called:
bpf_sk_storage_get_tracing, bpf_ringbuf_submit, the clock, ...). Samples in the tracepoint
dispatch around the programs (bpf_trace_run*, call_trace_*), which bpf_stats' run time does
not include, are counted apart. The hottest offsets of each program are shown with the
instruction before each (a sample lands just after the instruction that stalled), from the
program's JIT image read through bpf_obj_get_info_by_fd and disassembled by objdump.

Without a PMU (this VM has none) the samples come from a timer: code that runs with
interrupts off is charged to where they are turned back on (pvm_irq_enable here).

  python3 tests/bench/bpf_profile.py [--sonde build/sonde] [--capture socket] [--seconds 8]
Needs root, perf, objdump, wrk, libbpf; SONDE_GO_BIN as for run.py.
"""

import argparse
import collections
import ctypes
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration", "lib"))

import it_core  # noqa: E402
import sonde_it  # noqa: E402
from bench_core import ORDERS_PATH, ROUTE, start_sonde, wrk  # noqa: E402

# The functions that run a program on its hook: tp_btf tracepoints (socket path), syscall
# exit tracepoints (syscall path).
DISPATCH_PREFIXES = ("bpf_trace_run", "__bpf_trace_", "call_trace_", "__traceiter_",
                     "trace_call_bpf", "perf_call_bpf_", "perf_syscall_")


def jit_image(prog_id):
    """The JIT image (bytes) of BPF program prog_id: struct bpf_prog_info's jited_prog_len
    (offset 16) and jited_prog_insns (offset 24), read twice (length, then bytes)."""
    lib = ctypes.CDLL("libbpf.so.1", use_errno=True)
    fd = lib.bpf_prog_get_fd_by_id(ctypes.c_uint32(prog_id))
    if fd < 0:
        raise OSError(ctypes.get_errno(), f"prog {prog_id}")
    try:
        info = ctypes.create_string_buffer(256)
        size = ctypes.c_uint32(256)
        if lib.bpf_obj_get_info_by_fd(fd, info, ctypes.byref(size)):
            raise OSError(ctypes.get_errno(), "bpf_obj_get_info_by_fd")
        n = int.from_bytes(info.raw[16:20], "little")
        image = ctypes.create_string_buffer(n)
        info = ctypes.create_string_buffer(256)  # zeroed
        ctypes.memmove(ctypes.addressof(info) + 16, ctypes.byref(ctypes.c_uint32(n)), 4)
        ctypes.memmove(ctypes.addressof(info) + 24,
                       ctypes.byref(ctypes.c_uint64(ctypes.addressof(image))), 8)
        size = ctypes.c_uint32(256)
        if lib.bpf_obj_get_info_by_fd(fd, info, ctypes.byref(size)):
            raise OSError(ctypes.get_errno(), "bpf_obj_get_info_by_fd")
        return image.raw
    finally:
        os.close(fd)


def disassemble(image):
    """{offset: "instruction"} of an x86-64 JIT image, by objdump."""
    with tempfile.NamedTemporaryFile(suffix=".bin") as f:
        f.write(image)
        f.flush()
        out = subprocess.run(["objdump", "-D", "-b", "binary", "-mi386:x86-64", f.name],
                             stdout=subprocess.PIPE, text=True, check=True).stdout
    insns = {}
    for line in out.splitlines():
        head, sep, rest = line.partition(":\t")
        if sep and head.strip() and all(c in "0123456789abcdef" for c in head.strip()):
            parts = rest.split("\t")
            insns[int(head, 16)] = parts[-1].strip() if len(parts) > 1 else ""
    return insns


def samples(perf_data):
    """Call chains of perf_data, leaf first: lists of (symbol, offset or None)."""
    out = subprocess.run(["perf", "script", "-i", perf_data, "-F", "ip,sym,symoff"],
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                         check=True).stdout
    chain = []
    for line in out.splitlines() + [""]:
        line = line.strip()
        if not line:
            if chain:
                yield chain
            chain = []
            continue
        sym = line.split(None, 1)[1] if " " in line else "?"
        name, _, off = sym.partition("+0x")
        chain.append((name, int(off, 16) if off else None))


def prog_name(sym):
    """sonde_sock_recv from bpf_prog_<16 hex digits of tag>_sonde_sock_recv; None for other
    symbols (bpf_prog_get_info_by_fd is a kernel function)."""
    parts = sym.split("_", 3)
    if len(parts) < 4 or parts[:2] != ["bpf", "prog"] or len(parts[2]) != 16:
        return None
    return parts[3] if all(c in "0123456789abcdef" for c in parts[2]) else None


def attribute(chains):
    """Samples per (program, where), program-body offsets per program, dispatch samples per
    function, and the number of samples in all."""
    where = collections.Counter()
    offsets = collections.defaultdict(collections.Counter)
    dispatch = collections.Counter()
    total = 0
    for chain in chains:
        total += 1
        progs = [(i, prog_name(s)) for i, (s, _) in enumerate(chain) if prog_name(s)]
        if progs:
            i, name = progs[-1]  # the outermost: a global function is a program too
            leaf, off = chain[0]
            if prog_name(leaf):
                where[(name, "(program code)")] += 1
                offsets[prog_name(leaf)][off] += 1
            else:
                where[(name, leaf)] += 1
        elif any(s.startswith(DISPATCH_PREFIXES) for s, _ in chain[:4]):
            dispatch[chain[0][0]] += 1
    return where, offsets, dispatch, total


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sonde", default=os.environ.get("SONDE_BIN", "build/sonde"))
    ap.add_argument("--capture", default="socket", choices=("socket", "syscalls"))
    ap.add_argument("--seconds", type=int, default=8)
    ap.add_argument("--frequency", type=int, default=4999, help="perf samples per second")
    ap.add_argument("--top", type=int, default=8, help="hottest offsets shown per program")
    cfg = ap.parse_args()
    if os.geteuid() != 0:
        ap.error("needs root (BPF programs, perf -a, a private PostgreSQL cluster)")
    missing = [t for t in ("perf", "objdump", "bpftool", "wrk") if not shutil.which(t)]
    if missing:
        ap.error("not installed: " + ", ".join(missing))
    os.environ["SONDE_BIN"] = os.path.abspath(cfg.sonde)

    pg = sonde_it.start_postgres(settings={"log_statement": "none",
                                           "pg_stat_statements.track": "none"})
    redis = sonde_it.start_redis()
    svc = sonde_it.start_trade_engine(pg=pg.dsn, redis=redis.addr)
    tmp = tempfile.mkdtemp(prefix="sonde-bpf-profile-")
    perf_data = os.path.join(tmp, "perf.data")
    try:
        sonde = start_sonde([f"pid={svc.pid}"], cfg.capture, ["--route", ROUTE])
        try:
            wrk(svc.url + ORDERS_PATH, 2, 8, 2)  # warm-up
            ids = sorted(it_core.bpf_objects_of(sonde.pid)["prog"])
            images = {}
            for i in ids:
                name = subprocess.run(["bpftool", "prog", "show", "id", str(i)],
                                      stdout=subprocess.PIPE, text=True).stdout
                name = name.split(" name ", 1)[1].split()[0] if " name " in name else str(i)
                images[name] = jit_image(i)
            rec = subprocess.Popen(["perf", "record", "-a", "-g", "-F", str(cfg.frequency),
                                    "-o", perf_data, "--", "sleep", str(cfg.seconds)],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            load = wrk(svc.url + ORDERS_PATH, cfg.seconds, 8, 2)
            rec.wait()
        finally:
            sonde.stop(expect_no_misses=False)
        where, offsets, dispatch, total = attribute(samples(perf_data))
    finally:
        svc.stop()
        redis.stop()
        pg.stop()
        shutil.rmtree(tmp, ignore_errors=True)

    in_bpf = sum(where.values())
    reqs = load["requests"]
    # A sample stands for 1/frequency s of one CPU; a request is 3 round trips.
    ns_rt = 1e9 / cfg.frequency / (3 * reqs)
    print(f"{total} samples ({cfg.frequency}/s x 2 CPUs x {cfg.seconds} s), {reqs} requests "
          f"({load['rps']:.0f}/s; 3 round trips each), capture {cfg.capture}")
    print(f"in sonde's programs: {in_bpf} samples ({100 * in_bpf / total:.2f} %), "
          f"~{in_bpf * ns_rt:.0f} ns per round trip")
    print(f"in the tracepoint dispatch around them (not in bpf_stats' run time): "
          f"{sum(dispatch.values())} samples, ~{sum(dispatch.values()) * ns_rt:.0f} ns per "
          f"round trip: " + ", ".join(f"{k} {v}" for k, v in dispatch.most_common(4)))
    print("\nprogram / where                                samples  % of BPF  ns per RT")
    for (prog, leaf), n in sorted(where.items(), key=lambda kv: -kv[1]):
        if n * 200 < in_bpf:
            continue
        print(f"  {prog:<20} {leaf:<28} {n:>7}  {100 * n / in_bpf:7.1f}  {n * ns_rt:9.0f}")
    for prog, offs in sorted(offsets.items(), key=lambda kv: -sum(kv[1].values())):
        insns = disassemble(images[prog]) if prog in images else {}
        order = sorted(insns)
        print(f"\n{prog}: hottest offsets of its own code (the instruction before each)")
        for off, n in offs.most_common(cfg.top):
            before = [o for o in order if o < off]
            text = insns.get(before[-1], "?") if before else "?"
            print(f"  +0x{off:<5x} {n:>6}   {text}")


if __name__ == "__main__":
    main()
