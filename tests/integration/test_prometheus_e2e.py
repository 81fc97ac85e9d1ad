# SPDX-License-Identifier: GPL-2.0-only
"""End to end with a real Prometheus (Debian's prometheus package, private data dir,
loopback port) scraping a running sonde that observes the Go trade-engine (PostgreSQL and
Redis behind it) under load: every recording rule of deploy/prometheus/rules and every
query of the Grafana dashboards in deploy/grafana/dashboards returns data, and the
business counter equals the number of 201 responses the client got; Prometheus was served
OpenMetrics in every scrape (it asks for it first), so all of it held over OpenMetrics."""

import glob
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.parse
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "lib"))
import sonde_it  # noqa: E402
from sonde_it import IntegrationCase  # noqa: E402

REPO = os.path.abspath(os.path.join(HERE, "..", ".."))
RULES = sorted(glob.glob(os.path.join(REPO, "deploy", "prometheus", "rules", "*.yml")))
DASHBOARDS = sorted(glob.glob(os.path.join(REPO, "deploy", "grafana", "dashboards", "*.json")))
ROUTES = ["/api/v1/orders/{id}", "/api/v1/orders", "/api/v1/orders/{id}/fail",
          "/api/v1/missing/{id}", "/api/v1/slow", "/api/v1/quote", "/healthz"]


def recording_rules():
    """Names of every recording rule in the rule files."""
    names = []
    for path in RULES:
        with open(path) as f:
            names += re.findall(r"^\s*-\s*record:\s*(\S+)", f.read(), re.M)
    return names


def dashboard_queries():
    """(dashboard, panel title, expr) of every panel target, nested rows included."""
    out = []

    def walk(panels, dash):
        for p in panels:
            for t in p.get("targets", []):
                if t.get("expr"):
                    out.append((dash, p.get("title", "?"), t["expr"]))
            walk(p.get("panels", []), dash)

    for path in DASHBOARDS:
        with open(path) as f:
            d = json.load(f)
        walk(d.get("panels", []), os.path.basename(path))
    return out


def concrete(expr):
    """A dashboard expr with Grafana's variables filled in as a user viewing 'All' would:
    every variable's All is ".*", which also matches the pod labels this sonde (without
    --k8s-labels) does not export."""
    expr = re.sub(r"\$\{?__(rate_interval|interval|range)\}?", "1m", expr)
    expr = re.sub(r"\$\{(\w+)(:\w+)?\}", ".*", expr)
    return re.sub(r"\$(\w+)", ".*", expr)


