# SPDX-License-Identifier: GPL-2.0-only
"""TLS plaintext through uprobes, counted exactly, on both capture paths.

OpenSSL: nginx with TLS (prefork workers, selected by the master's pid at start-up),
driven by wrk (keep-alive) and by clients that sonde observes too: curl -k --http1.1
(libcurl's own BIO) and Python's http.client over ssl (SSL_read_ex/SSL_write_ex). A
Python client that runs TLS over ssl.MemoryBIO does its socket I/O outside OpenSSL: its
SSL objects never pair with a socket, and nothing of it may be parsed. HTTP/2 (curl
--http2, by ALPN) is only counted in sonde_unsupported_connections_total{protocol="http2"}.

Go: the trade-engine serving HTTPS (chi, HTTP/1.1), built plain, with -ldflags='-s -w' (no
symbols: the pclntab is all there is) and as PIE, under 5,000 keep-alive requests each;
and as a client, calling an https upstream through net/http (reader and writer goroutines
on one connection). Its referee counts what it served. With -h2 it keeps net/http's
default TLSNextProto (h2 offered by ALPN): curl --http2 connections to it are only
counted as unsupported http2, while curl --http1.1 to the same server is counted exactly.

Clients are started before sonde, blocked on a FIFO that hands them their work: sonde
attaches a process's OpenSSL probes when it selects it, and a client that execs, loads
libssl and connects within milliseconds would race that.

Referees: nginx's access log (method, URI, status, protocol per request) and the clients'
own counts."""

import json
import os
import re
import signal
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import sonde_it  # noqa: E402
from db_cases import (HTTP_CLIENT, PG_LOG_SETTINGS, PgLog, assert_exact,  # noqa: E402
                      db_counts, delta, http_client_counts, parse_errors)
from http_cases import (HTTP_SERVER_HISTOGRAMS, PYTHON_SERVICE,  # noqa: E402
                        TRADE_ENGINE_ROUTES, SondeClassCase, add, assert_exact_counts,
                        capture_suite, check_wrk_complete, counter, diagnosis,
                        server_counts, server_series, unsupported, wait_for, wrk_counts)

NGINX_PATHS = ["/", "/status/404", "/status/500", "/status/201"]

# A client that blocks on its FIFO until the test writes a job (JSON) into it, runs it
# and prints {"counts": {"METHOD STATUS": n}}. mode "http.client": keep-alive requests
# over ssl; mode "memorybio": the same requests, TLS run by ssl.MemoryBIO over a plain
# socket (the bytes move by socket calls made outside OpenSSL); mode "abandon": the requests
# on job["conns"] connections, all left open, then it waits to be killed (its SSL objects
# are never freed).
PY_CLIENT = r"""
import http.client, json, socket, ssl, sys, time
job = json.load(open(sys.argv[1]))
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
ctx.set_alpn_protocols(["http/1.1"])
counts = {}

def count(method, status):
    k = f"{method} {status}"
    counts[k] = counts.get(k, 0) + 1

def via_http_client():
    c = http.client.HTTPSConnection(job["host"], job["port"], context=ctx, timeout=10)
    for method, path in job["requests"]:
        body = b'{"n":1}' if method == "POST" else None
        c.request(method, path, body=body)
        r = c.getresponse()
        r.read()
        count(method, r.status)
    c.close()

def via_memory_bio():
    sock = socket.create_connection((job["host"], job["port"]), timeout=10)
    inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = ctx.wrap_bio(inc, out, server_hostname="localhost")

    def flush():
        data = out.read()
        if data:
            sock.sendall(data)

    def pump(fn, *args):
        while True:
            try:
                r = fn(*args)
                flush()
                return r
            except ssl.SSLWantReadError:
                flush()
                data = sock.recv(65536)
                if not data:
                    raise ConnectionError("closed")
                inc.write(data)

    pump(tls.do_handshake)
    buf = b""
    for method, path in job["requests"]:
        pump(tls.write, f"{method} {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        while b"\r\n\r\n" not in buf:
            buf += pump(tls.read, 65536)
        head, _, buf = buf.partition(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n")[1:]:
            k, _, v = line.partition(b":")
            if k.strip().lower() == b"content-length":
                length = int(v)
        while len(buf) < length:
            buf += pump(tls.read, 65536)
        buf = buf[length:]
        count(method, int(head.split(b" ")[1]))
    sock.close()

def abandon():
    conns = [http.client.HTTPSConnection(job["host"], job["port"], context=ctx, timeout=10)
             for _ in range(job["conns"])]
    for c in conns:
        for method, path in job["requests"]:
            c.request(method, path)
            r = c.getresponse()
            r.read()
            count(method, r.status)
    print(json.dumps({"counts": counts}), flush=True)
    time.sleep(600)

if job["mode"] == "abandon":
    abandon()
via_memory_bio() if job["mode"] == "memorybio" else via_http_client()
print(json.dumps({"counts": counts}), flush=True)
"""

