# SPDX-License-Identifier: GPL-2.0-only
"""Helpers of the client-side round-trip tests (test_db_postgres.py, test_db_redis.py,
test_http_client.py): a launcher that sonde selects before the short-lived clients exist,
referees (PostgreSQL's server log, Redis INFO commandstats), sonde's per-operation counts,
and exact waiting (both ways).

Every database count here is keyed (db_operation_name, error_type)."""

import json
import os
import re
import select
import signal
import subprocess
import sys
import tempfile
import time

import it_core
import sonde_it
from http_cases import (LOST_REASONS, assert_no_loss, diagnosis, diff_counts,  # noqa: F401
                        self_metrics)
from sonde_it import WaitTimeout, wait_for

DB = "db_client_operation_duration_seconds"
HTTP_CLIENT = "http_client_request_duration_seconds"
DB_LABELS = {"db_system_name", "db_operation_name", "error_type", "server_address",
             "server_port", "service_name"}
HTTP_CLIENT_LABELS = {"http_request_method", "http_response_status_code", "server_address",
                      "server_port", "service_name"}
DURATION_BUCKETS = (0, .005, .01, .025, .05, .075, .1, .25, .5, .75, 1, 2.5, 5, 7.5, 10)

SETTLE_S = 1.0       # after the expected totals appear: nothing more may arrive
WAIT_S = 15.0        # for sonde to catch up with what the clients already got

# --------------------------------------------------------------------------- launcher

_LAUNCHER = r"""
import json, os, subprocess, sys
for line in sys.stdin:
    req = json.loads(line)
    res = {"rc": None, "pid": None, "error": None}
    try:
        with open(req["out"], "wb") as out, open(req["err"], "wb") as err:
            p = subprocess.Popen(req["argv"], stdin=subprocess.DEVNULL, stdout=out,
                                 stderr=err, env=req["env"], cwd=req["cwd"])
            res["pid"] = p.pid
            try:
                res["rc"] = p.wait(timeout=req["timeout"])
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
                res["error"] = "timeout"
    except OSError as e:
        res["error"] = repr(e)
    sys.stdout.write(json.dumps(res) + "\n")
    sys.stdout.flush()
"""


class LaunchError(AssertionError):
    pass


