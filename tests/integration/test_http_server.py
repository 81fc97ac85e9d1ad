# SPDX-License-Identifier: GPL-2.0-only
"""HTTP/1.x server capture of the Go trade-engine, counted exactly, on both capture paths.

Each class runs once per capture path (CAPTURE "socket" and "syscalls") with one sonde
started in setUpClass after the services it selects by pid; every test drives its own
trade-engine, so its series are told apart by server_port and each test asserts exact
equality (per method, route and status) against the referee and the client, waits for the
totals, then checks again SETTLE_S later that nothing more arrived. Global self-metrics
(parse errors) are compared as before/after deltas: the tests of a class run one at a
time.

Odd cases written by hand on raw sockets are in test_http_odd.py; nginx and python's
http.server in test_http_servers.py."""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import sonde_it  # noqa: E402
from http_cases import (DURATION, REQ_SIZE, RESP_SIZE, DURATION_BUCKETS,  # noqa: E402
                        SIZE_BUCKETS, TRADE_ENGINE_ROUTES, RawConn, SondeClassCase, add,
                        assert_exact_counts, capture_suite, check_histogram_shape,
                        check_labels, check_wrk_complete, hist_by_key, pipeliner_counts,
                        request_bytes, series_with_port, server_counts, wrk_counts)

REFEREE = ("GET", "/referee", 200)
PIPELINE_MIX = ["GET /api/v1/orders/{id}", "POST /api/v1/orders", "HEAD /api/v1/orders/{id}",
                "GET /api/v1/chunked", "GET /api/v1/empty", "GET /api/v1/orders/{id}/fail",
                "GET /api/v1/missing/{id}"]


def wrk_api_post_body_bytes(connections, per_conn):
    """Bytes of the POST bodies wrk/count.lua's "api" mix sends: thread t (1-based) sends
    request number s (0-based) as mix item s % 6 + 1, a POST when that is 2, with the body
    {"symbol":"ACME","qty":Q,"price":12.5}, Q = (t * 1000000 + s) % 1000 + 1."""
    total = n = 0
    for t in range(1, connections + 1):
        for s in range(per_conn):
            if s % 6 == 1:
                qty = (t * 1000000 + s) % 1000 + 1
                total += len('{"symbol":"ACME","qty":%d,"price":12.5}' % qty)
                n += 1
    return total, n


