# SPDX-License-Identifier: GPL-2.0-only
"""Request events (--events) on both capture paths, against the client's own record.

The Go trade-engine (Redis behind it, an upstream trade-engine for /api/v1/quote) serves a
load with known slow (/api/v1/slow sleeps 150 ms), failing (500), missing (404) and fast
requests, each carrying ids the client chose (X-Request-ID, X-Correlation-ID, traceparent)
and an Authorization header that must never be written. The event lines must equal the
client's record: one line per request the filter passes, with its ids, status, route and
method, a first-byte time inside the client's own send..receive window; none for the rest.
A sink nobody reads (a FIFO) must not slow capture: every exchange is still counted, and
every line is either queued or counted as dropped."""

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import sonde_it  # noqa: E402
from http_cases import (DURATION, TRADE_ENGINE_ROUTES, assert_no_loss,  # noqa: E402
                        capture_suite, route_args, server_counts, sonde_args)

SLOW_NS = 150_000_000
FILTER = "error,status=404,duration>=150ms"
# CLOCK_REALTIME is re-read against CLOCK_MONOTONIC each second: an NTP slew (<= 500 ppm)
# moves a converted time by at most 0.5 ms in that second.
CLOCK_SLACK_NS = 500_000


def traceparent(i):
    return f"00-{i + 1:032x}-{i + 1:016x}-01", f"{i + 1:032x}", f"{i + 1:016x}"


def read_lines(path):
    with open(path, "rb") as f:
        data = f.read()
    if data and not data.endswith(b"\n"):
        raise AssertionError(f"{path} ends inside a line")
    return [json.loads(line) for line in data.splitlines()]


def metric(m, name, **labels):
    return sonde_it.value(m, name, **labels) or 0


def settled_lines(sonde, path):
    """The file's lines once every line sonde queued is in it. Call after sonde counted
    every request: a refresh of the self-metrics (each second) then counts every line
    queued, and the writer, woken at most every 100 ms or by itself each second, writes
    them within about a second."""
    time.sleep(1.2)
    queued = metric(sonde.scrape(), "sonde_event_lines_total")
    return sonde_it.wait_for(lambda: (lambda ls: len(ls) == queued and ls)(read_lines(path)),
                             5, message=f"{queued} lines in {path}")


