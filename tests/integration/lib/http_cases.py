# SPDX-License-Identifier: GPL-2.0-only
"""Helpers of the HTTP server capture tests (test_http_server.py, test_http_odd.py,
test_http_servers.py): sonde's per-port request counts, exact waiting (both ways), the
histogram contract, self-metric checks, and a raw-socket HTTP/1.1 client that shows every
byte it sends.

Every count here is keyed (method, route, status) with status an int, the way the
trade-engine referee, wrk/count.lua and go/pipeliner key theirs."""

import math
import os
import socket
import ssl
import sys
import time
import unittest

import sonde_it
from sonde_it import WaitTimeout, wait_for

DURATION = "http_server_request_duration_seconds"
REQ_SIZE = "http_server_request_body_size_bytes"
RESP_SIZE = "http_server_response_body_size_bytes"
HTTP_SERVER_HISTOGRAMS = (DURATION, REQ_SIZE, RESP_SIZE)
DURATION_BUCKETS = (0, .005, .01, .025, .05, .075, .1, .25, .5, .75, 1, 2.5, 5, 7.5, 10)
SIZE_BUCKETS = (0, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192)
SERVER_LABELS = {"http_request_method", "http_response_status_code", "http_route",
                 "url_scheme", "server_port", "service_name"}

# chi patterns of every trade-engine route, in the service's own spelling.
TRADE_ENGINE_ROUTES = (
    "/api/v1/orders/{id}", "/api/v1/orders", "/api/v1/orders/{id}/fail",
    "/api/v1/missing/{id}", "/api/v1/slow", "/api/v1/chunked", "/api/v1/empty",
    "/api/v1/quote", "/healthz", "/referee", "/referee/reset",
)

# Every (reason) sonde_events_lost_total must show, each 0.
LOST_REASONS = ("ringbuf_full", "read_user", "allow_map", "conn_map", "tcp_map",
                "gap", "recursion", "cgroup_select", "ssl_map", "tls_sock_map")

SETTLE_S = 1.0       # after the expected totals appear: nothing more may arrive
WAIT_S = 10.0        # for sonde to catch up with what the clients already got


def route_args(patterns=TRADE_ENGINE_ROUTES):
    out = []
    for p in patterns:
        out += ["--route", p]
    return out


def sonde_args(capture, pids=(), routes=(), extra=()):
    """sonde's command line: --select pid=N for each pid, --capture, --route each, -v."""
    args = []
    for pid in pids:
        args += ["--select", f"pid={pid}"]
    return args + ["--capture", capture, *route_args(routes), "-v", *extra]


def server_series(m, port, name=DURATION):
    """[(labels, value)] of name_count whose server_port is port."""
    return sonde_it.samples(m, name + "_count", server_port=str(port))


def server_counts(m, port, name=DURATION):
    """{(method, route, status): observations} of histogram name on server_port port."""
    out = {}
    for labels, v in server_series(m, port, name):
        key = (labels.get("http_request_method"), labels.get("http_route"),
               _int(labels.get("http_response_status_code")))
        out[key] = out.get(key, 0) + v
    return {k: int(v) if v == int(v) else v for k, v in out.items()}


def _int(s):
    try:
        return int(s)
    except (TypeError, ValueError):
        return s


def series_with_port(m, port):
    """Every sample of a message family (HTTP, database) whose server_port label is port:
    [(name, labels, v)]. TCP health families (tcp_*) are left out: they count the
    connections themselves, which exist whatever their bytes were."""
    return sorted((n, dict(ls), v) for (n, ls), v in m.items()
                  if dict(ls).get("server_port") == str(port) and not n.startswith("tcp_"))


def self_metrics(m):
    """The self-metrics a failure message shows."""
    out = {}
    for (n, ls), v in sorted(m.items(), key=lambda kv: (kv[0][0], sorted(kv[0][1]))):
        if n.startswith("sonde_") and n != "sonde_build_info":
            lbl = ",".join(f"{k}={v_}" for k, v_ in sorted(ls))
            out[f"{n}{{{lbl}}}"] = v
    return out