class _RoutesCases(SondeClassCase):
    ROUTES = TRADE_ENGINE_ROUTES
    ENGINES = ("wrk", "slow", "pipe", "split", "pad", "sel")
    UNSELECTED = ("unsel",)

    @classmethod
    def before_sonde(cls):
        # Body sizes of the fixed-size responses the wrk mix gets (its ids have 7 digits),
        # measured before sonde starts, so these requests are not observed.
        e = cls.engines["wrk"]
        cls.body_len = {
            ("GET", "/api/v1/orders/{id}", 200):
                len(sonde_it.http_get(e.url + "/api/v1/orders/1000000")[2]),
            ("GET", "/api/v1/orders/{id}/fail", 500):
                len(sonde_it.http_get(e.url + "/api/v1/orders/1000001/fail")[2]),
            ("GET", "/api/v1/missing/{id}", 404):
                len(sonde_it.http_get(e.url + "/api/v1/missing/1000005")[2]),
        }
        e.referee_reset()

    def test_keepalive_mix_10000_requests(self):
        """10,000 requests of the api mix over 8 keep-alive connections (wrk)."""
        e = self.engines["wrk"]
        conns, per_conn = 8, 1250
        res = sonde_it.wrk_run(e.url, conns, per_conn, mix="api", timeout=120)
        check_wrk_complete(self, res, conns * per_conn)
        ref = e.referee()
        self.assertEqual(ref, wrk_counts(res), "referee vs wrk")
        expected = add(dict(ref), REFEREE)
        m = assert_exact_counts(self, self.sonde, e.port, expected, timeout=20,
                                what="wrk api mix")
        self.check_clean(m)
        check_labels(self, m, e.port, "trade-engine")
        for name, buckets in ((DURATION, DURATION_BUCKETS), (REQ_SIZE, SIZE_BUCKETS),
                              (RESP_SIZE, SIZE_BUCKETS)):
            check_histogram_shape(self, m, name, e.port, buckets)
        # One observation per exchange in each of the three histograms.
        self.assertEqual(server_counts(m, e.port, REQ_SIZE), expected, REQ_SIZE)
        self.assertEqual(server_counts(m, e.port, RESP_SIZE), expected, RESP_SIZE)
        # Body sizes: GETs carry none; the POST bodies are known; fixed-size responses.
        for key in expected:
            if key[0] == "GET":
                self.assertEqual(hist_by_key(m, REQ_SIZE, e.port, key), 0, key)
        post = ("POST", "/api/v1/orders", 201)
        post_bytes, posts = wrk_api_post_body_bytes(conns, per_conn)
        self.assertEqual(ref[post], posts)
        self.assertEqual(hist_by_key(m, REQ_SIZE, e.port, post), post_bytes,
                         "request body bytes of the POSTs")
        for key, size in self.body_len.items():
            self.assertEqual(hist_by_key(m, RESP_SIZE, e.port, key), ref[key] * size,
                             f"response body bytes of {key} ({ref[key]} x {size})")

    def test_slow_route_buckets(self):
        """GET /api/v1/slow sleeps 150 ms: all 20 observations in (0.1, 0.25]."""
        e = self.engines["slow"]
        n = 20
        res = sonde_it.wrk_run(e.url, 4, n // 4, mix="get", paths=["/api/v1/slow"],
                               timeout=30)
        check_wrk_complete(self, res, n)
        key = ("GET", "/api/v1/slow", 200)
        self.assertEqual(wrk_counts(res), {key: n})
        self.assertEqual(e.referee(), {key: n})
        m = assert_exact_counts(self, self.sonde, e.port, {key: n, REFEREE: 1},
                                what="slow route")
        self.check_clean(m)
        labels = dict(server_port=str(e.port), http_route="/api/v1/slow")
        self.assertEqual(sonde_it.hist_bucket(m, DURATION, 0.1, **labels), 0,
                         sonde_it.hist_buckets(m, DURATION, **labels))
        self.assertEqual(sonde_it.hist_bucket(m, DURATION, 0.25, **labels), n,
                         sonde_it.hist_buckets(m, DURATION, **labels))
        # Each exchange's duration contains its handler's run (the request was read before
        # it, the response written after it), which the service timed itself; what lies
        # outside it on loopback is well under a millisecond. (A fixed bound over the
        # nominal 150 ms failed when the sleep itself overshot on a loaded machine.)
        total = sonde_it.hist_sum(m, DURATION, **labels)
        handlers = e.referee_handler_seconds()[key]
        self.assertGreaterEqual(handlers, n * 0.150, "the handlers' own time")
        self.assertGreaterEqual(total, handlers, "sonde's durations contain the handlers'")
        self.assertLessEqual(total, handlers + n * 0.005,
                             "sonde's durations: the handlers' plus at most 5 ms each")

    def _pipeline(self, name, what, **kwargs):
        e = self.engines[name]
        res = sonde_it.pipeliner_run(e.addr, **kwargs)
        total = kwargs["conns"] * kwargs["depth"] * kwargs["rounds"]
        self.assertEqual((res["sent"], res["received"], res["errors"]), (total, total, []))
        counts = pipeliner_counts(res)
        ref = e.referee()
        self.assertEqual(ref, counts, "referee vs pipeliner")
        m = assert_exact_counts(self, self.sonde, e.port, add(dict(ref), REFEREE),
                                what=what)
        self.check_clean(m)
        return m, e, ref

    def test_pipelined_ten_per_write(self):
        """4 connections x 5 rounds of 10 requests in one write, 7 kinds of request."""
        m, e, ref = self._pipeline("pipe", "10 pipelined per write", conns=4, depth=10,
                                   rounds=5, requests=PIPELINE_MIX)
        self.assertEqual(sum(ref.values()), 200)
        # Bodies that framing must get right: HEAD and 204 carry none, chunked decodes.
        head = ("HEAD", "/api/v1/orders/{id}", 200)
        self.assertEqual(hist_by_key(m, RESP_SIZE, e.port, head), 0, "HEAD response body")
        empty = ("GET", "/api/v1/empty", 204)
        self.assertEqual(hist_by_key(m, RESP_SIZE, e.port, empty), 0, "204 response body")
        chunked = ("GET", "/api/v1/chunked", 200)
        self.assertEqual(hist_by_key(m, RESP_SIZE, e.port, chunked), 36 * ref[chunked],
                         "chunked response payload: 3 x 'part i of 3\\n'")

    def test_pipelined_one_byte_per_write(self):
        """Requests written one byte per write (1 ms apart), 3 pipelined, POSTs too."""
        self._pipeline("split", "one byte per write", conns=2, depth=3, rounds=2, split=1,
                       requests=["GET /api/v1/orders/{id}", "POST /api/v1/orders",
                                 "GET /api/v1/orders/{id}/fail"], timeout=60)

    def test_pipelined_60k_header(self):
        """Requests with a 60 KiB header, 2 pipelined per write."""
        self._pipeline("pad", "60 KiB header", conns=2, depth=2, rounds=2,
                       pad_header=60 * 1024,
                       requests=["GET /api/v1/orders/{id}", "POST /api/v1/orders"])

    def test_query_string_and_unselected_process(self):
        """A trade-engine not selected gets traffic: no series with its port appear,
        while the selected one is counted exactly; query strings never reach routes."""
        sel, unsel = self.engines["sel"], self.engines["unsel"]
        res_u = sonde_it.wrk_run(unsel.url, 2, 150, mix="api", timeout=30)
        check_wrk_complete(self, res_u, 300)
        conn = RawConn("127.0.0.1", unsel.port)
        for i in range(5):
            conn.send(request_bytes("GET", f"/api/v1/orders/{i}", unsel.addr))
            self.assertEqual(conn.read_response()[0], 200)
        conn.close()
        res = sonde_it.wrk_run(sel.url, 2, 150, mix="api", timeout=30)
        check_wrk_complete(self, res, 300)
        expected = wrk_counts(res)
        conn = RawConn("127.0.0.1", sel.port)
        for target in ("/api/v1/orders/7?debug=1&next=/api/v1/x", "/api/v1/orders/8?",
                       "/api/v1/missing/9?q=%2F"):
            conn.send(request_bytes("GET", target, sel.addr))
            status = conn.read_response()[0]
            route = "/api/v1/missing/{id}" if "missing" in target else "/api/v1/orders/{id}"
            add(expected, ("GET", route, status))
        conn.close()
        self.assertEqual(sel.referee(), expected, "referee vs clients")
        add(expected, REFEREE)
        m = assert_exact_counts(self, self.sonde, sel.port, expected, what="selected")
        self.check_clean(m)
        self.assertEqual(series_with_port(m, unsel.port), [],
                         f"series of the unselected trade-engine (port {unsel.port})")
        tracked = sonde_it.value(m, "sonde_tracked_processes")
        self.assertEqual(tracked, len(self.ENGINES),
                         f"sonde_tracked_processes: selected {len(self.ENGINES)} pids")


