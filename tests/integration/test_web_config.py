# SPDX-License-Identifier: GPL-2.0-only
"""--web-config: sonde's endpoint over TLS with basic auth, scraped by a real Prometheus.

Per capture path (CAPTURE "socket" and "syscalls"): a self-signed certificate (openssl) and
a bcrypt hash at cost 10 (python3's crypt module, which calls the system's libxcrypt: no
extra package) go into a web-config.yml; sonde serves with it and observes a trade-engine.
Checked:
  - Prometheus (Debian's prometheus, private data dir, loopback port) scrapes sonde with
    scheme https, tls_config.ca_file and basic_auth, and its query returns the exact
    request count of the traffic driven through the trade-engine; a second job with a
    wrong password is down;
  - curl with a wrong password, and without credentials, gets 401 with
    WWW-Authenticate: Basic; with the right one 200;
  - plain HTTP to the TLS port gets no HTTP response at all;
  - /healthz answers 200 "ok" without credentials (liveness probes carry none), /health
    and / ask for them;
  - with RequireAndVerifyClientCert, a client certificate the CA signed gets 200, none or
    another one 403;
  - `sonde top` reaches the endpoint over https with --user and --ca-file;
  - a bad web config (unknown key, a hash that is not bcrypt) exits 2 with one line naming
    the file and the key, before any BPF is loaded."""

import base64
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import unittest
import urllib.error
import urllib.parse
import urllib.request
import warnings

with warnings.catch_warnings():  # deprecated since 3.11, still in Debian 12's python3
    warnings.simplefilter("ignore", DeprecationWarning)
    import crypt

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import sonde_it  # noqa: E402
from http_cases import (DURATION, TRADE_ENGINE_ROUTES, assert_no_loss, server_counts,  # noqa: E402
                        sonde_args)
from it_core import Proc  # noqa: E402

USER = "prometheus"
PASSWORD = "scrape-pw-7f3a"
N_ORDERS = 137  # GET /api/v1/orders/{id}
N_MISSING = 23  # GET /api/v1/missing/{id}: 404


def bcrypt_hash(password, cost=10):
    """$2b$ hash from the system's libcrypt (what sonde verifies with)."""
    h = crypt.crypt(password, crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=1 << cost))
    if not h or not h.startswith("$2b$%02d$" % cost):
        raise unittest.SkipTest(f"this libcrypt makes no bcrypt hashes ({h!r})")
    return h


class TlsSonde(sonde_it.Sonde):
    """sonde with --web-config: ready when https /healthz answers (no credentials); scrape()
    goes over TLS (trusting cafile) with basic auth."""

    def __init__(self, args, cafile, auth, client_cert=None, ready_timeout=30.0):
        self.port = sonde_it.free_port()
        args = [str(a) for a in args] + [f"--listen=127.0.0.1:{self.port}"]
        Proc.__init__(self, [sonde_it.sonde_bin(), *args], name="sonde")
        self.url = f"https://127.0.0.1:{self.port}"
        self.metrics_url = self.url + "/metrics"
        self.ctx = ssl.create_default_context(cafile=cafile)
        if client_cert:
            self.ctx.load_cert_chain(*client_cert)
        self.auth = auth
        try:
            sonde_it.wait_for(lambda: self.check_running() or self.get("/healthz", None)[0]
                              == 200, ready_timeout, interval=0.1, message="sonde /healthz")
        except Exception:
            self.stop(sig=signal.SIGKILL, expect_rc=None, expect_no_misses=False)
            raise

    def get(self, path, auth="default"):
        """(status, headers, body) of an https GET; auth (user, password), None or default."""
        auth = self.auth if auth == "default" else auth
        req = urllib.request.Request(self.url + path)
        if auth:
            tok = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
            req.add_header("Authorization", "Basic " + tok)
        try:
            with urllib.request.urlopen(req, timeout=10, context=self.ctx) as r:
                return r.status, r.headers, r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.headers, e.read()
        except (OSError, ssl.SSLError):
            return 0, {}, b""

    def scrape(self):
        status, headers, body = self.get("/metrics")
        if status != 200:
            raise RuntimeError(f"scrape {self.metrics_url}: status {status}")
        m = sonde_it.parse_prometheus_text(body.decode())
        m.content_type = headers.get("Content-Type")
        return m