# A Python client that maps libssl late: nothing of TLS is imported (http.client imports
# ssl) until its job arrives; then it imports ssl, prints "imported" and blocks on a second
# FIFO (job["gate"]) until the test saw sonde probe it, then runs its requests as
# PY_CLIENT's http.client mode does.
PY_LATE_CLIENT = r"""
import json, sys
job = json.load(open(sys.argv[1]))
import ssl, http.client
print("imported", flush=True)
open(job["gate"]).read()
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
ctx.set_alpn_protocols(["http/1.1"])
counts = {}
c = http.client.HTTPSConnection(job["host"], job["port"], context=ctx, timeout=10)
for method, path in job["requests"]:
    c.request(method, path, body=b'{"n":1}' if method == "POST" else None)
    r = c.getresponse()
    r.read()
    k = f"{method} {r.status}"
    counts[k] = counts.get(k, 0) + 1
c.close()
print(json.dumps({"counts": counts}), flush=True)
"""


class GatedClient:
    """A client process started now and blocked on a FIFO: release(job) hands it its
    work (a JSON job, or a curl config), wait() its output once it exited."""

    def __init__(self, argv_fn, name):
        self.dir = tempfile.mkdtemp(prefix=f"sonde-it-{name}-fifo-")
        self.fifo = os.path.join(self.dir, "job")
        os.mkfifo(self.fifo)
        self.proc = sonde_it.start_process(argv_fn(self.fifo), name=name)
        self.pid = self.proc.pid

    def release(self, text):
        with open(self.fifo, "w") as f:
            f.write(text)

    def wait(self, timeout=120.0):
        if self.proc.wait(timeout) is None:
            raise AssertionError(f"{self.proc.name} did not finish:\n{self.proc.log_tail()}")
        if self.proc.returncode != 0:
            raise AssertionError(f"{self.proc.name} exited {self.proc.returncode}:\n"
                                 f"{self.proc.log_tail()}")
        return self.proc.stdout()

    def stop(self):
        self.proc.stop()
        try:
            os.unlink(self.fifo)
            os.rmdir(self.dir)
        except OSError:
            pass


def py_client(name):
    return GatedClient(lambda fifo: [sys.executable, "-c", PY_CLIENT, fifo], name)


def py_late_client(name):
    return GatedClient(lambda fifo: [sys.executable, "-c", PY_LATE_CLIENT, fifo], name)


def curl_client(name):
    return GatedClient(lambda fifo: ["curl", "-K", fifo], name)


def nginx_route(path):
    return "/" if path == "/" else "/status/{id}"


def by_route(counts):
    """{(method, path, status): n} -> {(method, route, status): n}."""
    out = {}
    for (method, path, status), n in counts.items():
        add(out, (method, nginx_route(path), status), n)
    return out


def requests_mix(n, methods=("GET",)):
    """n (method, path) pairs cycling over NGINX_PATHS and methods."""
    return [(methods[i % len(methods)], NGINX_PATHS[i % len(NGINX_PATHS)]) for i in range(n)]


def nginx_status(path):
    return {"/": 200, "/status/404": 404, "/status/500": 500, "/status/201": 201}[path]


def ssl_pairings(sonde_pid, tgid):
    """Entries of sonde's ssl_conns map (key: tgid, pad, SSL*) that belong to tgid."""
    n = 0
    for e in sonde_it.sonde_map(sonde_pid, "ssl_conns"):
        key = e.get("formatted", e)["key"]
        if isinstance(key, dict):
            owner = key["tgid"]
        else:
            owner = int.from_bytes(bytes(int(b, 16) for b in key[:4]), "little")
        n += owner == tgid
    return n


def thread_cpu_ns(pid, name):
    """CPU time (ns, schedstat) of process pid's threads called name; -1 when none."""
    ns = -1
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/comm") as f:
                if f.read().strip() != name:
                    continue
            with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                ns = max(ns, 0) + int(f.read().split()[0])
        except OSError:
            continue
    return ns


def tls_dropped(m, reason):
    return counter(m, "sonde_tls_plaintext_dropped_total", reason=reason)


