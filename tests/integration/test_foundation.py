# SPDX-License-Identifier: GPL-2.0-only
"""Root tests of sonde's foundation: --check on this kernel, the /metrics endpoint as
Prometheus sees it, clean shutdown (no BPF program left behind), and the start-up errors
a user can cause."""

import json
import os
import socket
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import sonde_it  # noqa: E402
from sonde_it import IntegrationCase  # noqa: E402


def sonde_programs():
    """{id: name} of loaded BPF programs that belong to sonde (all are named sonde_*)."""
    out = subprocess.run(["bpftool", "-j", "prog", "show"], stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL, timeout=30).stdout
    try:
        progs = json.loads(out or b"[]")
    except json.JSONDecodeError:
        # bpftool can stop mid-list on program types newer than itself; fall back to text
        text = subprocess.run(["bpftool", "prog", "show"], stdout=subprocess.PIPE,
                              stderr=subprocess.DEVNULL, timeout=30).stdout.decode()
        found = {}
        for line in text.splitlines():
            words = line.split()
            if len(words) > 3 and words[0].endswith(":") and words[3].startswith("sonde_"):
                found[int(words[0][:-1])] = words[3]
        return found
    return {p["id"]: p["name"] for p in progs if p.get("name", "").startswith("sonde_")}


def orphan_programs():
    """sonde programs that no live process holds: what a sonde that exited left in the
    kernel (pinned or otherwise). Programs of other sonde instances running at the same
    time, e.g. on a developer's machine, are held by them and do not count."""
    held = set()
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                held |= set(sonde_it.bpf_programs_of(int(pid)))
            except OSError:
                pass
    return {i: n for i, n in sonde_programs().items() if i not in held}


def assert_no_orphans(test):
    """The kernel frees a program only after an RCU grace period once its last reference
    is gone, so its id can stay listed for a moment after sonde exited: wait (bounded) for
    it to go. A program something still holds (pinned, attached) never goes."""
    try:
        sonde_it.wait_for(lambda: not orphan_programs(), 10, message="orphaned programs gone")
    except AssertionError:
        test.assertEqual(orphan_programs(), {})


def run_sonde(*args, timeout=60):
    return subprocess.run([sonde_it.sonde_bin(), *args], stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, timeout=timeout, text=True)


class CheckTest(IntegrationCase):
    def test_check_reports_both_capture_paths(self):
        r = run_sonde("--check")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        lines = {ln.split("  ")[0].strip(): ln for ln in r.stdout.splitlines()}
        for cap in ("kernel BTF", "ring buffer", "socket tracepoints", "syscall tracepoints"):
            self.assertIn(cap, lines, r.stdout)
            self.assertRegex(lines[cap], r"\syes\s", r.stdout)
        self.assertIn("available", r.stdout)
        print("\n--- sonde --check ---\n" + r.stdout, file=sys.stderr)

    def test_check_refuses_a_wrong_configuration(self):
        # README and --help: exit 2, one line naming the value, before any table
        r = run_sonde("--check", "--select", "nginx")
        self.assertEqual(r.returncode, 2, r.stdout + r.stderr)
        self.assertEqual(r.stdout, "")
        self.assertEqual(r.stderr.splitlines(),
                         ["sonde: --select: 'nginx' is not KIND=VALUE "
                          "(KIND: pid, comm, exe, port or cgroup)"])

    def test_check_leaves_no_program(self):
        run_sonde("--check")
        assert_no_orphans(self)


