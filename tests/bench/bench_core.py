# SPDX-License-Identifier: GPL-2.0-only
"""What the benchmark's sections measure with: CPU clocks (per process from the
scheduler's ns counters, the whole machine from /proc/stat), sonde's cost meter (its
process CPU plus the run time of its BPF programs), bpf_stats held on for the run and
their own overhead, load clients, the machine, statistics.

Processes, services, sonde, scraping /metrics and BPF program counters come from the
integration library (tests/integration/lib), so the bench and the tests start and read
everything the same way."""

import ctypes
import datetime
import glob
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(HERE, "..", "integration", "lib"))
import sonde_it  # noqa: E402

ORDERS_PATH = "/api/v1/orders/42"
ROUTE = "/api/v1/orders/{id}"
T0 = time.monotonic()
CLK_TCK = os.sysconf("SC_CLK_TCK")
STATS_SYSCTL = "/proc/sys/kernel/bpf_stats_enabled"


def log(msg):
    print(f"[{time.monotonic() - T0:6.0f}s] {msg}", flush=True)


# --------------------------------------------------------------------------- statistics

def spread(values):
    """{median, p25, p75, min, max, n} of the finite values (None when there is none)."""
    vals = sorted(v for v in values if v is not None and v == v)
    if not vals:
        return None
    q = statistics.quantiles(vals, n=4, method="inclusive") if len(vals) > 1 else vals * 3
    return {"median": statistics.median(vals), "p25": q[0], "p75": q[2], "min": vals[0],
            "max": vals[-1], "n": len(vals)}


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
    """[{pid, args}] of sonde processes this run did not start (they slow the machine)."""
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
        "bpf_stats_enabled_sysctl": read_first(STATS_SYSCTL),
        "other_sonde_processes": other_sondes(),
        "bpf_programs_loaded": bpf_programs_loaded(),
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }


def bpf_programs_loaded():
    """How many BPF programs the kernel holds (bpftool; None if it fails to list them)."""
    out = subprocess.run(["bpftool", "-j", "prog", "show"], stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL, timeout=60).stdout
    try:
        return len(json.loads(out or b"[]"))
    except json.JSONDecodeError:  # bpftool can stop mid-list on newer program types
        return None


def go_version():
    r = subprocess.run(["go", "version"], stdout=subprocess.PIPE, text=True, timeout=30)
    return r.stdout.strip()


# --------------------------------------------------------------------------- CPU clocks

def task_cpu_ns(pid):
    """CPU time of process pid's live threads in ns: the first field of each
    /proc/PID/task/TID/schedstat (the scheduler's exact sum_exec_runtime), where
    /proc/PID/stat gives 10 ms ticks. A thread that exits takes its time with it: meter
    long-lived servers only."""
    total = 0
    for path in glob.glob(f"/proc/{pid}/task/*/schedstat"):
        try:
            with open(path) as f:
                total += int(f.read().split()[0])
        except (OSError, ValueError, IndexError):  # the thread exited meanwhile
            pass
    return total