class Launcher:
    """A long-lived process (python3) that forks and execs the clients it is asked to run,
    one at a time, and waits for each. sonde selects it by pid before any client exists;
    the kernel selects its children at fork and sonde keeps them at exec when a comm=/exe=
    rule matches them, so a client's first connection is observed from its first byte
    (no race between exec and sonde reading /proc)."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="sonde-it-launcher-")
        with open(os.path.join(self.dir, "launcher.err"), "wb") as err:
            self.popen = subprocess.Popen(
                [sys.executable, "-c", _LAUNCHER], stdin=subprocess.PIPE,
                stdout=subprocess.PIPE, stderr=err, cwd=self.dir, start_new_session=True,
                preexec_fn=it_core._die_with_parent)
        self.pid = self.popen.pid
        self.runs = 0

    def run(self, argv, timeout=120.0, env=None, check=True):
        """Runs argv as a child of the launcher; returns (rc, stdout text, stderr text).
        check: raise LaunchError unless rc is 0."""
        self.runs += 1
        out = os.path.join(self.dir, f"run{self.runs}.out")
        err = os.path.join(self.dir, f"run{self.runs}.err")
        req = {"argv": [str(a) for a in argv], "out": out, "err": err,
               "env": dict(os.environ if env is None else env), "cwd": self.dir,
               "timeout": timeout}
        self.popen.stdin.write((json.dumps(req) + "\n").encode())
        self.popen.stdin.flush()
        ready, _, _ = select.select([self.popen.stdout], [], [], timeout + 15)
        if not ready:
            raise LaunchError(f"launcher gave no answer for {argv}")
        line = self.popen.stdout.readline()
        if not line:
            raise LaunchError(f"launcher died running {argv}")
        res = json.loads(line)
        with open(out, "rb") as f:
            stdout = f.read().decode(errors="replace")
        with open(err, "rb") as f:
            stderr = f.read().decode(errors="replace")
        if res["error"]:
            raise LaunchError(f"{argv}: {res['error']}\n{stdout}\n{stderr}")
        if check and res["rc"] != 0:
            raise LaunchError(f"{argv} exited with {res['rc']}:\n{stdout}\n{stderr}")
        return res["rc"], stdout, stderr

    def stop(self):
        if self.popen.poll() is None:
            try:
                self.popen.stdin.close()
            except OSError:
                pass
            try:
                self.popen.wait(5)
            except subprocess.TimeoutExpired:
                os.kill(self.pid, signal.SIGKILL)
                self.popen.wait()
        self.popen.stdout.close()
        if os.environ.get("SONDE_IT_KEEP") != "1":
            import shutil
            shutil.rmtree(self.dir, ignore_errors=True)
        return self.popen.returncode


# --------------------------------------------------------------------------- sonde's counts

def db_counts(m, system, **labels):
    """{(db_operation_name, error_type): observations} of DB whose db_system_name is system
    and whose labels include labels, summed over the other labels."""
    out = {}
    for lbl, v in sonde_it.samples(m, DB + "_count", db_system_name=system, **labels):
        key = (lbl.get("db_operation_name", ""), lbl.get("error_type", ""))
        out[key] = out.get(key, 0) + v
    return {k: int(v) if v == int(v) else v for k, v in out.items() if v}


def http_client_counts(m, **labels):
    """{(method, status): observations} of http_client_request_duration_seconds."""
    out = {}
    for lbl, v in sonde_it.samples(m, HTTP_CLIENT + "_count", **labels):
        key = (lbl.get("http_request_method", ""), lbl.get("http_response_status_code", ""))
        out[key] = out.get(key, 0) + v
    return {k: int(v) if v == int(v) else v for k, v in out.items() if v}


def delta(after, before):
    """after - before, per key, without the zeros."""
    out = {}
    for k in set(after) | set(before):
        d = after.get(k, 0) - before.get(k, 0)
        if d:
            out[k] = d
    return out


def assert_exact(tc, sonde, fn, expected, what, timeout=WAIT_S, settle=SETTLE_S):
    """fn(scrape) -> {key: n} must reach expected, and still equal it settle seconds
    later (nothing more may arrive). Returns the final scrape. Fails with a per-key diff,
    sonde's self-metrics and its log."""
    expected = {k: v for k, v in expected.items() if v}
    got = {}

    def equal():
        nonlocal got
        sonde.check_running()
        got = fn(sonde.scrape())
        return got == expected

    try:
        wait_for(equal, timeout, interval=0.2)
    except WaitTimeout:
        tc.fail(f"{what}: sonde's counts never equalled the referee's ({timeout:.0f}s):\n"
                f"{diff_counts(expected, got)}\n{diagnosis(sonde)}")
    time.sleep(settle)
    m = sonde.scrape()
    got = fn(m)
    if got != expected:
        tc.fail(f"{what}: more arrived {settle:.1f}s after sonde's counts were exact:\n"
                f"{diff_counts(expected, got)}\n{diagnosis(sonde, m)}")
    return m


def parse_errors(m, protocol):
    return sonde_it.value(m, "sonde_parse_errors_total", protocol=protocol)


def check_histograms(tc, m, name, labels, label_names, optional=()):
    """Every series of histogram name matching labels has exactly label_names (those in
    optional may be left out: an empty label is no label), the contract's duration
    buckets (+Inf), cumulative, +Inf equal to _count."""
    import math
    series = sonde_it.samples(m, name + "_count", **labels)
    tc.assertTrue(series, f"no {name} series with {labels}")
    for lbl, count in series:
        tc.assertEqual(set(lbl) | set(optional), set(label_names) | set(optional),
                       f"{name} label names of {lbl}")
        got = sonde_it.hist_buckets(m, name, **lbl)
        tc.assertEqual(list(got), [float(b) for b in DURATION_BUCKETS] + [math.inf],
                       f"{name} bucket bounds of {lbl}")
        vals = list(got.values())
        tc.assertEqual(vals, sorted(vals), f"{name} buckets not cumulative: {lbl}")
        tc.assertEqual(vals[-1], count, f"{name} +Inf bucket != _count: {lbl}")
        tc.assertGreaterEqual(sonde_it.hist_sum(m, name, **lbl), 0, f"{name} _sum of {lbl}")


