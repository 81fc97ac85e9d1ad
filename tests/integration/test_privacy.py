# SPDX-License-Identifier: GPL-2.0-only
"""Privacy: no secret a client sends reaches sonde's scrape or its log, on both capture paths.

One client process (python3, selected by pid before it opens any connection) sends a fresh
random secret in every place the observed traffic carries user data, then sonde's /metrics
text and its whole log (run with -vv, its most verbose level) are searched for each one:
  - PostgreSQL (a wire-protocol client written here, simple and extended protocol): string
    literals ('..', E'..', $q$..$q$, U&'..'), a comment, a Bind parameter, a literal in a
    Parse, the rows coming back, and an error whose message quotes the literal (22P02);
  - Redis: a SET value, a key, an HSET field value, the reply carrying the value back, and
    an AUTH password (its error reply);
  - HTTP/1 to the Go trade-engine (observed both as client and as server): header values
    (Authorization, X-Api-Key, Host, User-Agent), a cookie, URL query strings on a known
    and an unknown route, a request body, which the service echoes in its response;
  - the client's environment (sonde reads only an allow-list of variables).
The secrets are checked as they are and percent-encoded, and the traffic is checked to have
been observed (PostgreSQL and Redis operations, HTTP exchanges on both sides), so that a
test which saw nothing cannot pass."""

import json
import os
import secrets
import shutil
import sys
import tempfile
import unittest
import urllib.parse

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import sonde_it  # noqa: E402
from db_cases import db_counts, http_client_counts  # noqa: E402
from http_cases import diagnosis, server_counts  # noqa: E402

PLACES = ("pg_literal", "pg_estring", "pg_dollar", "pg_unicode", "pg_comment", "pg_bind",
          "pg_parse_literal", "pg_error_literal", "redis_value", "redis_key", "redis_hash",
          "redis_auth", "http_authorization", "http_api_key", "http_host", "http_user_agent",
          "http_cookie", "http_query", "http_query_404", "http_body", "env")

