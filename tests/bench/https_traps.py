# SPDX-License-Identifier: GPL-2.0-only
"""Uprobe traps of HTTPS (issue 12), counted with bpf_stats' run_cnt of sonde's TLS
programs (sonde_ssl_*, sonde_go_*):

  - per round trip of a selected server: nginx (OpenSSL) and trade-engine -tls-cert (Go),
    wrk keep-alive requests; the floor of sonde's cost per HTTPS round trip is these hits
    times the cost of one empty uprobe hit (uprobe_cost.c, measured here too);
  - of an unselected process sharing libssl: curl and Python loops against an nginx that
    sonde does not select, while sonde probes a selected nginx: must be 0.

The machine's figures are noisy (shared VM): run it where the numbers matter.
  usage: SONDE_GO_BIN=build/go-bin python3 tests/bench/https_traps.py --sonde build/sonde"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration", "lib"))
import sonde_it  # noqa: E402
from bench_core import BpfStats  # noqa: E402

TLS_PROGS = ("sonde_ssl", "sonde_go")


def tls_runs(sonde_pid):
    """Sum of run_cnt over sonde's TLS programs (names from bpftool)."""
    out = json.loads(subprocess.run(["bpftool", "-j", "prog", "show"], check=True,
                                    stdout=subprocess.PIPE).stdout)
    ids = {p["id"] for p in out if p.get("name", "").startswith(TLS_PROGS)}
    progs = sonde_it.bpf_programs_of(sonde_pid)
    return sum(s.get("run_cnt", 0) for i, s in progs.items() if i in ids)


def uprobe_cost(tools, calls=20000, reps=5):
    exe = os.path.join(tools, "uprobe_cost")
    subprocess.run(["cc", "-O2", "-Wall", "-o", exe, os.path.join(HERE, "uprobe_cost.c")],
                   check=True)
    r = json.loads(subprocess.run([exe, str(calls), str(reps)], check=True,
                                  stdout=subprocess.PIPE).stdout)
    med = sorted(w - wo for w, wo in zip(r["with_ns"], r["without_ns"]))[reps // 2]
    return med, r


def cpu_ns(pid):
    """utime + stime of process pid (all its threads), ns."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) * 1e9 / os.sysconf("SC_CLK_TCK")


def run_time_ns(pid):
    return sum(s.get("run_time_ns", 0) for s in sonde_it.bpf_programs_of(pid).values())


def wrk_rate(url, n, mix, paths):
    t = time.monotonic()
    sonde_it.wrk_run(url, 4, n // 4, mix=mix, paths=paths, timeout=300)
    return n / (time.monotonic() - t)


def whole_cost(args, target, url, mix, paths, hit_ns, rounds=3):
    """Rounds of: wrk without sonde, with sonde (selecting target), without again. Prints
    the throughput ratios with/without and the A/A ratio without/without, and sonde's
    whole cost per HTTPS round trip: its process CPU + its programs' run time + the
    uprobe hits' dispatch (hits x hit_ns: not in run time)."""
    n = args.requests
    ratios, aa, costs = [], [], []
    for _ in range(rounds):
        base = wrk_rate(url, n, mix, paths)
        sonde = sonde_it.start_sonde(["--select", f"pid={target.pid}", "--capture",
                                      args.capture])
        try:
            time.sleep(3)  # probes attached
            cpu, rt, hits = cpu_ns(sonde.pid), run_time_ns(sonde.pid), tls_runs(sonde.pid)
            rate = wrk_rate(url, n, mix, paths)
            cost = (cpu_ns(sonde.pid) - cpu + run_time_ns(sonde.pid) - rt
                    + (tls_runs(sonde.pid) - hits) * hit_ns) / n
        finally:
            sonde.stop()
        again = wrk_rate(url, n, mix, paths)
        ratios.append(rate / base)
        aa.append(again / base)
        costs.append(cost)
    return ratios, aa, costs


def hits_per_request(sonde, url, n, mix, paths=None):
    before = tls_runs(sonde.pid)
    res = sonde_it.wrk_run(url, 4, n // 4, mix=mix, paths=paths, timeout=300)
    return (tls_runs(sonde.pid) - before) / n, res


def fmt(vals, spec=".3f"):
    return "[" + ", ".join(format(v, spec) for v in vals) + "]"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sonde", required=True)
    ap.add_argument("--capture", default="socket")
    ap.add_argument("--requests", type=int, default=4000)
    a = ap.parse_args()
    os.environ["SONDE_BIN"] = os.path.abspath(a.sonde)
    tools = tempfile.mkdtemp(prefix="sonde-bench-https-")
    cost, raw = uprobe_cost(tools)
    print(f"empty uprobe hit: {cost:.0f} ns (median of {len(raw['with_ns'])}; "
          f"without {raw['without_ns']} with {raw['with_ns']} ns/call)")
    sel = sonde_it.start_nginx(workers=2, keepalive_requests=100000, tls=True)
    other = sonde_it.start_nginx(workers=2, keepalive_requests=100000, tls=True)
    te = sonde_it.start_trade_engine(tls=True)
    stats = BpfStats()
    stats.on()
    sonde = None
    try:
        sonde = sonde_it.start_sonde(["--select", f"pid={sel.pid}", "--select",
                                      f"pid={te.pid}", "--capture", a.capture])
        sonde_it.wait_for(lambda: sonde_it.value(sonde.scrape(), "sonde_tls_targets",
                                                 state="probed") >= 4, 20)
        for name, url, mix, paths in (("nginx", sel.url, "get", ["/"]),
                                      ("go", te.url, "api", None)):
            h, _ = hits_per_request(sonde, url, a.requests, mix, paths or ())
            print(f"{name}: {h:.2f} TLS uprobe hits per HTTPS round trip; floor "
                  f"{h * cost:.0f} ns")
        before = tls_runs(sonde.pid)
        py = ("import ssl,http.client,sys\nc=ssl._create_unverified_context()\n"
              "h=http.client.HTTPSConnection('127.0.0.1',int(sys.argv[1]),context=c)\n"
              "for i in range(200):\n h.request('GET','/');h.getresponse().read()\n")
        subprocess.run([sys.executable, "-c", py, str(other.port)], check=True)
        for _ in range(20):
            subprocess.run(["curl", "-sk", "-o", "/dev/null", other.url + "/"], check=True)
        print(f"unselected curl x20 + python x200 against an unselected nginx: "
              f"{tls_runs(sonde.pid) - before} TLS program runs (must be 0)")
        sonde.stop()
        sonde = None
        for name, target, mix, paths in (("nginx", sel, "get", ["/"]), ("go", te, "api", ())):
            ratios, aa, costs = whole_cost(a, target, target.url, mix, paths, cost)
            print(f"{name}: throughput with/without sonde {fmt(ratios)}, A/A {fmt(aa)}; "
                  f"whole cost per HTTPS round trip {fmt(costs, '.0f')} ns")
    finally:
        if sonde:
            sonde.stop()
        stats.off()
        for p in (sel, other, te):
            p.stop()


if __name__ == "__main__":
    main()
