# SPDX-License-Identifier: GPL-2.0-only
"""cgroup= selection decided in the kernel: short-lived clients in a selected cgroup are
counted from their first request, on both capture paths.

A python http.server (unselected, outside every test cgroup) answers. sonde runs with
--select cgroup=/sonde-it-cgsel-*; the test makes cgroups matching it in the v1 cpu
hierarchy (on this host containers live in the v1 trees) and in the v2 tree, some before
sonde starts (found by user space at start) and some after (matched by the kernel at
mkdir). Each client is a shell that writes itself into a cgroup's cgroup.procs and then
execs curl, which makes exactly N requests (one connection each) at once and exits: done
in milliseconds, long before user space could read its /proc/PID/cgroup. Another client is
started outside, waits, and is moved into a selected cgroup by the test (cgroup attach);
then it makes its requests. A client in a cgroup that does not match, and one outside any
test cgroup, make requests that must not be counted.

Referee: the number of requests each curl made (its exit code 0 and its --write-out lines);
sonde's http_client_request_duration_seconds_count per server port must equal it exactly.
The cgroups are removed at the end."""

import os
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import sonde_it  # noqa: E402

CG = "/sys/fs/cgroup"
GLOB = "/sonde-it-cgsel-*"
HTTP_CLIENT = "http_client_request_duration_seconds_count"
N = 5  # requests per client


def _port_count(m, port):
    return int(sum(v for _, v in sonde_it.samples(m, HTTP_CLIENT, server_port=str(port))))


class _CgroupSelectCases(sonde_it.IntegrationCase):
    CAPTURE = None

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        if not os.path.isdir(CG + "/cpu") or not os.path.isdir(CG + "/unified"):
            raise unittest.SkipTest("needs the v1 cpu hierarchy and the v2 tree under " + CG)
        tag = f"{os.getpid()}-{cls.CAPTURE}"
        cls.made = []
        # made before sonde starts: user space finds them in the cgroupfs walk
        cls.v1_early = cls.make_cgroup(f"{CG}/cpu/sonde-it-cgsel-early-{tag}")
        cls.v1_nested = cls.make_cgroup(f"{CG}/cpu/sonde-it-cgsel-early-{tag}/app")
        cls.v1_other = cls.make_cgroup(f"{CG}/cpu/sonde-it-other-{tag}")
        cls.servers = []
        cls.sonde = cls.class_started(sonde_it.start_sonde(
            ["--capture", cls.CAPTURE, "--select", f"cgroup={GLOB}", "-v"]))
        # made after: the kernel matches them at mkdir
        cls.v1_late = cls.make_cgroup(f"{CG}/cpu/sonde-it-cgsel-late-{tag}")
        cls.v2_late = cls.make_cgroup(f"{CG}/unified/sonde-it-cgsel-late-{tag}")

    @classmethod
    def make_cgroup(cls, path):
        os.mkdir(path)
        cls.made.append(path)
        cls.addClassCleanup(cls.remove_cgroup, path)
        return path

    @staticmethod
    def remove_cgroup(path):
        for _ in range(50):  # a client's exit reaches the cgroup a moment later
            try:
                os.rmdir(path)
                return
            except FileNotFoundError:
                return
            except OSError:
                time.sleep(0.1)
        os.rmdir(path)  # fails, and says so, if a process is still inside

    def server(self):
        srv = self.started(sonde_it.start_http_server())
        return srv

    def curl_in(self, cgroup, port, n=N):
        """Runs, inside cgroup (None: where the test runs), a shell that enters it and
        execs curl for n requests to port; returns how many curl completed."""
        curl = ["curl", "-s", "-w", "%{http_code}\\n"]
        for _ in range(n):
            curl += ["-o", "/dev/null", f"http://127.0.0.1:{port}/"]
        if cgroup:
            argv = ["sh", "-c", f'echo $$ > {cgroup}/cgroup.procs && exec "$@"', "sh", *curl]
        else:
            argv = curl
        r = subprocess.run(argv, capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr)
        codes = r.stdout.split()
        self.assertEqual(codes, ["200"] * n)
        return len(codes)

    def assert_counted(self, port, want):
        box = {}

        def counted():
            box["n"] = _port_count(self.sonde.scrape(), port)
            return box["n"] >= want
        try:
            sonde_it.wait_for(counted, 5, interval=0.2)
        except Exception:  # noqa: BLE001 - the exact comparison below says what is wrong
            pass
        time.sleep(0.3)  # nothing more may come
        self.assertEqual(_port_count(self.sonde.scrape(), port), want)

    def test_v1_existing_cgroup(self):
        srv = self.server()
        self.assert_counted(srv.port, self.curl_in(self.v1_early, srv.port))

    def test_v1_existing_nested_cgroup(self):
        """The glob's star covers '/' as fnmatch without FNM_PATHNAME does."""
        srv = self.server()
        self.assert_counted(srv.port, self.curl_in(self.v1_nested, srv.port))

    def test_v1_cgroup_made_after_start(self):
        srv = self.server()
        self.assert_counted(srv.port, self.curl_in(self.v1_late, srv.port))

    def test_v2_cgroup_made_after_start(self):
        srv = self.server()
        self.assert_counted(srv.port, self.curl_in(self.v2_late, srv.port))

    def test_unselected_clients(self):
        srv = self.server()
        self.curl_in(self.v1_other, srv.port)
        self.curl_in(None, srv.port)
        self.assert_counted(srv.port, 0)

    def test_zz_nothing_undecided(self):
        """Runs last (by name): no cgroup match the kernel could not decide."""
        m = self.sonde.scrape()
        self.assertEqual(sonde_it.value(m, "sonde_events_lost_total", reason="cgroup_select"), 0)

    def test_moved_into_cgroup(self):
        """A running process moved into a selected cgroup by another (as a container
        runtime does) is selected at the attach: its requests right after are counted."""
        srv = self.server()
        script = ("import sys, urllib.request\n"
                  "sys.stdin.readline()\n"
                  f"for _ in range({N}):\n"
                  f"    urllib.request.urlopen('http://127.0.0.1:{srv.port}/').read()\n")
        p = subprocess.Popen([sys.executable, "-c", script], stdin=subprocess.PIPE, text=True)
        try:
            time.sleep(0.5)  # well started: any exec is long past
            with open(f"{self.v1_late}/cgroup.procs", "w") as f:
                f.write(str(p.pid))
            p.stdin.write("go\n")
            p.stdin.close()
            self.assertEqual(p.wait(timeout=30), 0)
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
        self.assert_counted(srv.port, N)


class SocketPath(_CgroupSelectCases):
    CAPTURE = "socket"


class SyscallPath(_CgroupSelectCases):
    CAPTURE = "syscalls"


def load_tests(loader, tests, pattern):
    suite = unittest.TestSuite()
    for cls in (SocketPath, SyscallPath):
        suite.addTests(loader.loadTestsFromTestCase(cls))
    return suite


if __name__ == "__main__":
    sonde_it.main()