# The client: waits for the JSON file argv[1] (servers and secrets), talks to each server,
# prints one JSON line (what it did), exits. Standard library only.
CLIENT = r"""
import http.client, json, os, socket, struct, sys, time

def pg_msg(kind, payload=b""):
    return kind + struct.pack(">I", len(payload) + 4) + payload

def pg_read_until_ready(f):
    msgs = []
    while True:
        head = f.read(5)
        if len(head) < 5:
            raise RuntimeError("postgres closed the connection")
        kind, n = head[:1], struct.unpack(">I", head[1:])[0]
        msgs.append((kind, f.read(n - 4)))
        if kind == b"Z":
            return msgs

def pg_session(host, port, s):
    sock = socket.create_connection((host, port), timeout=30)
    f = sock.makefile("rb")
    params = b"user\0postgres\0database\0postgres\0application_name\0privacy\0\0"
    sock.sendall(struct.pack(">II", 8 + len(params), 196608) + params)
    pg_read_until_ready(f)
    def query(sql):
        sock.sendall(pg_msg(b"Q", sql.encode() + b"\0"))
        return pg_read_until_ready(f)
    errors = []
    simple = [
        "CREATE TABLE IF NOT EXISTS privacy_t (k text, v text)",
        "INSERT INTO privacy_t VALUES ('%s', E'%s')" % (s["pg_literal"], s["pg_estring"]),
        "SELECT k, v FROM privacy_t WHERE k = '%s'" % s["pg_literal"],
        "UPDATE privacy_t SET v = $q$%s$q$ WHERE k <> U&'%s'" % (s["pg_dollar"],
                                                                s["pg_unicode"]),
        "/* %s */ SELECT count(*) FROM privacy_t" % s["pg_comment"],
        "SELECT '%s'::int" % s["pg_error_literal"],
    ]
    for sql in simple:
        for kind, payload in query(sql):
            if kind == b"E":
                errors.append(payload)
    # Extended protocol: Parse with a literal, Bind with a parameter, Execute, Sync.
    sql = "INSERT INTO privacy_t VALUES ($1, '%s')" % s["pg_parse_literal"]
    param = s["pg_bind"].encode()
    sock.sendall(pg_msg(b"P", b"ins\0" + sql.encode() + b"\0" + struct.pack(">H", 0))
                 + pg_msg(b"B", b"\0ins\0" + struct.pack(">HHI", 0, 1, len(param)) + param
                          + struct.pack(">H", 0))
                 + pg_msg(b"E", b"\0" + struct.pack(">I", 0)) + pg_msg(b"S"))
    pg_read_until_ready(f)
    query("SELECT k, v FROM privacy_t")
    query("DROP TABLE privacy_t")
    sock.sendall(pg_msg(b"X"))
    sock.close()
    return {"pg_queries": len(simple) + 3, "pg_errors": len(errors)}

def resp(*words):
    out = b"*%d\r\n" % len(words)
    for w in words:
        w = w.encode() if isinstance(w, str) else w
        out += b"$%d\r\n%s\r\n" % (len(w), w)
    return out

def redis_reply(f):
    line = f.readline()
    if line[:1] == b"$":
        n = int(line[1:])
        return line + (f.read(n + 2) if n >= 0 else b"")
    if line[:1] == b"*":
        return line + b"".join(redis_reply(f) for _ in range(max(int(line[1:]), 0)))
    return line

def redis_session(host, port, s):
    sock = socket.create_connection((host, port), timeout=30)
    f = sock.makefile("rb")
    cmds = [("AUTH", s["redis_auth"]), ("SET", s["redis_key"], s["redis_value"]),
            ("GET", s["redis_key"]), ("HSET", "privacy_h", "f", s["redis_hash"]),
            ("HGETALL", "privacy_h"), ("DEL", s["redis_key"], "privacy_h")]
    replies = []
    for c in cmds:
        sock.sendall(resp(*c))
        replies.append(redis_reply(f))
    sock.close()
    return {"redis_commands": len(cmds), "redis_auth_error": replies[0].startswith(b"-")}

def http_session(host, port, s):
    q = s["http_query"]
    reqs = [
        ("GET", "/api/v1/orders/42?token=%s&q=%s" % (q, q), None),
        ("POST", "/api/v1/orders", json.dumps({"symbol": s["http_body"], "qty": 1,
                                               "price": 12.5})),
        ("GET", "/no/such/page?password=%s" % s["http_query_404"], None),
    ]
    statuses = []
    for method, path, body in reqs:
        c = http.client.HTTPConnection(host, port, timeout=30)
        c.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
        c.putheader("Host", s["http_host"])
        c.putheader("Authorization", "Bearer " + s["http_authorization"])
        c.putheader("X-Api-Key", s["http_api_key"])
        c.putheader("User-Agent", s["http_user_agent"])
        c.putheader("Cookie", "session=%s; theme=dark" % s["http_cookie"])
        if body is not None:
            c.putheader("Content-Type", "application/json")
            c.putheader("Content-Length", str(len(body)))
        c.endheaders(body.encode() if body is not None else None)
        r = c.getresponse()
        r.read()
        statuses.append(r.status)
        c.close()
    return {"http_statuses": statuses}

deadline = time.monotonic() + 120
while not os.path.exists(sys.argv[1]) and time.monotonic() < deadline:
    time.sleep(0.05)
with open(sys.argv[1]) as f:
    cfg = json.load(f)
out = {}
out.update(pg_session(cfg["pg_host"], cfg["pg_port"], cfg["secrets"]))
out.update(redis_session(cfg["redis_host"], cfg["redis_port"], cfg["secrets"]))
out.update(http_session(cfg["http_host"], cfg["http_port"], cfg["secrets"]))
print(json.dumps(out), flush=True)
"""


def make_secrets():
    """A distinct secret per place: letters and digits only, so that each can go anywhere
    unquoted, and long enough never to appear by chance."""
    return {p: f"Sx{secrets.token_hex(10)}{p.replace('_', '')}" for p in PLACES}


