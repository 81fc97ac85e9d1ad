# SPDX-License-Identifier: GPL-2.0-only
"""sonde under valgrind memcheck through a short load, on both capture paths: 0 errors and
0 bytes definitely lost, or the test fails with valgrind's report.

Each run starts PostgreSQL, Redis and the Go trade-engine using both (GET
/api/v1/orders/{id} makes a pgx query and a redigo GET), sonde under `valgrind
--tool=memcheck --leak-check=full` (valgrind.supp: libbpf's bpf_attr prefixes) selecting
the engine by pid, drives 400 HTTP requests of the api mix over 4 keep-alive connections
(wrk), so that the HTTP/1, PostgreSQL and Redis parsers all run, scrapes /metrics, stops
sonde with SIGTERM and requires valgrind's exit code to say nothing was found
(--error-exitcode). The load is light on purpose: valgrind makes sonde 20 to 50 times
slower, and this test is about memory errors, not counts (test_http_server and the others
count). About 90 s per capture path; valgrind's summary is printed."""

import os
import re
import shutil
import signal
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "lib"))
import sonde_it  # noqa: E402

VALGRIND_RC = 99
SUMMARY = re.compile(r"(ERROR SUMMARY|definitely lost|indirectly lost|possibly lost|"
                     r"in use at exit|total heap usage|All heap blocks)")


class _MemcheckCases(sonde_it.IntegrationCase):
    CAPTURE = None

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.valgrind = shutil.which("valgrind")
        if not cls.valgrind:
            raise unittest.SkipTest("valgrind is not installed (scripts/install-deps.sh "
                                    "--test installs it)")
        cls.pg = cls.class_started(sonde_it.start_postgres())
        cls.redis = cls.class_started(sonde_it.start_redis())
        cls.engine = cls.class_started(sonde_it.start_trade_engine(pg=cls.pg.dsn,
                                                                   redis=cls.redis.addr))

    def start_sonde(self, log):
        port = sonde_it.free_port()
        argv = [self.valgrind, "--tool=memcheck", "--leak-check=full",
                "--show-leak-kinds=definite", "--errors-for-leak-kinds=definite",
                f"--error-exitcode={VALGRIND_RC}", "--track-origins=yes",
                f"--log-file={log}", "--suppressions=" + os.path.join(HERE, "valgrind.supp"),
                sonde_it.sonde_bin(), "--select", f"pid={self.engine.pid}",
                "--capture", self.CAPTURE, "-v", f"--listen=127.0.0.1:{port}"]
        sonde = self.started(sonde_it.start_process(argv, name="sonde-memcheck"))
        sonde.url = f"http://127.0.0.1:{port}"
        sonde_it.wait_for(lambda: sonde.check_running() or
                          sonde_it.http_get(sonde.url + "/healthz")[0] == 200, 300,
                          interval=0.5, message="sonde under valgrind to serve /healthz")
        return sonde

    def test_memcheck_under_load(self):
        log = os.path.join(self.engine.dir, f"memcheck-{self.CAPTURE}.log")
        sonde = self.start_sonde(log)
        res = sonde_it.wrk_run(self.engine.url, 4, 100, mix="api", timeout=120)
        seen = {}

        def caught_up():  # sonde drains its ring slowly under valgrind; losses allowed
            m = sonde_it.parse_prometheus_text(
                sonde_it.scrape_raw(sonde.url + "/metrics", timeout=60)[1])
            for what, name, labels in (
                    ("HTTP", "http_server_request_duration_seconds",
                     {"server_port": str(self.engine.port)}),
                    ("PostgreSQL", "db_client_operation_duration_seconds",
                     {"server_port": str(self.pg.port)}),
                    ("Redis", "db_client_operation_duration_seconds",
                     {"server_port": str(self.redis.port)})):
                seen[what] = sum(v for _, v in sonde_it.samples(m, name + "_count", **labels))
            return seen["HTTP"] >= res["sent"]

        try:
            sonde_it.wait_for(caught_up, 60, interval=1)
        except sonde_it.WaitTimeout:
            pass
        rc = sonde.stop(signal.SIGTERM, timeout=300)
        with open(log, errors="replace") as f:
            report = f.read()
        summary = sorted({re.sub(r"^==\d+== ", "", line) for line in report.splitlines()
                          if SUMMARY.search(line)})
        print(f"\n[{self.CAPTURE}] wrk sent {res['sent']}; under valgrind sonde counted "
              + ", ".join(f"{n:g} {what}" for what, n in seen.items()) + "\n"
              + "\n".join(summary))
        self.assertEqual(rc, 0, f"[{self.CAPTURE}] sonde under valgrind exited with {rc} "
                         f"({VALGRIND_RC}: memcheck found errors or definite leaks):\n"
                         + report[-20000:])
        self.assertTrue(any("ERROR SUMMARY: 0 errors" in s for s in summary), summary)


class MemcheckSocketTest(_MemcheckCases):
    CAPTURE = "socket"


class MemcheckSyscallsTest(_MemcheckCases):
    CAPTURE = "syscalls"


def load_tests(loader, tests, pattern):
    suite = unittest.TestSuite()
    for cls in (MemcheckSocketTest, MemcheckSyscallsTest):
        suite.addTests(loader.loadTestsFromTestCase(cls))
    return suite


if __name__ == "__main__":
    sonde_it.main()
