# SPDX-License-Identifier: GPL-2.0-only
"""Outbound HTTP/1.1 client requests counted exactly per status, on both capture paths.

Front trade-engines (selected by pid) answer GET /api/v1/quote by calling their -upstream
URL with Go's net/http client (keep-alive pool, reader and writer goroutines per
connection): upstream trade-engines on 127.0.0.1 and on [::1] (unselected) serving 200,
404, 500, 204 and a chunked 200, and nginx (unselected) answering 503 and closing each
keep-alive connection after 10 requests (the client reconnects). wrk drives the fronts
over several concurrent connections.

Referees: each front's own referee (one upstream call per GET /api/v1/quote it served),
wrk's counts, and the upstream trade-engines' referees (what they served)."""

import json
import os
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import sonde_it  # noqa: E402
from db_cases import (HTTP_CLIENT, HTTP_CLIENT_LABELS, SondeCase, assert_exact,  # noqa: E402
                      assert_no_loss, check_histograms, delta, http_client_counts,
                      parse_errors)

CONNS, PER_CONN = 3, 50     # wrk connections per front, requests per connection
SERVICE = "trade-engine"

# name: (upstream, path on it, status the upstream answers)
FRONTS = {
    "ok": ("v4", "/api/v1/orders/7", 200),
    "missing": ("v4", "/api/v1/missing/3", 404),
    "fail": ("v4", "/api/v1/orders/1/fail", 500),
    "empty": ("v4", "/api/v1/empty", 204),
    "chunked": ("v6", "/api/v1/chunked", 200),
    "nginx": ("nginx", "/status/503", 503),
}
UPSTREAM_ROUTES = {"/api/v1/orders/7": "/api/v1/orders/{id}",
                   "/api/v1/missing/3": "/api/v1/missing/{id}",
                   "/api/v1/orders/1/fail": "/api/v1/orders/{id}/fail",
                   "/api/v1/empty": "/api/v1/empty", "/api/v1/chunked": "/api/v1/chunked"}


class _HttpClientCases(SondeCase):
    CAPTURE = None

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.up = {
            "v4": cls.class_started(sonde_it.start_trade_engine()),
            "v6": cls.class_started(sonde_it.start_trade_engine(addr="[::1]:0")),
        }
        cls.nginx = cls.class_started(sonde_it.start_nginx(workers=1, keepalive_requests=10))
        cls.fronts = {}
        for name, (up, path, _) in FRONTS.items():
            base = cls.nginx.url if up == "nginx" else cls.up[up].url
            cls.fronts[name] = cls.class_started(
                sonde_it.start_trade_engine(upstream=base + path))
        cls.sonde = cls.start_capture_sonde(
            cls.CAPTURE, [f"pid={f.pid}" for f in cls.fronts.values()])

    def upstream_addr(self, name):
        up = FRONTS[name][0]
        if up == "nginx":
            return self.nginx.host, self.nginx.port
        return self.up[up].host, self.up[up].port

    def drive(self, name):
        """wrk: CONNS x PER_CONN GET /api/v1/quote to front name; every one answered 200
        by the front, which made exactly one upstream call for it."""
        front = self.fronts[name]
        front.referee_reset()
        res = sonde_it.wrk_run(front.url, CONNS, PER_CONN, mix="get",
                               paths=["/api/v1/quote"], timeout=60)
        n = CONNS * PER_CONN
        self.assertTrue(res["complete"], res)
        self.assertEqual((res["sent"], res["received"]), (n, n), res)
        counts = {(c["method"], c["route"], c["status"]): c["count"] for c in res["counts"]}
        self.assertEqual(counts, {("GET", "/api/v1/quote", 200): n}, res)
        self.assertEqual(front.referee(), {("GET", "/api/v1/quote", 200): n})
        return n

    def test_outbound_per_status(self):
        """Every front in turn: http_client_request_duration_seconds counts exactly the
        upstream calls, per (server_address, server_port, method, status)."""
        before = self.sonde.scrape()
        for up in self.up.values():
            up.referee_reset()
        expected = {}
        for name, (_, path, status) in FRONTS.items():
            n = self.drive(name)
            host, port = self.upstream_addr(name)
            key = (host, str(port), "GET", str(status))
            expected[key] = expected.get(key, 0) + n
        # The upstream trade-engines served exactly those calls (their own referees).
        for up_name, up in self.up.items():
            want = {}
            for name, (u, path, status) in FRONTS.items():
                if u == up_name:
                    k = ("GET", UPSTREAM_ROUTES[path], status)
                    want[k] = want.get(k, 0) + CONNS * PER_CONN
            self.assertEqual(up.referee(), want, f"upstream {up_name} referee")

        def got(m):
            out = {}
            for lbl, v in sonde_it.samples(m, HTTP_CLIENT + "_count", service_name=SERVICE):
                k = (lbl.get("server_address"), lbl.get("server_port"),
                     lbl.get("http_request_method"), lbl.get("http_response_status_code"))
                out[k] = out.get(k, 0) + v
            return out

        base = got(before)
        m = assert_exact(self, self.sonde, lambda m: delta(got(m), base), expected,
                         f"outbound HTTP per status [{self.CAPTURE}]")
        assert_no_loss(self, m, self.sonde)
        self.assertEqual(parse_errors(m, "http") - parse_errors(before, "http"), 0,
                         "sonde_parse_errors_total{protocol=\"http\"} grew")
        check_histograms(self, m, HTTP_CLIENT, {"service_name": SERVICE},
                         HTTP_CLIENT_LABELS)
        # No client series toward the fronts: wrk and this process are not selected. By
        # address and port: the [::1] upstream may have the port number of a front on
        # 127.0.0.1, and the fronts' calls to it are rightly counted.
        for f in self.fronts.values():
            self.assertEqual(http_client_counts(m, server_address=f.host,
                                                server_port=str(f.port)), {},
                             f"client series toward front {f.host}:{f.port}")

    def test_single_requests(self):
        """One request per new inbound connection, 40 times, against the 404 front: the
        front's pooled upstream connection is reused; counted exactly."""
        front = self.fronts["missing"]
        host, port = self.upstream_addr("missing")
        labels = {"service_name": SERVICE, "server_address": host, "server_port": str(port)}
        before = self.sonde.scrape()
        base = http_client_counts(before, **labels)
        for _ in range(40):
            status, _, body = sonde_it.http_get(front.url + "/api/v1/quote")
            self.assertEqual((status, json.loads(body)["upstream_status"]), (200, 404))
        assert_exact(self, self.sonde,
                     lambda m: delta(http_client_counts(m, **labels), base),
                     {("GET", "404"): 40}, f"40 single quotes [{self.CAPTURE}]")


class HttpClientSocketTest(_HttpClientCases):
    CAPTURE = "socket"


class HttpClientSyscallsTest(_HttpClientCases):
    CAPTURE = "syscalls"


def load_tests(loader, tests, pattern):
    suite = unittest.TestSuite()
    for cls in (HttpClientSocketTest, HttpClientSyscallsTest):
        suite.addTests(loader.loadTestsFromTestCase(cls))
    return suite


if __name__ == "__main__":
    sonde_it.main()