class _TlsCases(SondeClassCase):
    """One nginx (TLS, 2 workers, access log) per purpose; gated clients."""

    @classmethod
    def start_services(cls):
        cls.ngx = {}
        for name in ("wrk", "clients", "bio", "h2"):
            cls.ngx[name] = cls.class_started(sonde_it.start_nginx(
                workers=2, keepalive_requests=100000, tls=True, access_log=True))
        cls.curl = cls.class_started(curl_client("curl"))
        cls.py = cls.class_started(py_client("py-https"))
        cls.bio = cls.class_started(py_client("py-memorybio"))
        cls.gone = cls.class_started(py_client("py-abandon"))
        cls.late = cls.class_started(py_late_client("py-late-ssl"))
        pids = [n.pid for n in cls.ngx.values()] + [cls.curl.pid, cls.py.pid, cls.bio.pid,
                                                    cls.gone.pid, cls.late.pid]
        # masters, 2 workers each, the clients that map libssl from their start
        cls.tls_processes = len(cls.ngx) * 3 + 4
        return pids

    def expect_server(self, ngx, new):
        """sonde's server counts on ngx's port must be those before the test plus new."""
        expected = dict(server_counts(self.before, ngx.port))
        for k, n in new.items():
            add(expected, k, n)
        return assert_exact_counts(self, self.sonde, ngx.port, expected, timeout=20,
                                   what=f"nginx {ngx.port}")

    def check_https(self, m, port):
        """Every http_server series on port: url_scheme https, service nginx."""
        for name in HTTP_SERVER_HISTOGRAMS:
            for labels, _ in server_series(m, port, name):
                self.assertEqual((labels.get("url_scheme"), labels.get("service_name")),
                                 ("https", "nginx"), f"{name} {labels}")

    def test_a_targets(self):
        """Every selected process maps libssl: all probed, none failed."""
        want = self.tls_processes

        def probed(m):
            return counter(m, "sonde_tls_targets", library="openssl", state="probed")
        try:
            wait_for(lambda: probed(self.sonde.scrape()) == want, 10)
        except sonde_it.WaitTimeout:
            self.fail(f"sonde_tls_targets probed != {want}\n{diagnosis(self.sonde)}")
        failed = sonde_it.samples(self.sonde.scrape(), "sonde_tls_targets", state="failed")
        self.assertEqual([v for _, v in failed if v], [], failed)
        # /health names each of them: pid, library, state, the libssl it maps
        listed = self.sonde.health_tls(library="openssl", state="probed")
        self.assertEqual(len(listed), want, listed)
        pids = {t["pid"] for t in listed}
        for ngx in self.ngx.values():
            self.assertIn(ngx.pid, pids, f"nginx master {ngx.pid}")
            for worker in sonde_it.children_of(ngx.pid):
                self.assertIn(worker, pids, f"nginx worker {worker}")
        for t in listed:
            self.assertIn("libssl", os.path.basename(t["path"]), t)
            self.assertEqual((t["reason"], t["pid_in_namespace"]), ("", t["pid"]), t)
        self.assertEqual(self.sonde.health_tls(state="failed"), [])

    def test_nginx_keepalive_5000(self):
        """5,000 HTTPS requests over 4 keep-alive connections (wrk): exact per route and
        status, url_scheme https, no parse error, nothing lost."""
        ngx = self.ngx["wrk"]
        conns, per_conn = 4, 1250
        res = sonde_it.wrk_run(ngx.url, conns, per_conn, mix="get", paths=NGINX_PATHS,
                               timeout=180)
        check_wrk_complete(self, res, conns * per_conn)
        served = wrk_counts(res)
        self.assertEqual(ngx.referee(), served, "nginx access log vs wrk")
        m = self.expect_server(ngx, by_route(served))
        self.check_clean(m)
        self.check_https(m, ngx.port)
        self.assertEqual(sum(server_counts(m, ngx.port).values()), conns * per_conn)
        for p in self.ngx["wrk"].worker_pids() + [ngx.pid]:
            self.assertTrue(os.path.exists(f"/proc/{p}"), f"nginx process {p} died")

    def _clients(self, client, job_text, parse, what, service, n, released=None):
        """Releases a gated client against the "clients" nginx (then calls released(), if
        given); its own counts, nginx's access log and sonde (server and client side) must
        agree exactly."""
        ngx = self.ngx["clients"]
        before_log = ngx.referee()
        before_client = http_client_counts(self.before, server_port=str(ngx.port),
                                           service_name=service)
        client.release(job_text)
        if released:
            released()
        counts = parse(client.wait())
        self.assertEqual(sum(counts.values()), n, counts)
        served = delta(ngx.referee(), before_log)
        self.assertEqual({(k[0], str(k[2])): v for k, v in served.items()}, counts,
                         f"{what}: nginx access log vs the client")
        self.expect_server(ngx, by_route(served))

        def client_side(m):
            return delta(http_client_counts(m, server_port=str(ngx.port),
                                            service_name=service), before_client)
        m = assert_exact(self, self.sonde, client_side, counts, f"{what} client side")
        self.check_clean(m)
        self.check_https(m, ngx.port)
        for labels, _ in sonde_it.samples(m, HTTP_CLIENT + "_count",
                                          server_port=str(ngx.port), service_name=service):
            self.assertEqual(labels["server_address"], "127.0.0.1", labels)

    def test_curl_client(self):
        """curl -k --http1.1, 200 URLs in one run (one keep-alive connection)."""
        ngx = self.ngx["clients"]
        reqs = requests_mix(200)
        conf = ["http1.1", "insecure", "silent", 'write-out = "%{http_code}\\n"']
        for _, path in reqs:
            conf += [f'url = "{ngx.url}{path}"', 'output = "/dev/null"']

        def parse(out):
            counts = {}
            for line in out.split():
                add(counts, ("GET", line))
            return counts
        self._clients(self.curl, "\n".join(conf) + "\n", parse, "curl", "curl", len(reqs))

    def test_python_client(self):
        """Python http.client over ssl (SSL_read_ex/SSL_write_ex): 300 keep-alive
        requests, GET and POST."""
        ngx = self.ngx["clients"]
        reqs = requests_mix(300, methods=("GET", "POST", "GET"))
        job = json.dumps({"mode": "http.client", "host": "127.0.0.1", "port": ngx.port,
                          "requests": reqs})

        def parse(out):
            got = json.loads(out.strip().splitlines()[-1])["counts"]
            return {tuple(k.split(" ")): v for k, v in got.items()}
        self._clients(self.py, job, parse, "python http.client", PYTHON_SERVICE, len(reqs))

    def test_late_ssl_import(self):
        """A selected Python process that maps libssl only when it imports ssl, long after
        sonde examined it: sonde finds the library when it looks at the process again
        (every 2 s, reading its maps once its address space changed) and probes it; its
        HTTPS requests made after that count exactly, on both sides."""
        late = self.late
        self.assertEqual(self.sonde.health_tls(pid=late.pid, state="probed"), [],
                         "probed before it mapped libssl")
        gate = os.path.join(late.dir, "gate")
        os.mkfifo(gate)
        ngx = self.ngx["clients"]
        reqs = requests_mix(100, methods=("GET", "POST"))
        job = json.dumps({"host": "127.0.0.1", "port": ngx.port, "requests": reqs,
                          "gate": gate})

        def probed_then_go():
            wait_for(lambda: "imported" in late.proc.stdout(), 30,
                     message="the late client's import of ssl")
            try:
                wait_for(lambda: self.sonde.health_tls(pid=late.pid, state="probed"), 15,
                         interval=0.2)
            except sonde_it.WaitTimeout:
                self.fail(f"pid {late.pid} not probed 15 s after it imported ssl: "
                          f"{self.sonde.health_tls(pid=late.pid)}\n{diagnosis(self.sonde)}")
            t = self.sonde.health_tls(pid=late.pid, state="probed")[0]
            self.assertIn("libssl", os.path.basename(t["path"]), t)
            with open(gate, "w") as f:
                f.write("go\n")

        def parse(out):
            got = json.loads(out.strip().splitlines()[-1])["counts"]
            return {tuple(k.split(" ")): v for k, v in got.items()}
        self._clients(late, job, parse, "python, ssl imported late", PYTHON_SERVICE,
                      len(reqs), released=probed_then_go)

    def test_killed_client_pairings_removed(self):
        """A client killed with its TLS connections open never frees its SSL objects: sonde
        removes their pairings (SSL* -> connection) when the process goes, so that the
        map, a plain hash that never evicts a live one, cannot fill up with the dead."""
        ngx = self.ngx["clients"]
        self.gone.release(json.dumps({"mode": "abandon", "host": "127.0.0.1",
                                      "port": ngx.port, "conns": 3,
                                      "requests": requests_mix(4)}))
        pid = self.gone.pid
        wait_for(lambda: '"counts"' in self.gone.proc.stdout(), 30,
                 message="the abandoning client's requests")
        self.assertEqual(json.loads(self.gone.proc.stdout().strip().splitlines()[-1]),
                         {"counts": {"GET 200": 3, "GET 404": 3, "GET 500": 3,
                                     "GET 201": 3}})
        self.assertEqual(ssl_pairings(self.sonde.pid, pid), 3, "one per open connection")
        os.kill(pid, signal.SIGKILL)
        try:
            wait_for(lambda: ssl_pairings(self.sonde.pid, pid) == 0, 10, interval=0.5)
        except sonde_it.WaitTimeout:
            self.fail(f"pairings of the killed pid {pid} left: "
                      f"{ssl_pairings(self.sonde.pid, pid)}")
        m = self.sonde.scrape()
        self.assertEqual(sonde_it.value(m, "sonde_events_lost_total", reason="ssl_map"), 0)

    def test_memory_bio_unpaired(self):
        """TLS over ssl.MemoryBIO: OpenSSL never touches the socket, so its SSL objects
        never pair with a connection: the plaintext is counted as unpaired, never parsed;
        the connection is one unsupported TLS connection. nginx (real TLS) counts all."""
        ngx = self.ngx["bio"]
        reqs = requests_mix(20)
        self.bio.release(json.dumps({"mode": "memorybio", "host": "127.0.0.1",
                                     "port": ngx.port, "requests": reqs}))
        got = json.loads(self.bio.wait().strip().splitlines()[-1])["counts"]
        self.assertEqual(sum(got.values()), 20, got)
        served = ngx.referee()
        self.assertEqual(sum(served.values()), 20, served)
        m = self.expect_server(ngx, by_route(served))
        m = self.assert_exact_value(lambda m: unsupported(m, "tls")
                                    - unsupported(self.before, "tls"), 1,
                                    "unsupported tls (the MemoryBIO connection, closed)")
        self.assertEqual(http_client_counts(m, server_address="127.0.0.1",
                                            server_port=str(ngx.port)), {},
                         "MemoryBIO client parsed")
        # Each of its 20 SSL_write and >= 20 SSL_read calls moved plaintext.
        self.assertGreaterEqual(tls_dropped(m, "unpaired") - tls_dropped(self.before,
                                                                         "unpaired"), 40)
        self.check_clean(m)

    def test_h2_only_unsupported(self):
        """curl --http2 (ALPN h2, 10 requests on one connection; curl is not selected):
        one unsupported http2 connection, no HTTP/1 exchange, no TLS left unsupported."""
        ngx = self.ngx["h2"]
        argv = ["curl", "-sk", "--http2", "-w", "%{http_version} %{http_code}\\n"]
        for _ in range(10):
            argv += ["-o", "/dev/null", f"{ngx.url}/status/404"]
        p = sonde_it.start_process(argv, name="curl-h2")
        self.assertEqual(p.wait(60), 0, p.log_tail())
        self.assertEqual(p.stdout().split(), ["2", "404"] * 10, p.stdout())
        self.assertEqual(ngx.referee("HTTP/2.0"), {("GET", "/status/404", 404): 10})
        m = self.assert_exact_value(lambda m: unsupported(m, "http2")
                                    - unsupported(self.before, "http2"), 1,
                                    "unsupported http2")
        self.assertEqual(server_counts(m, ngx.port), {}, "h2 parsed as HTTP/1")
        self.assertEqual(unsupported(m, "tls") - unsupported(self.before, "tls"), 0,
                         "h2 connection left as unsupported tls")
        self.check_clean(m)