def tree_pids(pid):
    """pid and its descendants (PostgreSQL's backends are children of the postmaster)."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo += sonde_it.children_of(p)
    return out


class TreeClock:
    """CPU ns of the processes given (and their descendants) between start() and
    elapsed(); a process that appears meanwhile counts from 0, one that exits is lost."""

    def __init__(self, pids):
        self.roots = [p for p in pids if p]

    def _now(self):
        return {p: task_cpu_ns(p) for r in self.roots for p in tree_pids(r)}

    def start(self):
        self.t0 = self._now()
        return self

    def elapsed(self):
        return sum(v - self.t0.get(p, 0) for p, v in self._now().items())


class MachineClock:
    """Busy CPU ns of the whole machine between start() and elapsed(): wall time x CPUs
    minus idle, iowait and steal from /proc/stat. Idle is the kernel's exact NOHZ idle
    time (printed in 10 ms units: +-10 ms per CPU on seconds of run), steal comes from
    the hypervisor; so busy time is exact, not sampled by the tick, and includes what
    per-process clocks miss: interrupts, softirqs, kernel threads, other tenants."""

    @staticmethod
    def _read():
        with open("/proc/stat") as f:
            cpu = f.readline().split()
        # cpu user nice system idle iowait irq softirq steal guest guest_nice
        not_busy = int(cpu[4]) + int(cpu[5]) + int(cpu[8])
        return time.monotonic_ns(), not_busy * 1e9 / CLK_TCK

    def start(self):
        self.t0, self.nb0 = self._read()
        return self

    def elapsed(self):
        t1, nb1 = self._read()
        return (t1 - self.t0) * os.cpu_count() - (nb1 - self.nb0)


# --------------------------------------------------------------------------- bpf_stats

class BpfStats:
    """bpf_stats (run_cnt and run_time_ns of every program) for the bench. on() holds them
    on through BPF_ENABLE_STATS: a file descriptor, one vote among the kernel's (the
    sysctl kernel.bpf_stats_enabled is another, others' descriptors more), dropped when
    this process ends however it ends; so the sysctl is never written to turn them on.
    off() drops that vote and, only when the sysctl's vote holds them on, writes 0 to it
    until restore() writes the previous value back (the one write the bench does)."""

    def __init__(self):
        self.sysctl_before = read_first(STATS_SYSCTL)
        self.fd = None
        self.sysctl_cleared = False
        self._libbpf = ctypes.CDLL("libbpf.so.1", use_errno=True)

    def on(self):
        self._restore_sysctl()
        if self.fd is None:
            fd = self._libbpf.bpf_enable_stats(0)  # BPF_STATS_RUN_TIME
            if fd < 0:
                raise OSError(ctypes.get_errno(), "BPF_ENABLE_STATS failed")
            self.fd = fd

    def off(self):
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None
        if read_first(STATS_SYSCTL) == "1":
            log("  kernel.bpf_stats_enabled=0 for a moment (was 1; restored after)")
            self._write(0)
            self.sysctl_cleared = True

    def _restore_sysctl(self):
        if self.sysctl_cleared:
            self._write(int(self.sysctl_before))
            self.sysctl_cleared = False

    @staticmethod
    def _write(v):
        with open(STATS_SYSCTL, "w") as f:
            f.write(f"{v}\n")

    def restore(self):
        """Drops the vote; the sysctl has its previous value again. Returns it."""
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None
        self._restore_sysctl()
        return read_first(STATS_SYSCTL)


# --------------------------------------------------------------------------- sonde

def start_sonde(select, capture, extra=(), bin=None):
    args = []
    for s in select:
        args += ["--select", s]
    return sonde_it.start_sonde(args + ["--capture", capture, *extra], bin=bin,
                                ready_timeout=60)


def sonde_counts(m):
    """What sonde counted: HTTP server exchanges, DB operations, events lost (in all and
    "lost:REASON" by reason) and received."""
    out = {
        "http": sonde_it.value(m, "http_server_request_duration_seconds_count"),
        "db": sonde_it.value(m, "db_client_operation_duration_seconds_count"),
        "lost": sonde_it.value(m, "sonde_events_lost_total"),
        "events": sonde_it.value(m, "sonde_events_received_total"),
    }
    for labels, v in sonde_it.samples(m, "sonde_events_lost_total"):
        out[f"lost:{labels.get('reason')}"] = v
    return out


def lost_reasons(counts):
    """"reason n, ..." of the reasons counts lost events for ("" when none)."""
    return ", ".join(f"{k[5:]} {v:.0f}" for k, v in counts.items()
                     if k.startswith("lost:") and v)


def wait_idle(pid, quiet_ns=2_000_000, step=0.1, timeout=10.0):
    """Waits until process pid used less than quiet_ns of CPU in step seconds: sonde
    drained what the load left in its ring buffer. Polls its schedstat only (a scrape
    would cost sonde CPU inside the measured window)."""
    deadline = time.monotonic() + timeout
    last = task_cpu_ns(pid)
    while time.monotonic() < deadline:
        time.sleep(step)
        now = task_cpu_ns(pid)
        if now - last < quiet_ns:
            return True
        last = now
    return False


class CostMeter:
    """sonde's cost between start() and stop(): its process CPU (schedstat, ns), and the
    run count, run time and recursion misses of the BPF programs its fds hold (fdinfo).
    start() reads sonde's counts first and stop() after its CPU, so the scrapes that read
    them stay outside the CPU window. stop() waits until sonde is idle, then until it
    counted want_http exchanges and want_db operations beyond start()'s counts.

    start(background=S) first watches S seconds with no load driven (background()), for
    subtract_background()."""

    def __init__(self, sonde):
        self.sonde = sonde
        self.bg = None

    def start(self, background=0.0):
        if background:
            self.bg = watch_background(self.sonde, background)
        self.counts0 = sonde_counts(self.sonde.scrape())
        self.t0, self.cpu0, self.runs0, self.bpf0, self.miss0 = _sonde_clocks(self.sonde)
        return self

    def stop(self, want_http=0, want_db=0, timeout=20):
        self.idle = wait_idle(self.sonde.pid)
        t1, cpu1, runs1, bpf1, miss1 = _sonde_clocks(self.sonde)
        self.counts = counted_since(self.sonde, self.counts0, want_http, want_db, timeout)
        self.seconds = t1 - self.t0
        self.sonde_ns = cpu1 - self.cpu0
        self.bpf_ns = bpf1 - self.bpf0
        self.runs = runs1 - self.runs0
        self.recursion_misses = miss1
        self.trips = self.counts["http"] + self.counts["db"]
        return self

    def per(self, n):
        n = max(n, 1)
        return {"sonde_cpu_ns": self.sonde_ns / n, "bpf_ns": self.bpf_ns / n,
                "whole_ns": (self.sonde_ns + self.bpf_ns) / n, "bpf_runs": self.runs / n}

    def summary(self):
        """The figures of one window, per round trip counted (HTTP exchanges + DB ops)."""
        return {"counted": self.counts, "round_trips": self.trips, "seconds": self.seconds,
                "totals": {"sonde_cpu_ns": self.sonde_ns, "bpf_ns": self.bpf_ns,
                           "bpf_runs": self.runs},
                "cost_per_round_trip": self.per(self.trips), "background": self.bg,
                "bpf_runs": self.runs,
                "events_per_round_trip": self.counts["events"] / max(self.trips, 1),
                "lost": self.counts["lost"], "recursion_misses": self.recursion_misses,
                "sonde_idle_at_stop": self.idle}


def _sonde_clocks(sonde):
    """(monotonic s, CPU ns, BPF runs, BPF ns, recursion misses) of sonde now."""
    st = sonde_it.bpf_programs_of(sonde.pid).values()
    return (time.monotonic(), task_cpu_ns(sonde.pid), sum(s.get("run_cnt", 0) for s in st),
            sum(s.get("run_time_ns", 0) for s in st),
            sum(s.get("recursion_misses", 0) for s in st))


def watch_background(sonde, seconds):
    """Rates of sonde's CPU and its programs' runs and run time over seconds with no load
    driven: its programs run on every process's socket I/O, and on a shared machine
    others' I/O runs them by the tens of thousands a second."""
    t0, cpu0, runs0, bpf0, _ = _sonde_clocks(sonde)
    time.sleep(seconds)
    t1, cpu1, runs1, bpf1, _ = _sonde_clocks(sonde)
    return {"seconds": t1 - t0, "sonde_cpu_ns_per_s": (cpu1 - cpu0) / (t1 - t0),
            "bpf_ns_per_s": (bpf1 - bpf0) / (t1 - t0),
            "bpf_runs_per_s": (runs1 - runs0) / (t1 - t0)}