def diff_counts(expected, got):
    keys = sorted(set(expected) | set(got), key=repr)
    lines = []
    for k in keys:
        e, g = expected.get(k, 0), got.get(k, 0)
        mark = "   " if e == g else "!! "
        lines.append(f"{mark}{k}: expected {e}, sonde {g}")
    return "\n".join(lines)


def diagnosis(sonde, m=None, log_lines=40):
    """Self-metrics and the tail of sonde's log, for an assertion message."""
    parts = []
    try:
        m = m if m is not None else sonde.scrape()
        parts.append("self-metrics: " + ", ".join(f"{k}={v:g}"
                                                   for k, v in self_metrics(m).items()))
    except Exception as e:  # noqa: BLE001 - a failure message must still be built
        parts.append(f"(scrape failed: {e!r})")
    parts.append(f"sonde log tail:\n{sonde.log_tail(log_lines)}")
    return "\n".join(parts)


def assert_exact_counts(tc, sonde, port, expected, name=DURATION, timeout=WAIT_S,
                        settle=SETTLE_S, what=""):
    """Waits until sonde's counts of histogram name on server_port port equal expected
    ({(method, route, status): n}), then waits settle seconds and checks again that
    nothing more arrived. Returns the final scrape. Fails with a per-key diff."""
    expected = {k: v for k, v in expected.items() if v}
    got = {}

    def equal():
        nonlocal got
        sonde.check_running()
        got = server_counts(sonde.scrape(), port, name)
        return got == expected

    try:
        wait_for(equal, timeout, interval=0.1)
    except WaitTimeout:
        tc.fail(f"{what}: {name} on server_port {port} never equalled what was served "
                f"({timeout:.0f}s):\n{diff_counts(expected, got)}\n{diagnosis(sonde)}")
    time.sleep(settle)
    m = sonde.scrape()
    got = server_counts(m, port, name)
    if got != expected:
        tc.fail(f"{what}: more arrived {settle:.1f}s after {name} on server_port {port} "
                f"was exact:\n{diff_counts(expected, got)}\n{diagnosis(sonde, m)}")
    return m


def assert_no_loss(tc, m, sonde=None):
    """sonde_events_lost_total is present for every reason and 0; with sonde, no run of
    its BPF programs was skipped either (recursion_misses: I/O it never saw)."""
    lost = {d["reason"]: v for d, v in sonde_it.samples(m, "sonde_events_lost_total")}
    tc.assertEqual(sorted(lost), sorted(LOST_REASONS),
                   "sonde_events_lost_total must show every reason")
    bad = {r: v for r, v in lost.items() if v != 0}
    tc.assertEqual(bad, {}, "events lost" + (f"\n{diagnosis(sonde, m)}" if sonde else ""))
    if sonde is not None:
        tc.assertEqual(sonde.recursion_misses(), {},
                       f"recursion_misses by program id\n{diagnosis(sonde, m)}")


def counter(m, name, **labels):
    return sonde_it.value(m, name, **labels)


def parse_errors(m):
    return counter(m, "sonde_parse_errors_total", protocol="http")


def unsupported(m, protocol):
    return counter(m, "sonde_unsupported_connections_total", protocol=protocol)


def check_histogram_shape(tc, m, name, port, buckets):
    """Every series of histogram name on port has exactly the contract's buckets (+Inf),
    cumulative, +Inf equal to _count, the contract's labels, url_scheme http."""
    series = server_series(m, port, name)
    for labels, count in series:
        tc.assertEqual(set(labels), SERVER_LABELS, f"{name} labels")
        tc.assertEqual(labels["url_scheme"], "http", f"{name} url_scheme {labels}")
        want = {k: labels[k] for k in labels}
        got = sonde_it.hist_buckets(m, name, **want)
        tc.assertEqual(list(got), [float(b) for b in buckets] + [math.inf],
                       f"{name} bucket bounds of {labels}")
        vals = list(got.values())
        tc.assertEqual(vals, sorted(vals), f"{name} buckets not cumulative: {labels}")
        tc.assertEqual(vals[-1], count, f"{name} +Inf bucket != _count: {labels}")


def check_labels(tc, m, port, service):
    """Every http_server series on port names the service and the http scheme."""
    for name in HTTP_SERVER_HISTOGRAMS:
        for labels, _ in server_series(m, port, name):
            tc.assertEqual((labels.get("service_name"), labels.get("url_scheme")),
                           (service, "http"), f"{name} {labels}")


