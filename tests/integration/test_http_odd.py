# SPDX-License-Identifier: GPL-2.0-only
"""HTTP/1.x server capture, odd cases written by hand on raw sockets against the Go
trade-engine, on both capture paths: request bodies across several writes (Content-Length
and chunked), Expect: 100-continue, HEAD, 204, chunked responses, Connection: close and
HTTP/1.0, a keep-alive connection opened before sonde started, and a TLS ClientHello or the
HTTP/2 preface sent to the plain port (not requests: counted as unsupported connections).

One sonde per class (see http_cases.SondeClassCase); each test has its own trade-engine,
so its series are told apart by server_port. Expectations are what the client sent and
got back, checked against the service's referee."""

import os
import socket
import struct
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import sonde_it  # noqa: E402
from http_cases import (DURATION, H2_PREFACE, REQ_SIZE, RESP_SIZE,  # noqa: E402
                        TRADE_ENGINE_ROUTES, RawConn, SondeClassCase, add, assert_exact_counts, capture_suite,
                        check_labels, hist_by_key, parse_errors, request_bytes,
                        series_with_port, server_counts, tls_client_hello, unsupported)

REFEREE = ("GET", "/referee", 200)
POST = ("POST", "/api/v1/orders", 201)
GET_ORDER = ("GET", "/api/v1/orders/{id}", 200)
JSON = [("Content-Type", "application/json")]


def order_body(qty, pad=0):
    return ('{"symbol":"ACME","qty":%d,"price":1.5,"note":"%s"}' % (qty, "n" * pad)).encode()