class SondeCase(sonde_it.IntegrationCase):
    """Checks shared by the classes that start one sonde (self.sonde) per class."""

    @classmethod
    def start_capture_sonde(cls, capture, rules):
        args = []
        for r in rules:
            args += ["--select", r]
        sonde = cls.class_started(sonde_it.start_sonde(args + ["--capture", capture, "-v"]))
        m = sonde.scrape()
        if sonde_it.value(m, "sonde_capture_mode", mode=capture) != 1:
            raise AssertionError(f"--capture {capture}: sonde_capture_mode says "
                                 f"{sonde_it.samples(m, 'sonde_capture_mode')}")
        return sonde


# --------------------------------------------------------------------------- PostgreSQL

# Settings of the referee cluster: every statement logged with its backend pid, its
# application_name and its SQLSTATE (log_statement = all is the harness default).
PG_LOG_SETTINGS = {"log_line_prefix": "%m [%p] app=[%a] sqlstate=%e "}

_PG_LOG_LINE = re.compile(
    r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:\.\d+)? \S+ \[(\d+)\] app=\[(.*?)\] "
    r"sqlstate=(\w{5}) ([A-Z]+):  (.*)$")
_PG_EXECUTE = re.compile(r"^execute (?:fetch from )?([^:]*): (.*)$", re.S)


def split_sql(text):
    """Statements of a simple Query, split on ';' outside quotes and comments (the SQL of
    these tests only: no dollar quoting)."""
    out, cur, i, n = [], [], 0, len(text)
    while i < n:
        ch = text[i]
        if ch in "'\"":
            j = i + 1
            while j < n:
                if text[j] == ch:
                    if j + 1 < n and text[j + 1] == ch:
                        j += 2
                        continue
                    break
                j += 1
            cur.append(text[i:j + 1])
            i = j + 1
        elif text.startswith("--", i):
            j = text.find("\n", i)
            i = n if j < 0 else j + 1
            cur.append(" ")
        elif text.startswith("/*", i):
            j = text.find("*/", i + 2)
            i = n if j < 0 else j + 2
            cur.append(" ")
        elif ch == ";":
            out.append("".join(cur))
            cur = []
            i += 1
        else:
            cur.append(ch)
            i += 1
    out.append("".join(cur))
    return [s.strip() for s in out if s.strip()]


def sql_op(stmt):
    """Operation name of one statement: its first keyword, uppercased."""
    m = re.match(r"[\s(]*([A-Za-z]+)", stmt)
    return m.group(1).upper() if m else ""


class PgLog:
    """The referee: the server log of a Postgres started with PG_LOG_SETTINGS. Every
    statement the server executes is logged before it runs ("statement: ..." for a simple
    Query, "execute NAME: ..." for an Execute), and an ERROR names its SQLSTATE and
    STATEMENT. Parse-only round trips are not logged."""

    def __init__(self, pg):
        self.path = os.path.join(pg.dir, "stderr.log")

    def mark(self):
        return os.path.getsize(self.path)

    def entries(self, since):
        """(pid, app, sqlstate, level, message) of each log entry after offset since
        (continuation lines joined with newlines)."""
        with open(self.path, "rb") as f:
            f.seek(since)
            text = f.read().decode(errors="replace")
        cur = None
        for line in text.splitlines():
            m = _PG_LOG_LINE.match(line)
            if m:
                if cur:
                    yield tuple(cur)
                cur = [int(m.group(1)), m.group(2), m.group(3), m.group(4), m.group(5)]
            elif cur and line.startswith("\t"):
                cur[4] += "\n" + line[1:]
        if cur:
            yield tuple(cur)

    def ops(self, since, app):
        """({(operation, error_type): n} of what the server executed for application_name
        app since offset since, [problems]). An ERROR is the error of the statement logged
        just before it by the same backend, checked against the ERROR's STATEMENT."""
        done = []           # [op, error, text]
        last = {}           # pid -> (entries of its last logged Query/Execute, text)
        pending = {}        # pid -> SQLSTATE of an ERROR waiting for its STATEMENT
        problems = []
        for pid, a, state, level, msg in self.entries(since):
            if a != app:
                continue
            if level == "LOG" and msg.startswith("statement: "):
                text = msg[len("statement: "):]
                ops = [[sql_op(s), "", s] for s in split_sql(text)]
                done.extend(ops)
                last[pid] = (ops, text)
            elif level == "LOG" and _PG_EXECUTE.match(msg):
                text = _PG_EXECUTE.match(msg).group(2)
                op = [sql_op(text), "", text]
                done.append(op)
                last[pid] = ([op], text)
            elif level in ("ERROR", "FATAL"):
                pending[pid] = state
            elif level == "STATEMENT" and pid in pending:
                state = pending.pop(pid)
                ops, text = last.pop(pid, ([], None))
                if text is None or text.strip() != msg.strip():
                    problems.append(f"ERROR {state} of a statement not logged as executed "
                                    f"(pid {pid}): {msg[:200]!r}")
                    done.append([sql_op(msg), state, msg])
                elif len(ops) != 1:
                    problems.append(f"ERROR {state} in a multi-statement Query: {msg[:200]!r}")
                else:
                    ops[0][1] = state
        counts = {}
        for op, err, _ in done:
            counts[(op, err)] = counts.get((op, err), 0) + 1
        return counts, problems

    def statements(self, since, app):
        """Texts of the statements executed for app since offset since."""
        out = []
        for pid, a, state, level, msg in self.entries(since):
            if a == app and level == "LOG":
                if msg.startswith("statement: "):
                    out.extend(split_sql(msg[len("statement: "):]))
                elif _PG_EXECUTE.match(msg):
                    out.append(_PG_EXECUTE.match(msg).group(2))
        return out