GO_BUILDS = ("trade-engine", "trade-engine-stripped", "trade-engine-pie")
REFEREE = ("GET", "/referee", 200)
GO_ORDER = ("GET", "/api/v1/orders/{id}", 200)


def all_parse_errors(m):
    """sonde_parse_errors_total over every protocol: ciphertext parsed as anything."""
    return sum(v for _, v in sonde_it.samples(m, "sonde_parse_errors_total"))


def events(m, kind):
    """sonde_events_received_total of one record type (conn_open, conn_close, ...)."""
    return counter(m, "sonde_events_received_total", type=kind)


def curl_go(url, version, conns, per_conn):
    """conns curl processes (one connection each, keep-alive) of per_conn GETs of
    url/api/v1/orders/7 with --http2 or --http1.1; the HTTP versions and statuses they
    saw, in order."""
    seen = []
    for i in range(conns):
        argv = ["curl", "-sk", f"--{version}", "-w", "%{http_version} %{http_code}\\n"]
        for _ in range(per_conn):
            argv += ["-o", "/dev/null", f"{url}/api/v1/orders/7"]
        p = sonde_it.start_process(argv, name=f"curl-{version}-{i}")
        if p.wait(60) != 0:
            raise AssertionError(f"curl --{version} failed:\n{p.log_tail()}")
        seen += p.stdout().split()
    return seen