def hist_by_key(m, name, port, key, kind="sum"):
    """_sum (or _count) of histogram name for one (method, route, status) on port."""
    method, route, status = key
    labels = dict(server_port=str(port), http_request_method=method, http_route=route,
                  http_response_status_code=str(status))
    if kind == "sum":
        return sonde_it.hist_sum(m, name, **labels)
    return sonde_it.hist_count(m, name, **labels)


def wrk_counts(res):
    return {(c["method"], c["route"], c["status"]): c["count"] for c in res["counts"]}


def pipeliner_counts(res):
    return {(c["method"], c["path"], c["status"]): c["count"] for c in res["counts"]}


def check_wrk_complete(tc, res, total):
    tc.assertTrue(res["complete"], res)
    tc.assertEqual((res["sent"], res["received"]), (total, total), res)
    errs = res["errors"]
    tc.assertEqual(errs["connect"] + errs["read"] + errs["write"] + errs["timeout"], 0, errs)


def add(counts, key, n=1):
    counts[key] = counts.get(key, 0) + n
    return counts


def exe_service_name(path):
    """service_name sonde must give a process running path: the executable's basename."""
    return os.path.basename(os.path.realpath(path))


PYTHON_SERVICE = exe_service_name(sys.executable)


# --------------------------------------------------------------------------- raw client

