# SPDX-License-Identifier: GPL-2.0-only
"""A service in its own pid namespace, as every container runs: the kernel reports host
pids, an operator inside the container sees others. The Go trade-engine serves HTTPS
inside `unshare --pid --fork --mount-proc` (pid 1 there); sonde, selecting it by its host
pid, must count its requests exactly through the Go TLS probes and name it by both pids
wherever its log names a process: when it starts observing it, and when its TLS library
is probed."""

import os
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import sonde_it  # noqa: E402
from http_cases import assert_exact_counts, assert_no_loss  # noqa: E402

N = 20
ORDER = ("GET", "/api/v1/orders/{id}", 200)
REFEREE = ("GET", "/referee", 200)


def ns_pids(pid):
    """The NSpid fields of pid: its number in each pid namespace, outermost first."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("NSpid:"):
                return [int(x) for x in line.split()[1:]]
    raise AssertionError(f"no NSpid for {pid}")


class _PidNamespace(sonde_it.IntegrationCase):
    CAPTURE = None

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.svc = cls.class_started(sonde_it.start_trade_engine(
            tls=True, wrap=["unshare", "--pid", "--fork", "--mount-proc",
                            # the service goes with unshare (else it outlives the test)
                            "--kill-child=SIGTERM"]))
        kids = sonde_it.children_of(cls.svc.pid)
        if len(kids) != 1:
            raise AssertionError(f"unshare's children: {kids}")
        cls.host_pid = kids[0]
        cls.sonde = cls.class_started(sonde_it.start_sonde(
            ["--select", f"pid={cls.host_pid}", "--capture", cls.CAPTURE, "-v"]))

    def test_counted_and_named_by_both_pids(self):
        self.assertEqual(ns_pids(self.host_pid), [self.host_pid, 1])
        ns = f"pid {self.host_pid} (pid 1 in its namespace)"
        sonde_it.wait_for(lambda: f"TLS: {ns}: go probed" in self.sonde.stderr()
                          + self.sonde.stdout(), 20, message="the TLS probe log line")
        for i in range(N):
            status = sonde_it.http_get(f"{self.svc.url}/api/v1/orders/{i + 1}")[0]
            self.assertEqual(status, 200)
        self.assertEqual(self.svc.referee(), {ORDER: N})
        m = assert_exact_counts(self, self.sonde, self.svc.port, {ORDER: N, REFEREE: 1})
        self.assertEqual(sonde_it.value(m, "http_server_request_duration_seconds_count",
                                        server_port=str(self.svc.port), url_scheme="https",
                                        http_route=ORDER[1]), N)
        assert_no_loss(self, m, self.sonde)
        log = self.sonde.stderr() + self.sonde.stdout()
        self.assertIn(f"observing {ns} (trade-engine", log)


class PidNamespaceSocketTest(_PidNamespace):
    CAPTURE = "socket"


class PidNamespaceSyscallsTest(_PidNamespace):
    CAPTURE = "syscalls"


def load_tests(loader, tests, pattern):
    suite = unittest.TestSuite()
    for cls in (PidNamespaceSocketTest, PidNamespaceSyscallsTest):
        suite.addTests(loader.loadTestsFromTestCase(cls))
    return suite


if __name__ == "__main__":
    sonde_it.main()
