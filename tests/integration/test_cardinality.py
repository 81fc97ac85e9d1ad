# SPDX-License-Identifier: GPL-2.0-only
"""A path scanner cannot blow up sonde: 100,000 requests to 100,000 distinct paths.

The Go trade-engine answers every GET /w/WORD with 404 (no such route); WORD is a run of
letters, different for every request, so no template folds two of them (wrk/count.lua's
"words" mix, 4 connections: 20,000 requests, then 80,000 more). sonde runs with its
default route cap on both capture paths. What must hold, exactly:

  - every request is counted once: the 404 counts of the service add up to 100,000;
  - the first --route-cap distinct routes get a series of their own, one observation each,
    and every other request lands in http_route="_overflow", counted by
    sonde_http_routes_overflowed_total (no route is dropped, none is invented);
  - the service's series stay within the cap (cap + 1 for _overflow) and no series was
    dropped by --max-series; nothing lost;
  - sonde's memory: its proportional set size (Pss: shared library pages split among
    their users, and the ring buffer's pages, which libbpf maps twice so that a record can
    wrap, counted once) stays under 32 MiB, and its resident set grows by less than 1 MiB
    over the last 80,000 paths: nothing is kept per path. (VmRSS counts the 8 MiB ring
    twice: about 30 MiB from the start, printed beside.)"""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import sonde_it  # noqa: E402
from http_cases import (DURATION, SondeClassCase, assert_no_loss, capture_suite,  # noqa: E402
                        server_counts)

CONNS, FIRST, SECOND = 4, 5000, 20000  # requests per connection in each run
N = CONNS * (FIRST + SECOND)
ROUTE_CAP = 200  # sonde's default --route-cap
PSS_MAX_KIB = 32 * 1024
RSS_GROWTH_MAX_KIB = 1024


def memory_kib(pid):
    """{"Rss": KiB, "Pss": KiB} of the process (smaps_rollup)."""
    out = {}
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            key, _, rest = line.partition(":")
            if key in ("Rss", "Pss"):
                out[key] = int(rest.split()[0])
    return out


class _Cardinality(SondeClassCase):
    ENGINES = ("scan",)

    def test_distinct_paths_stay_within_the_cap(self):
        e = self.engines["scan"]
        mem = []
        for start, per_conn in ((0, FIRST), (10000000, SECOND)):
            res = sonde_it.wrk_run(e.url + "/", CONNS, per_conn, mix="words",
                                   paths=[str(start)], timeout=240)
            self.assertTrue(res["complete"], res["per_thread"])
            self.assertEqual(res["counts"], [{"method": "GET", "route": "/w/{word}",
                                              "status": 404, "count": CONNS * per_conn}])
            mem.append(memory_kib(self.sonde.pid))
        overflowed0 = sonde_it.value(self.before, "sonde_http_routes_overflowed_total")

        def counted(m):
            return sum(server_counts(m, e.port).values())
        self.assert_exact_value(counted, N, "requests counted", timeout=60)
        m = self.sonde.scrape()
        got = server_counts(m, e.port)
        overflow = got.pop(("GET", "_overflow", 404), 0)
        self.assertEqual(len(got), ROUTE_CAP, "routes of their own")
        for (method, route, status), n in got.items():
            self.assertEqual((method, status, n), ("GET", 404, 1), route)
            self.assertRegex(route, r"^/w/[a-z]+$")
        self.assertEqual(overflow, N - ROUTE_CAP)
        self.assertEqual(sonde_it.value(m, "sonde_http_routes_overflowed_total") - overflowed0,
                         N - ROUTE_CAP)
        series = sonde_it.samples(m, DURATION + "_count", server_port=str(e.port))
        self.assertEqual(len(series), ROUTE_CAP + 1)
        self.assertEqual(sum(v for _, v in sonde_it.samples(m, "sonde_series_dropped_total")),
                         0)
        assert_no_loss(self, m, self.sonde)
        print(f"{self.CAPTURE}: sonde Rss {mem[0]['Rss']} -> {mem[1]['Rss']} KiB, Pss "
              f"{mem[0]['Pss']} -> {mem[1]['Pss']} KiB over the last "
              f"{CONNS * SECOND} of {N} distinct paths", file=sys.stderr)
        self.assertLessEqual(mem[1]["Pss"], PSS_MAX_KIB)
        self.assertLessEqual(mem[1]["Rss"] - mem[0]["Rss"], RSS_GROWTH_MAX_KIB)


class CardinalitySocketTest(_Cardinality):
    CAPTURE = "socket"


class CardinalitySyscallsTest(_Cardinality):
    CAPTURE = "syscalls"


def load_tests(loader, tests, pattern):
    return capture_suite(loader, CardinalitySocketTest, CardinalitySyscallsTest)


if __name__ == "__main__":
    sonde_it.main()