def subtract_background(windows, after):
    """Adds the *_net figures to each window's cost_per_round_trip (windows: summaries of
    one sonde in time order, each with the background watched just before it; after: the
    one watched after the last): its BPF runs and run time minus the mean rate of the
    backgrounds before and after it, times its length. What is left is what the observed
    workload (the service and its peers: client, PostgreSQL, Redis) made sonde's programs
    run. sonde's own CPU is left whole: it only sees the selected service's events."""
    for i, w in enumerate(windows):
        nxt = windows[i + 1]["background"] if i + 1 < len(windows) else after
        bg = {k: (w["background"][k] + nxt[k]) / 2 for k in ("bpf_ns_per_s", "bpf_runs_per_s")}
        n = max(w["round_trips"], 1)
        bpf = w["totals"]["bpf_ns"] - bg["bpf_ns_per_s"] * w["seconds"]
        runs = w["totals"]["bpf_runs"] - bg["bpf_runs_per_s"] * w["seconds"]
        w["background_subtracted"] = bg
        w["cost_per_round_trip"].update(
            bpf_ns_net=bpf / n, bpf_runs_net=runs / n,
            whole_ns_net=(w["totals"]["sonde_cpu_ns"] + bpf) / n)


def counted_since(sonde, before, want_http=0, want_db=0, timeout=20):
    """sonde's counts minus before, once it counted at least want_http / want_db (or at
    timeout: then what it counted). lost and events are deltas too."""
    def delta(m):
        now = sonde_counts(m)
        return {k: now[k] - before.get(k, 0) for k in now}

    def enough():
        c = delta(sonde.scrape())
        return c if c["http"] >= want_http and c["db"] >= want_db else None
    try:
        return sonde_it.wait_for(enough, timeout, interval=0.2)
    except sonde_it.WaitTimeout:
        return delta(sonde.scrape())


