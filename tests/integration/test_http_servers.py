# SPDX-License-Identifier: GPL-2.0-only
"""HTTP/1.x server capture of other servers, counted exactly, on both capture paths:
nginx (prefork: workers forked after sonde started, keep-alive connections closed by
keepalive_requests; static files with sendfile on, whose bodies leave the process through
sendfile(2) and never through a write), python3 -m http.server (HTTP/1.0, one request per
connection) and a raw HTTP/1.0 server whose responses end with the connection (no Content-Length).

One sonde per class selects the nginx master and the Python servers by pid; no --route
patterns, so routes come from the heuristics ("/status/404" is "/status/{id}")."""

import os
import signal
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import sonde_it  # noqa: E402
from http_cases import (PYTHON_SERVICE, RESP_SIZE, SondeClassCase, add,  # noqa: E402
                        assert_exact_counts, capture_suite, check_labels, check_wrk_complete,
                        diagnosis, hist_by_key, server_counts, wait_for, wrk_counts)

NGINX_PATHS = ["/", "/status/404", "/status/500", "/status/201"]
# Served by nginx with sendfile on: sizes from empty (no sendfile call) to many pages.
STATIC_FILES = {"empty.txt": 0, "small.txt": 100, "page.html": 5000, "big.bin": 300000}

# A one-request-per-connection HTTP/1.0 server whose responses have no Content-Length:
# their bodies end when the server closes the connection. GET /size/N answers N bytes
# (more than 2000 in three writes, more than 8192 in one), GET /missing/N a 404 of N bytes,
# GET /splice/N N bytes moved from a pipe into the socket by splice(2): no user buffer,
# GET /vec/N the head and N bytes in one sendmsg(2), the body in parts of at most 1000.
CLOSE_DELIMITED_SERVER = r"""
import os, socket, sys, time
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", 0))
s.listen(64)
print("listening", s.getsockname()[1], flush=True)
while True:
    c, _ = s.accept()
    c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    buf = b""
    while b"\r\n\r\n" not in buf:
        d = c.recv(4096)
        if not d:
            break
        buf += d
    parts = buf.split(b" ")
    path = parts[1] if len(parts) > 2 else b"/"
    n = int(path.rsplit(b"/", 1)[1] or 0) if path.rsplit(b"/", 1)[1].isdigit() else 0
    status = b"404 Not Found" if path.startswith(b"/missing/") else b"200 OK"
    body = b"x" * n
    if path.startswith(b"/vec/"):
        head = b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\n"
        parts = [head] + [b"v" * min(1000, n - o) for o in range(0, n, 1000)]
        sent = c.sendmsg(parts)
        c.sendall((head + b"v" * n)[sent:])
        c.close()
        continue
    c.sendall(b"HTTP/1.0 " + status + b"\r\nContent-Type: text/plain\r\n\r\n")
    if path.startswith(b"/splice/"):
        r, w = os.pipe()
        os.write(w, body)
        os.close(w)
        while n:
            n -= os.splice(r, c.fileno(), n)
        os.close(r)
    step = n if n > 8192 else -(-n // 3) if n > 2000 else max(n, 1)
    for off in range(0, n, step):
        time.sleep(0.002)
        c.sendall(body[off:off + step])
    c.close()
"""


def nginx_route(path):
    return "/" if path == "/" else "/status/{id}"


