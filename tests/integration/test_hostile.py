# SPDX-License-Identifier: GPL-2.0-only
"""Hostile traffic on loopback, on both capture paths: what a client may send that is not
the protocol, to real servers, while valid traffic on other connections must still be
counted exactly, and what could not be parsed is counted by reason.

PostgreSQL (client side, a client of this file's own speaking the wire protocol, trust
auth): binary garbage after the startup, a Query whose length promises more than is sent
(then close), a Query with an absurd length, binary garbage as the first bytes; between
them, on another connection, exactly VALID_PG simple queries.

Redis (client side, the same client): binary garbage as the first bytes, garbage after a
PING, a truncated RESP array (then close), an absurd bulk length, inline commands; between
them redis-cli -r runs of INCR.

HTTP (server side: the Go trade-engine, and python's http.server for a big response):
HTTP/0.9 "GET /", binary garbage, a request-line never finished, HOLD connections holding
half a header for HOLD_S seconds, RESETS resets (SO_LINGER 0) while the server sends a 4 MiB body; between them
exactly VALID_HTTP requests on a keep-alive connection.

Every load is bounded in count and time. sonde must keep serving /metrics, lose nothing
(sonde_events_lost_total 0 for every reason) and exit 0 on SIGTERM (class cleanup).

Selection: sonde selects a launcher process by pid and the clients by comm (this file's
client runs as "sonde-hostile", a symlink to python3), and the HTTP servers by pid."""

import json
import os
import shutil
import socket
import struct
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import sonde_it  # noqa: E402
from db_cases import (PG_LOG_SETTINGS, Launcher, PgLog, assert_exact,  # noqa: E402
                      assert_no_loss, db_counts, delta, diagnosis, redis_command,
                      redis_reset, redis_stats)
from http_cases import (TRADE_ENGINE_ROUTES, RawConn, add, assert_exact_counts,  # noqa: E402
                        request_bytes, server_counts)

CLIENT = "sonde-hostile"
VALID_PG = 100          # simple queries on the valid connection, in 5 runs of 20
VALID_REDIS = 100       # INCRs by redis-cli, in 5 runs of -r 20
VALID_HTTP = 60         # requests on the valid keep-alive connection, in 5 runs of 12
HOLD, HOLD_S = 20, 2.0  # connections holding half a header, and for how long
RESETS = 5              # resets while a 4 MiB body is being sent
BIG = 4 << 20
GARBAGE = bytes((i * 151 + 7) % 256 or 1 for i in range(256)).replace(b"\n", b"\x01")

