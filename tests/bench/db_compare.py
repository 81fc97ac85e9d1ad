# SPDX-License-Identifier: GPL-2.0-only
"""Two sonde builds on the database clients, alternating round by round: BPF run time and
sonde's CPU per operation (bpf_stats on), and the clients' throughput, for A/B changes of
the data path that the trade-engine mix does not exercise (a 16-command Redis pipeline is
one 576-720-byte write; pgbench -M extended sends 3-5 messages per write).

    python3 tests/bench/db_compare.py --sonde build/sonde --compare OTHER_SONDE \\
        [--rounds 6] [--capture socket|syscalls] [--redis-requests 200000] [--pg-seconds 5]

Per round and build: redis-benchmark -P 16 -t set,get and pgbench -c 4 -j 2 -M extended,
each selected by pid from its first connection (run.gated_run), every operation counted
(Redis: exactly what INFO commandstats says the server ran; pgbench: at least 7 statements
per transaction it reports, which leaves out a few it sends besides, 5 in a 2 s run) and
0 events lost, else the run stops with an error. Prints the medians and p25..p75 of each build's
figures and of the per-round ratios compare / sonde. As root."""

import argparse
import os
import sys

from bench_core import REPO, BpfStats, log, rotated, spread  # puts sonde_it on sys.path
from run import gated_run, pgbench_tps, redis_rps
import sonde_it


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sonde", default=os.path.join(REPO, "build", "sonde"))
    ap.add_argument("--compare", required=True, help="the other sonde binary")
    ap.add_argument("--rounds", type=int, default=6)
    ap.add_argument("--capture", default="auto")
    ap.add_argument("--redis-requests", type=int, default=200000)
    ap.add_argument("--pg-seconds", type=int, default=5)
    return ap.parse_args()


def one(kind, argv, timeout, ops, rate, cfg, bin, exact):
    """One client run observed by sonde binary bin; exact: sonde must count ops(output)
    operations exactly, else at least that many."""
    text, got = gated_run(argv, timeout, ops, cfg.capture, bin=bin)
    per = got["cost_per_op"]
    if got["lost"]:
        raise RuntimeError(f"{kind}: sonde lost {got['lost']:.0f} events")
    want, n = ops(text), got["counted"]["db"]
    if n < want or (exact and n != want):
        raise RuntimeError(f"{kind}: sonde counted {n:.0f} operations, the client made {want}")
    return {"bpf_ns": per["bpf_ns"], "sonde_ns": per["sonde_cpu_ns"],
            "runs": per["bpf_runs"], "rate": rate(text), "ops": got["counted"]["db"]}


def main():
    cfg = parse_args()
    sonde_it.require_root()
    builds = {"sonde": os.path.abspath(cfg.sonde), "compare": os.path.abspath(cfg.compare)}
    for b in builds.values():
        if not os.access(b, os.X_OK):
            sys.exit(f"db_compare.py: no sonde binary at {b}")
    pg = sonde_it.start_postgres(settings={"log_statement": "none"})
    redis = sonde_it.start_redis()
    stats = BpfStats()
    rows = {k: {"redis": [], "pgbench": []} for k in builds}
    try:
        stats.on()
        pg.pgbench("-i", "-q", "-s", "1", timeout=300)
        redis_argv = ["redis-benchmark", "-h", redis.host, "-p", str(redis.port), "-P", "16",
                      "-n", str(cfg.redis_requests), "-t", "set,get", "-q"]

        def redis_calls():
            """Commands the server executed (INFO commandstats; INFO itself left out): the
            referee, which counts what redis-benchmark sends at start too."""
            return sum(v["calls"] for k, v in redis.commandstats().items() if k != "info")
        pg_argv = [os.path.join(pg.bindir, "pgbench"), "-h", pg.host, "-p", str(pg.port),
                   "-U", "postgres", "-c", "4", "-j", "2", "-M", "extended",
                   "-T", str(cfg.pg_seconds), "postgres"]
        for i in range(cfg.rounds):
            for name in rotated(list(builds), i):
                before = redis_calls()
                r = one("redis", redis_argv, 300, lambda t: redis_calls() - before,
                        lambda t: sum(redis_rps(t).values()) / 2, cfg, builds[name], True)
                p = one("pgbench", pg_argv, cfg.pg_seconds + 120,
                        lambda t: 7 * pgbench_tps(t)[1], lambda t: pgbench_tps(t)[0], cfg,
                        builds[name], False)
                rows[name]["redis"].append(r)
                rows[name]["pgbench"].append(p)
                log(f"round {i + 1} {name}: redis BPF {r['bpf_ns']:.0f} sonde "
                    f"{r['sonde_ns']:.0f} ns/cmd, {r['rate']:.0f} cmd/s; pgbench BPF "
                    f"{p['bpf_ns']:.0f} sonde {p['sonde_ns']:.0f} ns/op, {p['rate']:.0f} tps")
    finally:
        stats.restore()
        redis.stop()
        pg.stop()
    for kind in ("redis", "pgbench"):
        for field in ("bpf_ns", "sonde_ns", "runs", "rate"):
            a = [x[field] for x in rows["sonde"][kind]]
            b = [x[field] for x in rows["compare"][kind]]
            sa, sb = spread(a), spread(b)
            ratio = spread(y / x for x, y in zip(a, b) if x)
            print(f"{kind:8} {field:9}"
                  f" sonde {sa['median']:10.1f} ({sa['p25']:.1f}..{sa['p75']:.1f})"
                  f"  compare {sb['median']:10.1f} ({sb['p25']:.1f}..{sb['p75']:.1f})"
                  f"  compare/sonde {ratio['median']:.3f}"
                  f" ({ratio['p25']:.3f}..{ratio['p75']:.3f})")


if __name__ == "__main__":
    main()
