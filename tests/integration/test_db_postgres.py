# SPDX-License-Identifier: GPL-2.0-only
"""PostgreSQL client round trips counted exactly, on both capture paths.

Clients: pgbench (built-in TPC-B-like script in -M simple, extended and prepared, over TCP
and over the Unix socket; a custom script in \\startpipeline mode), a pgx v4 program and a
lib/pq program (go/pgx-mix, go/pq-mix) issuing a known mix with unique violations and a
50-statement batch; the service of issue 15 (go/pgx-mix -mode check): a pgxpool of 8
connections, 8 goroutines, INSERT ... RETURNING by a named prepared statement, about 15 %
of them rejected by a CHECK constraint (23514), observed from its first byte and selected
at its listen (a port= rule: the pool's first connection, and its Parse, are older).

Referees: the server's own log (log_statement = all, with pid, application_name and
SQLSTATE in every line: PgLog) for every statement executed; pg_stat_statements for the
pgbench UPDATE/INSERT totals; the clients' own counts for what the server does not log
(prepare-only round trips: pgbench -M prepared prepares each SQL command of its script
once per connection; pgx once per distinct SQL text; lib/pq before every parameterised
statement).

Selection: sonde selects a launcher process by pid, and the clients by comm; the clients
are forked by the launcher (selected in the kernel at fork) and keep their selection at
exec through the comm rule, so every connection is seen from its first byte. The one
exception, on purpose: pgx-late (a copy of pgx-mix, run from the test) is selected only
by a port= rule when it listens."""

import json
import os
import shutil
import socket
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import sonde_it  # noqa: E402
from db_cases import (DB, DB_LABELS, PG_LOG_SETTINGS, Launcher, PgLog,  # noqa: E402
                      SondeCase, assert_exact, assert_no_loss, check_histograms, db_counts,
                      delta, parse_errors)

CLIENTS = 4
TX = 2000               # the issue's numbers: pgbench -c 4 -t 2000
PIPELINE_TX = 1000
BUILTIN_SQL = 7         # BEGIN, 3 UPDATE, SELECT, INSERT, END
PGX, PQ = "pgx-mix", "pq-mix"
GO_ROUNDS = 20
CHECK_TABLE = "sonde_pgx_check"
CHECK_CLIENTS, CHECK_REQUESTS = 8, 530  # the issue's numbers
# pgx-mix -mode check inserts (37 i) mod 100 for request i; below 15 violates the CHECK.
CHECK_FAILS = sum(1 for i in range(CHECK_REQUESTS) if (37 * i) % 100 < 15)
LATE = "pgx-late"  # pgx-mix under a name no comm= rule selects

PIPELINE_SCRIPT = """\
\\set aid random(1, 100000)
\\set tid random(1, 10)
\\set delta random(-5000, 5000)
\\startpipeline
BEGIN;
UPDATE pgbench_accounts SET abalance = abalance + :delta WHERE aid = :aid;
SELECT abalance FROM pgbench_accounts WHERE aid = :aid;
INSERT INTO pgbench_history (tid, bid, aid, delta, mtime) VALUES (:tid, 1, :aid, :delta, CURRENT_TIMESTAMP);
END;
\\endpipeline
"""
PIPELINE_SQL = 5


