# SPDX-License-Identifier: GPL-2.0-only
"""Self-test of the integration harness, without sonde: the servers start, the clients
count exactly, the referee agrees with them, and scrape() parses the text format."""

import json
import math
import os
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import sonde_it  # noqa: E402
from sonde_it import IntegrationCase  # noqa: E402

EXPOSITION = r'''# HELP http_server_request_duration_seconds Duration of HTTP server requests.
# TYPE http_server_request_duration_seconds histogram
http_server_request_duration_seconds_bucket{http_request_method="GET",http_route="/a \"q\" \\ b\nc",le="0.005"} 1
http_server_request_duration_seconds_bucket{http_request_method="GET",http_route="/a \"q\" \\ b\nc",le="0.01"} 3
http_server_request_duration_seconds_bucket{http_request_method="GET",http_route="/a \"q\" \\ b\nc",le="+Inf"} 4
http_server_request_duration_seconds_sum{http_request_method="GET",http_route="/a \"q\" \\ b\nc"} 0.0375
http_server_request_duration_seconds_count{http_request_method="GET",http_route="/a \"q\" \\ b\nc"} 4
http_server_request_duration_seconds_bucket{http_request_method="POST",http_route="/x,y=}{",le="0.005"} 0
http_server_request_duration_seconds_bucket{http_request_method="POST",http_route="/x,y=}{",le="0.01"} 2
http_server_request_duration_seconds_bucket{http_request_method="POST",http_route="/x,y=}{",le="+Inf"} 2
http_server_request_duration_seconds_sum{http_request_method="POST",http_route="/x,y=}{"} 0.012
http_server_request_duration_seconds_count{http_request_method="POST",http_route="/x,y=}{"} 2
# TYPE sonde_events_lost_total counter
sonde_events_lost_total{reason="ringbuf_full"} 0
sonde_events_lost_total{reason="read_user"} 7 1700000000000
# TYPE sonde_tracked_processes gauge
sonde_tracked_processes 3
# TYPE odd gauge
odd{ a = "sp ace" , b="é ✓" ,} NaN
odd{a="inf"} +Inf
odd{a="neg"} -1.5e-3
'''


class ParserTest(unittest.TestCase):
    """scrape()'s parser on a fixed exposition (no root needed)."""

    def test_escaped_label_values(self):
        m = sonde_it.parse_prometheus_text(EXPOSITION)
        route = '/a "q" \\ b\nc'
        key = ("http_server_request_duration_seconds_count",
               frozenset({"http_request_method": "GET", "http_route": route}.items()))
        self.assertEqual(m[key], 4)
        name = "http_server_request_duration_seconds"
        self.assertEqual(sonde_it.hist_count(m, name, http_route=route), 4)
        self.assertEqual(sonde_it.hist_count(m, name, http_route="/x,y=}{"), 2)
        self.assertEqual(sonde_it.hist_count(m, name), 6)
        self.assertAlmostEqual(sonde_it.hist_sum(m, name), 0.0495)
        self.assertEqual(sonde_it.hist_bucket(m, name, 0.01, http_request_method="GET"), 3)
        self.assertEqual(sonde_it.hist_bucket(m, name, "0.010"), 5)
        self.assertEqual(sonde_it.hist_bucket(m, name, "+Inf"), 6)
        self.assertEqual(sonde_it.hist_buckets(m, name, http_request_method="POST"),
                         {0.005: 0, 0.01: 2, math.inf: 2})
        self.assertEqual(m.types[name], "histogram")
        self.assertEqual(m.types["sonde_events_lost_total"], "counter")
        self.assertEqual(m.help[name], "Duration of HTTP server requests.")

    def test_values_and_odd_spacing(self):
        m = sonde_it.parse_prometheus_text(EXPOSITION)
        self.assertEqual(sonde_it.value(m, "sonde_events_lost_total"), 7)
        self.assertEqual(sonde_it.value(m, "sonde_events_lost_total", reason="read_user"), 7)
        self.assertEqual(sonde_it.value(m, "sonde_tracked_processes"), 3)
        self.assertEqual(sonde_it.value(m, "no_such_metric"), 0)
        self.assertTrue(math.isnan(m[("odd", frozenset({"a": "sp ace", "b": "é ✓"}.items()))]))
        self.assertEqual(sonde_it.value(m, "odd", a="inf"), math.inf)
        self.assertEqual(sonde_it.value(m, "odd", a="neg"), -0.0015)
        self.assertEqual(len(sonde_it.samples(m, "odd")), 3)
        self.assertEqual(len(m), 16)

    def test_rejects_malformed(self):
        bad = [
            'x{a="unterminated} 1',
            'x{a="bad \\t escape"} 1',
            'x{a=unquoted} 1',
            'x{a="1",a="2"} 1',
            'x 1\nx 2',
            'x{a="1"} one',
            'x 1 2 3',
            '0x 1',
            '# TYPE h histogram\nh_bucket 1',
            '# TYPE h histogram\nh_bucket{le="1"} 1\nh_sum{le="1"} 1\nh 1',
            '# TYPE x gauge\n# TYPE x counter',
        ]
        for text in bad:
            with self.subTest(text=text):
                with self.assertRaises(ValueError):
                    sonde_it.parse_prometheus_text(text)