class _EventCases(sonde_it.IntegrationCase):
    CAPTURE = None
    RUN_FIRST = ()

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.redis = cls.class_started(sonde_it.start_redis())
        cls.upstream = cls.class_started(sonde_it.start_trade_engine())
        cls.svc = cls.class_started(sonde_it.start_trade_engine(
            redis=cls.redis.addr, upstream=cls.upstream.url + "/api/v1/missing/77"))
        cls.tmp = tempfile.mkdtemp(prefix="sonde-events-")

    def start_sonde(self, events, filt, extra=()):
        s = sonde_it.start_sonde(sonde_args(
            self.CAPTURE, pids=[self.svc.pid], routes=TRADE_ENGINE_ROUTES,
            extra=["--events", events, "--events-filter", filt, *extra]))
        self.addCleanup(s.stop)
        return s

    def request(self, path, headers):
        t0 = time.time_ns()
        status, _, _ = sonde_it.http_request("GET", self.svc.url + path, headers=headers)
        return status, t0, time.time_ns()

    def drive(self):
        """The load: returns the client's record {request id key: (route, status, t0, t1,
        ids)} of the requests the filter must pass, and the number of the others."""
        want, others = {}, 0
        plan = ([("/api/v1/slow", "/api/v1/slow")] * 10 +
                [("/api/v1/orders/%d/fail", "/api/v1/orders/{id}/fail")] * 15 +
                [("/api/v1/missing/%d", "/api/v1/missing/{id}")] * 10 +
                [("/api/v1/orders/%d", "/api/v1/orders/{id}")] * 100)
        for i, (path, route) in enumerate(plan):
            tp, trace, span = traceparent(i)
            hdr = {"Authorization": f"Bearer SECRET-{i}", "traceparent": tp,
                   "X-Request-ID": f"req-{i}", "X-Correlation-ID": f"corr-{i}"}
            status, t0, t1 = self.request(path.replace("%d", str(i + 1)), hdr)
            if status >= 500 or status == 404 or route == "/api/v1/slow":
                want[f"req-{i}"] = (route, status, t0, t1, f"corr-{i}", trace, span)
            else:
                others += 1
        return want, others

    def test_filtered_lines_equal_client_record(self):
        path = os.path.join(self.tmp, f"filtered-{self.CAPTURE}.jsonl")
        sonde = self.start_sonde(path, FILTER, extra=["--events-path"])
        want, others = self.drive()
        # /api/v1/quote: the service's own client request to the upstream gets a 404
        for _ in range(5):
            self.assertEqual(self.request("/api/v1/quote", {"X-Request-ID": "quote"})[0], 200)
        n_server = len(want) + others + 5

        def settled():
            m = sonde.scrape()
            return sum(server_counts(m, self.svc.port).values()) == n_server and m

        m = sonde_it.wait_for(settled, 20, message="sonde counted every request")
        assert_no_loss(self, m, sonde)
        lines = settled_lines(sonde, path)
        with open(path, "rb") as f:
            raw = f.read()
        self.assertNotIn(b"SECRET", raw, "a header outside the allow-list was written")
        self.assertNotIn(b"Authorization", raw)
        server = [e for e in lines if e["kind"] == "http_server"]
        client = [e for e in lines if e["kind"] == "http_client"]
        # a fast request passes only by its own duration, which the line shows
        slow_ok = [e for e in server if e.get("request_id") not in want]
        for e in slow_ok:
            self.assertGreaterEqual(e["duration_ns"], SLOW_NS, e)
        got = {e["request_id"]: e for e in server if e.get("request_id") in want}
        self.assertEqual(sorted(got), sorted(want), "one line per passing request")
        self.assertEqual(len(server) - len(slow_ok), len(want), "no duplicates")
        for rid, (route, status, t0, t1, corr, trace, span) in want.items():
            e = got[rid]
            self.assertEqual(
                (e["service_name"], e["http_request_method"], e["http_route"],
                 e["http_response_status_code"], e["correlation_id"], e["trace_id"],
                 e["span_id"], e["server_port"], e["client_address"]),
                ("trade-engine", "GET", route, status, corr, trace, span, self.svc.port,
                 "127.0.0.1"), e)
            self.assertTrue(e["url_path"].startswith(route.split("{")[0]), e)
            if route == "/api/v1/slow":
                self.assertGreaterEqual(e["duration_ns"], SLOW_NS, e)
            ts = parse_rfc3339_ns(e["time"])
            self.assertTrue(t0 - CLOCK_SLACK_NS <= ts <= t1 + CLOCK_SLACK_NS,
                            (e["time"], t0, t1))
        self.assertEqual(len(client), 5, client)
        for e in client:
            self.assertEqual((e["http_response_status_code"], e["server_address"],
                              e["server_port"], e["http_request_method"]),
                             (404, "127.0.0.1", self.upstream.port, "GET"), e)
            self.assertNotIn("request_id", e)
        m = sonde.scrape()
        self.assertEqual(metric(m, "sonde_event_lines_dropped_total", reason="queue_full"), 0)
        self.assertEqual(metric(m, "sonde_event_ids_unusable_total", reason="cut"), 0)

    def test_all_with_redis_operations(self):
        path = os.path.join(self.tmp, f"all-{self.CAPTURE}.jsonl")
        sonde = self.start_sonde(path, "all")
        for i in range(50):
            self.assertEqual(self.request(f"/api/v1/orders/{i + 1}",
                                          {"X-Request-ID": f"all-{i}"})[0], 200)
        sonde_it.wait_for(lambda: sum(server_counts(sonde.scrape(), self.svc.port).values())
                          == 50, 20, message="sonde counted the 50 requests")
        lines = settled_lines(sonde, path)
        http = [e for e in lines if e["kind"] == "http_server"]
        db = [e for e in lines if e["kind"] == "db_client"]
        self.assertEqual(sorted(e["request_id"] for e in http),
                         sorted(f"all-{i}" for i in range(50)))
        self.assertEqual(len(db), 50, db[:3])
        for e in db:
            self.assertEqual((e["db_system_name"], e["db_operation_name"], e["server_port"],
                              e["service_name"]),
                             ("redis", "GET", self.redis.port, "trade-engine"), e)
            self.assertNotIn("error_type", e)
            self.assertNotIn("order:", json.dumps(e), "query text reached a line")
        self.assertEqual(len(lines), 100)

    def test_header_beyond_the_capture(self):
        """A head longer than one read's capture (--capture-bytes 256: 1 KiB per read): the
        request is still counted and written, with the ids whose header lines were captured
        (X-Correlation-ID before a 2 KiB header) and without those that were not
        (X-Request-ID, traceparent after it), its body size unknown; each such line is
        counted as not_captured, and nothing as a parse error."""
        path = os.path.join(self.tmp, f"uncaptured-{self.CAPTURE}.jsonl")
        sonde = self.start_sonde(path, "all", extra=["--capture-bytes", "256"])
        route, n_long, n_short = "/api/v1/orders/{id}", 20, 10
        for i in range(n_long):
            tp = traceparent(i)[0]
            hdr = {"X-Correlation-ID": f"long-{i}", "X-Pad": "p" * 2048,
                   "X-Request-ID": f"unseen-{i}", "traceparent": tp}
            self.assertEqual(self.request(f"/api/v1/orders/{i + 1}", hdr)[0], 200)
        for i in range(n_short):
            self.assertEqual(self.request(f"/api/v1/orders/{i + 1}",
                                          {"X-Request-ID": f"short-{i}"})[0], 200)
        key = ("GET", route, 200)
        m = sonde_it.wait_for(
            lambda: (lambda m: server_counts(m, self.svc.port).get(key) == n_long + n_short
                     and m)(sonde.scrape()),
            20, message="sonde counted every request, long heads included")
        assert_no_loss(self, m, sonde)
        self.assertEqual(metric(m, "sonde_parse_errors_total", protocol="http"), 0)
        # the request body size is observed only where it is known
        self.assertEqual(server_counts(m, self.svc.port, "http_server_request_body_size_bytes")
                         .get(key), n_short)
        self.assertEqual(server_counts(m, self.svc.port, "http_server_response_body_size_bytes")
                         .get(key), n_long + n_short)
        lines = [e for e in settled_lines(sonde, path) if e["kind"] == "http_server"]
        self.assertEqual(len(lines), n_long + n_short, lines[:3])
        long_lines = sorted((e for e in lines if "correlation_id" in e),
                            key=lambda e: int(e["correlation_id"].split("-")[1]))
        self.assertEqual([e["correlation_id"] for e in long_lines],
                         [f"long-{i}" for i in range(n_long)])
        for e in long_lines:
            self.assertEqual((e["http_route"], e["http_response_status_code"]), (route, 200), e)
            for absent in ("request_id", "trace_id", "span_id", "request_body_size"):
                self.assertNotIn(absent, e)
            self.assertGreater(e["response_body_size"], 0, e)
        short = [e for e in lines if "correlation_id" not in e]
        self.assertEqual(sorted(e["request_id"] for e in short),
                         sorted(f"short-{i}" for i in range(n_short)))
        for e in short:
            self.assertEqual(e["request_body_size"], 0, e)
        time.sleep(1.2)  # one refresh of the self-metrics
        m = sonde.scrape()
        self.assertEqual(metric(m, "sonde_event_ids_unusable_total", reason="not_captured"),
                         n_long)

    def test_stalled_fifo_drops_and_counts(self):
        fifo = os.path.join(self.tmp, f"fifo-{self.CAPTURE}")
        os.mkfifo(fifo)
        rd = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)  # a reader that never reads
        self.addCleanup(os.close, rd)
        sonde = self.start_sonde(fifo, "all")
        conns, per_conn = 8, 1250
        res = sonde_it.wrk_run(self.svc.url, conns, per_conn, mix="get",
                               paths=["/api/v1/empty"], timeout=120)
        self.assertEqual(res["received"], conns * per_conn, res)
        m = sonde_it.wait_for(
            lambda: (lambda m: server_counts(m, self.svc.port).get(
                ("GET", "/api/v1/empty", 204)) == conns * per_conn and m)(sonde.scrape()),
            20, message="every request counted while the sink is stalled")
        assert_no_loss(self, m, sonde)
        time.sleep(1.5)  # one refresh of the self-metrics
        m = sonde.scrape()
        queued = metric(m, "sonde_event_lines_total")
        dropped = metric(m, "sonde_event_lines_dropped_total", reason="queue_full")
        self.assertGreater(dropped, 0, "a 64 KiB pipe and a 1 MiB ring cannot hold 10,000")
        self.assertEqual(queued + dropped, conns * per_conn)
        # stopping with a full, unread pipe still exits cleanly and promptly
        t = time.monotonic()
        sonde.stop()
        self.assertLess(time.monotonic() - t, 5)

    def test_reopen_on_sigusr1(self):
        path = os.path.join(self.tmp, f"rotate-{self.CAPTURE}.jsonl")
        sonde = self.start_sonde(path, "all")
        self.request("/api/v1/empty", {"X-Request-ID": "before"})
        sonde_it.wait_for(lambda: os.path.exists(path) and read_lines(path), 10)
        os.rename(path, path + ".1")
        os.kill(sonde.pid, signal.SIGUSR1)
        sonde_it.wait_for(lambda: os.path.exists(path), 10, message="reopened")
        self.request("/api/v1/empty", {"X-Request-ID": "after"})
        sonde_it.wait_for(lambda: read_lines(path), 10, message="a line after rotation")
        self.assertEqual([e["request_id"] for e in read_lines(path + ".1")], ["before"])
        self.assertEqual([e["request_id"] for e in read_lines(path)], ["after"])

    def test_failed_reopen_keeps_the_old_file(self):
        """SIGUSR1 when the path cannot be opened (its directory was moved away): one
        error naming the file, sonde runs on, and lines keep going to the file it had."""
        where = os.path.join(self.tmp, f"gone-{self.CAPTURE}")
        os.mkdir(where)
        path = os.path.join(where, "events.jsonl")
        sonde = self.start_sonde(path, "all")
        self.request("/api/v1/empty", {"X-Request-ID": "before"})
        sonde_it.wait_for(lambda: read_lines(path), 10, message="a line before")
        os.rename(where, where + ".old")
        os.kill(sonde.pid, signal.SIGUSR1)
        sonde_it.wait_for(lambda: "cannot reopen" in sonde.stderr() + sonde.stdout(), 10,
                          message="the reopen error")
        self.request("/api/v1/empty", {"X-Request-ID": "after"})
        old = os.path.join(where + ".old", "events.jsonl")
        sonde_it.wait_for(lambda: len(read_lines(old)) == 2, 10, message="the line after")
        self.assertEqual([e["request_id"] for e in read_lines(old)], ["before", "after"])
        self.assertFalse(os.path.exists(where))
        log = sonde.stderr() + sonde.stdout()
        self.assertEqual(log.count("cannot reopen"), 1, log)
        self.assertIn(f"events: cannot reopen {path}: No such file or directory", log)
        sonde.check_running()

    def test_bad_settings_exit_2(self):
        for args, words in ((["--events", "/nonexistent-dir/ev.jsonl"],
                             "--events: cannot open /nonexistent-dir/ev.jsonl"),
                            (["--events", "-", "--events-filter", "duration>5ms"],
                             "--events-filter: 'duration>5ms': term 'duration>5ms'")):
            r = subprocess.run([sonde_it.sonde_bin(), "--select", f"pid={self.svc.pid}",
                                "--listen", "127.0.0.1:0", *args],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
            self.assertEqual(r.returncode, 2, r.stderr)
            self.assertIn(words, r.stderr.decode(), r.stderr)


def parse_rfc3339_ns(s):
    """"2026-12-04T19:02:38.123456789Z" -> ns since the epoch."""
    import calendar
    head, frac = s[:-1].split(".")
    return calendar.timegm(time.strptime(head, "%Y-%m-%dT%H:%M:%S")) * 10**9 + int(frac)


class EventsSocket(_EventCases):
    CAPTURE = "socket"


class EventsSyscalls(_EventCases):
    CAPTURE = "syscalls"


def load_tests(loader, tests, pattern):
    return capture_suite(loader, EventsSocket, EventsSyscalls)


if __name__ == "__main__":
    sonde_it.main()
