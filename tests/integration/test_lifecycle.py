# SPDX-License-Identifier: GPL-2.0-only
"""sonde's lifecycle, on both capture paths: SIGHUP reloads the config file without losing
counters (selection and routes change, a bad file and a key that needs a restart are
refused), a selected service restarted under a new pid is observed again from its first
requests (comm=, exe= and port= rules), and SIGTERM under load exits 0 leaving no BPF
program, link or map behind.

Every count is exact: the trade-engine's requests are sent one at a time on fresh
connections, and after the expected totals appear nothing more may arrive (SETTLE_S)."""

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import unittest
from unittest import mock

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import sonde_it  # noqa: E402
from http_cases import (capture_suite, counter, diagnosis, diff_counts,  # noqa: E402
                        server_counts, SETTLE_S, WAIT_S)

ORDER = ("GET", "/api/v1/orders/{id}", 200)        # the path heuristics' route
ORDER_PATTERN = ("GET", "/api/v1/orders/{order}", 200)  # a pattern a reload adds
NO_MATCH = "select = comm=no-such-comm\n"  # selects nothing (no rule: every listener)


def reloads(m, result):
    return counter(m, "sonde_config_reloads_total", result=result)


def get_orders(engine, n, first=1):
    """n GETs of /api/v1/orders/ID, each on its own connection, all answered 200."""
    for i in range(first, first + n):
        status, _, _ = sonde_it.http_get(f"{engine.url}/api/v1/orders/{i}")
        if status != 200:
            raise AssertionError(f"GET /api/v1/orders/{i} answered {status}")


def order_counts(m, port):
    """server_counts of the /api/ routes: a trade-engine started under sonde's eyes also
    has its readiness probes (/healthz, /referee/reset) counted, a number the harness
    does not fix."""
    return {k: v for k, v in server_counts(m, port).items()
            if (k[1] or "").startswith("/api/")}


def assert_orders(tc, sonde, port, expected, what):
    """order_counts reaches expected, and still equals it SETTLE_S later."""
    got = {}

    def equal():
        nonlocal got
        sonde.check_running()
        got = order_counts(sonde.scrape(), port)
        return got == expected

    try:
        sonde_it.wait_for(equal, WAIT_S, interval=0.1)
    except sonde_it.WaitTimeout:
        tc.fail(f"{what}: never exact:\n{diff_counts(expected, got)}\n{diagnosis(sonde)}")
    time.sleep(SETTLE_S)
    m = sonde.scrape()
    got = order_counts(m, port)
    if got != expected:
        tc.fail(f"{what}: more arrived:\n{diff_counts(expected, got)}\n{diagnosis(sonde, m)}")
    return m


def stderr_lines(sonde, needle):
    return [ln for ln in sonde.stderr().splitlines() if needle in ln]