class PrometheusEndToEnd(IntegrationCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        if not shutil.which("prometheus"):
            raise unittest.SkipTest("prometheus is not installed (Debian package prometheus)")
        cls.pg = cls.class_started(sonde_it.start_postgres())
        cls.redis = cls.class_started(sonde_it.start_redis())
        cls.upstream = cls.class_started(sonde_it.start_trade_engine())
        cls.svc = cls.class_started(sonde_it.start_trade_engine(
            pg=cls.pg.dsn, redis=cls.redis.addr, upstream=cls.upstream.url))
        args = ["--select", f"pid={cls.svc.pid}",
                "--counter", "orders_created_total POST /api/v1/orders 201"]
        for r in ROUTES:
            args += ["--route", r]
        cls.sonde = cls.class_started(sonde_it.start_sonde(args))
        cls.prom_dir = tempfile.mkdtemp(prefix="sonde-prom-")
        cls.prom_port = sonde_it.free_port()
        conf = os.path.join(cls.prom_dir, "prometheus.yml")
        with open(conf, "w") as f:
            f.write("global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n")
            f.write("rule_files:\n" + "".join(f"  - {r}\n" for r in RULES))
            f.write("scrape_configs:\n  - job_name: sonde\n    static_configs:\n"
                    f"      - targets: ['127.0.0.1:{cls.sonde.port}']\n")
        cls.prom = cls.class_started(sonde_it.start_process(
            ["prometheus", f"--config.file={conf}",
             f"--storage.tsdb.path={os.path.join(cls.prom_dir, 'data')}",
             f"--web.listen-address=127.0.0.1:{cls.prom_port}"], name="prometheus"))
        sonde_it.wait_tcp("127.0.0.1", cls.prom_port, timeout=30)
        cls.created = cls.drive_load()
        # Enough scrapes and rule evaluations after the load for rates over 5m windows.
        time.sleep(8)

    @classmethod
    def tearDownClass(cls):
        super().tearDownClass()
        shutil.rmtree(getattr(cls, "prom_dir", ""), ignore_errors=True)

    @classmethod
    def drive_load(cls):
        """Mixed load for ~15 s; returns how many 201 responses the client got."""
        created = 0
        deadline = time.time() + 15
        n = 0
        while time.time() < deadline and n < 3000:
            n += 1
            status, _, _ = sonde_it.http_request("POST", cls.svc.url + "/api/v1/orders",
                                                 body={"item": "x", "qty": 1})
            created += status == 201
            sonde_it.http_request("GET", cls.svc.url + f"/api/v1/orders/{n % 100 + 1}")
            if n % 10 == 0:
                sonde_it.http_request("GET", cls.svc.url + f"/api/v1/orders/{n}/fail")
                sonde_it.http_request("GET", cls.svc.url + f"/api/v1/missing/{n}")
            if n % 5 == 0:
                sonde_it.http_request("GET", cls.svc.url + "/api/v1/quote")
            if n % 50 == 0:
                sonde_it.http_request("GET", cls.svc.url + "/api/v1/slow")
        return created

    def query(self, expr):
        url = (f"http://127.0.0.1:{self.prom_port}/api/v1/query?"
               + urllib.parse.urlencode({"query": expr}))
        with urllib.request.urlopen(url, timeout=30) as r:
            body = json.load(r)
        self.assertEqual(body["status"], "success", body)
        return body["data"]["result"]

    def test_every_recording_rule_has_data(self):
        names = recording_rules()
        self.assertGreater(len(names), 5, RULES)
        empty = [n for n in names if not self.query(n)]
        self.assertEqual(empty, [], "recording rules without data")

    def test_every_dashboard_query_has_data(self):
        # Kubernetes panels read the kubelet's container_* metrics: no kubelet here.
        queries = [q for q in dashboard_queries() if "container_" not in q[2]]
        self.assertGreater(len(queries), 5, DASHBOARDS)
        self.maxDiff = None
        empty = [(d, t, e) for d, t, e in queries if not self.query(concrete(e))]
        self.assertEqual(empty, [], "dashboard panels without data")

    def test_prometheus_scraped_openmetrics(self):
        """Prometheus (2.42) asks for OpenMetrics first: every one of its scrapes was
        answered in that format (sonde_scrapes_total{format}, as Prometheus stored it),
        so the recording rules and dashboard queries above ran on OpenMetrics data."""
        scrapes = self.query('count_over_time(up{job="sonde"}[1h])')
        self.assertEqual(len(scrapes), 1, scrapes)
        done = float(scrapes[0]["value"][1])
        om = self.query('sonde_scrapes_total{format="openmetrics"}')
        self.assertEqual(len(om), 1, om)
        self.assertGreater(done, 10)
        # The sample a scrape stores counts the answers up to sonde's last refresh (once a
        # second, as the scrape interval): 1 or 2 behind.
        self.assertGreaterEqual(float(om[0]["value"][1]), done - 3)
        # Every text answer ever (this test's own scrapes, the 0.0.4 default) is fewer
        # than Prometheus's scrapes: none of those was text.
        m = self.sonde.scrape()
        self.assertLess(sonde_it.value(m, "sonde_scrapes_total", format="text"), done - 3)

    def test_business_counter_equals_201s(self):
        self.assertGreater(self.created, 0)
        m = self.sonde.scrape()
        self.assertEqual(sonde_it.value(m, "orders_created_total"), self.created)
        sonde_it.wait_for(lambda: self.query("orders_created_total") and float(
            self.query("orders_created_total")[0]["value"][1]) == self.created,
            20, message="Prometheus has the final orders_created_total")


if __name__ == "__main__":
    sonde_it.main()