class _GoTlsCases(SondeClassCase):
    """The trade-engine over HTTPS in three builds (selected), and a plain-HTTP one whose
    GET /api/v1/quote calls an https upstream (the front, selected; the upstream not)."""
    ROUTES = TRADE_ENGINE_ROUTES

    @classmethod
    def start_services(cls):
        cls.go = {b: cls.class_started(sonde_it.start_trade_engine(tls=True, program=b))
                  for b in GO_BUILDS}
        cls.upstream = cls.class_started(sonde_it.start_trade_engine(tls=True))
        cls.front = cls.class_started(sonde_it.start_trade_engine(
            upstream=cls.upstream.url + "/api/v1/orders/7", upstream_ca=cls.upstream.cert))
        cls.h2 = cls.class_started(sonde_it.start_trade_engine(tls=True, extra_args=["-h2"]))
        return [e.pid for e in cls.go.values()] + [cls.front.pid, cls.h2.pid]

    def test_a_targets(self):
        """The five selected Go programs are probed (crypto/tls found by symbols, or by
        the pclntab in the stripped build), none failed."""
        want = len(GO_BUILDS) + 2

        def probed(m):
            return counter(m, "sonde_tls_targets", library="go", state="probed")
        try:
            wait_for(lambda: probed(self.sonde.scrape()) == want, 10)
        except sonde_it.WaitTimeout:
            self.fail(f"sonde_tls_targets go probed != {want}\n{diagnosis(self.sonde)}")
        failed = sonde_it.samples(self.sonde.scrape(), "sonde_tls_targets", state="failed")
        self.assertEqual([v for _, v in failed if v], [], failed)
        # /health names each of them, with the executable probed
        assert_go_listed(self, self.sonde, [*self.go.values(), self.front, self.h2])
        # the executables were read by sonde's inspector thread, not its event loop
        inspect_ms = thread_cpu_ns(self.sonde.pid, "sonde-inspect") / 1e6
        print(f"\n[{self.CAPTURE}] inspector thread: {inspect_ms:.1f} ms of CPU")
        self.assertGreater(inspect_ms, 1, "the inspector thread did not read the executables")

    def _keepalive_5000(self, build):
        e = self.go[build]
        conns, per_conn = 4, 1250
        res = sonde_it.wrk_run(e.url, conns, per_conn, mix="api", timeout=180)
        check_wrk_complete(self, res, conns * per_conn)
        ref = e.referee()
        self.assertEqual(ref, wrk_counts(res), "referee vs wrk")
        m = assert_exact_counts(self, self.sonde, e.port, add(dict(ref), REFEREE), timeout=30,
                                what=f"{build} over TLS")
        self.check_clean(m)
        for name in HTTP_SERVER_HISTOGRAMS:
            for labels, _ in server_series(m, e.port, name):
                self.assertEqual((labels.get("url_scheme"), labels.get("service_name")),
                                 ("https", build), f"{name} {labels}")
        e.check_running()

    def test_keepalive_5000_plain(self):
        """5,000 HTTPS requests of the api mix over 4 keep-alive connections: exact per
        method, route and status; url_scheme https; no parse error, nothing lost."""
        self._keepalive_5000("trade-engine")

    def test_keepalive_5000_stripped(self):
        """The same against the build without symbols and DWARF (-ldflags='-s -w')."""
        self._keepalive_5000("trade-engine-stripped")

    def test_keepalive_5000_pie(self):
        """The same against the PIE build (addresses moved by the load bias)."""
        self._keepalive_5000("trade-engine-pie")

    def test_go_client(self):
        """600 GET /api/v1/quote over 4 connections: each one https upstream call by Go's
        net/http client, counted exactly on the client side."""
        front, up = self.front, self.upstream
        up.referee_reset()
        front.referee_reset()
        n = 600
        res = sonde_it.wrk_run(front.url, 4, n // 4, mix="get", paths=["/api/v1/quote"],
                               timeout=120)
        check_wrk_complete(self, res, n)
        self.assertEqual(front.referee(), {("GET", "/api/v1/quote", 200): n})
        self.assertEqual(up.referee(), {("GET", "/api/v1/orders/{id}", 200): n})
        base = http_client_counts(self.before, server_port=str(up.port))

        def client_side(m):
            return delta(http_client_counts(m, server_port=str(up.port)), base)
        m = assert_exact(self, self.sonde, client_side, {("GET", "200"): n},
                         "Go https client")
        self.check_clean(m)
        front.check_running()


    def test_h2_default_tls_next_proto(self):
        """A Go server with net/http's default TLSNextProto (-h2): 20 curl --http2
        requests over 2 connections (ALPN h2) are 2 unsupported http2 connections and no
        exchange; no ciphertext parsed (no parse error of any protocol). 20 curl
        --http1.1 requests over 2 connections to the same server: counted exactly,
        url_scheme https. (No connection left as unsupported tls: the next test.)"""
        e = self.h2  # its referee was reset at start, before sonde ran
        before_errors = all_parse_errors(self.before)
        self.assertEqual(curl_go(e.url, "http2", 2, 10), ["2", "200"] * 20)
        self.assertEqual(e.referee(), {GO_ORDER: 20}, "h2 requests served")
        m = self.assert_exact_value(lambda m: unsupported(m, "http2")
                                    - unsupported(self.before, "http2"), 2,
                                    "unsupported http2 (2 curl --http2 connections)")
        # The referee GET above (urllib, HTTP/1.1 over TLS) is the only exchange so far.
        base = server_counts(self.before, e.port)
        self.assertEqual(delta(server_counts(m, e.port), base), {REFEREE: 1},
                         "h2 counted as an exchange")
        self.assertEqual(all_parse_errors(m), before_errors, "ciphertext or h2 parsed")
        self.assertEqual(curl_go(e.url, "http1.1", 2, 10), ["1.1", "200"] * 20)
        expected = add(add(dict(base), REFEREE), GO_ORDER, 20)
        m = assert_exact_counts(self, self.sonde, e.port, expected, what="-h2, HTTP/1.1")
        self.assertEqual(unsupported(m, "http2") - unsupported(self.before, "http2"), 2)
        self.assertEqual(all_parse_errors(m), before_errors, "parse errors after HTTP/1.1")
        self.check_clean(m)
        for labels, _ in server_series(m, e.port):
            self.assertEqual(labels.get("url_scheme"), "https", labels)
        e.check_running()

    def test_h2_no_tls_left(self):
        """The -h2 server's connections, h2 and HTTP/1.1 (curl, 2 of each, 5 requests
        each): none is left as unsupported tls once closed (its plaintext came), and each
        is one connection, opened and closed once: Go's Conn.Close writes its close_notify
        alert on the socket after the TCP close, which must not start another one."""
        e = self.h2
        self.assertEqual(curl_go(e.url, "http2", 2, 5), ["2", "200"] * 10)
        self.assertEqual(curl_go(e.url, "http1.1", 2, 5), ["1.1", "200"] * 10)
        self.assert_exact_value(lambda m: unsupported(m, "http2")
                                - unsupported(self.before, "http2"), 2, "unsupported http2")
        base = server_counts(self.before, e.port)
        m = assert_exact_counts(self, self.sonde, e.port, add(dict(base), GO_ORDER, 10),
                                what="-h2, HTTP/1.1")
        self.assertEqual(unsupported(m, "tls") - unsupported(self.before, "tls"), 0,
                         "a connection of the -h2 server left as unsupported tls")
        # The 4 curl connections are the only ones any selected process makes meanwhile.
        for kind in ("conn_open", "conn_close"):
            self.assert_exact_value(lambda m, k=kind: events(m, k) - events(self.before, k),
                                    4, f"{kind} records (4 curl connections)")