class GoServiceTest(IntegrationCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.svc = cls.class_started(sonde_it.start_trade_engine())

    def setUp(self):
        self.svc.referee_reset()

    def test_wrk_counts_match_referee(self):
        res = sonde_it.wrk_run(self.svc.url, connections=8, requests_per_conn=125)
        self.assertTrue(res["complete"], res)
        self.assertEqual(res["sent"], 1000)
        self.assertEqual(res["received"], 1000)
        self.assertEqual(res["wrk_requests"], 1000)
        self.assertEqual(res["errors"]["connect"] + res["errors"]["read"]
                         + res["errors"]["write"], 0, res["errors"])
        wrk_counts = {(c["method"], c["route"], c["status"]): c["count"]
                      for c in res["counts"]}
        self.assertEqual(self.svc.referee(), wrk_counts)
        sent = {(c["method"], c["route"]): c["count"] for c in res["sent_by"]}
        self.assertEqual(sum(sent.values()), 1000)
        self.assertEqual(wrk_counts[("GET", "/api/v1/orders/{id}/fail", 500)],
                         sent[("GET", "/api/v1/orders/{id}/fail")])
        self.assertEqual(wrk_counts[("GET", "/api/v1/missing/{id}", 404)],
                         sent[("GET", "/api/v1/missing/{id}")])
        self.assertEqual(wrk_counts[("POST", "/api/v1/orders", 201)],
                         sent[("POST", "/api/v1/orders")])

    def test_pipelined_ten_in_one_write(self):
        res = sonde_it.pipeliner_run(self.svc.addr, conns=1, depth=10)
        self.assertEqual(res["sent"], 10)
        self.assertEqual(res["received"], 10)
        self.assertEqual(res["errors"], [])
        self.assertEqual(self.svc.referee(), {("GET", "/api/v1/orders/{id}", 200): 10})

    def test_pipeliner_mixed_and_split(self):
        reqs = ["GET /api/v1/orders/{id}", "POST /api/v1/orders", "HEAD /api/v1/orders/{id}",
                "GET /api/v1/chunked", "GET /api/v1/empty", "GET /api/v1/orders/{id}/fail"]
        res = sonde_it.pipeliner_run(self.svc.addr, conns=2, depth=6, rounds=2, requests=reqs)
        self.assertEqual(res["received"], 24)
        res = sonde_it.pipeliner_run(self.svc.addr, depth=2, split=1, split_delay_ms=0,
                                     pad_header=100)
        self.assertEqual(res["received"], 2)
        self.assertEqual(self.svc.referee(), {
            ("GET", "/api/v1/orders/{id}", 200): 6,
            ("POST", "/api/v1/orders", 201): 4,
            ("HEAD", "/api/v1/orders/{id}", 200): 4,
            ("GET", "/api/v1/chunked", 200): 4,
            ("GET", "/api/v1/empty", 204): 4,
            ("GET", "/api/v1/orders/{id}/fail", 500): 4,
        })

    def test_routes(self):
        u = self.svc.url
        status, headers, body = sonde_it.http_request("POST", u + "/api/v1/orders",
                                                      body={"symbol": "ACME", "qty": 5})
        self.assertEqual(status, 201)
        self.assertEqual(json.loads(body)["qty"], 5)
        status, headers, body = sonde_it.http_get(u + "/api/v1/chunked")
        self.assertEqual((status, headers.get("transfer-encoding")), (200, "chunked"))
        self.assertEqual(body.count(b"part "), 3)
        self.assertEqual(sonde_it.http_get(u + "/api/v1/empty")[0], 204)
        self.assertEqual(sonde_it.http_get(u + "/api/v1/missing/9")[0], 404)
        self.assertEqual(sonde_it.http_get(u + "/no/such/route")[0], 404)
        self.assertEqual(sonde_it.http_request("HEAD", u + "/api/v1/orders/3")[:1], (200,))
        self.assertEqual(sonde_it.http_get(u + "/api/v1/quote")[0], 503)
        status, _, _ = sonde_it.http_get(u + "/api/v1/slow")
        self.assertEqual(status, 200)
        ref = self.svc.referee()
        self.assertEqual(ref[("GET", "", 404)], 1)
        self.assertEqual(ref[("GET", "/api/v1/slow", 200)], 1)
        self.assertEqual(sum(ref.values()), 8)

    def test_listen_variants(self):
        dual = self.started(sonde_it.start_trade_engine(addr=":0"))
        self.assertEqual(dual.listen_host, "::")
        for host in ("127.0.0.1", "[::1]"):
            self.assertEqual(
                sonde_it.http_get(f"http://{host}:{dual.port}/healthz")[0], 200, host)
        v6 = self.started(sonde_it.start_trade_engine(addr="[::1]:0"))
        self.assertEqual(v6.url, f"http://[::1]:{v6.port}")
        self.assertEqual(sonde_it.http_get(v6.url + "/api/v1/orders/1")[0], 200)
        up = self.started(sonde_it.start_trade_engine(upstream=v6.url + "/api/v1/orders/7"))
        status, _, body = sonde_it.http_get(up.url + "/api/v1/quote")
        self.assertEqual((status, json.loads(body)["upstream_status"]), (200, 200))
        self.assertEqual(up.referee(), {("GET", "/api/v1/quote", 200): 1})

    def test_tls(self):
        tls = self.started(sonde_it.start_trade_engine(tls=True))
        self.assertTrue(tls.url.startswith("https://"))
        self.assertEqual(sonde_it.http_get(tls.url + "/api/v1/orders/2")[0], 200)
        res = sonde_it.wrk_run(tls.url, connections=2, requests_per_conn=30)
        self.assertTrue(res["complete"], res)
        wrk_counts = {(c["method"], c["route"], c["status"]): c["count"]
                      for c in res["counts"]}
        self.assertEqual(sum(wrk_counts.values()), 60)
        ref = tls.referee()
        ref[("GET", "/api/v1/orders/{id}", 200)] -= 1
        self.assertEqual(ref, wrk_counts)


class NginxTest(IntegrationCase):
    def test_prefork_workers_and_keepalive(self):
        ngx = self.started(sonde_it.start_nginx(workers=2))
        workers = ngx.worker_pids()
        self.assertEqual(len(workers), 2)
        for pid in workers:
            self.assertEqual(sonde_it.parent_pid(pid), ngx.pid)
            self.assertEqual(sonde_it.process_comm(pid), "nginx")
        res = sonde_it.wrk_run(ngx.url, connections=4, requests_per_conn=300, mix="get",
                               paths=["/", "/status/404", "/status/500"])
        self.assertTrue(res["complete"], res)
        self.assertEqual(res["received"], 1200)
        self.assertEqual(res["errors"]["connect"] + res["errors"]["read"], 0)
        counts = {(c["route"], c["status"]): c["count"] for c in res["counts"]}
        self.assertEqual(counts, {("/", 200): 400, ("/status/404", 404): 400,
                                  ("/status/500", 500): 400})
        self.assertEqual(sonde_it.http_get(ngx.url + "/status/204")[0], 204)
        self.assertEqual(ngx.worker_pids(), workers)
        self.assertEqual(ngx.stop(), 0)


class PyHttpServerTest(IntegrationCase):
    def test_http10(self):
        srv = self.started(sonde_it.start_http_server())
        status, _, body = sonde_it.http_get(srv.url + "/data.txt")
        self.assertEqual((status, len(body)), (200, 1001))
        self.assertEqual(sonde_it.http_get(srv.url + "/nope")[0], 404)
        res = sonde_it.wrk_run(srv.url, connections=2, requests_per_conn=25, mix="get",
                               paths=["/index.html"])
        self.assertTrue(res["complete"], res)
        self.assertEqual(res["counts"], [{"method": "GET", "route": "/index.html",
                                          "status": 200, "count": 50}])


class BackendsTest(IntegrationCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.pg = cls.class_started(sonde_it.start_postgres())
        cls.redis = cls.class_started(sonde_it.start_redis())

    def test_pgbench_and_pg_stat_statements(self):
        self.pg.pgbench("-i", "-s", "1", "-q")
        self.pg.psql("SELECT pg_stat_statements_reset()")
        self.pg.pgbench("-c", "2", "-t", "50", "-n")
        calls = self.pg.psql("SELECT sum(calls) FROM pg_stat_statements "
                             "WHERE query LIKE 'UPDATE pgbench_accounts%'")
        self.assertEqual(int(calls), 100)
        self.assertEqual(self.pg.psql("SHOW log_statement"), "all")

    def test_redis_benchmark_commandstats(self):
        self.redis.cli("CONFIG", "RESETSTAT")
        self.redis.benchmark("-t", "get,set", "-n", "1000", "-P", "16", "-q")
        stats = self.redis.commandstats()
        # redis-benchmark issues whole pipelines: ceil(1000 / 16) * 16 = 1008 commands.
        expected = sonde_it.Redis.benchmark_commands(1000, 16)
        self.assertEqual(expected, 1008)
        self.assertEqual(stats["get"]["calls"], expected)
        self.assertEqual(stats["set"]["calls"], expected)
        self.redis.cli("CONFIG", "RESETSTAT")
        self.redis.benchmark("-t", "get", "-n", "1000", "-P", "10", "-q")
        self.assertEqual(self.redis.commandstats()["get"]["calls"], 1000)

    def test_trade_engine_with_backends(self):
        svc = self.started(sonde_it.start_trade_engine(pg=self.pg.dsn, redis=self.redis.addr))
        self.redis.cli("CONFIG", "RESETSTAT")
        for i in range(5):
            status, _, body = sonde_it.http_get(f"{svc.url}/api/v1/orders/{i}")
            self.assertEqual(status, 200, body)
            self.assertEqual(json.loads(body)["source"], "postgres+redis")
        self.assertEqual(self.redis.commandstats()["get"]["calls"], 5)
        calls = self.pg.psql("SELECT coalesce(sum(calls), 0) FROM pg_stat_statements "
                             "WHERE query LIKE 'SELECT $1::bigint AS id%'")
        self.assertGreaterEqual(int(calls), 5)


if __name__ == "__main__":
    sonde_it.main()
