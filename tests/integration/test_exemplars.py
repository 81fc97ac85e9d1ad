# SPDX-License-Identifier: GPL-2.0-only
"""Exemplars end to end: a real Prometheus (Debian's prometheus, with
--enable-feature=exemplar-storage) scrapes sonde over OpenMetrics while a client sends
requests with ids it chose to the Go trade-engine; /api/v1/query_exemplars must return
only ids the client sent, each on the bucket its value falls in (the 150 ms route's ids on
le="0.25"), and each exemplar leads to the event line (--events) of the same request, with
the same duration. The OpenMetrics text itself must satisfy Debian's
python3-prometheus-client parser, and the 0.0.4 text `promtool check metrics`."""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import sonde_it  # noqa: E402
from http_cases import TRADE_ENGINE_ROUTES, route_args  # noqa: E402

DURATION_BOUNDS = [0, .005, .01, .025, .05, .075, .1, .25, .5, .75, 1, 2.5, 5, 7.5, 10]
OM_ACCEPT = "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5"
# Debian's parser, whatever python3 runs this test
OM_CHECK = r"""
import sys
from prometheus_client.openmetrics.parser import text_string_to_metric_families
n = e = 0
for f in text_string_to_metric_families(sys.stdin.read()):
    for s in f.samples:
        n += 1
        e += s.exemplar is not None
print(n, e)
"""


def bucket_of(v):
    for b in DURATION_BOUNDS:
        if v <= b:
            return b
    return float("inf")


class Exemplars(sonde_it.IntegrationCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        if not shutil.which("prometheus"):
            raise unittest.SkipTest("prometheus is not installed (Debian package prometheus)")
        cls.tmp = tempfile.mkdtemp(prefix="sonde-exemplars-")
        cls.events = os.path.join(cls.tmp, "events.jsonl")
        cls.svc = cls.class_started(sonde_it.start_trade_engine())
        cls.sonde = cls.class_started(sonde_it.start_sonde(
            ["--select", f"pid={cls.svc.pid}", *route_args(TRADE_ENGINE_ROUTES),
             "--events", cls.events, "--events-filter", "all"]))
        cls.prom_port = sonde_it.free_port()
        conf = os.path.join(cls.tmp, "prometheus.yml")
        with open(conf, "w") as f:
            f.write("global:\n  scrape_interval: 1s\n")
            f.write("scrape_configs:\n  - job_name: sonde\n    static_configs:\n"
                    f"      - targets: ['127.0.0.1:{cls.sonde.port}']\n")
        cls.prom = cls.class_started(sonde_it.start_process(
            ["prometheus", f"--config.file={conf}", "--enable-feature=exemplar-storage",
             f"--storage.tsdb.path={os.path.join(cls.tmp, 'data')}",
             f"--web.listen-address=127.0.0.1:{cls.prom_port}"], name="prometheus"))
        sonde_it.wait_tcp("127.0.0.1", cls.prom_port, timeout=30)
        cls.start = time.time()
        cls.sent = cls.drive()

    @classmethod
    def tearDownClass(cls):
        super().tearDownClass()
        shutil.rmtree(getattr(cls, "tmp", ""), ignore_errors=True)

    @classmethod
    def drive(cls):
        """{id: route} of what the client sent, over ~10 s (several scrapes)."""
        sent = {}
        for i in range(40):
            if i % 4 == 0:
                rid, path, route = f"slow-{i}", "/api/v1/slow", "/api/v1/slow"
                hdr = {"X-Request-ID": rid}
            else:
                trace = f"{0xabc000 + i:032x}"
                rid, path, route = trace, f"/api/v1/orders/{i + 1}", "/api/v1/orders/{id}"
                hdr = {"traceparent": f"00-{trace}-{i + 1:016x}-01",
                       "X-Request-ID": f"not-chosen-{i}"}
            status, _, _ = sonde_it.http_request("GET", cls.svc.url + path, headers=hdr)
            assert status == 200, (path, status)
            sent[rid] = route
            time.sleep(0.25)
        return sent

    def query_exemplars(self):
        q = urllib.parse.urlencode({
            "query": "http_server_request_duration_seconds_bucket",
            "start": f"{self.start - 60:.3f}", "end": f"{time.time() + 60:.3f}"})
        url = f"http://127.0.0.1:{self.prom_port}/api/v1/query_exemplars?{q}"
        with urllib.request.urlopen(url, timeout=30) as r:
            body = json.load(r)
        self.assertEqual(body["status"], "success", body)
        return body["data"]

    def test_prometheus_stores_the_clients_ids_on_their_buckets(self):
        data = sonde_it.wait_for(
            lambda: (lambda d: sum(len(s["exemplars"]) for s in d) >= 2 and d)(
                self.query_exemplars()), 30, message="Prometheus has exemplars")
        seen = {}
        for series in data:
            le = float(series["seriesLabels"]["le"])
            route = series["seriesLabels"]["http_route"]
            for ex in series["exemplars"]:
                labels = ex["labels"]
                rid = labels.get("trace_id") or labels.get("request_id")
                self.assertIn(rid, self.sent, f"an id the client never sent: {ex}")
                self.assertEqual(route, self.sent[rid], ex)
                self.assertEqual(le, bucket_of(float(ex["value"])), (series, ex))
                if "trace_id" in labels:
                    self.assertEqual(set(labels), {"trace_id", "span_id"}, ex)
                else:
                    self.assertEqual(set(labels), {"request_id"}, ex)
                seen[rid] = (le, float(ex["value"]), float(ex["timestamp"]))
        slow = [r for r in seen if r.startswith("slow-")]
        self.assertTrue(slow, f"no exemplar of the 150 ms route: {seen}")
        for rid in slow:
            self.assertEqual(seen[rid][0], 0.25, rid)
        # every exemplar leads to its request's event line: same id, same duration, time
        def all_lines():  # the writer writes within about a second
            with open(self.events, "rb") as f:
                ls = [json.loads(x) for x in f.read().splitlines()]
            return len(ls) == len(self.sent) and ls
        lines = sonde_it.wait_for(all_lines, 10, message="one event line per request")
        by_id = {}
        for e in lines:
            by_id[e.get("trace_id") or e.get("request_id")] = e
        for rid, (le, value, ts) in seen.items():
            e = by_id[rid]
            self.assertEqual(e["duration_ns"] / 1e9, value, (rid, e))
            self.assertEqual(e["http_route"], self.sent[rid])
        first = sorted(seen)[0]
        print(f"\nexemplar {first} -> {json.dumps(by_id[first])}", file=sys.stderr)

    def test_openmetrics_text_passes_debian_parser(self):
        req = urllib.request.Request(self.sonde.metrics_url, headers={"Accept": OM_ACCEPT})
        with urllib.request.urlopen(req, timeout=10) as r:
            ctype, text = r.headers["Content-Type"], r.read().decode()
        self.assertEqual(ctype, "application/openmetrics-text; version=1.0.0; charset=utf-8")
        self.assertTrue(text.endswith("# EOF\n"))
        p = subprocess.run(["/usr/bin/python3", "-c", OM_CHECK], input=text.encode(),
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr.decode())
        samples, exemplars = map(int, p.stdout.split())
        self.assertGreater(samples, 100)
        self.assertGreater(exemplars, 0)
        ctype, plain = sonde_it.scrape_raw(self.sonde.metrics_url)
        self.assertEqual(ctype, "text/plain; version=0.0.4; charset=utf-8")
        self.assertNotIn("# {", plain)
        rc, out = sonde_it.promtool_check_metrics(plain)
        self.assertEqual(rc, 0, out)


if __name__ == "__main__":
    sonde_it.main()