class _HeuristicsCases(SondeClassCase):
    """No --route patterns: routes come from the path heuristics."""
    ENGINES = ("heur",)

    def test_route_heuristics(self):
        e = self.engines["heur"]
        res = sonde_it.wrk_run(e.url, 2, 60, mix="api", timeout=30)
        check_wrk_complete(self, res, 120)
        expected = wrk_counts(res)   # wrk's routes are chi's patterns: the heuristics' too
        referee = dict(expected)
        # (method, target, chi route for the referee, route the heuristics must give)
        cases = [
            ("GET", "/api/v1/orders/77?verbose=1&x=/a/b", "/api/v1/orders/{id}",
             "/api/v1/orders/{id}"),
            ("GET", "/api/v1/orders/78/fail?x", "/api/v1/orders/{id}/fail",
             "/api/v1/orders/{id}/fail"),
            ("GET", "/api/v1/missing/123e4567-e89b-12d3-a456-426614174000",
             "/api/v1/missing/{id}", "/api/v1/missing/{uuid}"),
            ("GET", "/api/v1/missing/cafe1234cafe1234", "/api/v1/missing/{id}",
             "/api/v1/missing/{hex}"),
            ("GET", "/no/such/route", "", "/no/such/route"),
            ("GET", "/healthz", "/healthz", "/healthz"),
            ("GET", "/api/v1/empty", "/api/v1/empty", "/api/v1/empty"),
            ("PROPFIND", "/api/v1/orders/5", "", "/api/v1/orders/{id}"),
        ]
        conn = RawConn("127.0.0.1", e.port)
        for method, target, chi_route, route in cases:
            conn.send(request_bytes(method, target, e.addr))
            status = conn.read_response(method)[0]
            add(referee, (method, chi_route, status))
            label_method = method if method in ("GET", "POST", "HEAD") else "_OTHER"
            add(expected, (label_method, route, status))
        conn.close()
        self.assertEqual(e.referee(), referee, "referee vs clients")
        add(expected, REFEREE)
        m = assert_exact_counts(self, self.sonde, e.port, expected, what="heuristic routes")
        self.check_clean(m)
        check_labels(self, m, e.port, "trade-engine")


class RoutesSocketTest(_RoutesCases):
    CAPTURE = "socket"


class RoutesSyscallsTest(_RoutesCases):
    CAPTURE = "syscalls"


class HeuristicsSocketTest(_HeuristicsCases):
    CAPTURE = "socket"


class HeuristicsSyscallsTest(_HeuristicsCases):
    CAPTURE = "syscalls"


def load_tests(loader, tests, pattern):
    return capture_suite(loader, RoutesSocketTest, HeuristicsSocketTest, RoutesSyscallsTest,
                         HeuristicsSyscallsTest)


if __name__ == "__main__":
    sonde_it.main()