# The client: `sonde-hostile CLIENT_PY pg|redis HOST PORT`; prints JSON of what it did.
CLIENT_PY = r'''
import json, socket, struct, subprocess, sys, time

GARBAGE = bytes((i * 151 + 7) % 256 or 1 for i in range(256)).replace(b"\n", b"\x01")


def recv_all(s, timeout=5.0):
    """Everything until the server closes (or timeout): the server's answer to garbage."""
    s.settimeout(timeout)
    out = b""
    try:
        while True:
            b = s.recv(65536)
            if not b:
                return out, True
            out += b
    except (socket.timeout, ConnectionError):
        return out, False


class Pg:
    def __init__(self, host, port, app):
        self.s = socket.create_connection((host, port), timeout=10)
        self.s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""
        params = b"user\0postgres\0database\0postgres\0application_name\0" + app.encode() + b"\0\0"
        self.s.sendall(struct.pack("!II", 8 + len(params), 196608) + params)
        self.until_ready()

    def msg(self):
        while len(self.buf) < 5 or len(self.buf) < 1 + struct.unpack("!I", self.buf[1:5])[0]:
            b = self.s.recv(65536)
            if not b:
                raise ConnectionError("server closed")
            self.buf += b
        n = 1 + struct.unpack("!I", self.buf[1:5])[0]
        m, self.buf = self.buf[:n], self.buf[n:]
        return m[:1], m[5:]

    def until_ready(self):
        types = []
        while True:
            t, body = self.msg()
            types.append(t)
            if t == b"E":
                raise RuntimeError(body)
            if t == b"Z":
                return types

    def query(self, sql):
        q = sql.encode() + b"\0"
        self.s.sendall(b"Q" + struct.pack("!I", 4 + len(q)) + q)
        types = self.until_ready()
        assert b"C" in types, types

    def close(self):
        self.s.sendall(b"X\0\0\0\4")
        self.s.close()


def pg(host, port):
    done = {"valid_queries": 0, "answers": {}}
    valid = Pg(host, port, "hostile-valid")

    def queries(n):
        for _ in range(n):
            valid.query(f"SELECT {done['valid_queries']}")
            done["valid_queries"] += 1

    # 1. binary garbage after the startup: the backend answers FATAL and closes
    g = Pg(host, port, "hostile-garbage")
    g.s.sendall(GARBAGE)
    queries(20)
    done["answers"]["garbage"] = recv_all(g.s)[0][:1].decode()
    g.s.close()
    # 2. a Query promising 1000 bytes, 30 sent, then close
    t = Pg(host, port, "hostile-truncated")
    t.s.sendall(b"Q" + struct.pack("!I", 1000) + b"SELECT 'never finished' -- .....")
    queries(20)
    t.s.close()
    # 3. a Query of absurd length (2 GiB - 16): the backend answers FATAL and closes
    a = Pg(host, port, "hostile-absurd")
    a.s.sendall(b"Q" + struct.pack("!I", 0x7ffffff0) + b"SELECT 1\0")
    queries(20)
    done["answers"]["absurd"] = recv_all(a.s)[0][:1].decode()
    a.s.close()
    # 4. garbage as the first bytes, no startup: the postmaster closes
    f = socket.create_connection((host, port), timeout=10)
    f.sendall(GARBAGE)
    queries(20)
    done["answers"]["first"] = recv_all(f)[0][:1].decode()
    f.close()
    # 5. the last valid queries, then a Terminate
    queries(20)
    valid.close()
    return done


class Redis:
    def __init__(self, host, port):
        self.s = socket.create_connection((host, port), timeout=10)
        self.s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def line(self, data):
        self.s.sendall(data)
        out = b""
        while not out.endswith(b"\r\n"):
            b = self.s.recv(65536)
            if not b:
                break
            out += b
        return out.decode(errors="replace").strip()


def cmd(*args):
    out = b"*%d\r\n" % len(args)
    for a in args:
        out += b"$%d\r\n%s\r\n" % (len(a), a)
    return out


def redis(host, port):
    done = {"cli_runs": 0, "answers": {}}

    def cli():
        subprocess.run(["redis-cli", "-h", host, "-p", str(port), "-r", "20", "INCR",
                        "hostile:n"], check=True, stdout=subprocess.DEVNULL, timeout=60)
        done["cli_runs"] += 1

    # 1. garbage as the first bytes (an inline "command" to Redis)
    r = Redis(host, port)
    done["answers"]["first"] = r.line(GARBAGE + b"\r\n")[:40]
    r.s.close()
    cli()
    # 2. PING, then garbage
    r = Redis(host, port)
    done["answers"]["ping"] = r.line(cmd(b"PING"))
    done["answers"]["after"] = r.line(GARBAGE + b"\r\n")[:40]
    r.s.close()
    cli()
    # 3. PING, then a SET array missing its value, then close
    r = Redis(host, port)
    r.line(cmd(b"PING"))
    r.s.sendall(b"*3\r\n$3\r\nSET\r\n$9\r\nhostile:t\r\n")
    time.sleep(0.1)
    r.s.close()
    cli()
    # 4. PING, then a bulk string of absurd length: Redis answers a protocol error, closes
    r = Redis(host, port)
    r.line(cmd(b"PING"))
    done["answers"]["absurd"] = r.line(b"*1\r\n$2147483648\r\n")[:40]
    done["answers"]["absurd_closed"] = recv_all(r.s)[1]
    r.s.close()
    cli()
    # 5. inline commands
    r = Redis(host, port)
    for c in (b"PING", b"SET hostile:i v", b"GET hostile:i", b"ECHO hi"):
        done["answers"][c.decode()] = r.line(c + b"\r\n")
    r.s.close()
    cli()
    return done


mode, host, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
print(json.dumps(pg(host, port) if mode == "pg" else redis(host, port)))
'''