class _ServersCases(SondeClassCase):

    @classmethod
    def start_services(cls):
        cls.nginx = cls.class_started(sonde_it.start_nginx(workers=2, keepalive_requests=1000,
                                                           static=STATIC_FILES))
        cls.old_workers = cls.nginx.worker_pids()
        cls.pyhttp = cls.class_started(sonde_it.start_http_server())
        cls.closer = cls.class_started(sonde_it.start_process(
            [sys.executable, "-c", CLOSE_DELIMITED_SERVER], name="close-delimited"))
        cls.closer_port = int(wait_for(
            lambda: cls.closer.check_running() or
            next((ln.split()[1] for ln in cls.closer.stdout().splitlines()
                  if ln.startswith("listening ")), None),
            10, message="the close-delimited server to listen"))
        cls.served = {}
        return (cls.nginx.pid, cls.pyhttp.pid, cls.closer.pid)

    def assert_served(self, port, expected, **kw):
        """assert_exact_counts against everything the class's tests served on port so
        far: tests share their servers (and one sonde), so a port's counts add up."""
        total = self.served.setdefault(port, {})
        for key, n in expected.items():
            add(total, key, n)
        return assert_exact_counts(self, self.sonde, port, dict(total), **kw)

    def test_nginx_workers_forked_after_start(self):
        """SIGHUP makes the master (selected by pid) fork new workers, which must be
        tracked; keep-alive connections go past keepalive_requests (1000), nginx closes
        them and wrk reconnects: every request counted exactly."""
        ngx = self.nginx
        old = set(self.old_workers)
        self.assertEqual(len(old), 2)
        os.kill(ngx.pid, signal.SIGHUP)
        new = wait_for(lambda: (ngx.check_running() or
                                (set(ngx.worker_pids()) if len(ngx.worker_pids()) == 2
                                 and not set(ngx.worker_pids()) & old else None)),
                       15, message="nginx to replace its workers after SIGHUP")
        wait_for(lambda: not any(os.path.exists(f"/proc/{p}") for p in old), 15,
                 message="the old nginx workers to exit")
        # The master, its two new workers and the other selected servers.
        want_tracked = len(self.selected_pids) + 2
        try:
            wait_for(lambda: sonde_it.value(self.sonde.scrape(),
                                            "sonde_tracked_processes") == want_tracked,
                     10, message="sonde_tracked_processes")
        except sonde_it.WaitTimeout:
            self.fail(f"sonde_tracked_processes != {want_tracked} (nginx master {ngx.pid}, "
                      f"new workers {sorted(new)}, old {sorted(old)} exited, selected "
                      f"{self.selected_pids})\n{diagnosis(self.sonde)}")
        conns, per_conn = 4, 2500
        res = sonde_it.wrk_run(ngx.url, conns, per_conn, mix="get", paths=NGINX_PATHS,
                               timeout=120)
        check_wrk_complete(self, res, conns * per_conn)
        by_path = wrk_counts(res)
        self.assertEqual(sum(by_path.values()), conns * per_conn)
        self.assertEqual(set(ngx.worker_pids()), new, "workers changed during the run")
        expected = {}
        for (method, path, status), n in by_path.items():
            add(expected, (method, nginx_route(path), status), n)
        m = self.assert_served(ngx.port, expected, timeout=20,
                                what="nginx")
        self.check_clean(m)
        check_labels(self, m, ngx.port, "nginx")

    def static_log(self):
        """{(method, path, status): [n, body bytes]} of nginx's /static/ access log."""
        out = {}
        with open(self.nginx.static_log) as f:
            for line in f:
                method, path, status, sent = line.split()
                entry = out.setdefault((method, path, int(status)), [0, 0])
                entry[0] += 1
                entry[1] += int(sent)
        return out

    def test_nginx_static_sendfile(self):
        """Static files with sendfile on (plus a 404 under /static/), over keep-alive
        connections: every request counted, body bytes included, against nginx's access
        log. The syscall path sees the bodies only through its sendfile hook."""
        ngx = self.nginx
        paths = [f"/static/{name}" for name in STATIC_FILES] + ["/static/nope.txt"]
        before_log = self.static_log()
        conns, per_conn = 4, 75
        res = sonde_it.wrk_run(ngx.url, conns, per_conn, mix="get", paths=paths, timeout=120)
        check_wrk_complete(self, res, conns * per_conn)
        log = self.static_log()
        served = {k: [v[0] - before_log.get(k, [0, 0])[0], v[1] - before_log.get(k, [0, 0])[1]]
                  for k, v in log.items()}
        served = {k: v for k, v in served.items() if v[0]}
        expected = {(m, p, s): n for (m, p, s), (n, _) in served.items()}
        self.assertEqual(expected, wrk_counts(res), "nginx's access log and wrk disagree")
        for (m, p, s), (n, sent) in served.items():
            size = STATIC_FILES.get(p.rsplit("/", 1)[1])
            if s == 200:
                self.assertEqual(sent, n * size, f"nginx sent {p}")
        m = self.assert_served(ngx.port, expected, timeout=20,
                                what="nginx static files (sendfile)")
        self.check_clean(m)
        for key, (n, sent) in served.items():
            self.assertEqual(hist_by_key(m, RESP_SIZE, ngx.port, key), sent,
                             f"response body bytes of {key}")

    def test_python_http_server(self):
        """200 requests, each on its own connection, to an HTTP/1.0 server."""
        srv = self.pyhttp
        expected, body_bytes = {}, {}
        for i in range(200):
            path = f"/nope/{i}" if i % 4 == 3 else "/index.html"
            status, _, body = sonde_it.http_get(srv.url + path)
            self.assertEqual(status, 404 if i % 4 == 3 else 200, path)
            key = ("GET", "/nope/{id}" if i % 4 == 3 else "/index.html", status)
            add(expected, key)
            add(body_bytes, key, len(body))
        self.assertEqual(expected, {("GET", "/index.html", 200): 150,
                                    ("GET", "/nope/{id}", 404): 50})
        m = self.assert_served(srv.port, expected, what="http.server")
        self.check_clean(m)
        check_labels(self, m, srv.port, PYTHON_SERVICE)
        self.assertEqual(server_counts(m, srv.port, RESP_SIZE), expected)
        for key, n in body_bytes.items():
            self.assertEqual(hist_by_key(m, RESP_SIZE, srv.port, key), n,
                             f"response body bytes of {key}")


    def test_close_delimited_responses(self):
        """HTTP/1.0 responses without Content-Length, ended by the close (bodies of 0 to
        9000 bytes, the larger ones in several writes): exact counts and body sizes."""
        expected, body_bytes = {}, {}
        for i in range(60):
            size = (0, 1, 100, 1500, 2500, 9000)[i % 6]
            path = f"/missing/{size}" if i % 5 == 4 else f"/size/{size}"
            status, headers, body = sonde_it.http_get(
                f"http://127.0.0.1:{self.closer_port}{path}")
            self.assertEqual((status, len(body), headers.get("content-length")),
                             (404 if i % 5 == 4 else 200, size, None), path)
            key = ("GET", "/missing/{id}" if i % 5 == 4 else "/size/{id}", status)
            add(expected, key)
            add(body_bytes, key, len(body))
        m = self.assert_served(self.closer_port, expected,
                                what="close-delimited responses")
        self.check_clean(m)
        check_labels(self, m, self.closer_port, PYTHON_SERVICE)
        for key, n in body_bytes.items():
            self.assertEqual(hist_by_key(m, RESP_SIZE, self.closer_port, key), n,
                             f"response body bytes of {key}")


    def test_vectored_responses(self):
        """Responses written by one sendmsg(2) of the head and the body in parts of at
        most 1000 bytes, from 1 to 9000 bytes (around 512 and 4096, and in more parts
        than the kernel reads, SONDE_MAX_IOV: those bytes count, uncaptured, and are not
        lost): exact counts and body sizes."""
        head = len(b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\n")
        expected, body_bytes, key = {}, 0, ("GET", "/vec/{id}", 200)
        for total in (head + 1, 511, 512, 1500, 4095, 4096, 4097, 9000):
            size = total - head
            status, _, body = sonde_it.http_get(f"http://127.0.0.1:{self.closer_port}/vec/{size}")
            self.assertEqual((status, body), (200, b"v" * size), f"/vec/{size}")
            add(expected, key)
            body_bytes += size
        m = self.assert_served(self.closer_port, expected, what="vectored responses")
        self.check_clean(m)
        self.assertEqual(hist_by_key(m, RESP_SIZE, self.closer_port, key), body_bytes,
                         "response body bytes")

    def test_splice_responses(self):
        """Bodies spliced from a pipe into the socket (the syscall path's splice hook):
        exact counts and body sizes."""
        expected, body_bytes = {}, {}
        for i in range(40):
            size = (1, 100, 1500, 9000)[i % 4]
            status, _, body = sonde_it.http_get(
                f"http://127.0.0.1:{self.closer_port}/splice/{size}")
            self.assertEqual((status, len(body)), (200, size))
            add(expected, ("GET", "/splice/{id}", 200))
            add(body_bytes, ("GET", "/splice/{id}", 200), size)
        m = self.assert_served(self.closer_port, expected,
                                what="spliced responses")
        self.check_clean(m)
        for key, n in body_bytes.items():
            self.assertEqual(hist_by_key(m, RESP_SIZE, self.closer_port, key), n,
                             f"response body bytes of {key}")


class ServersSocketTest(_ServersCases):
    CAPTURE = "socket"


class ServersSyscallsTest(_ServersCases):
    CAPTURE = "syscalls"


def load_tests(loader, tests, pattern):
    return capture_suite(loader, ServersSocketTest, ServersSyscallsTest)


if __name__ == "__main__":
    sonde_it.main()