# --------------------------------------------------------------------------- load clients

def wrk(url, seconds, connections, threads):
    """wrk for seconds (time-bounded, unlike the tests' count-bounded sonde_it.wrk_run)."""
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


def fixed_rate(addr, rate, seconds, warmup, conns, paths=(ORDERS_PATH,)):
    """go/fixed-rate (open loop); its JSON, plus client_cpu_ns: the client's own CPU
    (rusage of the child: exact, from the scheduler's runtime)."""
    argv = [sonde_it.go_bin("fixed-rate"), "-addr", addr, "-rate", f"{rate:.1f}",
            "-conns", str(conns), "-duration", f"{seconds}s", "-warmup", f"{warmup}s",
            "-paths", ",".join(paths)]
    c0 = child_cpu_ns()
    p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        out, err = p.communicate(timeout=seconds + warmup + 60)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    try:
        res = json.loads(out)
    except ValueError:
        raise RuntimeError(f"fixed-rate failed (exit {p.returncode}): {out}{err}") from None
    res["client_cpu_ns"] = child_cpu_ns() - c0
    return res


def child_cpu_ns():
    """CPU ns of this process's waited-for children so far (getrusage: the scheduler's
    exact runtime, split into user and system by ticks; the sum is exact)."""
    import resource
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (ru.ru_utime + ru.ru_stime) * 1e9


# --------------------------------------------------------------------------- builds

def build_bench_tools(outdir):
    """Compiles the unobserved-process loop, the floor BPF objects and their loader, and the
    record-cost program."""
    machine = subprocess.run(["gcc", "-dumpmachine"], stdout=subprocess.PIPE, text=True,
                             timeout=30).stdout.strip()
    bpf_flags = ["-O2", "-g", "-target", "bpf", "-Wall", f"-I/usr/include/{machine}"]
    steps = [
        ["cc", "-O2", "-Wall", "-o", f"{outdir}/unobserved", f"{HERE}/unobserved.c"],
        ["cc", "-O2", "-Wall", "-o", f"{outdir}/floor_loader", f"{HERE}/floor_loader.c",
         "-lbpf"],
        ["clang", *bpf_flags, "-c", f"{HERE}/floor.bpf.c", "-o", f"{outdir}/floor.bpf.o"],
        ["clang", *bpf_flags, "-DFLOOR_LOOKUP", "-c", f"{HERE}/floor.bpf.c",
         "-o", f"{outdir}/floor_lookup.bpf.o"],
        ["cc", "-O2", "-Wall", "-o", f"{outdir}/record_cost", f"{HERE}/record_cost.c",
         "-lbpf", "-lpthread"],
        ["clang", *bpf_flags, "-c", f"{HERE}/record_cost.bpf.c", "-o",
         f"{outdir}/record_cost.bpf.o"],
    ]
    for argv in steps:
        r = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                           timeout=120)
        if r.returncode != 0:
            raise RuntimeError(f"{' '.join(argv)} failed:\n{r.stdout}")


def floor_toggled(tools, obj, mode, iters, reps, block):
    """floor_loader toggle: the floor programs attached and detached inside one process
    that measures its own syscalls (see floor_loader.c); its JSON."""
    r = subprocess.run([f"{tools}/floor_loader", f"{tools}/{obj}", mode, "toggle",
                        str(iters), str(reps), str(block)],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=600)
    if r.returncode != 0:
        raise RuntimeError(f"floor_loader toggle failed: {r.stderr}")
    return json.loads(r.stdout)


# Programs a socket syscall runs on each capture path: tp_btf sock_{send,recv}_length
# once; the syscall path's exit tracepoint once.
RUNS_PER_SYSCALL = {"socket": 1, "syscalls": 1}


