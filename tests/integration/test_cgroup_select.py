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

A client moved out of the selected cgroups (into one no rule selects) stops being counted
once sonde logs it unselected, and is counted again when moved back in.

SIGHUP (sonde started with --config FILE and no cgroup= rule): a reload adding
cgroup=/sonde-it-cgrl-* selects, in the kernel, a curl started afterwards in an existing
matching cgroup and one in a cgroup made after the reload, from their first request, and a
waiting client already in the cgroup (the /proc scan); a reload removing the rule stops
all of them. The kernel's cgroup_ids map (bpftool) holds the matching cgroup's id after
the first reload, nothing after the second.

Referee: the number of requests each curl made (its exit code 0 and its --write-out lines);
sonde's http_client_request_duration_seconds_count per server port must equal it exactly.
The cgroups are removed at the end."""

import json
import os
import signal
import subprocess
import sys
import tempfile
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


def enter_argv(cgroup, argv):
    """argv run by a shell that first writes itself into cgroup (None: stays where it is)."""
    if not cgroup:
        return list(argv)
    return ["sh", "-c", f'echo $$ > {cgroup}/cgroup.procs && exec "$@"', "sh", *argv]


def kernel_cgroup_ids(pid):
    """{cgroup id: generation} of the cgroup_ids map of the sonde whose pid is pid, read
    with bpftool (the map found through the map ids of its fds)."""
    fdinfo = f"/proc/{pid}/fdinfo"
    for fd in os.listdir(fdinfo):
        try:
            with open(os.path.join(fdinfo, fd)) as f:
                fields = dict(ln.split(":", 1) for ln in f if ":" in ln)
        except OSError:
            continue
        if "map_id" not in fields:
            continue
        mid = fields["map_id"].strip()
        info = json.loads(subprocess.run(["bpftool", "-j", "map", "show", "id", mid],
                                         capture_output=True, timeout=30).stdout or b"{}")
        if info.get("name") != "cgroup_ids":
            continue
        dump = json.loads(subprocess.run(["bpftool", "-j", "map", "dump", "id", mid],
                                         capture_output=True, timeout=30).stdout or b"[]")
        out = {}
        for e in dump:
            e = e.get("formatted", e)
            k, v = e["key"], e["value"]
            if isinstance(k, list):  # no BTF: little-endian bytes as hex strings
                k = int.from_bytes(bytes(int(b, 16) for b in k), "little")
                v = int.from_bytes(bytes(int(b, 16) for b in v), "little")
            out[k] = v
        return out
    raise AssertionError(f"sonde {pid} holds no cgroup_ids map")


class Client:
    """A python client (started in cgroup, or where the test runs) that waits for a line
    on its stdin; each line N makes N requests to port, one connection each."""

    SCRIPT = ("import sys, urllib.request\n"
              "for line in sys.stdin:\n"
              "    for _ in range(int(line)):\n"
              "        urllib.request.urlopen('http://127.0.0.1:%d/').read()\n"
              "    print(line.strip(), flush=True)\n")

    def __init__(self, tc, port, cgroup=None):
        self.p = subprocess.Popen(enter_argv(cgroup, [sys.executable, "-c",
                                                      self.SCRIPT % port]),
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.pid = self.p.pid  # the shell execs python: the same process
        tc.addCleanup(self.close)

    def requests(self, n):
        self.p.stdin.write(f"{n}\n")
        self.p.stdin.flush()
        if self.p.stdout.readline().strip() != str(n):
            raise AssertionError(f"client {self.pid} failed its {n} requests")

    def move(self, cgroup):
        with open(f"{cgroup}/cgroup.procs", "w") as f:
            f.write(str(self.pid))

    def close(self):
        if self.p.poll() is None:
            self.p.stdin.close()
            try:
                self.p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()


class _CgroupCase(sonde_it.IntegrationCase):
    """What both test families share: an http.server, curl clients in cgroups, exact
    counts."""
    CAPTURE = None

    def server(self):
        srv = self.started(sonde_it.start_http_server())
        return srv

    def curl_in(self, cgroup, port, n=N):
        """Runs, inside cgroup (None: where the test runs), a shell that enters it and
        execs curl for n requests to port; returns how many curl completed."""
        curl = ["curl", "-s", "-w", "%{http_code}\\n"]
        for _ in range(n):
            curl += ["-o", "/dev/null", f"http://127.0.0.1:{port}/"]
        r = subprocess.run(enter_argv(cgroup, curl), capture_output=True, text=True,
                           timeout=30)
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

    def wait_unselected(self, pid, why):
        """sonde logged pid unselected, saying why."""
        line = f"no longer observing pid {pid} "
        sonde_it.wait_for(lambda: any(line in ln and why in ln
                                      for ln in self.sonde.stderr().splitlines()), 5,
                          interval=0.1, message=f"sonde logs pid {pid} unselected ({why})")


class _CgroupSelectCases(_CgroupCase):

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
        cls.addClassCleanup(remove_cgroup, path)
        return path

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


    def test_moved_out_of_cgroup(self):
        """A client selected by its cgroup and then moved into one no rule selects is
        unselected: its requests after that are not counted; moved back, they are."""
        srv = self.server()
        c = Client(self, srv.port)
        time.sleep(0.5)  # well started: any exec is long past
        c.move(self.v1_late)
        c.requests(N)
        self.assert_counted(srv.port, N)
        c.move(self.v1_other)
        self.wait_unselected(c.pid, "moved out of the selected cgroups")
        c.requests(N)
        self.assert_counted(srv.port, N)
        c.move(self.v1_early)
        c.requests(3)
        self.assert_counted(srv.port, N + 3)


class _CgroupReloadCases(_CgroupCase):
    """cgroup= rules added and removed by SIGHUP."""
    NO_MATCH = "select = comm=no-such-comm\n"  # selects nothing (no rule: every listener)

    def setUp(self):
        super().setUp()
        if not os.path.isdir(CG + "/cpu") or not os.path.isdir(CG + "/unified"):
            raise unittest.SkipTest("needs the v1 cpu hierarchy and the v2 tree under " + CG)
        self.tag = f"{os.getpid()}-{self.CAPTURE}"
        self.dir = tempfile.mkdtemp(prefix="sonde-it-cgrl-")
        self.conf = os.path.join(self.dir, "sonde.conf")

    def make_cgroup(self, path):
        os.mkdir(path)
        self.addCleanup(remove_cgroup, path)
        return path

    def write_conf(self, text):
        tmp = self.conf + ".new"
        with open(tmp, "w") as f:
            f.write(text)
        os.rename(tmp, self.conf)  # a reload never reads half a file

    def reload(self, conf):
        """Writes conf, sends SIGHUP, waits until sonde counted the reload ok: the kernel's
        rules and the /proc scan are done before the counter moves."""
        def ok():
            return sonde_it.value(self.sonde.scrape(), "sonde_config_reloads_total",
                                  result="ok")
        want = ok() + 1
        self.write_conf(conf)
        os.kill(self.sonde.pid, signal.SIGHUP)
        sonde_it.wait_for(lambda: ok() == want, 10, message=f"{want} reloads ok")

    def test_reload_adds_then_removes_cgroup_rule(self):
        cg = self.make_cgroup(f"{CG}/cpu/sonde-it-cgrl-old-{self.tag}")
        self.write_conf(self.NO_MATCH)
        self.sonde = self.started(sonde_it.start_sonde(
            ["--config", self.conf, "--capture", self.CAPTURE, "-v"]))
        srv = self.server()
        self.curl_in(cg, srv.port, 10)
        waiting = Client(self, srv.port, cg)  # in the cgroup before the rule exists
        waiting.requests(2)
        self.assert_counted(srv.port, 0)
        self.assertEqual(kernel_cgroup_ids(self.sonde.pid), {})

        self.reload("select = cgroup=/sonde-it-cgrl-*\n")
        ids = kernel_cgroup_ids(self.sonde.pid)
        self.assertIn(os.stat(cg).st_ino, ids)
        self.assertEqual(len(set(ids.values())), 1, ids)  # one generation
        made = self.make_cgroup(f"{CG}/unified/sonde-it-cgrl-new-{self.tag}")
        self.assertIn(os.stat(made).st_ino, kernel_cgroup_ids(self.sonde.pid))
        self.curl_in(cg, srv.port, 10)
        self.curl_in(made, srv.port, 10)
        waiting.requests(5)
        self.assert_counted(srv.port, 25)

        self.reload(self.NO_MATCH)
        ids = kernel_cgroup_ids(self.sonde.pid)
        self.assertNotIn(os.stat(cg).st_ino, ids)
        self.assertNotIn(os.stat(made).st_ino, ids)
        self.wait_unselected(waiting.pid, "no rule selects it after the reload")
        self.curl_in(cg, srv.port, 10)
        self.curl_in(made, srv.port, 10)
        waiting.requests(5)
        self.assert_counted(srv.port, 25)
        m = self.sonde.scrape()
        self.assertEqual(sonde_it.value(m, "sonde_events_lost_total", reason="cgroup_select"), 0)


class SocketPath(_CgroupSelectCases):
    CAPTURE = "socket"


class SyscallPath(_CgroupSelectCases):
    CAPTURE = "syscalls"


class SocketReload(_CgroupReloadCases):
    CAPTURE = "socket"


class SyscallReload(_CgroupReloadCases):
    CAPTURE = "syscalls"


def load_tests(loader, tests, pattern):
    suite = unittest.TestSuite()
    for cls in (SocketPath, SyscallPath, SocketReload, SyscallReload):
        suite.addTests(loader.loadTestsFromTestCase(cls))
    return suite


if __name__ == "__main__":
    sonde_it.main()