class EndpointTest(IntegrationCase):
    def setUp(self):
        super().setUp()
        # Observe this test process itself: harmless, and makes the tracked gauge nonzero.
        self.sonde = self.started(sonde_it.start_sonde(["--select", f"pid={os.getpid()}"]))

    def test_metrics_pass_promtool(self):
        ctype, text = sonde_it.scrape_raw(self.sonde.metrics_url)
        self.assertEqual(ctype, "text/plain; version=0.0.4; charset=utf-8")
        rc, out = sonde_it.promtool_check_metrics(text)
        self.assertEqual(rc, 0, out + "\n" + text[:4000])
        for name in ("sonde_build_info", "sonde_events_lost_total", "sonde_tracked_processes",
                     "sonde_attached_programs", "sonde_events_received_total",
                     "sonde_series_dropped_total", "http_server_request_duration_seconds",
                     "db_client_operation_duration_seconds"):
            self.assertIn(f"# TYPE {name} ", text)
        m = sonde_it.parse_prometheus_text(text)
        self.assertEqual(sonde_it.value(m, "sonde_tracked_processes"), 1)
        self.assertGreater(sonde_it.value(m, "sonde_attached_programs"), 0)
        for reason in ("ringbuf_full", "read_user", "allow_map", "conn_map", "tcp_map",
                       "gap", "recursion", "cgroup_select", "ssl_map",
                       "tls_sock_map"):
            self.assertEqual(sonde_it.value(m, "sonde_events_lost_total", reason=reason), 0)

    def test_gzip_and_health(self):
        status, headers, body = sonde_it.http_request(
            "GET", self.sonde.metrics_url, headers={"Accept-Encoding": "gzip"})
        self.assertEqual(status, 200)
        self.assertEqual(headers.get("content-encoding"), "gzip")
        self.assertEqual(body[:2], b"\x1f\x8b")
        status, _, body = sonde_it.http_request("GET", self.sonde.url + "/health")
        self.assertEqual(status, 200, body)
        health = json.loads(body)
        self.assertEqual(health["status"], "ok")
        self.assertEqual(health["checks"]["bpf"]["status"], "ok")
        status, _, _ = sonde_it.http_request("GET", self.sonde.url + "/nope")
        self.assertEqual(status, 404)
        status, _, _ = sonde_it.http_request("POST", self.sonde.metrics_url, body=b"x")
        self.assertEqual(status, 405)

    def test_sigterm_leaves_no_program(self):
        owned = set(sonde_it.bpf_programs_of(self.sonde.pid))
        self.assertTrue(owned, "sonde holds no BPF program")
        self.assertTrue(owned <= set(sonde_programs()), owned)
        self.sonde.stop()  # raises unless exit code 0
        try:
            sonde_it.wait_for(lambda: not owned & set(sonde_programs()), 10,
                              message="sonde's programs freed")
        except AssertionError:
            self.assertEqual(owned & set(sonde_programs()), set())
        assert_no_orphans(self)


class StartupErrorTest(IntegrationCase):
    def test_bad_flag_names_itself(self):
        r = run_sonde("--capture", "bogus")
        self.assertEqual(r.returncode, 2)
        self.assertIn("bogus", r.stderr)
        self.assertIn("capture", r.stderr)

    def test_listen_port_in_use(self):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        try:
            r = run_sonde("--listen", f"127.0.0.1:{port}", "--select", "pid=1")
        finally:
            s.close()
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("in use", r.stderr)
        self.assertEqual(len(r.stderr.strip().splitlines()), 1, r.stderr)
        assert_no_orphans(self)

    def test_not_root(self):
        # no capability at all: one line naming the first one missing, not a crash
        r = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                            "--inh-caps=-all", "--bounding-set=-all",
                            sonde_it.sonde_bin(), "--select", "pid=1"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                           timeout=30)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertEqual(r.stderr.splitlines(), [missing_line("CAP_BPF")])


def unit_capabilities():
    """The capabilities deploy/systemd/sonde.service grants, e.g. ["bpf", "perfmon", ...]."""
    unit = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "deploy",
                        "systemd", "sonde.service")
    with open(unit) as f:
        for line in f:
            if line.startswith("AmbientCapabilities="):
                return [c[len("CAP_"):].lower() for c in line.split("=", 1)[1].split()]
    raise AssertionError("no AmbientCapabilities= in sonde.service")