class RawConn:
    """One TCP connection written by hand (TCP_NODELAY: each send() leaves at once), with a
    reader that frames exactly one HTTP/1.x response at a time and keeps the rest."""

    def __init__(self, host, port, timeout=10.0):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""

    def send(self, data):
        self.sock.sendall(data)

    def send_pieces(self, data, pieces, pause=0.02):
        """data in `pieces` sends of near-equal size, pause seconds apart."""
        step = -(-len(data) // pieces)
        for off in range(0, len(data), step):
            self.sock.sendall(data[off:off + step])
            time.sleep(pause)

    def _fill(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionError("server closed the connection")
        self.buf += chunk

    def _line(self):
        while b"\r\n" not in self.buf:
            self._fill()
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def _exact(self, n):
        while len(self.buf) < n:
            self._fill()
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def read_response(self, method="GET"):
        """(status, {lower-case header: value}, body) of the next response; a 1xx interim
        response is returned by itself (call again for the final one)."""
        status_line = self._line().decode("latin-1")
        parts = status_line.split(" ", 2)
        if len(parts) < 2 or not parts[0].startswith("HTTP/1."):
            raise AssertionError(f"not a status line: {status_line!r}")
        status = int(parts[1])
        headers = {}
        while True:
            line = self._line()
            if not line:
                break
            k, _, v = line.decode("latin-1").partition(":")
            headers[k.strip().lower()] = v.strip()
        if status < 200 or status in (204, 304) or method == "HEAD":
            return status, headers, b""
        if "chunked" in headers.get("transfer-encoding", "").lower():
            body = b""
            while True:
                size = int(self._line().split(b";")[0], 16)
                if size == 0:
                    while self._line():  # trailers, then the empty line
                        pass
                    return status, headers, body
                body += self._exact(size)
                if self._exact(2) != b"\r\n":
                    raise AssertionError("chunk not followed by CRLF")
        if "content-length" in headers:
            return status, headers, self._exact(int(headers["content-length"]))
        body = self.buf  # close-delimited
        self.buf = b""
        while True:
            chunk = self.sock.recv(65536)
            if not chunk:
                return status, headers, body
            body += chunk

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def request_bytes(method, target, host, headers=(), body=None, chunked_body=None):
    """An HTTP/1.1 request: Content-Length for body, or chunked_body as a list of chunks."""
    lines = [f"{method} {target} HTTP/1.1", f"Host: {host}", "User-Agent: sonde-it-raw"]
    lines += [f"{k}: {v}" for k, v in headers]
    payload = b""
    if body is not None:
        lines.append(f"Content-Length: {len(body)}")
        payload = body
    elif chunked_body is not None:
        lines.append("Transfer-Encoding: chunked")
        payload = b"".join(b"%x\r\n%s\r\n" % (len(c), c) for c in chunked_body) + b"0\r\n\r\n"
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + payload


def tls_client_hello():
    """The bytes of a real TLS ClientHello (as Python's OpenSSL would send it)."""
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(incoming, outgoing, server_hostname="localhost")
    try:
        obj.do_handshake()
    except ssl.SSLWantReadError:
        pass
    hello = outgoing.read()
    if not hello.startswith(b"\x16\x03"):
        raise RuntimeError(f"not a TLS handshake record: {hello[:8]!r}")
    return hello


# The HTTP/2 client connection preface, then an empty SETTINGS frame (RFC 9113 §3.4).
H2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + bytes([0, 0, 0, 4, 0, 0, 0, 0, 0])


# --------------------------------------------------------------------------- test classes

class SondeClassCase(sonde_it.IntegrationCase):
    """One sonde per class, started in setUpClass after the services it selects by pid.

    Subclasses set CAPTURE ("socket" or "syscalls"), ROUTES (--route patterns; none: the
    heuristics), ENGINES (names of selected trade-engines: self.engines[name]) and
    UNSELECTED (trade-engines started but not selected); start_services() may start more
    (returning pids to select) and before_sonde() runs just before sonde starts. Each test
    gets self.before, a scrape taken at its start, for deltas of global self-metrics."""
    CAPTURE = None
    ROUTES = ()
    ENGINES = ()
    UNSELECTED = ()
    RUN_FIRST = ()  # test names run before the others, in this order

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.engines = {}
        for name in cls.ENGINES + cls.UNSELECTED:
            cls.engines[name] = cls.class_started(sonde_it.start_trade_engine())
        pids = [cls.engines[n].pid for n in cls.ENGINES] + list(cls.start_services())
        cls.selected_pids = pids
        cls.before_sonde()
        cls.sonde = cls.class_started(sonde_it.start_sonde(
            sonde_args(cls.CAPTURE, pids=pids, routes=cls.ROUTES)))
        m = cls.sonde.scrape()
        mode = sonde_it.value(m, "sonde_capture_mode", mode=cls.CAPTURE)
        if mode != 1:
            raise AssertionError(f"--capture {cls.CAPTURE}: sonde_capture_mode says "
                                 f"{sonde_it.samples(m, 'sonde_capture_mode')}")

    @classmethod
    def start_services(cls):
        """Starts other services (class_started); returns the pids sonde must select."""
        return ()

    @classmethod
    def before_sonde(cls):
        """Runs after the services started, just before sonde does."""

    def setUp(self):
        self.before = self.sonde.scrape()

    def check_clean(self, m):
        """No event lost; no HTTP parse error since the test began."""
        assert_no_loss(self, m, self.sonde)
        self.assertEqual(parse_errors(m) - parse_errors(self.before), 0,
                         f"sonde_parse_errors_total{{protocol=\"http\"}} grew during the "
                         f"test\n{diagnosis(self.sonde, m)}")

    def assert_exact_value(self, fn, expected, what, timeout=WAIT_S, settle=SETTLE_S):
        """fn(scrape) must reach expected, and still equal it settle seconds later."""
        got = None

        def equal():
            nonlocal got
            self.sonde.check_running()
            got = fn(self.sonde.scrape())
            return got == expected

        try:
            wait_for(equal, timeout, interval=0.1)
        except WaitTimeout:
            self.fail(f"{what}: expected {expected}, sonde says {got} after {timeout:.0f}s\n"
                      f"{diagnosis(self.sonde)}")
        time.sleep(settle)
        m = self.sonde.scrape()
        got = fn(m)
        self.assertEqual(got, expected, f"{what}, {settle:.1f}s after it was exact\n"
                         f"{diagnosis(self.sonde, m)}")
        return m


def capture_suite(loader, *classes):
    """load_tests body: only the concrete classes (those with a CAPTURE), each with its
    RUN_FIRST tests first, then the others in the loader's order."""
    suite = unittest.TestSuite()
    for cls in classes:
        names = loader.getTestCaseNames(cls)
        names = list(cls.RUN_FIRST) + [n for n in names if n not in cls.RUN_FIRST]
        suite.addTests(cls(n) for n in names)
    return suite
