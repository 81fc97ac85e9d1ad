#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""Writes the seed corpora of the fuzz targets into tests/fuzz/corpus/<target>/: a few
well-formed inputs each, so that a run starts past the framing it would otherwise have to
guess. The files are committed; run this again after changing a seed here.

The event targets (http1, postgres, redis) read records [ctl][len lo][len hi][bytes]
(fuzz_events.h): ctl bit 0 is the direction (0 requests/frontend/commands, 1 the other)."""

import os
import shutil
import struct

HERE = os.path.dirname(os.path.abspath(__file__))


def rec(direction, data, ctl=0):
    data = data.encode() if isinstance(data, str) else data
    assert len(data) < 65536
    return bytes([ctl | direction]) + struct.pack("<H", len(data)) + data


def req(data):
    return rec(0, data)


def resp(data):
    return rec(1, data)


# ------------------------------------------------------------------------------- HTTP/1

def http1():
    get = "GET /api/v1/orders/42?x=1 HTTP/1.1\r\nHost: a\r\n\r\n"
    ok = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"
    post = ("POST /api/v1/orders HTTP/1.1\r\nHost: a\r\nContent-Type: application/json\r\n"
            "Content-Length: 11\r\n\r\n{\"qty\": 1}\n")
    created = "HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n"
    chunked = ("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
               "5\r\nhello\r\n6;x=y\r\n world\r\n0\r\nTrailer: t\r\n\r\n")
    head = "HEAD /a HTTP/1.1\r\nHost: a\r\n\r\n"
    return {
        "get_200": req(get) + resp(ok),
        "post_201": req(post) + resp(created),
        "pipelined": req(get * 3) + resp(ok + created) + resp(chunked),
        "head": req(head) + resp("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n"),
        "continue": req("PUT /u HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n")
        + resp("HTTP/1.1 100 Continue\r\n\r\n") + req("abc") + resp(created),
        "close_delimited": req("GET / HTTP/1.0\r\n\r\n")
        + resp("HTTP/1.0 200 OK\r\n\r\nbody") + resp(""),
        "capture_gap": rec(0, get) + rec(1, ok[:20], ctl=2 | 5 << 2) + req(get) + resp(ok),
    }


# ------------------------------------------------------------------------------- PostgreSQL

def pg_msg(kind, payload=b""):
    payload = payload.encode() if isinstance(payload, str) else payload
    return kind.encode() + struct.pack(">I", len(payload) + 4) + payload


def cstr(s):
    return s.encode() + b"\0"


def pg_ready(status="I"):
    return pg_msg("Z", status)


def postgres():
    startup = struct.pack(">II", 8 + len(b"user\0u\0\0"), 196608) + b"user\0u\0\0"
    auth = pg_msg("R", struct.pack(">I", 0)) + pg_msg("S", cstr("server_version") + cstr("15"))
    simple = pg_msg("Q", cstr("SELECT * FROM orders WHERE id = 1; UPDATE t SET a = 'x'"))
    simple_reply = (pg_msg("T", struct.pack(">H", 0)) + pg_msg("C", cstr("SELECT 1"))
                    + pg_msg("C", cstr("UPDATE 1")) + pg_ready())
    parse = pg_msg("P", cstr("s1") + cstr("INSERT INTO orders (qty) VALUES ($1) RETURNING id")
                   + struct.pack(">H", 0))
    bind = pg_msg("B", cstr("") + cstr("s1") + struct.pack(">HHIsH", 0, 1, 1, b"7", 0))
    execute = pg_msg("E", cstr("") + struct.pack(">I", 0))
    sync = pg_msg("S")
    ext_reply = (pg_msg("1") + pg_msg("2") + pg_msg("D", struct.pack(">HI", 1, 1) + b"1")
                 + pg_msg("C", cstr("INSERT 0 1")) + pg_ready())
    error = pg_msg("E", b"SERROR\0C23514\0Mcheck violation\0\0") + pg_ready()
    return {
        "startup_simple": req(startup) + resp(auth + pg_ready()) + req(simple)
        + resp(simple_reply),
        "extended": req(parse + bind + execute + sync) + resp(ext_reply),
        "extended_error": req(parse + bind + execute + sync) + resp(pg_msg("1") + pg_msg("2")
                                                                   + error),
        "named_reuse": req(parse + sync) + resp(pg_msg("1") + pg_ready())
        + req(bind + execute + sync) + resp(pg_msg("2") + pg_msg("C", cstr("INSERT 0 1"))
                                            + pg_ready()),
        "ssl_request": req(struct.pack(">II", 8, 80877103)) + resp("N"),
    }


# ------------------------------------------------------------------------------- Redis

def resp_cmd(*words):
    out = f"*{len(words)}\r\n"
    for w in words:
        out += f"${len(w)}\r\n{w}\r\n"
    return out


def redis():
    return {
        "get_set": req(resp_cmd("SET", "k", "v") + resp_cmd("GET", "k"))
        + resp("+OK\r\n$1\r\nv\r\n"),
        "nil_error": req(resp_cmd("GET", "missing")) + resp("$-1\r\n")
        + req(resp_cmd("LPUSH", "k", "x")) + resp("-WRONGTYPE Operation against a key\r\n"),
        "pipeline": req("".join(resp_cmd("INCR", "c") for _ in range(8)))
        + resp("".join(f":{i}\r\n" for i in range(1, 9))),
        "resp3": req(resp_cmd("HELLO", "3")) + resp("%1\r\n+server\r\n+redis\r\n")
        + req(resp_cmd("HGETALL", "h")) + resp(">2\r\n+invalidate\r\n*1\r\n$1\r\nk\r\n")
        + resp("%1\r\n$1\r\nf\r\n,2.5\r\n"),
        "inline": req("PING\r\n") + resp("+PONG\r\n"),
    }


# ------------------------------------------------------------------------------- SQL

def sql():
    stmts = {
        "select": "SELECT a, b FROM public.orders o WHERE o.id = $1",
        "multi": "BEGIN; UPDATE pgbench_accounts SET abalance = abalance + 5 WHERE aid = 3;"
                 " END;",
        "with": "WITH recent AS (SELECT * FROM t WHERE ts > now()) INSERT INTO s.u "
                "SELECT * FROM recent",
        "quotes": "INSERT INTO \"My\"\"Table\" VALUES ('it''s', E'a\\'b', $q$x;y$q$, U&'d')",
        "comments": "/* a /* nested */ comment */ -- line\nDELETE FROM ONLY t; COPY t FROM STDIN",
        "truncated": "SELECT * FROM generate_series(1, 3); TRUNCATE TABLE a.b; MERGE INTO m",
    }
    return {name: bytes([i * 37 % 256]) + text.encode()
            for i, (name, text) in enumerate(stmts.items())}


# ------------------------------------------------------------------------------- routes

def route():
    def targets(*lines):
        return "".join("\n" + l for l in lines)
    return {
        "patterns": b"\x03\x03/api/v1/orders/{id}\n/static/*\n/users/{id:[0-9]{4}}/x"
        + targets("\x01/api/v1/orders/5?x=1", "\x02/static/a/b.css", "\x00/unknown",
                  "\x13/users/1234/x", "\x21http://h:80/api/v1/orders/7#f").encode(),
        "heuristics": b"\x07\x00" + targets(
            "\x00/api/v1/orders/12345", "\x01/u/123e4567-e89b-12d3-a456-426614174000",
            "\x02/blob/deadbeefcafe1234", "\x03/t/eyJhbGciOiJIUzI1NiJ9abcdefgh12",
            "\x00/a//b/", "\x01/%7Euser/\xc3\xa9t\xc3\xa9", "\x02*", "\x03/" + "/x" * 12,
            "\x00/" + "w" * 70).encode("latin-1"),
        "overflow": b"\x00\x00" + targets("\x00/a", "\x00/b", "\x00/a", "\x01/c").encode(),
    }


# ------------------------------------------------------------------------------- config

def config():
    conf = ("# sonde.conf\nselect = comm=api-server\nselect = port=5432\nselect = pid=1\n"
            "select = exe=/usr/sbin/*\nselect = cgroup=/system.slice/*\n"
            "listen = 127.0.0.1:9464\ncapture = auto\ncapture-bytes = 4096\n"
            "route = /api/v1/orders/{id}\nroute-cap = 200\nmax-series = 10000\n"
            "counter = orders_created_total POST /api/v1/orders 201\n"
            "counter = payment_failures_total * /pay 5xx\nverbose = 1\n")
    return {
        "full": conf.encode(),
        "routes_file": b"routes-file = routes.txt\nlisten = [::1]:0\n\0"
        b"# routes\n/static/*\n/users/{id:[0-9]+}\n",
        "errors": b"nosuchkey = 1\nselect comm=x\ncapture-bytes = 1\nroute = nope\n"
        b"counter = a b c\nconfig = other.conf\n",
    }


# ------------------------------------------------------------------------------- top

def promparse():
    text = (
        "# HELP http_server_request_duration_seconds Duration.\n"
        "# TYPE http_server_request_duration_seconds histogram\n"
        + "".join(
            f'http_server_request_duration_seconds_bucket{{service_name="api",'
            f'http_route="/a/{{id}}",http_request_method="GET",'
            f'http_response_status_code="{code}",le="{le}"}} {n}\n'
            for code in ("200", "500") for le, n in (("0.005", 1), ("0.1", 3), ("+Inf", 4)))
        + 'http_server_request_duration_seconds_sum{service_name="api",http_route="/a/{id}",'
          'http_request_method="GET",http_response_status_code="200"} 0.25\n'
        + 'http_server_request_duration_seconds_count{service_name="api",http_route="/a/{id}",'
          'http_request_method="GET",http_response_status_code="200"} 4\n'
        "# TYPE db_client_operation_duration_seconds histogram\n"
        'db_client_operation_duration_seconds_bucket{db_system_name="redis",'
        'db_operation_name="GET",error_type="",le="+Inf"} 7 1700000000000\n'
        "# TYPE q summary\n"
        'q{quantile="0.5"} NaN\nq_sum -Inf\nq_count +Inf\n'
        'sonde_build_info{version="0.1.0",esc="a\\"b\\\\c\\nd"} 1\n')
    body = text.encode()
    chunks = b"".join(b"%x\r\n%s\r\n" % (len(body[i:i + 300]), body[i:i + 300])
                      for i in range(0, len(body), 300))
    return {
        "exposition": body,
        "response_length": b"HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\n"
        b"Content-Length: %d\r\n\r\n" % len(body) + body,
        "response_chunked": b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n" + chunks + b"0\r\n\r\n",
        "response_close": b"HTTP/1.0 200 OK\r\n\r\n" + body[:200],
    }


TARGETS = {"fuzz_http1": http1, "fuzz_postgres": postgres, "fuzz_redis": redis,
           "fuzz_sql": sql, "fuzz_route": route, "fuzz_config": config,
           "fuzz_promparse": promparse}


def main():
    for target, make in TARGETS.items():
        d = os.path.join(HERE, "corpus", target)
        shutil.rmtree(d, ignore_errors=True)
        os.makedirs(d)
        for name, data in make().items():
            with open(os.path.join(d, name), "wb") as f:
                f.write(data if isinstance(data, bytes) else data.encode())


if __name__ == "__main__":
    main()
