# SPDX-License-Identifier: GPL-2.0-only
"""Business counters (--counter NAME METHOD ROUTE STATUS) on the socket capture path,
counted exactly against what the clients got.

One trade-engine, one sonde started after it with the trade-engine's --route patterns and
a few counter rules (exact status, status class, any method, any status, and one no request
matches). Each test drives its own load, takes every counter's increase since it began, and
compares it with what the rules select from the clients' own (method, route, status) counts:
first waiting for equality, then checking SETTLE_S later that nothing more arrived."""

import json
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import sonde_it  # noqa: E402
from http_cases import (DURATION, SETTLE_S, TRADE_ENGINE_ROUTES, WAIT_S, add,  # noqa: E402
                        assert_no_loss, check_wrk_complete, diagnosis, sonde_args,
                        wrk_counts)

SERVICE = "trade-engine"
ORDERS_CREATED = "orders_created_total"
# name -> (method, route, status) as given to --counter; "*" matches any
RULES = {
    ORDERS_CREATED: ("POST", "/api/v1/orders", "201"),
    "order_rejects_total": ("POST", "/api/v1/orders", "4xx"),
    "order_failures_total": ("*", "/api/v1/orders/{id}/fail", "5xx"),
    "order_reads_total": ("GET", "/api/v1/orders/{id}", "2xx"),
    "orders_any_total": ("*", "/api/v1/orders", "*"),
    "order_deletes_total": ("DELETE", "/api/v1/orders/{id}", "*"),  # never requested
}
ORDER = {"symbol": "ACME", "qty": 3, "price": 12.5}


def counter_args():
    args = []
    for name, (method, route, status) in RULES.items():
        args += ["--counter", f"{name} {method} {route} {status}"]
    return args


def rule_matches(rule, key):
    method, route, status = rule
    k_method, k_route, k_status = key
    if method != "*" and method != k_method:
        return False
    if route != k_route:
        return False
    if status == "*":
        return True
    if status.endswith("xx"):
        return k_status // 100 == int(status[0])
    return k_status == int(status)


def expected_counters(counts):
    """{counter name: requests its rule selects} from {(method, route, status): n}."""
    return {name: sum(n for key, n in counts.items() if rule_matches(rule, key))
            for name, rule in RULES.items()}


def counters(m):
    """{counter name: value} of the service's series (0 when a counter has none)."""
    return {name: sonde_it.value(m, name, service_name=SERVICE) for name in RULES}


def delta(now, before):
    return {k: now[k] - before[k] for k in now}


class BusinessSocketTest(sonde_it.IntegrationCase):
    CAPTURE = "socket"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.engine = cls.class_started(sonde_it.start_trade_engine())
        cls.sonde = cls.class_started(sonde_it.start_sonde(sonde_args(
            cls.CAPTURE, pids=[cls.engine.pid], routes=TRADE_ENGINE_ROUTES,
            extra=counter_args())))
        mode = sonde_it.value(cls.sonde.scrape(), "sonde_capture_mode", mode=cls.CAPTURE)
        if mode != 1:
            raise AssertionError(f"--capture {cls.CAPTURE}: sonde_capture_mode is not 1")

    def setUp(self):
        self.engine.referee_reset()
        self.before = self.sonde.scrape()

    def assert_counters(self, expected, what):
        """Waits until every counter grew by expected[name] since the test began, then
        checks SETTLE_S later that it still has. Returns the last scrape."""
        base = counters(self.before)
        got = None

        def equal():
            nonlocal got
            self.sonde.check_running()
            got = delta(counters(self.sonde.scrape()), base)
            return got == expected

        try:
            sonde_it.wait_for(equal, WAIT_S, interval=0.1)
        except sonde_it.WaitTimeout:
            self.fail(f"{what}: counters never equalled what the clients got "
                      f"({WAIT_S:.0f}s):\nexpected {expected}\nsonde    {got}\n"
                      f"{diagnosis(self.sonde)}")
        time.sleep(SETTLE_S)
        m = self.sonde.scrape()
        self.assertEqual(delta(counters(m), base), expected,
                         f"{what}: {SETTLE_S:.1f}s after the counters were exact\n"
                         f"{diagnosis(self.sonde, m)}")
        return m

    def post_orders(self, n, counts, body=ORDER):
        for _ in range(n):
            status, _, _ = sonde_it.http_request("POST", self.engine.url + "/api/v1/orders",
                                                 body=body)
            add(counts, ("POST", "/api/v1/orders", status))

    def test_orders_created_equals_201s(self):
        """wrk's api mix (POSTs answered 201 among GETs answered 200, 404 and 500), POSTs
        on fresh connections, POSTs with a broken body (400): orders_created_total is the
        number of 201 responses the clients got, exactly; the other rules count theirs."""
        e = self.engine
        conns, per_conn = 4, 300
        res = sonde_it.wrk_run(e.url, conns, per_conn, mix="api", timeout=60)
        check_wrk_complete(self, res, conns * per_conn)
        counts = wrk_counts(res)
        self.post_orders(25, counts)
        self.post_orders(7, counts, body=b"{not json")
        self.post_orders(3, counts, body=json.dumps({"qty": "many"}).encode())
        for i in range(5):
            status, _, _ = sonde_it.http_get(f"{e.url}/api/v1/orders/{i}/fail")
            add(counts, ("GET", "/api/v1/orders/{id}/fail", status))
        self.assertEqual(e.referee(), counts, "referee vs clients")
        created = counts.get(("POST", "/api/v1/orders", 201), 0)
        self.assertEqual(created, conns * (per_conn // 6) + 25, "201s the clients got")
        self.assertEqual(counts.get(("POST", "/api/v1/orders", 400)), 10, "400s")
        expected = expected_counters(counts)
        self.assertEqual(expected[ORDERS_CREATED], created)
        m = self.assert_counters(expected, "wrk api mix and single POSTs")
        assert_no_loss(self, m, self.sonde)
        # the same exchanges as the duration histogram counts them
        post_201 = dict(http_request_method="POST", http_route="/api/v1/orders",
                        http_response_status_code="201", server_port=str(e.port))
        self.assertEqual(sonde_it.hist_count(m, DURATION, **post_201) -
                         sonde_it.hist_count(self.before, DURATION, **post_201), created)

    def test_families_and_series(self):
        """Each rule is a counter family with its HELP; a rule nothing matched has no
        series; the only label is service_name."""
        status, _, _ = sonde_it.http_request("POST", self.engine.url + "/api/v1/orders",
                                             body=ORDER)
        self.assertEqual(status, 201)
        counts = add({}, ("POST", "/api/v1/orders", 201))
        m = self.assert_counters(expected_counters(counts), "one POST")
        for name, (method, route, st) in RULES.items():
            self.assertEqual(m.types.get(name), "counter", name)
            self.assertEqual(m.help.get(name),
                             f"Requests matching {method} {route} {st} (sonde business "
                             f"counter).", name)
        self.assertEqual(sonde_it.samples(m, "order_deletes_total"), [])
        for labels, _ in sonde_it.samples(m, ORDERS_CREATED):
            self.assertEqual(set(labels), {"service_name"}, labels)


if __name__ == "__main__":
    sonde_it.main()
