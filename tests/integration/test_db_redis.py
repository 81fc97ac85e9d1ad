# SPDX-License-Identifier: GPL-2.0-only
"""Redis client round trips counted exactly, on both capture paths.

Clients: redis-benchmark (-t get,set -n 20000 -P 16: pipelines of 16 on 50 connections),
go/redis-mix (a 40-command pipeline in ONE write larger than the capture prefix with a
WRONGTYPE error inside; the redigo client's mix with a nil reply, WRONGTYPE and an unknown
command; RESP3 with map/set/double/null replies and invalidation pushes), and redis-cli -3
(HELLO 3, then RESP3 replies).

Referees: INFO commandstats (calls and failed calls per command) and INFO errorstats (per
error kind), read over a plain socket from the unselected test process; and the clients'
own counts per (command, error kind).

Selection: sonde selects a launcher process by pid, and the clients by comm; the clients
are forked by the launcher (selected in the kernel at fork) and keep their selection at
exec through the comm rule, so every connection is seen from its first byte."""

import json
import os
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import sonde_it  # noqa: E402
from db_cases import (DB, DB_LABELS, Launcher, SondeCase, assert_exact,  # noqa: E402
                      assert_no_loss, check_histograms, db_counts, delta, parse_errors,
                      redis_command, redis_reset, redis_stats)

BENCH, MIX, CLI = "redis-benchmark", "redis-mix", "redis-cli"
BENCH_N, BENCH_P = 20000, 16


def client_ops(client):
    """{(command, error kind): n} from redis-mix's JSON."""
    out = {}
    for key, n in client["ops"].items():
        cmd, _, err = key.partition(" ")
        out[(cmd, err)] = n
    return out