class _Lifecycle(sonde_it.IntegrationCase):
    CAPTURE = None
    RUN_FIRST = ()

    def setUp(self):
        super().setUp()
        self.dir = tempfile.mkdtemp(prefix="sonde-it-lifecycle-")
        self.conf = os.path.join(self.dir, "sonde.conf")

    def write_conf(self, text):
        tmp = self.conf + ".new"
        with open(tmp, "w") as f:
            f.write(text)
        os.rename(tmp, self.conf)  # a reload never reads half a file

    def start_sonde(self, conf, listen=None):
        """sonde --config FILE; listen: the port the file itself sets (no --listen flag,
        which would win over the file)."""
        self.write_conf(conf)
        args = ["--config", self.conf, "--capture", self.CAPTURE, "-v"]
        if listen is None:
            return self.started(sonde_it.start_sonde(args))
        with mock.patch.object(sonde_it, "_listen_port", lambda a: listen):
            return self.started(sonde_it.start_sonde(args))

    def reload(self, sonde, conf, result="ok"):
        """Writes conf, sends SIGHUP and waits until sonde counted the reload: it is
        applied (selection included) before the counter moves."""
        m = sonde.scrape()
        want = reloads(m, result) + 1
        self.write_conf(conf)
        os.kill(sonde.pid, signal.SIGHUP)
        sonde_it.wait_for(lambda: reloads(sonde.scrape(), result) == want, 10,
                          message=f"sonde_config_reloads_total{{result={result!r}}} {want}")

    def engine(self):
        e = self.started(sonde_it.start_trade_engine())
        return e

    # ------------------------------------------------------------------ SIGHUP

    def test_sighup_selects_and_unselects(self):
        """A select rule added by SIGHUP counts the running server's requests exactly from
        then on; a route pattern added with it names the new requests only; removing the
        rule stops the counting and keeps the counts."""
        e = self.engine()
        sonde = self.start_sonde(NO_MATCH)
        get_orders(e, 5)  # unselected: never counted
        time.sleep(SETTLE_S)
        self.assertEqual(order_counts(sonde.scrape(), e.port), {})

        self.reload(sonde, f"select = pid={e.pid}\n")
        get_orders(e, 20)
        assert_orders(self, sonde, e.port, {ORDER: 20}, what="after select")

        self.reload(sonde, f"select = pid={e.pid}\nroute = /api/v1/orders/{{order}}\n")
        get_orders(e, 10)
        assert_orders(self, sonde, e.port, {ORDER: 20, ORDER_PATTERN: 10},
                            what="after the route")

        self.reload(sonde, NO_MATCH)
        get_orders(e, 7)
        m = assert_orders(self, sonde, e.port, {ORDER: 20, ORDER_PATTERN: 10},
                                what="after unselect")
        self.assertEqual(reloads(m, "ok"), 3)
        self.assertEqual(reloads(m, "error"), 0)
        self.assertEqual(len(stderr_lines(sonde, "config reloaded: changed select")), 2,
                         sonde.stderr())
        self.assertEqual(len(stderr_lines(sonde, "no rule selects it after the reload")), 1,
                         sonde.stderr())

    def test_bad_file_keeps_the_old_config(self):
        e = self.engine()
        sonde = self.start_sonde(f"select = pid={e.pid}\n")
        get_orders(e, 3)
        assert_orders(self, sonde, e.port, {ORDER: 3}, what="before")
        self.reload(sonde, "select = pid=nope\n", result="error")
        get_orders(e, 4)
        m = assert_orders(self, sonde, e.port, {ORDER: 7}, what="after a bad file")
        self.assertEqual(reloads(m, "error"), 1)
        self.assertEqual(reloads(m, "ok"), 0)
        lines = stderr_lines(sonde, "config reload")
        self.assertEqual(len(lines), 1, sonde.stderr())
        self.assertIn(f"{self.conf}:1: select: 'pid=nope'", lines[0])
        self.assertIn("running config stays", lines[0])

    def test_listen_change_is_refused_the_rest_applies(self):
        e = self.engine()
        port = sonde_it.free_port()
        other = sonde_it.free_port()
        sonde = self.start_sonde(f"listen = 127.0.0.1:{port}\nselect = pid={e.pid}\n",
                                 listen=port)
        get_orders(e, 2)
        assert_orders(self, sonde, e.port, {ORDER: 2}, what="before")
        self.reload(sonde, f"listen = 127.0.0.1:{other}\nselect = pid={e.pid}\n"
                    "route = /api/v1/orders/{order}\n", result="error")
        get_orders(e, 3)
        m = assert_orders(self, sonde, e.port, {ORDER: 2, ORDER_PATTERN: 3},
                                what="route applied with listen refused")
        self.assertEqual(reloads(m, "error"), 1)
        lines = stderr_lines(sonde, "config reload:")  # not "config reloaded: changed route"
        self.assertEqual(len(lines), 1, sonde.stderr())
        self.assertIn("listen cannot change while sonde runs", lines[0])
        self.assertEqual(sonde_it.http_get(sonde.url + "/healthz")[0], 200)
        with self.assertRaises(OSError):
            sonde_it.http_get(f"http://127.0.0.1:{other}/healthz", timeout=2)

    # ------------------------------------------------------------------ restart

    def _restart(self, rule):
        """The selected service killed and started again (new pid, same port): the
        requests sent as soon as it listens are all counted."""
        e = self.engine()
        port = e.port
        sonde = self.started(sonde_it.start_sonde(
            ["--select", rule(e), "--capture", self.CAPTURE, "-v"]))
        get_orders(e, 5)
        assert_orders(self, sonde, port, {ORDER: 5}, what="first pid")
        old = e.pid
        e.stop(signal.SIGKILL)
        e2 = sonde_it.retry_if_port_in_use(
            lambda p: self.started(sonde_it.start_trade_engine(addr=f"127.0.0.1:{p}")), port)
        self.assertNotEqual(e2.pid, old)
        t0 = time.monotonic()
        get_orders(e2, 10)
        sent = time.monotonic() - t0
        self.assertLess(sent, 1.0, "the 10 requests took more than a second to send")
        assert_orders(self, sonde, port, {ORDER: 15}, what=f"restarted under {rule(e2)}")

    def test_restart_comm_rule(self):
        self._restart(lambda e: "comm=trade-engine")

    def test_restart_exe_rule(self):
        self._restart(lambda e: "exe=*/trade-engine")

    def test_restart_port_rule(self):
        self._restart(lambda e: f"port={e.port}")

    # ------------------------------------------------------------------ shutdown

    def test_sigterm_under_load_leaves_nothing(self):
        e = self.engine()
        sonde = self.started(sonde_it.start_sonde(
            ["--select", f"pid={e.pid}", "--capture", self.CAPTURE]))
        held = sonde_it.bpf_objects_of(sonde.pid)
        for kind in ("prog", "link", "map"):
            self.assertTrue(held[kind], f"sonde holds no BPF {kind}")
        wrk = self.started(sonde_it.Proc(["wrk", "-t", "2", "-c", "8", "-d", "4s",
                                          f"{e.url}/api/v1/orders/1"], name="wrk"))
        time.sleep(2.0)  # under load
        self.assertTrue(wrk.alive(), wrk.log_tail())
        sonde.stop()  # raises unless it exits 0
        left = {}

        def gone():
            nonlocal left
            live = bpf_object_ids()
            left = {k: held[k] & live[k] for k in held}
            return not any(left.values())

        try:
            sonde_it.wait_for(gone, 10, message="sonde's BPF objects freed")
        except AssertionError:
            self.fail(f"left in the kernel after sonde exited: {left}\n{sonde.final_log}")
        wrk.wait(10)




def bpf_object_ids():
    """{"prog"|"link"|"map": set of ids} the kernel lists now (bpftool)."""
    out = {}
    for kind in ("prog", "link", "map"):
        r = subprocess.run(["bpftool", "-j", kind, "show"], stdout=subprocess.PIPE,
                           stderr=subprocess.DEVNULL, timeout=30)
        try:
            out[kind] = {o["id"] for o in json.loads(r.stdout or b"[]")}
        except json.JSONDecodeError:  # types newer than bpftool: read the text form
            text = subprocess.run(["bpftool", kind, "show"], stdout=subprocess.PIPE,
                                  stderr=subprocess.DEVNULL, timeout=30).stdout.decode()
            out[kind] = {int(ln.split(":", 1)[0]) for ln in text.splitlines()
                         if ln[:1].isdigit() and ":" in ln}
    return out


class SocketLifecycle(_Lifecycle):
    CAPTURE = "socket"


class SyscallsLifecycle(_Lifecycle):
    CAPTURE = "syscalls"


def load_tests(loader, tests, pattern):
    return capture_suite(loader, SocketLifecycle, SyscallsLifecycle)


if __name__ == "__main__":
    sonde_it.main()