class _PgCases(SondeCase):
    CAPTURE = None

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.pg = cls.class_started(sonde_it.start_postgres(settings=PG_LOG_SETTINGS))
        cls.pg.pgbench("-i", "-s", "1", "-q")  # before sonde: not observed
        for table in ("sonde_pgx", "sonde_pq"):
            cls.pg.psql(f"CREATE TABLE {table} (k int PRIMARY KEY, v text)")
        cls.pg.psql(f"CREATE TABLE {CHECK_TABLE} (id serial PRIMARY KEY, "
                    "v int CHECK (v >= 15))")
        cls.late_port = sonde_it.free_port()
        cls.log = PgLog(cls.pg)
        cls.unix_path = os.path.join(cls.pg.sockdir, f".s.PGSQL.{cls.pg.port}")
        cls.script = os.path.join(cls.pg.dir, "pipeline.sql")
        with open(cls.script, "w") as f:
            f.write(PIPELINE_SCRIPT)
        os.chmod(cls.pg.dir, 0o755)
        cls.launcher = Launcher()
        cls.addClassCleanup(cls.launcher.stop)
        cls.sonde = cls.start_capture_sonde(cls.CAPTURE, [
            f"pid={cls.launcher.pid}", "comm=pgbench", f"comm={PGX}", f"comm={PQ}",
            f"port={cls.late_port}"])

    # ---------------------------------------------------------------- helpers

    def labels(self, service, unix=False):
        if unix:
            return {"service_name": service, "server_address": self.unix_path}
        return {"service_name": service, "server_address": self.pg.host,
                "server_port": str(self.pg.port)}

    def pgbench(self, *args, unix=False):
        argv = [os.path.join(self.pg.bindir, "pgbench"), "-h",
                self.pg.sockdir if unix else self.pg.host, "-p", self.pg.port,
                "-U", "postgres", *args, "postgres"]
        _, out, err = self.launcher.run(argv, timeout=300)
        return out + err

    def stat_statements(self, pattern):
        return int(self.pg.psql("SELECT coalesce(sum(calls), 0) FROM pg_stat_statements "
                                f"WHERE query LIKE '{pattern}'"))

    def check_round(self, what, service, before, expected, unix=False):
        """sonde's postgresql operations of service since the scrape before must equal
        expected, exactly; no event lost, no parse error; label sets as specified."""
        labels = self.labels(service, unix)
        base = db_counts(before, "postgresql", **labels)
        m = assert_exact(self, self.sonde,
                         lambda m: delta(db_counts(m, "postgresql", **labels), base),
                         expected, f"{what} [{self.CAPTURE}]")
        assert_no_loss(self, m, self.sonde)
        self.assertEqual(parse_errors(m, "postgresql") - parse_errors(before, "postgresql"),
                         0, f"{what}: sonde_parse_errors_total{{protocol=\"postgresql\"}} "
                         "grew")
        # Only this cluster's series: other pgbench runs on the machine match comm=pgbench.
        series = sonde_it.samples(m, DB + "_count", db_system_name="postgresql", **labels)
        self.assertTrue(series, f"{what}: no series with {labels}")
        for lbl, _ in series:
            if unix:
                self.assertEqual(lbl.get("server_port", ""), "", f"Unix socket: {lbl}")
                self.assertEqual(set(lbl) | {"server_port"}, DB_LABELS, f"label names: {lbl}")
            else:
                self.assertEqual(set(lbl), DB_LABELS, f"label names of {lbl}")
        return m

    def builtin(self, mode, unix):
        """pgbench -c 4 -t 2000 -M mode, built-in script: what the server executed (its
        log), plus one PREPARE per SQL command per connection with -M prepared."""
        self.pg.psql("SELECT pg_stat_statements_reset()")
        before = self.sonde.scrape()
        mark = self.log.mark()
        out = self.pgbench("-c", CLIENTS, "-t", TX, "-M", mode, unix=unix)
        self.assertIn(f"number of transactions actually processed: {CLIENTS * TX}/"
                      f"{CLIENTS * TX}", out)
        ref, problems = self.log.ops(mark, "pgbench")
        self.assertEqual(problems, [])
        n = CLIENTS * TX
        # The referee agrees with the issue's numbers.
        for op, want in (("BEGIN", n), ("UPDATE", 3 * n), ("INSERT", n), ("END", n)):
            self.assertEqual(ref.get((op, "")), want, f"server log: {op}")
        self.assertGreaterEqual(ref.get(("SELECT", ""), 0), n, "server log: SELECT")
        self.assertEqual([k for k in ref if k[1]], [], "server log: errors")
        self.assertEqual(self.stat_statements("UPDATE pgbench_%"), 3 * n)
        self.assertEqual(self.stat_statements("INSERT INTO pgbench_history%"), n)
        expected = dict(ref)
        if mode == "prepared":
            expected[("PREPARE", "")] = CLIENTS * BUILTIN_SQL
        m = self.check_round(f"pgbench -M {mode} over {'Unix socket' if unix else 'TCP'}",
                             "pgbench", before, expected, unix)
        check_histograms(self, m, DB, dict(self.labels("pgbench", unix),
                                           db_system_name="postgresql"),
                         DB_LABELS, optional={"server_port"} if unix else ())

    # ---------------------------------------------------------------- pgbench built-in

    def test_pgbench_simple_tcp(self):
        self.builtin("simple", unix=False)

    def test_pgbench_simple_unix(self):
        self.builtin("simple", unix=True)

    def test_pgbench_extended_tcp(self):
        self.builtin("extended", unix=False)

    def test_pgbench_extended_unix(self):
        self.builtin("extended", unix=True)

    def test_pgbench_prepared_tcp(self):
        self.builtin("prepared", unix=False)

    def test_pgbench_prepared_unix(self):
        self.builtin("prepared", unix=True)

    # ---------------------------------------------------------------- pipeline mode

    def pipeline(self, mode, unix=False):
        before = self.sonde.scrape()
        mark = self.log.mark()
        out = self.pgbench("-n", "-c", CLIENTS, "-t", PIPELINE_TX, "-M", mode,
                           "-f", self.script, unix=unix)
        n = CLIENTS * PIPELINE_TX
        self.assertIn(f"number of transactions actually processed: {n}/{n}", out)
        ref, problems = self.log.ops(mark, "pgbench")
        self.assertEqual(problems, [])
        want = {("BEGIN", ""): n, ("UPDATE", ""): n, ("SELECT", ""): n, ("INSERT", ""): n,
                ("END", ""): n}
        self.assertEqual(ref, want, "server log")  # -n: pgbench sends nothing else
        expected = dict(ref)
        if mode == "prepared":
            expected[("PREPARE", "")] = CLIENTS * PIPELINE_SQL
        self.check_round(f"pgbench \\startpipeline -M {mode}", "pgbench", before, expected,
                         unix)

    def test_pgbench_pipeline_extended(self):
        """A custom script of 5 statements in one pipeline (one Sync) per transaction."""
        self.pipeline("extended")

    def test_pgbench_pipeline_prepared_unix(self):
        self.pipeline("prepared", unix=True)

    # ---------------------------------------------------------------- Go clients

    def go_mix(self, prog, table):
        self.pg.psql(f"TRUNCATE {table}")
        before = self.sonde.scrape()
        mark = self.log.mark()
        dsn = f"{self.pg.dsn}&application_name={prog}"
        _, out, _ = self.launcher.run([sonde_it.go_bin(prog), "-dsn", dsn, "-table", table,
                                       "-rounds", GO_ROUNDS], timeout=120)
        client = json.loads(out)
        ops = {}
        for key, n in client["ops"].items():
            op, _, err = key.partition(" ")
            ops[(op, err)] = n
        ref, problems = self.log.ops(mark, prog)
        self.assertEqual(problems, [])
        self.assertEqual(ref, ops, f"{prog}: the server log and the client disagree")
        self.assertEqual(ops.get(("INSERT", "23505"), 0) > 0, True)
        expected = dict(ops)
        expected[("PREPARE", "")] = client["prepares"]
        self.check_round(prog, prog, before, expected)
        return client, ops

    def test_pgx_mix(self):
        client, ops = self.go_mix(PGX, "sonde_pgx")
        r = GO_ROUNDS
        # The mix as designed: 2 unique violations per round (one inside a rolled-back
        # transaction) and the 5th INSERT of a 10-statement batch; 30 INSERTs of the
        # 50-statement batch and the 4 executed before the error in the other.
        self.assertEqual(ops[("INSERT", "23505")], 2 * r + 1)
        self.assertEqual(ops[("INSERT", "")], r + 30 + 4)
        self.assertEqual(ops[("SELECT", "42P01")], 1)
        self.assertEqual((client["prepares"], client["skipped"]), (4, 5))

    def test_pq_mix(self):
        client, ops = self.go_mix(PQ, "sonde_pq")
        r = GO_ROUNDS
        self.assertEqual(ops[("INSERT", "23505")], 3 * r + 1)
        self.assertEqual(ops[("INSERT", "")], 2 * r + 50 + 3)
        self.assertEqual(client["prepares"], 5 * r + 1)

    # ---------------------------------------------------------------- issue 15: pool + CHECK

    def check_referee(self, mark, app, rows_before, client):
        """The server log and the table agree with the client: {(op, error): n}."""
        ops = {}
        for key, n in client["ops"].items():
            op, _, err = key.partition(" ")
            ops[(op, err)] = n
        self.assertEqual(ops, {("INSERT", ""): CHECK_REQUESTS - CHECK_FAILS,
                               ("INSERT", "23514"): CHECK_FAILS}, f"{app}: the client's counts")
        ref, problems = self.log.ops(mark, app)
        self.assertEqual(problems, [])
        self.assertEqual(ref, ops, f"{app}: the server log and the client disagree")
        rows = int(self.pg.psql(f"SELECT count(*) FROM {CHECK_TABLE}")) - rows_before
        self.assertEqual(rows, ops[("INSERT", "")], "rows inserted")
        return ops

    def test_pgx_pool_check_violation(self):
        """Issue 15 seen from the first byte: every operation named, every failure too."""
        rows = int(self.pg.psql(f"SELECT count(*) FROM {CHECK_TABLE}"))
        before = self.sonde.scrape()
        mark = self.log.mark()
        _, out, _ = self.launcher.run(
            [sonde_it.go_bin(PGX), "-dsn", f"{self.pg.dsn}&application_name={PGX}",
             "-table", CHECK_TABLE, "-mode", "check", "-named",
             "-clients", CHECK_CLIENTS, "-requests", CHECK_REQUESTS], timeout=120)
        client = json.loads(out)
        expected = self.check_referee(mark, PGX, rows, client)
        self.assertEqual(client["unnamed"], 0)
        expected[("PREPARE", "")] = client["prepares"]
        self.check_round("pgx pool, CHECK violations", PGX, before, expected)

    def start_late(self):
        """pgx-late -mode check -named -listen: its pool (one connection, the named
        statement prepared) opens before the listen that selects it."""
        d = tempfile.mkdtemp(prefix="sonde-it-pgx-late-")
        self.addCleanup(shutil.rmtree, d, ignore_errors=True)
        exe = os.path.join(d, LATE)
        shutil.copy(sonde_it.go_bin(PGX), exe)
        p = sonde_it.Proc(
            [exe, "-dsn", f"{self.pg.dsn}&application_name={LATE}", "-table", CHECK_TABLE,
             "-mode", "check", "-named", "-clients", CHECK_CLIENTS,
             "-requests", CHECK_REQUESTS, "-listen", f"127.0.0.1:{self.late_port}"],
            name=LATE, env=dict(os.environ, OTEL_SERVICE_NAME=LATE))
        self.addCleanup(p.stop)
        sonde_it.wait_for(lambda: p.check_running() or "listening" in p.stderr(), 30,
                          interval=0.05, message=f"{LATE} to listen")
        # The listen selects it (port= rule): wait until sonde observes this pid. Not by
        # sonde_tracked_processes growing: a client of the test before that exits in the
        # meantime (its exit processed after the count was read) keeps the count level.
        seen = f"observing pid {p.pid} "
        try:
            sonde_it.wait_for(lambda: seen in self.sonde.stderr(), 10, interval=0.1)
        except sonde_it.WaitTimeout:
            self.fail(f"sonde did not select {LATE} (pid {p.pid}) at its listen within "
                      f"10 s; sonde's log:\n{self.sonde.log_tail()}")
        return p

    def test_pgx_pool_selected_at_listen(self):
        """Issue 15 as a user met it: the service is selected when it listens, after
        pgxpool opened its first connection and prepared the statement on it. That
        connection's failures are named once the statement succeeded there (its tag names
        it); the ones before carry no name anything observed could give."""
        rows = int(self.pg.psql(f"SELECT count(*) FROM {CHECK_TABLE}"))
        before = self.sonde.scrape()
        mark = self.log.mark()
        p = self.start_late()
        with socket.create_connection(("127.0.0.1", self.late_port), timeout=10) as s:
            s.sendall(b"\n")
        self.assertEqual(p.wait(120), 0, p.log_tail())
        client = json.loads(p.stdout())
        expected = self.check_referee(mark, LATE, rows, client)
        unnamed = client["unnamed"]
        expected[("INSERT", "23514")] -= unnamed
        expected[("", "23514")] = unnamed
        expected[("PREPARE", "")] = client["prepares"]  # connections opened after the listen
        self.check_round("pgx pool selected at its listen", LATE, before, expected)


class PostgresSocketTest(_PgCases):
    CAPTURE = "socket"


class PostgresSyscallsTest(_PgCases):
    CAPTURE = "syscalls"


def load_tests(loader, tests, pattern):
    suite = unittest.TestSuite()
    for cls in (PostgresSocketTest, PostgresSyscallsTest):
        suite.addTests(loader.loadTestsFromTestCase(cls))
    return suite


if __name__ == "__main__":
    sonde_it.main()