PGX_TABLE, PGX_CHECK_TABLE = "sonde_pgx", "sonde_pgx_check"
PGX_ROUNDS = 20
PGX_CLIENTS, PGX_REQUESTS = 8, 530
# pgx-mix -mode check inserts (37 i) mod 100 for request i; below 15 violates the CHECK.
PGX_CHECK_FAILS = sum(1 for i in range(PGX_REQUESTS) if (37 * i) % 100 < 15)


def assert_go_listed(case, sonde, procs):
    """/health's tls_targets: Go probed for exactly these processes, each with its own
    executable as path."""
    listed = {t["pid"]: t for t in sonde.health_tls(library="go", state="probed")}
    case.assertEqual(sorted(listed), sorted(p.pid for p in procs), listed)
    for p in procs:
        case.assertEqual(os.path.basename(listed[p.pid]["path"]),
                         os.path.basename(os.readlink(f"/proc/{p.pid}/exe")), listed[p.pid])


def sonde_uprobes(pid):
    """The uprobes and uretprobes process pid holds (bpftool perf list)."""
    out = subprocess.run(["bpftool", "-j", "perf", "list"], stdout=subprocess.PIPE,
                         check=True, timeout=30).stdout
    return sum(1 for e in json.loads(out)
               if e.get("pid") == pid and e.get("fd_type") in ("uprobe", "uretprobe"))