# --------------------------------------------------------------------------- Redis

def redis_command(host, port, *args, timeout=10.0):
    """One command on a fresh connection from this (unselected) process; returns the
    reply: str, int, None, list, or raises RuntimeError on an error reply. Referee calls
    go this way, not through redis-cli, which a comm=redis-cli rule would select."""
    import socket
    payload = b"*%d\r\n" % len(args)
    for a in args:
        a = str(a).encode()
        payload += b"$%d\r\n%s\r\n" % (len(a), a)
    with socket.create_connection((host, port), timeout=timeout) as s:
        s.sendall(payload)
        f = s.makefile("rb")
        return _resp_read(f)


def _resp_read(f):
    line = f.readline()
    if not line.endswith(b"\r\n"):
        raise RuntimeError(f"bad RESP line {line!r}")
    kind, rest = line[:1], line[1:-2].decode()
    if kind == b"+":
        return rest
    if kind == b"-":
        raise RuntimeError(rest)
    if kind == b":":
        return int(rest)
    if kind == b"$":
        n = int(rest)
        if n < 0:
            return None
        data = f.read(n + 2)
        return data[:-2].decode(errors="replace")
    if kind == b"*":
        n = int(rest)
        return None if n < 0 else [_resp_read(f) for _ in range(n)]
    raise RuntimeError(f"unexpected RESP type {line!r}")


def redis_info(host, port, section):
    """{name: {field: int}} of INFO section lines "name:field=v,field=v"."""
    out = {}
    for line in redis_command(host, port, "INFO", section).splitlines():
        name, sep, fields = line.strip().partition(":")
        if not sep or line.startswith("#"):
            continue
        vals = {}
        for kv in fields.split(","):
            k, _, v = kv.partition("=")
            try:
                vals[k] = int(v)
            except ValueError:
                try:
                    vals[k] = float(v)
                except ValueError:
                    vals[k] = v
        out[name] = vals
    return out


# Commands the referee itself sends (CONFIG RESETSTAT, INFO): not the clients'.
REFEREE_COMMANDS = ("config|resetstat", "info")


def redis_reset(host, port):
    redis_command(host, port, "CONFIG", "RESETSTAT")


def redis_stats(host, port):
    """({COMMAND: calls}, {COMMAND: failed_calls + rejected_calls}, {ERRWORD: count}) from
    INFO commandstats and errorstats since the last redis_reset(), without the referee's
    own commands; subcommands ("config|get") count as their command ("CONFIG"), the way
    sonde names them. Unknown commands appear in errorstats only."""
    calls, failed = {}, {}
    for name, f in redis_info(host, port, "commandstats").items():
        full = name[len("cmdstat_"):]
        if full in REFEREE_COMMANDS:
            continue
        cmd = full.split("|")[0].upper()
        calls[cmd] = calls.get(cmd, 0) + f["calls"]
        failed[cmd] = failed.get(cmd, 0) + f.get("failed_calls", 0) + f.get("rejected_calls", 0)
    errors = {name[len("errorstat_"):]: f["count"]
              for name, f in redis_info(host, port, "errorstats").items()}
    return calls, {k: v for k, v in failed.items() if v}, errors