def stats_overhead(stats, tools, mode, pairs, reps, block=2, iters=2000):
    """What bpf_stats themselves cost, per program run on the hooks of capture path mode:
    the floor (empty programs) toggled in-process with stats on and with stats off, in
    pairs (the order alternating). Returns {pairs: [...], summary}: run_time_ns an empty
    program shows (the clock reads inside the measured window), the end-to-end cost of an
    empty program on the hook with stats off (dispatch: what run_time_ns never shows)
    and with them on; their difference is the stats' whole cost per run."""
    k = RUNS_PER_SYSCALL[mode]
    out = []
    try:
        for i in range(pairs):
            got = {}
            for on in rotated([True, False], i):
                stats.on() if on else stats.off()
                got[on] = floor_toggled(tools, "floor.bpf.o", mode, iters, reps, block)
            off_run_time = got[False]["bpf_ns_per_syscall"]
            out.append({
                "run_time_ns_per_run": got[True]["bpf_ns_per_syscall"] / k,
                "hook_ns_per_run_stats_off": got[False]["added_socket_ns"] / k,
                "hook_ns_per_run_stats_on": got[True]["added_socket_ns"] / k,
                "stats_ns_per_run": (got[True]["added_socket_ns"]
                                     - got[False]["added_socket_ns"]) / k,
                # Another holder (a descriptor of another process) kept stats on.
                "stats_really_off": off_run_time < 0,
                "raw": got})
    finally:
        stats.on()
    really_off = [p for p in out if p["stats_really_off"]]
    summ = {"run_time_ns_per_run": spread(p["run_time_ns_per_run"] for p in out),
            "runs_per_syscall": k, "pairs": len(out), "pairs_stats_really_off": len(really_off)}
    for key in ("hook_ns_per_run_stats_off", "hook_ns_per_run_stats_on", "stats_ns_per_run"):
        summ[key] = spread(p[key] for p in really_off)
    return {"pairs": out, "summary": summ}


# --------------------------------------------------------------------------- report

def noise_halfwidth(aa):
    """How far an A/A ratio (both arms without sonde) strays from 1: the larger of its
    median's distance to 1 and half its interquartile range."""
    if not aa:
        return None
    return max(abs(aa["median"] - 1), (aa["p75"] - aa["p25"]) / 2)


class Table:
    """The printed table: per figure its median, interquartile range and min..max over
    the rounds, the A/A ratio beside ratios (the noise floor), target and verdict. A
    verdict is PASS or FAIL on the median; "(noise)" follows when the target lies within
    the A/A noise of the median (noise_halfwidth), so that the run cannot decide it."""

    def __init__(self):
        self.rows = []

    def section(self, title):
        self.rows.append((title,))

    def note(self, text):
        self.rows.append((text,))

    def add(self, name, s, fmt="{:.3f}", target="", ok=None, aa=None, target_value=None):
        if not s:
            self.rows.append((name, "n/a", "", "", "", target, ""))
            return
        f = fmt.format
        verdict = ""
        if ok is not None:
            verdict = "PASS" if ok else "FAIL"
            h = noise_halfwidth(aa)
            if h is not None and target_value is not None and \
                    abs(s["median"] - target_value) < h:
                verdict += " (noise)"
        aa_text = ""
        if aa:
            aa_text = f"{aa['median']:.3f} ({aa['p25']:.3f}..{aa['p75']:.3f})"
        self.rows.append((name, f(s["median"]), f"{f(s['p25'])}..{f(s['p75'])}",
                          f"{f(s['min'])}..{f(s['max'])}", aa_text, target, verdict))

    def add_value(self, name, v, fmt="{:.0f}", target="", ok=None):
        self.add(name, spread([v]), fmt, target, ok)

    def render(self):
        w = max([len(r[0]) for r in self.rows if len(r) > 1] + [40])
        head = ("figure", "median", "p25..p75", "min..max", "A/A noise (p25..p75)",
                "target", "verdict")
        widths = (w, 9, 17, 17, 22, 8)
        out = ["  ".join(f"{h:{'<' if i == 0 else '>'}{widths[i]}}"
                         for i, h in enumerate(head[:-1])) + "  " + head[-1]]
        for r in self.rows:
            if len(r) == 1:
                out.append(r[0])
                continue
            out.append("  ".join(f"{c:{'<' if i == 0 else '>'}{widths[i]}}"
                                 for i, c in enumerate(r[:-1])) + "  " + r[-1])
        return "\n".join(out)