def pgx_client(pg, name, args):
    """pgx-mix (pgx v4, Go crypto/tls) against pg with sslmode=require, blocked on its
    -gate FIFO before it connects; application_name name (the server log's referee)."""
    return GatedClient(lambda fifo: [sonde_it.go_bin("pgx-mix"), "-gate", fifo, "-dsn",
                                     f"{pg.dsn}&application_name={name}", *args], name)


class _PgTlsCases(SondeClassCase):
    """PostgreSQL over TLS: a cluster with ssl = on that rejects TCP without TLS, and pgx
    (sslmode=require) as its client, selected by pid and held on a FIFO until its Go TLS
    probes are attached. Each connection starts in plaintext (SSLRequest, answered 'S'),
    then TLS: the client parser stops at the 'S', and the first plaintext from the probes
    (the StartupMessage) starts the connection over. Referees: the server's log (every
    statement, with its SQLSTATE) and the client's own counts."""
    RUN_FIRST = ("test_a_targets",)

    @classmethod
    def start_services(cls):
        cls.pg = cls.class_started(sonde_it.start_postgres(settings=PG_LOG_SETTINGS,
                                                           tls=True))
        cls.pg.psql(f"CREATE TABLE {PGX_TABLE} (k int PRIMARY KEY, v text)")
        cls.pg.psql(f"CREATE TABLE {PGX_CHECK_TABLE} (id serial PRIMARY KEY, "
                    "v int CHECK (v >= 15))")
        cls.log = PgLog(cls.pg)
        cls.mix = cls.class_started(pgx_client(cls.pg, "pgx-tls-mix", [
            "-table", PGX_TABLE, "-rounds", str(PGX_ROUNDS)]))
        cls.pool = cls.class_started(pgx_client(cls.pg, "pgx-tls-pool", [
            "-table", PGX_CHECK_TABLE, "-mode", "check", "-named",
            "-clients", str(PGX_CLIENTS), "-requests", str(PGX_REQUESTS)]))
        return [cls.mix.pid, cls.pool.pid]

    def test_a_targets(self):
        """Both pgx programs are probed (crypto/tls found by symbols), none failed; the
        tests release them only once they are (probed before they connect)."""
        want = 2

        def probed(m):
            return counter(m, "sonde_tls_targets", library="go", state="probed")
        try:
            wait_for(lambda: probed(self.sonde.scrape()) == want, 10)
        except sonde_it.WaitTimeout:
            self.fail(f"sonde_tls_targets go probed != {want}\n{diagnosis(self.sonde)}")
        failed = sonde_it.samples(self.sonde.scrape(), "sonde_tls_targets", state="failed")
        self.assertEqual([v for _, v in failed if v], [], failed)
        # /health names each of them, with the executable probed
        assert_go_listed(self, self.sonde, [self.mix, self.pool])

    def run_client(self, client, app):
        """Releases client; returns ({(op, error): n} it counted, its JSON), checked
        against the server log. Once it exited, its uprobes leave the kernel (sonde
        destroys them off its event loop) within 10 s."""
        mark = self.log.mark()
        probed = re.search(rf"TLS: pid {client.pid}: go probed \(.*, (\d+) uprobes\)",
                           self.sonde.stderr())
        self.assertTrue(probed, f"no 'go probed' line for pid {client.pid}")
        held = sonde_uprobes(self.sonde.pid)
        client.release("go\n")
        out = json.loads(client.wait().strip().splitlines()[-1])
        want = held - int(probed.group(1))
        try:
            wait_for(lambda: sonde_uprobes(self.sonde.pid) == want, 10)
        except sonde_it.WaitTimeout:
            self.fail(f"{app} exited: sonde holds {sonde_uprobes(self.sonde.pid)} uprobes "
                      f"after 10 s, not {want}\n{diagnosis(self.sonde)}")
        ops = {}
        for key, n in out["ops"].items():
            op, _, err = key.partition(" ")
            ops[(op, err)] = n
        ref, problems = self.log.ops(mark, app)
        self.assertEqual(problems, [])
        self.assertEqual(ref, ops, f"{app}: the server log and the client disagree")
        return ops, out

    def check_pg(self, what, expected):
        """sonde's pgx-mix operations on the cluster since the test began: exactly
        expected; no PostgreSQL or HTTP parse error, nothing lost, no connection left as
        unsupported TLS."""
        labels = {"service_name": "pgx-mix", "server_address": self.pg.host,
                  "server_port": str(self.pg.port)}
        base = db_counts(self.before, "postgresql", **labels)
        m = assert_exact(self, self.sonde,
                         lambda m: delta(db_counts(m, "postgresql", **labels), base),
                         expected, f"{what} [{self.CAPTURE}]")
        self.check_clean(m)
        self.assertEqual(parse_errors(m, "postgresql") - parse_errors(self.before,
                                                                      "postgresql"), 0)
        self.assertEqual(unsupported(m, "tls") - unsupported(self.before, "tls"), 0,
                         "a pgx connection left as unsupported tls")
        return m

    def test_pgx_mix(self):
        """The fixed mix on one TLS connection: unique violations (23505) in and out of
        transactions, a 50-statement batch, a batch cut by an error, 42P01; exact per
        operation and error_type."""
        ops, out = self.run_client(self.mix, "pgx-tls-mix")
        self.assertEqual(ops[("INSERT", "23505")], 2 * PGX_ROUNDS + 1)
        self.assertEqual(ops[("SELECT", "42P01")], 1)
        self.check_pg("pgx mix over TLS", add(dict(ops), ("PREPARE", ""), out["prepares"]))

    def test_pgx_pool_check(self):
        """pgxpool, 8 TLS connections, a named prepared INSERT ... RETURNING rejected by a
        CHECK constraint (23514) about 15 % of the time: exact per error_type."""
        ops, out = self.run_client(self.pool, "pgx-tls-pool")
        self.assertEqual(ops, {("INSERT", ""): PGX_REQUESTS - PGX_CHECK_FAILS,
                               ("INSERT", "23514"): PGX_CHECK_FAILS})
        self.assertEqual(out["unnamed"], 0)
        self.check_pg("pgx pool over TLS", add(dict(ops), ("PREPARE", ""), out["prepares"]))


class TlsSocketTest(_TlsCases):
    CAPTURE = "socket"


class TlsSyscallsTest(_TlsCases):
    CAPTURE = "syscalls"


class GoTlsSocketTest(_GoTlsCases):
    CAPTURE = "socket"


class GoTlsSyscallsTest(_GoTlsCases):
    CAPTURE = "syscalls"


class PgTlsSocketTest(_PgTlsCases):
    CAPTURE = "socket"


class PgTlsSyscallsTest(_PgTlsCases):
    CAPTURE = "syscalls"


def load_tests(loader, tests, pattern):
    return capture_suite(loader, TlsSocketTest, TlsSyscallsTest, GoTlsSocketTest,
                         GoTlsSyscallsTest, PgTlsSocketTest, PgTlsSyscallsTest)


if __name__ == "__main__":
    sonde_it.main()