class _OddCases(SondeClassCase):
    ROUTES = TRADE_ENGINE_ROUTES
    ENGINES = ("post", "sizes", "continue", "head", "empty", "chunked", "close", "pre", "tls",
               "h2", "gone")
    # trade-engine's ReadHeaderTimeout (30 s) also ends an idle keep-alive connection:
    # use the one opened before sonde while it is young.
    RUN_FIRST = ("test_connection_opened_before_sonde",)

    @classmethod
    def before_sonde(cls):
        # A keep-alive connection with one request served before sonde exists.
        e = cls.engines["pre"]
        cls.pre_conn = RawConn("127.0.0.1", e.port)
        cls.addClassCleanup(cls.pre_conn.close)
        cls.pre_conn.send(request_bytes("GET", "/api/v1/orders/1", e.addr))
        status = cls.pre_conn.read_response()[0]
        if status != 200:
            raise AssertionError(f"request before sonde: status {status}")

    def finish(self, e, expected, referee=None, what=""):
        """The referee agrees with the client; sonde counts exactly that (+ the referee
        request); nothing lost, no parse error. Returns the final scrape."""
        self.assertEqual(e.referee(), expected if referee is None else referee,
                         "referee vs client")
        m = assert_exact_counts(self, self.sonde, e.port, add(dict(expected), REFEREE),
                                what=what)
        self.check_clean(m)
        check_labels(self, m, e.port, "trade-engine")
        return m

    def test_post_body_across_writes(self):
        """POST bodies arriving in several writes: Content-Length (small, and 20 KiB:
        more than one read and than the capture prefix) and chunked."""
        e = self.engines["post"]
        conn = RawConn("127.0.0.1", e.port)
        body_bytes, expected = 0, {}
        bodies = [order_body(i + 1, pad) for i, pad in enumerate((0, 10, 300, 20 * 1024))]
        for body in bodies:
            head = request_bytes("POST", "/api/v1/orders", e.addr, JSON, body=body)
            head = head[:len(head) - len(body)]
            conn.send(head)
            time.sleep(0.02)
            conn.send_pieces(body, 4)
            self.assertEqual(conn.read_response()[0], 201, body[:40])
            add(expected, POST)
            body_bytes += len(body)
        for chunks in ([b'{"symbol":"ACME",', b'"qty":7,', b'"price":1.5}'],
                       [order_body(8, 5000)[:3000], order_body(8, 5000)[3000:]]):
            req = request_bytes("POST", "/api/v1/orders", e.addr, JSON, chunked_body=chunks)
            conn.send_pieces(req, 5)
            self.assertEqual(conn.read_response()[0], 201)
            add(expected, POST)
            body_bytes += sum(len(c) for c in chunks)
        # And a GET on the same connection: the bodies were framed right.
        conn.send(request_bytes("GET", "/api/v1/orders/3", e.addr))
        self.assertEqual(conn.read_response()[0], 200)
        add(expected, GET_ORDER)
        conn.close()
        m = self.finish(e, expected, what="POST bodies across writes")
        self.assertEqual(hist_by_key(m, REQ_SIZE, e.port, POST), body_bytes,
                         "request body bytes of the POSTs (chunked: decoded)")
        self.assertEqual(hist_by_key(m, REQ_SIZE, e.port, GET_ORDER), 0)

    def test_request_sizes_at_record_classes(self):
        """Whole requests, each in one write, of one byte either side of every size class
        of the kernel's data records (a read under 4 KiB is copied straight into a ring
        record of its class, a longer one is chunked): every byte reaches the parser."""
        e = self.engines["sizes"]
        conn = RawConn("127.0.0.1", e.port)
        body_bytes, expected = 0, {}
        for size in (255, 256, 511, 512, 1023, 1024, 2047, 2048, 4095, 4096, 4097):
            # the note's length, and the quantity's digits for the steps a longer
            # Content-Length value makes
            body, req = next((b, r) for pad in range(size) for qty in (1, 10, 100)
                             for b in [order_body(qty, pad)]
                             for r in [request_bytes("POST", "/api/v1/orders", e.addr, JSON,
                                                     body=b)] if len(r) == size)
            conn.send(req)
            self.assertEqual(conn.read_response()[0], 201, f"{size}-byte request")
            add(expected, POST)
            body_bytes += len(body)
        conn.close()
        m = self.finish(e, expected, what="requests at the record size classes")
        self.assertEqual(hist_by_key(m, REQ_SIZE, e.port, POST), body_bytes,
                         "request body bytes")

    def test_expect_100_continue(self):
        """Expect: 100-continue: headers, the interim 100, then the body, then 201."""
        e = self.engines["continue"]
        conn = RawConn("127.0.0.1", e.port)
        expected, body_bytes = {}, 0
        for i in range(3):
            body = order_body(i + 1, 100)
            req = request_bytes("POST", "/api/v1/orders", e.addr,
                                JSON + [("Expect", "100-continue")], body=body)
            conn.send(req[:len(req) - len(body)])
            status, _, _ = conn.read_response()
            self.assertEqual(status, 100, "interim response")
            conn.send(body)
            self.assertEqual(conn.read_response()[0], 201)
            add(expected, POST)
            body_bytes += len(body)
            conn.send(request_bytes("GET", f"/api/v1/orders/{i}", e.addr))
            self.assertEqual(conn.read_response()[0], 200)
            add(expected, GET_ORDER)
        conn.close()
        m = self.finish(e, expected, what="Expect: 100-continue")
        self.assertEqual(hist_by_key(m, REQ_SIZE, e.port, POST), body_bytes)

    def _alternate(self, name, method, target, status, what, n=5):
        """n times: `method target` (expecting status) then a GET of an order, on one
        keep-alive connection. Returns (engine, expected, final scrape, bodies got)."""
        e = self.engines[name]
        conn = RawConn("127.0.0.1", e.port)
        expected, bodies, order_bytes = {}, [], 0
        for i in range(n):
            conn.send(request_bytes(method, target, e.addr))
            got, headers, body = conn.read_response(method)
            self.assertEqual(got, status, what)
            bodies.append((headers, body))
            conn.send(request_bytes("GET", f"/api/v1/orders/{i}", e.addr))
            got, _, body = conn.read_response()
            self.assertEqual(got, 200)
            order_bytes += len(body)
        route = "/api/v1/orders/{id}" if target.startswith("/api/v1/orders/") else target
        key = (method, route, status)
        add(expected, key, n)
        add(expected, GET_ORDER, n)
        conn.close()
        m = self.finish(e, expected, what=what)
        self.assertEqual(hist_by_key(m, RESP_SIZE, e.port, GET_ORDER), order_bytes,
                         "response body bytes of the GETs that followed")
        return e, key, m, bodies

    def test_head(self):
        e, key, m, bodies = self._alternate("head", "HEAD", "/api/v1/orders/42", 200, "HEAD")
        self.assertTrue(int(bodies[0][0]["content-length"]) > 0, bodies[0][0])
        self.assertEqual(hist_by_key(m, RESP_SIZE, e.port, key), 0, "HEAD response body")

    def test_204_no_content(self):
        e, key, m, _ = self._alternate("empty", "GET", "/api/v1/empty", 204, "204")
        self.assertEqual(hist_by_key(m, RESP_SIZE, e.port, key), 0, "204 response body")

    def test_chunked_response(self):
        e, key, m, bodies = self._alternate("chunked", "GET", "/api/v1/chunked", 200,
                                            "chunked response")
        for headers, body in bodies:
            self.assertEqual((headers.get("transfer-encoding"), len(body)), ("chunked", 36))
        self.assertEqual(hist_by_key(m, RESP_SIZE, e.port, key), 5 * 36,
                         "chunked response payload bytes (decoded)")

    def test_connection_close_and_http10(self):
        """Connection: close on HTTP/1.1, and HTTP/1.0 requests: one per connection."""
        e = self.engines["close"]
        expected = {}
        for i in range(4):
            conn = RawConn("127.0.0.1", e.port)
            if i % 2:
                conn.send(f"GET /api/v1/orders/{i} HTTP/1.0\r\nHost: {e.addr}\r\n\r\n"
                          .encode())
            else:
                conn.send(request_bytes("GET", f"/api/v1/orders/{i}", e.addr,
                                        [("Connection", "close")]))
            status, _, _ = conn.read_response()
            self.assertEqual(status, 200)
            self.assertEqual(conn.sock.recv(1), b"", "server closes after the response")
            conn.close()
            add(expected, GET_ORDER)
        self.finish(e, expected, what="Connection: close / HTTP/1.0")

    def test_connection_opened_before_sonde(self):
        """A keep-alive connection opened (and used once) before sonde started: the
        requests sent on it afterwards are counted, exactly."""
        e = self.engines["pre"]
        conn = self.pre_conn
        expected = {}
        for i in range(12):
            fail = i % 6 == 5
            target = f"/api/v1/orders/{i}/fail" if fail else f"/api/v1/orders/{i}"
            conn.send(request_bytes("GET", target, e.addr))
            status = conn.read_response()[0]
            self.assertEqual(status, 500 if fail else 200)
            add(expected, ("GET", "/api/v1/orders/{id}/fail", 500) if fail else GET_ORDER)
        # The referee also counted the request served before sonde started.
        referee = add(dict(expected), GET_ORDER)
        m = self.finish(e, expected, referee=referee, what="connection opened before sonde")
        self.assertEqual(hist_by_key(m, RESP_SIZE, e.port, GET_ORDER, kind="count"), 10)

    def test_client_gone_mid_request(self):
        """Clients that close while the 150 ms handler runs (as wrk does when it stops),
        between normal requests. A plain close (FIN): the server's answer still goes out,
        inside the write the socket reaches TCP_CLOSE (the client's RST to it), and sonde
        counts the 200 the middleware counts. A reset (SO_LINGER 0): the answer's write
        fails, unseen; sonde counts nginx's 499 "client closed request", its duration up
        to the reset, where the middleware counted the 200 it tried to write. Nothing is
        left unanswered."""
        e = self.engines["gone"]
        n = 20  # abandoned: even ones closed, odd ones reset; each followed by a normal GET
        slow = request_bytes("GET", "/api/v1/slow", e.addr)
        expected = {}
        for i in range(n):
            sock = socket.create_connection(("127.0.0.1", e.port), timeout=10)
            if i % 2:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            sock.sendall(slow)
            time.sleep(0.03)
            sock.close()
            add(expected, ("GET", "/api/v1/slow", 499 if i % 2 else 200))
            conn = RawConn("127.0.0.1", e.port)
            conn.send(request_bytes("GET", f"/api/v1/orders/{i}", e.addr))
            self.assertEqual(conn.read_response()[0], 200)
            conn.close()
            add(expected, GET_ORDER)
        # the last handlers run on after their client left: wait for the middleware (each
        # look at the referee is a request sonde counts too)
        slow_ok, polls = ("GET", "/api/v1/slow", 200), []
        sonde_it.wait_for(lambda: polls.append(1) or e.referee().get(slow_ok) == n, 10,
                          message="the referee to count the abandoned requests")
        add(expected, REFEREE, len(polls))
        referee = {slow_ok: n, GET_ORDER: n}
        m = self.finish(e, expected, referee=referee, what="clients gone mid-request")
        unanswered = sonde_it.value(m, "sonde_requests_unanswered_total", protocol="http")
        before = sonde_it.value(self.before, "sonde_requests_unanswered_total",
                                protocol="http")
        self.assertEqual(unanswered - before, 0, "sonde_requests_unanswered_total grew")
        for status, low, high in ((499, 0.025, 0.1), (200, 0.1, 0.25)):
            labels = dict(server_port=str(e.port), http_route="/api/v1/slow",
                          http_response_status_code=str(status))
            buckets = sonde_it.hist_buckets(m, DURATION, **labels)
            self.assertEqual(sonde_it.hist_bucket(m, DURATION, low, **labels), 0, buckets)
            self.assertEqual(sonde_it.hist_bucket(m, DURATION, high, **labels), n // 2,
                             buckets)

    def _not_http(self, name, payload, protocol, other, what):
        """Two connections that start with payload: no request counted on the port; each
        counted once in sonde_unsupported_connections_total{protocol}."""
        e = self.engines[name]
        for _ in range(2):
            conn = RawConn("127.0.0.1", e.port, timeout=3)
            conn.send(payload)
            # The server answers with an error, or waits for more: give it a moment.
            deadline = time.monotonic() + 0.5
            try:
                while time.monotonic() < deadline:
                    conn.sock.settimeout(max(0.01, deadline - time.monotonic()))
                    if not conn.sock.recv(65536):
                        break
            except (socket.timeout, OSError):
                pass
            conn.close()
        before = self.before
        m = self.assert_exact_value(lambda m: unsupported(m, protocol)
                                    - unsupported(before, protocol), 2,
                                    f"{what}: sonde_unsupported_connections_total"
                                    f"{{protocol=\"{protocol}\"}} increase")
        self.assertEqual(unsupported(m, other) - unsupported(before, other), 0,
                         f"{what}: sonde_unsupported_connections_total{{protocol=\"{other}\"}}")
        self.assertEqual(server_counts(m, e.port), {}, f"{what}: counted as requests")
        self.assertEqual(series_with_port(m, e.port), [], f"{what}: series on the port")
        self.assertEqual(parse_errors(m) - parse_errors(self.before), 0,
                         f"{what}: parsed as garbage (sonde_parse_errors_total)")
        self.check_clean(m)

    def test_tls_client_hello_on_plain_port(self):
        self._not_http("tls", tls_client_hello(), "tls", "http2", "TLS ClientHello")

    def test_http2_preface_on_plain_port(self):
        self._not_http("h2", H2_PREFACE, "http2", "tls", "HTTP/2 preface")


class OddSocketTest(_OddCases):
    CAPTURE = "socket"


class OddSyscallsTest(_OddCases):
    CAPTURE = "syscalls"


def load_tests(loader, tests, pattern):
    return capture_suite(loader, OddSocketTest, OddSyscallsTest)


if __name__ == "__main__":
    sonde_it.main()