class _PrivacyCases(sonde_it.IntegrationCase):
    CAPTURE = None

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.secrets = make_secrets()
        cls.pg = cls.class_started(sonde_it.start_postgres())
        cls.redis = cls.class_started(sonde_it.start_redis())
        cls.engine = cls.class_started(sonde_it.start_trade_engine())

    def start_client(self):
        """The client, started before sonde and waiting for its go file."""
        self.go_file = os.path.join(tempfile.mkdtemp(prefix="sonde-it-privacy-"), "go.json")
        self.addCleanup(shutil.rmtree, os.path.dirname(self.go_file), True)
        env = dict(os.environ, PRIVACY_DB_PASSWORD=self.secrets["env"])
        client = self.started(sonde_it.start_process(
            [sys.executable, "-c", CLIENT, self.go_file], name="privacy-client", env=env))
        return client

    def run_client(self, client):
        cfg = {"pg_host": self.pg.host, "pg_port": self.pg.port,
               "redis_host": self.redis.host, "redis_port": self.redis.port,
               "http_host": self.engine.host, "http_port": self.engine.port,
               "secrets": self.secrets}
        with open(self.go_file + ".tmp", "w") as f:
            json.dump(cfg, f)
        os.rename(self.go_file + ".tmp", self.go_file)
        rc = client.wait(120)
        self.assertEqual(rc, 0, f"privacy client failed:\n{client.log_tail()}")
        return json.loads(client.stdout().splitlines()[-1])

    def observed(self, m):
        """What sonde counted of the client's traffic (each server has a port of its own)."""
        pg = db_counts(m, "postgresql", server_port=str(self.pg.port))
        return {
            "pg": sum(pg.values()),
            "pg_errors": sum(n for (_, err), n in pg.items() if err),
            "redis": sum(db_counts(m, "redis", server_port=str(self.redis.port)).values()),
            "http_client": sum(http_client_counts(
                m, server_port=str(self.engine.port)).values()),
            "http_server": sum(server_counts(m, self.engine.port).values()),
        }

    def test_no_secret_in_scrape_or_log(self):
        client = self.start_client()
        sonde = self.started(sonde_it.start_sonde([
            "--select", f"pid={client.pid}", "--select", f"pid={self.engine.pid}",
            "--capture", self.CAPTURE, "-vv"]))
        did = self.run_client(client)
        self.assertEqual(did["http_statuses"], [200, 201, 404], did)
        self.assertTrue(did["redis_auth_error"], did)
        self.assertEqual(did["pg_errors"], 1, did)

        # Everything observed: PostgreSQL (at least one operation per statement sent, the
        # 22P02 among them), every Redis command, the three exchanges on both HTTP sides.
        want = {"pg": did["pg_queries"], "pg_errors": 1, "redis": did["redis_commands"],
                "http_client": 3, "http_server": 3}
        got = {}

        def enough():
            nonlocal got
            sonde.check_running()
            got = self.observed(sonde.scrape())
            return all(got[k] >= n for k, n in want.items())

        try:
            sonde_it.wait_for(enough, 20, interval=0.2)
        except sonde_it.WaitTimeout:
            self.fail(f"[{self.CAPTURE}] sonde did not observe the client's traffic: "
                      f"want at least {want}, got {got}\n{diagnosis(sonde)}")
        _, text = sonde_it.scrape_raw(sonde.metrics_url)
        log = sonde.stdout() + sonde.stderr()
        sonde.stop()
        log += sonde.final_stdout + sonde.final_log
        self.assertIn("sonde", log)  # the log was read at all

        leaks = []
        for place, secret in self.secrets.items():
            for form in {secret, urllib.parse.quote(secret), secret.lower(), secret.upper()}:
                if form in text:
                    leaks.append(f"{place}: in the scrape")
                if form in log:
                    leaks.append(f"{place}: in the log")
        self.assertEqual(leaks, [], f"[{self.CAPTURE}] secrets reached sonde's output")


class PrivacySocketTest(_PrivacyCases):
    CAPTURE = "socket"


class PrivacySyscallsTest(_PrivacyCases):
    CAPTURE = "syscalls"


def load_tests(loader, tests, pattern):
    suite = unittest.TestSuite()
    for cls in (PrivacySocketTest, PrivacySyscallsTest):
        suite.addTests(loader.loadTestsFromTestCase(cls))
    return suite


if __name__ == "__main__":
    sonde_it.main()