class _RedisCases(SondeCase):
    CAPTURE = None

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.redis = cls.class_started(sonde_it.start_redis())
        cls.launcher = Launcher()
        cls.addClassCleanup(cls.launcher.stop)
        cls.sonde = cls.start_capture_sonde(cls.CAPTURE, [
            f"pid={cls.launcher.pid}", f"comm={BENCH}", f"comm={MIX}", f"comm={CLI}"])

    def setUp(self):
        redis_command(self.redis.host, self.redis.port, "FLUSHALL")
        redis_reset(self.redis.host, self.redis.port)
        self.before = self.sonde.scrape()

    def labels(self, service):
        return {"service_name": service, "server_address": self.redis.host,
                "server_port": str(self.redis.port)}

    def stats(self):
        return redis_stats(self.redis.host, self.redis.port)

    def check(self, what, service, expected):
        """sonde's redis operations of service since setUp must equal expected exactly;
        no event lost, no parse error, the contract's labels and buckets."""
        labels = self.labels(service)
        base = db_counts(self.before, "redis", **labels)
        m = assert_exact(self, self.sonde,
                         lambda m: delta(db_counts(m, "redis", **labels), base),
                         expected, f"{what} [{self.CAPTURE}]")
        assert_no_loss(self, m, self.sonde)
        self.assertEqual(parse_errors(m, "redis") - parse_errors(self.before, "redis"), 0,
                         f"{what}: sonde_parse_errors_total{{protocol=\"redis\"}} grew")
        check_histograms(self, m, DB, dict(labels, db_system_name="redis"), DB_LABELS)
        return m

    def check_referee(self, ops):
        """The server's commandstats and errorstats agree with the client's counts."""
        calls, failed, errors = self.stats()
        by_cmd, failed_cmd, by_err = {}, {}, {}
        for (cmd, err), n in ops.items():
            if err:
                by_err[err] = by_err.get(err, 0) + n
            if (cmd, "ERR") in ops and cmd not in calls:
                continue  # an unknown command: in errorstats only
            by_cmd[cmd] = by_cmd.get(cmd, 0) + n
            if err:
                failed_cmd[cmd] = failed_cmd.get(cmd, 0) + n
        self.assertEqual(calls, by_cmd, "INFO commandstats calls vs the client")
        self.assertEqual(failed, failed_cmd, "INFO commandstats failed calls vs the client")
        self.assertEqual(errors, by_err, "INFO errorstats vs the client")

    def mix(self, *args):
        _, out, _ = self.launcher.run([sonde_it.go_bin(MIX), "-addr", self.redis.addr,
                                       *args], timeout=120)
        return json.loads(out)

    # ---------------------------------------------------------------- redis-benchmark

    def test_benchmark_get_set(self):
        """redis-benchmark -t get,set -n 20000 -P 16: exactly 20,000 GET and 20,000 SET
        (and what it sends at start, per INFO commandstats)."""
        self.assertEqual(sonde_it.Redis.benchmark_commands(BENCH_N, BENCH_P), BENCH_N)
        self.launcher.run([BENCH, "-h", self.redis.host, "-p", self.redis.port,
                           "-t", "get,set", "-n", BENCH_N, "-P", BENCH_P, "-q"], timeout=120)
        calls, failed, errors = self.stats()
        self.assertEqual((calls.get("GET"), calls.get("SET")), (BENCH_N, BENCH_N),
                         f"INFO commandstats: {calls}")
        self.assertEqual((failed, errors), ({}, {}), "INFO commandstats: failures")
        expected = {(cmd, ""): n for cmd, n in calls.items()}
        self.check(f"redis-benchmark -t get,set -n {BENCH_N} -P {BENCH_P}", BENCH, expected)

    # ---------------------------------------------------------------- redis-mix

    def test_pipeline_larger_than_capture_prefix(self):
        """40 commands in one write of > 4096 bytes (SETs with 200-byte values), the 26th an
        LPUSH on a string key (WRONGTYPE), 5 rounds on one connection."""
        rounds = 5
        client = self.mix("-mode", "pipeline", "-rounds", rounds, "-value-size", 200)
        self.assertGreater(client["bytes_per_write"], 4096)
        ops = client_ops(client)
        self.assertEqual(sum(ops.values()), 40 * rounds)
        self.assertEqual(ops[("LPUSH", "WRONGTYPE")], rounds)
        self.check_referee(ops)
        self.check("40-command pipeline in one write", MIX, ops)

    def test_redigo_mix(self):
        """redigo: single commands (nil reply, WRONGTYPE, unknown command) and a
        16-command pipeline, 10 rounds."""
        client = self.mix("-mode", "redigo", "-rounds", 10)
        ops = client_ops(client)
        self.assertEqual(ops[("LPUSH", "WRONGTYPE")], 10)
        self.assertEqual(ops[("NOSUCHCMD", "ERR")], 10)
        self.check_referee(ops)
        self.check("redigo mix", MIX, ops)

    def test_resp3_pushes(self):
        """HELLO 3; map, set, double and null replies; invalidation pushes ('>') from
        client-side caching arrive between replies and are not replies."""
        client = self.mix("-mode", "resp3", "-rounds", 5)
        self.assertGreaterEqual(client["pushes"], 5)
        ops = client_ops(client)
        self.assertEqual(ops[("HELLO", "")], 1)
        self.assertEqual(ops[("GET", "WRONGTYPE")], 5)
        self.check_referee(ops)
        self.check("RESP3 with pushes", MIX, ops)

    # ---------------------------------------------------------------- redis-cli -3

    def test_redis_cli_resp3(self):
        """redis-cli -3: each run sends HELLO 3, then one command answered in RESP3."""
        h, p = self.redis.host, self.redis.port
        redis_command(h, p, "HSET", "h", "f1", "v1", "f2", "v2")
        redis_command(h, p, "SADD", "s", "a", "b", "c")
        redis_command(h, p, "ZADD", "z", "2.5", "m")
        redis_reset(h, p)
        runs = [("HGETALL", "h"), ("SMEMBERS", "s"), ("ZSCORE", "z", "m"),
                ("GET", "missing"), ("HGETALL", "h"), ("SMEMBERS", "s"),
                ("GET", "h")]  # the last: WRONGTYPE
        outs = []
        for cmd in runs:
            rc, out, err = self.launcher.run([CLI, "-3", "-h", h, "-p", p, *cmd],
                                             check=False)
            outs.append((cmd, rc, out.strip(), err.strip()))
        self.assertIn("v1", outs[0][2], outs)
        self.assertIn("2.5", outs[2][2], outs)
        self.assertIn("WRONGTYPE", outs[-1][2] + outs[-1][3], outs)
        calls, failed, errors = self.stats()
        self.assertEqual(calls.get("HELLO"), len(runs), f"INFO commandstats: {calls}")
        self.assertEqual((failed, errors), ({"GET": 1}, {"WRONGTYPE": 1}))
        expected = {(cmd, ""): n for cmd, n in calls.items()}
        expected[("GET", "")] -= 1
        expected[("GET", "WRONGTYPE")] = 1
        self.check("redis-cli -3", CLI, expected)


class RedisSocketTest(_RedisCases):
    CAPTURE = "socket"


class RedisSyscallsTest(_RedisCases):
    CAPTURE = "syscalls"


def load_tests(loader, tests, pattern):
    suite = unittest.TestSuite()
    for cls in (RedisSocketTest, RedisSyscallsTest):
        suite.addTests(loader.loadTestsFromTestCase(cls))
    return suite


if __name__ == "__main__":
    sonde_it.main()