def self_deltas(after, before):
    """Deltas of the unparsed self-metrics: {(name, labels...): n}, without the zeros."""
    out = {}
    for name in ("sonde_parse_errors_total", "sonde_unsupported_connections_total",
                 "sonde_requests_unanswered_total", "sonde_requests_incomplete_total"):
        a = {tuple(sorted(lbl.items())): v for lbl, v in sonde_it.samples(after, name)}
        b = {tuple(sorted(lbl.items())): v for lbl, v in sonde_it.samples(before, name)}
        for k in set(a) | set(b):
            d = a.get(k, 0) - b.get(k, 0)
            if d:
                out[(name,) + tuple(f"{x}={y}" for x, y in k)] = d
    return out


class _HostileCases(sonde_it.IntegrationCase):
    CAPTURE = None

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.pg = cls.class_started(sonde_it.start_postgres(settings=PG_LOG_SETTINGS))
        cls.redis = cls.class_started(sonde_it.start_redis())
        cls.engine = cls.class_started(sonde_it.start_trade_engine())
        cls.py = cls.class_started(sonde_it.start_http_server())
        with open(os.path.join(cls.py.docroot, "big.bin"), "wb") as f:
            f.write(bytes(range(256)) * (BIG // 256))
        cls.log = PgLog(cls.pg)
        cls.dir = tempfile.mkdtemp(prefix="sonde-it-hostile-")
        cls.addClassCleanup(shutil.rmtree, cls.dir, ignore_errors=True)
        cls.client_py = os.path.join(cls.dir, "client.py")
        with open(cls.client_py, "w") as f:
            f.write(CLIENT_PY)
        cls.client = os.path.join(cls.dir, CLIENT)
        os.symlink(sys.executable, cls.client)
        cls.launcher = Launcher()
        cls.addClassCleanup(cls.launcher.stop)
        args = ["--capture", cls.CAPTURE, "-v"]
        for r in (f"pid={cls.launcher.pid}", f"comm={CLIENT}", "comm=redis-cli",
                  f"pid={cls.engine.pid}", f"pid={cls.py.pid}"):
            args += ["--select", r]
        for r in TRADE_ENGINE_ROUTES:
            args += ["--route", r]
        cls.sonde = cls.class_started(sonde_it.start_sonde(args))
        m = cls.sonde.scrape()
        if sonde_it.value(m, "sonde_capture_mode", mode=cls.CAPTURE) != 1:
            raise AssertionError(f"--capture {cls.CAPTURE} not in use")

    def setUp(self):
        self.before = self.sonde.scrape()

    def run_client(self, mode, host, port):
        _, out, _ = self.launcher.run([self.client, self.client_py, mode, host, port],
                                      timeout=120)
        return json.loads(out)

    def finish(self, what, expected_self):
        """sonde still answers, lost nothing, and its unparsed self-metrics moved by
        exactly expected_self ({(name, "label=value"...): n})."""
        got = {}

        def equal():
            nonlocal got
            self.sonde.check_running()
            got = self_deltas(self.sonde.scrape(), self.before)
            return got == expected_self

        try:
            sonde_it.wait_for(equal, 10, interval=0.2)
        except sonde_it.WaitTimeout:
            pass
        time.sleep(1.0)
        m = self.sonde.scrape()
        got = self_deltas(m, self.before)
        self.assertEqual(got, expected_self, f"{what}: unparsed self-metrics\n"
                         f"{diagnosis(self.sonde, m)}")
        assert_no_loss(self, m, self.sonde)
        return m

    # ---------------------------------------------------------------- PostgreSQL

    def test_postgres(self):
        """Exactly the VALID_PG SELECTs; garbage after the startup and the absurd length
        are parse errors (the FATAL 08P01 answering the garbage is no operation), the
        truncated Query an incomplete request, the garbage first bytes an unknown
        connection."""
        labels = {"server_address": self.pg.host, "server_port": str(self.pg.port)}
        base = db_counts(self.before, "postgresql", **labels)
        mark = self.log.mark()
        done = self.run_client("pg", self.pg.host, self.pg.port)
        self.assertEqual(done["valid_queries"], VALID_PG, done)
        # PostgreSQL's own answers: FATAL to the garbage; to the absurd length and to the
        # garbage first bytes, a close without a word
        self.assertEqual(done["answers"], {"garbage": "E", "absurd": "", "first": ""})
        ref, problems = self.log.ops(mark, "hostile-valid")
        self.assertEqual((ref, problems), ({("SELECT", ""): VALID_PG}, []), "server log")
        for app in ("hostile-garbage", "hostile-truncated", "hostile-absurd"):
            self.assertEqual(self.log.statements(mark, app), [], f"server log of {app}")
        assert_exact(self, self.sonde,
                     lambda m: delta(db_counts(m, "postgresql", **labels), base),
                     {("SELECT", ""): VALID_PG},
                     f"postgresql valid queries among hostile ones [{self.CAPTURE}]")
        self.finish("postgresql", {
            ("sonde_parse_errors_total", "protocol=postgresql"): 2,
            ("sonde_requests_incomplete_total", "protocol=postgresql"): 1,
            ("sonde_unsupported_connections_total", "protocol=unknown"): 1})

    # ---------------------------------------------------------------- Redis

    def test_redis(self):
        """Exactly the VALID_REDIS INCRs, the PINGs and the inline commands; the garbage
        after a PING is a line Redis takes as an inline command and refuses (_OTHER, ERR);
        the truncated array and the refused bulk length are incomplete requests, the
        garbage first bytes an unknown connection."""
        h, p = self.redis.host, self.redis.port
        redis_command(h, p, "FLUSHALL")
        redis_reset(h, p)
        self.before = self.sonde.scrape()
        labels = {"server_address": h, "server_port": str(p)}
        base = db_counts(self.before, "redis", **labels)
        done = self.run_client("redis", h, p)
        self.assertEqual(done["cli_runs"], 5, done)
        quotes = "-ERR Protocol error: unbalanced quotes i"
        self.assertEqual(done["answers"], {
            "first": quotes, "ping": "+PONG", "after": quotes,
            "absurd": "-ERR Protocol error: invalid bulk length", "absurd_closed": True,
            "PING": "+PONG", "SET hostile:i v": "+OK", "GET hostile:i": "$1\r\nv",
            "ECHO hi": "$2\r\nhi"})
        calls, failed, errors = redis_stats(h, p)
        self.assertEqual((calls, failed, errors), (
            {"INCR": VALID_REDIS, "PING": 4, "SET": 1, "GET": 1, "ECHO": 1}, {}, {"ERR": 3}),
            "INFO commandstats, errorstats")
        self.assertEqual(redis_command(h, p, "GET", "hostile:n"), str(VALID_REDIS))
        expected = {("INCR", ""): VALID_REDIS, ("PING", ""): 4, ("SET", ""): 1,
                    ("GET", ""): 1, ("ECHO", ""): 1, ("_OTHER", "ERR"): 1}
        assert_exact(self, self.sonde, lambda m: delta(db_counts(m, "redis", **labels), base),
                     expected, f"redis valid commands among hostile ones [{self.CAPTURE}]")
        self.finish("redis", {
            ("sonde_requests_incomplete_total", "protocol=redis"): 2,
            ("sonde_unsupported_connections_total", "protocol=unknown"): 1})

    # ---------------------------------------------------------------- HTTP

    def valid_http(self, conn, n, counts):
        e = self.engine
        for i in range(n):
            if i % 3 == 2:
                conn.send(request_bytes("GET", f"/api/v1/missing/{i}", e.addr))
                key = ("GET", "/api/v1/missing/{id}", 404)
            else:
                conn.send(request_bytes("GET", f"/api/v1/orders/{i}", e.addr))
                key = ("GET", "/api/v1/orders/{id}", 200)
            status = conn.read_response()[0]
            self.assertEqual(status, key[2])
            add(counts, key)

    def test_http(self):
        e = self.engine
        py_base = server_counts(self.before, self.py.port)
        counts = {}
        valid = RawConn("127.0.0.1", e.port)
        self.addCleanup(valid.close)
        answers = {}
        # 1. HTTP/0.9
        c = RawConn("127.0.0.1", e.port)
        c.send(b"GET /\r\n")
        answers["http09"] = recv_head(c.sock)
        c.close()
        self.valid_http(valid, VALID_HTTP // 5, counts)
        # 2. binary garbage
        c = RawConn("127.0.0.1", e.port)
        c.send(GARBAGE + b"\r\n\r\n")
        answers["garbage"] = recv_head(c.sock)
        c.close()
        self.valid_http(valid, VALID_HTTP // 5, counts)
        # 3. a request-line never finished, then closed
        c = RawConn("127.0.0.1", e.port)
        c.send(b"GET /api/v1/ord")
        time.sleep(0.1)
        c.close()
        # 4. half a header held open, then closed: Go answers each 400 as it reads the
        # close, and sonde counts that answer with the request's route
        hold_key = ("GET", "/api/v1/orders/{id}", 400)
        held = []
        for i in range(HOLD):
            c = RawConn("127.0.0.1", e.port)
            c.send(f"GET /api/v1/orders/{i} HTTP/1.1\r\nHost: {e.addr}\r\nX-Half: ".encode())
            held.append(c)
        self.valid_http(valid, VALID_HTTP // 5, counts)
        time.sleep(HOLD_S)
        for c in held:
            c.close()
        add(counts, hold_key, HOLD)
        # 5. resets while python's http.server sends 4 MiB
        for _ in range(RESETS):
            c = RawConn("127.0.0.1", self.py.port)
            c.send(request_bytes("GET", "/big.bin", f"127.0.0.1:{self.py.port}"))
            got = 0
            while got < 256 << 10:
                got += len(c.sock.recv(65536))
            c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            c.close()
        self.valid_http(valid, VALID_HTTP // 5, counts)
        # 6. a whole response from http.server, for comparison
        c = RawConn("127.0.0.1", self.py.port)
        c.send(request_bytes("GET", "/data.txt", f"127.0.0.1:{self.py.port}"))
        self.assertEqual(c.read_response()[0], 200)
        c.close()
        self.valid_http(valid, VALID_HTTP // 5, counts)
        self.assertEqual(sum(counts.values()), VALID_HTTP + HOLD)
        # Go's answer to both: 400, which no request of sonde's pairs with
        self.assertEqual(answers, {"http09": "HTTP/1.1 400 Bad Request",
                                   "garbage": "HTTP/1.1 400 Bad Request"})
        referee = dict(counts)
        del referee[hold_key]  # answered by net/http before the router: no middleware
        self.assertEqual(e.referee(), referee, "referee vs client")
        assert_exact_counts(self, self.sonde, e.port, add(counts, ("GET", "/referee", 200)),
                            what=f"trade-engine valid requests among hostile ones "
                            f"[{self.CAPTURE}]")
        # the resets: counted with the status written (200), their body cut short
        assert_exact_counts(self, self.sonde, self.py.port,
                            add(dict(py_base), ("GET", "/**", 200), RESETS + 1),
                            what=f"http.server resets mid-response [{self.CAPTURE}]")
        self.finish("http", {
            ("sonde_parse_errors_total", "protocol=http"): 1,
            ("sonde_requests_incomplete_total", "protocol=http"): 1,
            ("sonde_unsupported_connections_total", "protocol=unknown"): 1})


def recv_head(sock, timeout=5.0):
    """The first line the server answered (then it closed, or timeout)."""
    sock.settimeout(timeout)
    out = b""
    try:
        while b"\n" not in out:
            b = sock.recv(4096)
            if not b:
                break
            out += b
    except (socket.timeout, ConnectionError):
        pass
    return out.split(b"\r\n")[0].decode(errors="replace")


class HostileSocketTest(_HostileCases):
    CAPTURE = "socket"


class HostileSyscallsTest(_HostileCases):
    CAPTURE = "syscalls"


def load_tests(loader, tests, pattern):
    suite = unittest.TestSuite()
    for cls in (HostileSocketTest, HostileSyscallsTest):
        suite.addTests(loader.loadTestsFromTestCase(cls))
    return suite


if __name__ == "__main__":
    sonde_it.main()