def bounding_set():
    """Bit mask of this process's capability bounding set."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("CapBnd:"):
                return int(line.split()[1], 16)
    return 0


CAP_BITS = {"bpf": 39, "perfmon": 38, "sys_resource": 24, "sys_admin": 21, "sys_ptrace": 19,
            "dac_read_search": 2}
WHY = {"CAP_BPF": "to load BPF programs and create maps",
       "CAP_PERFMON": "to load and attach tracing programs",
       "CAP_SYS_PTRACE": "to read /proc/PID/exe, maps, root and environ of other users' "
                         "processes",
       "CAP_DAC_READ_SEARCH": "to read /proc/PID/fd of other users' processes and tracefs"}


def missing_line(cap):
    return (f"sonde: error: missing capability {cap} (needed {WHY[cap]}); run as root or "
            f"grant it (see deploy/systemd/sonde.service)")


def nobody_argv(caps):
    """setpriv argv running as nobody with exactly caps (inheritable, ambient, bounding)."""
    plus = ",".join("+" + c for c in caps)
    return ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
            "--inh-caps=-all" + ("," + plus if caps else ""),
            "--ambient-caps=-all" + ("," + plus if caps else ""),
            "--bounding-set=-all" + ("," + plus if caps else "")]


class LeastPrivilegeTest(IntegrationCase):
    """sonde as user nobody with the systemd unit's capabilities observes a root server."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        caps = unit_capabilities()
        # A test environment (a container) may lack some in its own bounding set:
        # CAP_SYS_RESOURCE, which sonde does not need on kernels >= 5.11, is one.
        cls.caps = [c for c in caps if bounding_set() >> CAP_BITS[c] & 1]
        cls.ungrantable = sorted(set(caps) - set(cls.caps))
        if cls.ungrantable:
            print(f"\nnot in this environment's bounding set: {cls.ungrantable}",
                  file=sys.stderr)
        assert not set(cls.ungrantable) - {"sys_resource"}, cls.ungrantable

    def count_requests(self, capture, n):
        server = self.started(sonde_it.start_http_server())
        sonde = self.started(sonde_it.start_sonde(
            ["--capture", capture, "--select", f"port={server.port}"],
            wrap=nobody_argv(self.caps)))
        sonde_it.wait_for(lambda: sonde_it.value(sonde.scrape(), "sonde_tracked_processes")
                          == 1, 10, message="the server tracked")
        self.curl_and_count(sonde, [server.url + "/index.html"], n, "200",
                            http_route="/index.html")

    def curl_and_count(self, sonde, curl_args, n, status, **labels):
        """n curl GETs (curl_args: options and the URL) answered status, then exactly n
        of them counted in sonde's server histogram (labels narrow it); sonde exits 0."""
        for _ in range(n):
            r = subprocess.run(["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}",
                                *curl_args], stdout=subprocess.PIPE, text=True, timeout=30)
            self.assertEqual(r.stdout, status)

        def count():
            return sonde_it.hist_count(sonde.scrape(), "http_server_request_duration_seconds",
                                       http_request_method="GET",
                                       http_response_status_code=status, **labels)
        try:
            sonde_it.wait_for(lambda: count() == n, 10, message=f"{n} requests counted")
        except AssertionError:
            self.assertEqual(count(), n)
        self.assertEqual(sonde.stop(), 0)

    def test_socket_path(self):
        self.count_requests("socket", 13)

    def test_syscalls_path(self):
        self.count_requests("syscalls", 13)

    def count_https_requests(self, capture, n):
        """nginx over OpenSSL, observed by a non-root sonde holding the unit's capabilities
        (CAP_SYS_ADMIN among them: the kernel attaches uprobes only with it)."""
        ngx = self.started(sonde_it.start_nginx(tls=True, workers=1))
        sonde = self.started(sonde_it.start_sonde(
            ["--capture", capture, "--select", f"port={ngx.port}"],
            wrap=nobody_argv(self.caps)))
        sonde_it.wait_for(lambda: sonde_it.value(sonde.scrape(), "sonde_tls_targets",
                                                 library="openssl", state="probed") == 2,
                          10, message="nginx's master and worker probed")
        self.curl_and_count(sonde, ["-k", "--http1.1", ngx.url + "/status/201"], n, "201",
                            url_scheme="https")

    def test_tls_socket_path(self):
        self.count_https_requests("socket", 11)

    def test_tls_syscalls_path(self):
        self.count_https_requests("syscalls", 11)

    def test_tls_without_sys_admin_is_named(self):
        """Without CAP_SYS_ADMIN, TLS is not captured, and sonde says why: each TLS process
        failed in sonde_tls_targets, one log line each naming the capability, and the
        --check table's uprobes line; plaintext HTTP is still counted."""
        caps = [c for c in self.caps if c != "sys_admin"]
        ngx = self.started(sonde_it.start_nginx(tls=True, workers=1))
        server = self.started(sonde_it.start_http_server())
        sonde = self.started(sonde_it.start_sonde(
            ["--capture", "socket", "--select", f"port={ngx.port}",
             "--select", f"port={server.port}"], wrap=nobody_argv(caps)))
        # nginx's master and worker; python's http.server maps libssl too
        sonde_it.wait_for(lambda: sonde_it.value(sonde.scrape(), "sonde_tls_targets",
                                                 library="openssl", state="failed") >= 2,
                          10, message="nginx's two processes failed")
        for _ in range(3):
            r = subprocess.run(["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}",
                                server.url + "/index.html"], stdout=subprocess.PIPE,
                               text=True, timeout=30)
            self.assertEqual(r.stdout, "200")
        sonde_it.wait_for(lambda: sonde_it.hist_count(
            sonde.scrape(), "http_server_request_duration_seconds",
            http_route="/index.html") == 3, 10, message="3 plaintext requests counted")
        m = sonde.scrape()
        failed = sonde_it.value(m, "sonde_tls_targets", library="openssl", state="failed")
        self.assertEqual(sonde_it.value(m, "sonde_tls_targets", state="probed"), 0)
        # /health lists each failed process with the reason and the capability to grant
        listed = sonde.health_tls(library="openssl", state="failed")
        self.assertEqual(len(listed), failed, listed)
        self.assertIn(ngx.pid, {t["pid"] for t in listed})
        for t in listed:
            self.assertTrue(t["reason"], t)
            self.assertIn("CAP_SYS_ADMIN", t["detail"], t)
        log = sonde.stderr()  # (gone once stopped)
        self.assertEqual(sonde.stop(), 0)
        named = [line for line in log.splitlines()
                 if "TLS" in line and "not probed" in line and "CAP_SYS_ADMIN" in line]
        self.assertEqual(len(named), failed, log)
        r = subprocess.run([*nobody_argv(caps), sonde_it.sonde_bin(), "--check",
                            "--capture", "socket"], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True, timeout=60)
        uprobes = [line for line in r.stdout.splitlines() if line.startswith("uprobes")]
        self.assertEqual(len(uprobes), 1, r.stdout)
        self.assertIn("CAP_SYS_ADMIN", uprobes[0])

    def test_each_needed_capability(self):
        for cap in ("bpf", "perfmon", "sys_ptrace", "dac_read_search"):
            # CAP_SYS_ADMIN stands in for CAP_BPF and CAP_PERFMON (kernels < 5.8 have
            # only it): it goes with them
            drop = {cap, "sys_admin"} if cap in ("bpf", "perfmon") else {cap}
            for capture in ("socket", "syscalls"):
                with self.subTest(cap=cap, capture=capture):
                    r = subprocess.run(
                        [*nobody_argv([c for c in self.caps if c not in drop]),
                         sonde_it.sonde_bin(), "--capture", capture, "--select", "pid=1",
                         "--listen=127.0.0.1:0"],
                        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                        timeout=30)
                    self.assertEqual(r.returncode, 1, r.stderr)
                    self.assertEqual(r.stderr.splitlines(),
                                     [missing_line("CAP_" + cap.upper())])


if __name__ == "__main__":
    sonde_it.main()