class _WebConfigCases(sonde_it.IntegrationCase):
    CAPTURE = None

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        for tool in ("prometheus", "curl", "openssl"):
            if not shutil.which(tool):
                raise unittest.SkipTest(f"{tool} is not installed")
        cls.dir = tempfile.mkdtemp(prefix="sonde-it-webcfg-")
        cls.addClassCleanup(shutil.rmtree, cls.dir, ignore_errors=True)
        cls.cert, cls.key = sonde_it.make_tls_cert(cls.dir)
        cls.web = os.path.join(cls.dir, "web.yml")
        with open(cls.web, "w") as f:
            f.write("tls_server_config:\n  cert_file: cert.pem\n  key_file: key.pem\n"
                    f"basic_auth_users:\n  {USER}: {bcrypt_hash(PASSWORD)}\n")
        cls.engine = cls.class_started(sonde_it.start_trade_engine())
        cls.sonde = cls.class_started(TlsSonde(
            sonde_args(cls.CAPTURE, pids=[cls.engine.pid], routes=TRADE_ENGINE_ROUTES,
                       extra=["--web-config", cls.web]),
            cafile=cls.cert, auth=(USER, PASSWORD)))
        m = cls.sonde.scrape()
        if sonde_it.value(m, "sonde_capture_mode", mode=cls.CAPTURE) != 1:
            raise AssertionError(f"--capture {cls.CAPTURE}: sonde_capture_mode says "
                                 f"{sonde_it.samples(m, 'sonde_capture_mode')}")
        cls.start_prometheus()

    @classmethod
    def start_prometheus(cls):
        cls.prom_port = sonde_it.free_port()
        conf = os.path.join(cls.dir, "prometheus.yml")
        job = ("  - job_name: {job}\n    scheme: https\n    tls_config:\n"
               "      ca_file: {ca}\n    basic_auth:\n      username: {user}\n"
               "      password: {pw}\n    static_configs:\n"
               "      - targets: ['127.0.0.1:{port}']\n")
        with open(conf, "w") as f:
            f.write("global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n")
            f.write("scrape_configs:\n")
            f.write(job.format(job="sonde", ca=cls.cert, user=USER, pw=PASSWORD,
                               port=cls.sonde.port))
            f.write(job.format(job="sonde-wrong-password", ca=cls.cert, user=USER,
                               pw=PASSWORD + "x", port=cls.sonde.port))
        cls.prom = cls.class_started(sonde_it.start_process(
            ["prometheus", f"--config.file={conf}",
             f"--storage.tsdb.path={os.path.join(cls.dir, 'prom-data')}",
             f"--web.listen-address=127.0.0.1:{cls.prom_port}"], name="prometheus"))
        sonde_it.wait_tcp("127.0.0.1", cls.prom_port, timeout=30)

    def query(self, expr):
        url = (f"http://127.0.0.1:{self.prom_port}/api/v1/query?"
               + urllib.parse.urlencode({"query": expr}))
        with urllib.request.urlopen(url, timeout=30) as r:
            body = json.load(r)
        self.assertEqual(body["status"], "success", body)
        return body["data"]["result"]

    def query_value(self, expr):
        res = self.query(expr)
        return float(res[0]["value"][1]) if res else None

    def curl(self, path, *args):
        """(exit code, status code, headers text) of curl against sonde over https."""
        r = subprocess.run(["curl", "-s", "-m", "10", "-o", "/dev/null", "-D", "-", "-w",
                            "\n%{http_code}", "--cacert", self.cert, *args,
                            f"{self.sonde.url}{path}"],
                           capture_output=True, text=True, timeout=30)
        head, _, code = r.stdout.rpartition("\n")
        return r.returncode, int(code or 0), head

    def test_prometheus_scrapes_exact_count(self):
        e = self.engine
        for i in range(N_ORDERS):
            self.assertEqual(sonde_it.http_get(e.url + f"/api/v1/orders/{i + 1}")[0], 200)
        for i in range(N_MISSING):
            self.assertEqual(sonde_it.http_get(e.url + f"/api/v1/missing/{i + 1}")[0], 404)
        expected = {("GET", "/api/v1/orders/{id}", 200): N_ORDERS,
                    ("GET", "/api/v1/missing/{id}", 404): N_MISSING}
        got = None

        def sonde_exact():
            nonlocal got
            got = server_counts(self.sonde.scrape(), e.port)
            return got == expected

        sonde_it.wait_for(sonde_exact, 10, interval=0.2,
                          message=f"sonde's counts {expected} (last {got})")
        assert_no_loss(self, self.sonde.scrape(), self.sonde)
        sel = f'job="sonde",server_port="{e.port}"'
        orders = (f'sum({DURATION}_count{{{sel},http_route="/api/v1/orders/{{id}}",'
                  f'http_response_status_code="200"}})')
        total = f"sum({DURATION}_count{{{sel}}})"
        last = {}

        def prom_exact():
            last["orders"], last["total"] = self.query_value(orders), self.query_value(total)
            return last["orders"] == N_ORDERS and last["total"] == N_ORDERS + N_MISSING

        sonde_it.wait_for(prom_exact, 30, interval=0.5,
                          message=f"Prometheus has the exact counts (last {last})")
        self.assertEqual(self.query_value('up{job="sonde"}'), 1)
        # the job with a wrong password: scraped (once at least), and down every time
        sonde_it.wait_for(lambda: self.query_value('up{job="sonde-wrong-password"}')
                          is not None, 10, interval=0.5, message="a scrape of the wrong job")
        self.assertEqual(self.query_value('max_over_time(up{job="sonde-wrong-password"}[1m])'),
                         0)

    def test_wrong_or_missing_password_401(self):
        rc, code, head = self.curl("/metrics", "-u", f"{USER}:{PASSWORD}x")
        self.assertEqual((rc, code), (0, 401), head)
        self.assertIn('www-authenticate: basic realm="sonde"', head.lower())
        rc, code, head = self.curl("/metrics")
        self.assertEqual((rc, code), (0, 401), head)
        rc, code, head = self.curl("/metrics", "-u", f"nobody:{PASSWORD}")
        self.assertEqual((rc, code), (0, 401), head)
        rc, code, head = self.curl("/metrics", "-u", f"{USER}:{PASSWORD}")
        self.assertEqual((rc, code), (0, 200), head)
        # an unknown certificate authority: curl refuses sonde's self-signed certificate
        r = subprocess.run(["curl", "-s", "-m", "10", "-o", "/dev/null",
                            f"{self.sonde.url}/healthz"], timeout=30)
        self.assertEqual(r.returncode, 60)

    def test_healthz_open_others_closed(self):
        status, _, body = self.sonde.get("/healthz", auth=None)
        self.assertEqual((status, body), (200, b"ok\n"))
        for path in ("/health", "/", "/metrics", "/nonexistent"):
            status, headers, _ = self.sonde.get(path, auth=None)
            self.assertEqual(status, 401, path)
            self.assertEqual(headers.get("WWW-Authenticate"), 'Basic realm="sonde"', path)
        self.assertEqual(self.sonde.get("/health")[0], 200)

    def test_plain_http_gets_no_http_response(self):
        with socket.create_connection(("127.0.0.1", self.sonde.port), timeout=5) as s:
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            data = b""
            try:
                while len(data) < 4096:
                    chunk = s.recv(4096)
                    if not chunk:
                        break
                    data += chunk
            except (ConnectionResetError, socket.timeout):
                pass
        self.assertFalse(data.startswith(b"HTTP/"), data[:64])
        r = subprocess.run(["curl", "-s", "-m", "10", "-o", "/dev/null", "-w", "%{http_code}",
                            f"http://127.0.0.1:{self.sonde.port}/healthz"],
                           capture_output=True, text=True, timeout=30)
        self.assertNotEqual(r.returncode, 0)
        self.assertEqual(r.stdout, "000")

    def test_top_over_https(self):
        """sonde top: https, --ca-file, --user with the password from the environment."""
        def top(password, *extra):
            env = dict(os.environ, SONDE_TOP_PASSWORD=password)
            return subprocess.run([sonde_it.sonde_bin(), "top", "--once", "--interval", "0.3",
                                   "--url", self.sonde.url, "--user", USER, *extra],
                                  capture_output=True, text=True, timeout=30, env=env)

        r = top(PASSWORD, "--ca-file", self.cert)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(f"sonde top  {self.sonde.url}", r.stdout)
        r = top(PASSWORD + "x", "--ca-file", self.cert)
        self.assertEqual(r.returncode, 1, r.stdout)
        self.assertIn("HTTP status 401", r.stderr)
        r = top(PASSWORD)  # the system's CAs do not know the self-signed certificate
        self.assertEqual(r.returncode, 1, r.stdout)
        self.assertIn("certificate does not verify", r.stderr)
        self.assertEqual(top(PASSWORD, "--insecure").returncode, 0)

    def test_client_certificates(self):
        """RequireAndVerifyClientCert: a certificate the client CA signed gets through,
        none or another one gets 403 (MHD asks for it; sonde verifies it)."""
        web = os.path.join(self.dir, "mtls.yml")
        with open(web, "w") as f:
            f.write("tls_server_config:\n  cert_file: cert.pem\n  key_file: key.pem\n"
                    "  client_ca_file: cert.pem\n"
                    "  client_auth_type: RequireAndVerifyClientCert\n")
        other = os.path.join(self.dir, "other")
        os.makedirs(other, exist_ok=True)
        other_cert, other_key = sonde_it.make_tls_cert(other)
        s = self.started(TlsSonde(["--select", f"pid={self.engine.pid}", "--capture",
                                   self.CAPTURE, "--web-config", web],
                                  cafile=self.cert, auth=None,
                                  client_cert=(self.cert, self.key)))

        def code(*args):
            r = subprocess.run(["curl", "-s", "-m", "10", "-o", "/dev/null", "-w",
                                "%{http_code}", "--cacert", self.cert, *args,
                                s.url + "/metrics"],
                               capture_output=True, text=True, timeout=30)
            return r.stdout

        self.assertEqual(code("--cert", self.cert, "--key", self.key), "200")
        self.assertEqual(code(), "403")
        self.assertEqual(code("--cert", other_cert, "--key", other_key), "403")

    def test_bad_web_config_exits_2(self):
        cases = (("tls_server_config:\n  cert_file: cert.pem\n  key_file: key.pem\n"
                  "  min_version: TLS12\n", "tls_server_config: unknown key 'min_version'"),
                 (f"basic_auth_users:\n  {USER}: {PASSWORD}\n", "basic_auth_users: user"),
                 ("tls_server_config: [\n", "YAML"),
                 ("tls_server_config:\n  cert_file: nope.pem\n  key_file: key.pem\n",
                  "tls_server_config.cert_file: cannot read"))
        for text, needle in cases:
            path = os.path.join(self.dir, "bad.yml")
            with open(path, "w") as f:
                f.write(text)
            r = subprocess.run([sonde_it.sonde_bin(), "--select", "comm=nothing",
                                "--listen", "127.0.0.1:0", "--web-config", path],
                               capture_output=True, text=True, timeout=30)
            self.assertEqual(r.returncode, 2, r.stderr)
            lines = r.stderr.strip().splitlines()
            self.assertEqual(len(lines), 1, r.stderr)
            self.assertIn(f"web-config {path}", lines[0])
            self.assertIn(needle, lines[0])


class WebConfigSocketTest(_WebConfigCases):
    CAPTURE = "socket"


class WebConfigSyscallsTest(_WebConfigCases):
    CAPTURE = "syscalls"


def load_tests(loader, tests, pattern):
    suite = unittest.TestSuite()
    for cls in (WebConfigSocketTest, WebConfigSyscallsTest):
        suite.addTests(loader.loadTestsFromTestCase(cls))
    return suite


if __name__ == "__main__":
    sonde_it.main()
