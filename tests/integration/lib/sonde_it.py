# SPDX-License-Identifier: GPL-2.0-only
"""Harness of sonde's integration tests: real servers and clients on loopback.

Everything started here runs in a private temporary directory, is stopped by its pid on
teardown (and, should the test process die, by PR_SET_PDEATHSIG), and every load run is
bounded in requests and in time. Python standard library only. This module is the one to
import: it re-exports it_core (processes, waiting, HTTP) and prom_text (the parser).

Environment: SONDE_BIN (the sonde binary), SONDE_GO_BIN (directory of the Go programs
built by go/build.sh; built on demand into a cache directory when unset),
SONDE_IT_KEEP=1 keeps the temporary directories for inspection.
"""

import glob
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import unittest
import urllib.request

from it_core import (GO_BUILD, IT_DIR, WRK_SCRIPT, Proc, ProcessExited,  # noqa: F401
                     WaitTimeout, bpf_objects_of, bpf_programs_of, children_of, free_port, go_bin, go_bin_dir,
                     http_get, http_request, parent_pid, process_comm, require_root,
                     sonde_bin, sonde_map, start_process, wait_for, wait_tcp,
                     retry_if_port_in_use)
from prom_text import (Metrics, hist_bucket, hist_buckets, hist_count, hist_sum,  # noqa: F401
                       parse_prometheus_text, samples, value)

# --------------------------------------------------------------------------- Go service

def make_tls_cert(directory):
    """Writes a self-signed certificate for localhost, 127.0.0.1 and ::1 into directory
    (openssl CLI); returns (cert path, key path)."""
    cert, key = os.path.join(directory, "cert.pem"), os.path.join(directory, "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2",
                    "-subj", "/CN=localhost", "-keyout", key, "-out", cert, "-addext",
                    "subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1"],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=60)
    return cert, key


class TradeEngine(Proc):
    """The Go service (go/trade-engine). url is its base URL, e.g. http://127.0.0.1:PORT;
    addr is host:port. addr ":0" listens dual-stack on [::]; tls=True serves HTTPS
    (HTTP/1.1) with a fresh self-signed certificate (self.cert). program: the Go program,
    e.g. "trade-engine-instrumented" (the same service with client_golang middleware), or
    a build of the same (go/build.sh: trade-engine-stripped, trade-engine-pie).
    upstream_ca: the certificate an https upstream must present. wrap: a command line that
    runs the service (e.g. unshare --pid --fork: then pid is the wrapper's)."""

    def __init__(self, addr="127.0.0.1:0", pg=None, redis=None, upstream=None, tls=False,
                 extra_args=(), env=None, ready_timeout=20.0, reset_referee=True,
                 program="trade-engine", upstream_ca=None, wrap=()):
        argv = [*wrap, go_bin(program), "-addr", addr]
        workdir = tempfile.mkdtemp(prefix="sonde-it-trade-engine-")
        self.cert = None
        if tls:
            cert, key = make_tls_cert(workdir)
            argv += ["-tls-cert", cert, "-tls-key", key]
            self.cert = cert
        if upstream_ca:  # the certificate an https upstream must present
            env = dict(os.environ if env is None else env, TRADE_ENGINE_UPSTREAM_CA=upstream_ca)
        for flag, val in (("-pg", pg), ("-redis", redis), ("-upstream", upstream)):
            if val:
                argv += [flag, val]
        super().__init__(argv + list(extra_args), name=program, env=env, workdir=workdir)
        try:
            listen = wait_for(self._listening, ready_timeout,
                              message=f"{program} to print its address")
            host, _, port = listen.rpartition(":")
            self.port = int(port)
            self.listen_host = host.strip("[]")
            self.host = "::1" if self.listen_host == "::1" else "127.0.0.1"
            self.scheme = "https" if tls else "http"
            bracket = f"[{self.host}]" if ":" in self.host else self.host
            self.url = f"{self.scheme}://{bracket}:{self.port}"
            self.addr = f"{bracket}:{self.port}"
            wait_for(lambda: http_get(self.url + "/healthz")[0] == 200, ready_timeout,
                     message=f"{program} /healthz")
            if reset_referee:
                self.referee_reset()
        except Exception:
            self.stop()
            raise

    def _listening(self):
        self.check_running()
        for line in self.stdout().splitlines():
            if line.startswith("listening "):
                return line.split()[1]
        return None

    def referee(self):
        """{(method, route, status): count} of what the service served."""
        status, _, body = http_get(self.url + "/referee")
        if status != 200:
            raise RuntimeError(f"GET /referee answered {status}")
        return {(c["method"], c["route"], c["status"]): c["count"]
                for c in json.loads(body)["counts"]}

    def referee_handler_seconds(self):
        """{(method, route, status): seconds} the handlers took in all (the service's own
        monotonic clock, around each handler call)."""
        status, _, body = http_get(self.url + "/referee")
        if status != 200:
            raise RuntimeError(f"GET /referee answered {status}")
        return {(c["method"], c["route"], c["status"]): c["handler_ns"] / 1e9
                for c in json.loads(body)["counts"]}

    def referee_reset(self):
        status, _, _ = http_request("POST", self.url + "/referee/reset")
        if status != 200:
            raise RuntimeError(f"POST /referee/reset answered {status}")


def start_trade_engine(**kwargs):
    """Starts go/trade-engine (see TradeEngine for the arguments) and waits until ready."""
    return TradeEngine(**kwargs)


# --------------------------------------------------------------------------- nginx

_NGINX_CONF = """\
daemon off;
master_process on;
worker_processes {workers};
pid {dir}/nginx.pid;
lock_file {dir}/nginx.lock;
error_log {dir}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    log_format referee '$request_method $uri $status $server_protocol';
    access_log {access_log};
    keepalive_requests {keepalive_requests};
    keepalive_timeout 60s;
    default_type text/plain;
    log_format static '$request_method $uri $status $body_bytes_sent';
    client_body_temp_path {dir}/body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    server {{
        listen {host}:{port}{listen_opts};
{tls_conf}        location / {{ return 200 "hello from nginx\\n"; }}
        location = /status/200 {{ return 200 "ok\\n"; }}
        location = /status/201 {{ return 201 "created\\n"; }}
        location = /status/204 {{ return 204; }}
        location = /status/404 {{ return 404 "not found\\n"; }}
        location = /status/500 {{ return 500 "server error\\n"; }}
        location = /status/503 {{ return 503 "unavailable\\n"; }}
{extra}
    }}
}}
"""


class Nginx(Proc):
    """nginx master (pid) with `workers` forked worker processes on host:port.

    proxy_to: base URL proxied under location /proxy/ (HTTP/1.1 keep-alive upstream).
    static: {name: size} files served under /static/ with sendfile on (bodies leave through
    sendfile, not write), each request logged in static_log ($status $body_bytes_sent).
    tls: HTTPS with a fresh self-signed certificate (HTTP/2 offered too, by ALPN).
    access_log: log every request as "METHOD URI STATUS PROTOCOL" (the referee)."""

    def __init__(self, port=None, host="127.0.0.1", workers=2, keepalive_requests=1000,
                 proxy_to=None, static=None, ready_timeout=10.0, tls=False, access_log=False):
        self.host = host
        self.port = port or free_port(host)
        self.workers = workers
        workdir = tempfile.mkdtemp(prefix="sonde-it-nginx-")
        os.chmod(workdir, 0o755)  # workers run as an unprivileged user
        extra = ""
        if proxy_to:
            extra = ("        location /proxy/ {\n"
                     f"            proxy_pass {proxy_to.rstrip('/')}/;\n"
                     "            proxy_http_version 1.1;\n"
                     "            proxy_set_header Connection \"\";\n"
                     "        }")
        self.static_log = os.path.join(workdir, "static.log")
        if static:
            os.mkdir(os.path.join(workdir, "static"), 0o755)
            for name, size in static.items():
                path = os.path.join(workdir, "static", name)
                with open(path, "wb") as f:
                    f.write(bytes(range(256)) * (size // 256) + bytes(size % 256))
                os.chmod(path, 0o644)
            extra += ("\n        location /static/ {\n"
                      f"            root {workdir};\n"
                      "            sendfile on;\n"
                      f"            access_log {self.static_log} static;\n"
                      "        }")
        tls_conf, listen_opts = "", ""
        if tls:
            cert, key = make_tls_cert(workdir)
            listen_opts = " ssl http2"
            tls_conf = (f"        ssl_certificate {cert};\n"
                        f"        ssl_certificate_key {key};\n")
        self.access_log = os.path.join(workdir, "access.log")
        conf = os.path.join(workdir, "nginx.conf")
        with open(conf, "w") as f:
            f.write(_NGINX_CONF.format(workers=workers, dir=workdir, host=host,
                                       port=self.port, keepalive_requests=keepalive_requests,
                                       extra=extra, listen_opts=listen_opts,
                                       tls_conf=tls_conf,
                                       access_log=f"{self.access_log} referee"
                                       if access_log else "off"))
        super().__init__(["nginx", "-p", workdir, "-e", os.path.join(workdir, "error.log"),
                          "-c", conf], name="nginx", workdir=workdir)
        self.url = f"{'https' if tls else 'http'}://{host}:{self.port}"
        try:
            wait_tcp(host, self.port, ready_timeout)
            wait_for(lambda: self.check_running() or len(self.worker_pids()) == workers,
                     ready_timeout, message=f"{workers} nginx workers")
        except Exception:
            err = self.log_tail()
            self.stop()
            raise RuntimeError(f"nginx did not start:\n{err}")

    def worker_pids(self):
        return children_of(self.pid)

    def referee(self, protocol="HTTP/1.1"):
        """{(method, uri, status): count} of the access log's requests of protocol."""
        out = {}
        with open(self.access_log) as f:
            for line in f:
                method, uri, status, proto = line.split()
                if proto == protocol:
                    key = (method, uri, int(status))
                    out[key] = out.get(key, 0) + 1
        return out

    def log_tail(self, n=40):
        text = super().log_tail(n)
        try:
            with open(os.path.join(self.dir, "error.log")) as f:
                text += "\n" + "\n".join(f.read().splitlines()[-n:])
        except OSError:
            pass
        return text

    def stop(self, sig=signal.SIGTERM, timeout=10.0):
        return super().stop(sig, timeout)


def start_nginx(port=None, **kwargs):
    """Starts a Nginx (see its arguments) on port, or on a free port."""
    return retry_if_port_in_use(lambda p: Nginx(port=p, **kwargs), port)


# --------------------------------------------------------------------------- http.server

class PyHttpServer(Proc):
    """python3 -m http.server (HTTP/1.0: one request per connection) serving a temp dir
    that holds index.html and data.txt."""

    def __init__(self, port=None, host="127.0.0.1", ready_timeout=10.0):
        self.host = host
        self.port = port or free_port(host)
        workdir = tempfile.mkdtemp(prefix="sonde-it-http.server-")
        self.docroot = os.path.join(workdir, "www")
        os.mkdir(self.docroot)
        with open(os.path.join(self.docroot, "index.html"), "w") as f:
            f.write("<html><body>sonde</body></html>\n")
        with open(os.path.join(self.docroot, "data.txt"), "w") as f:
            f.write("x" * 1000 + "\n")
        super().__init__([sys.executable, "-m", "http.server", str(self.port), "--bind", host,
                          "--directory", self.docroot], name="http.server", workdir=workdir)
        bracket = f"[{host}]" if ":" in host else host
        self.url = f"http://{bracket}:{self.port}"
        try:
            wait_for(lambda: self.check_running() or http_get(self.url + "/")[0] == 200,
                     ready_timeout, message="python http.server")
        except Exception:
            self.stop()
            raise


def start_http_server(**kwargs):
    return PyHttpServer(**kwargs)


# --------------------------------------------------------------------------- PostgreSQL

def pg_bindir():
    """Directory of initdb/postgres/psql/pgbench (SONDE_PG_BINDIR, else the newest
    PostgreSQL found, 15 preferred)."""
    env = os.environ.get("SONDE_PG_BINDIR")
    if env:
        return env
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    preferred = [p for p in found if "/15/" in p]
    if not (preferred or found):
        raise RuntimeError("PostgreSQL server binaries not found: install postgresql-15 "
                           "or set SONDE_PG_BINDIR")
    return os.path.dirname((preferred or found)[-1])


class Postgres(Proc):
    """A private PostgreSQL cluster (initdb'ed as user postgres, trust auth) on host:port,
    with its unix socket in sockdir, pg_stat_statements loaded and created, every statement
    logged. dsn is a libpq/pgx URL for user postgres, database postgres. tls: ssl = on with
    a fresh self-signed certificate, and TCP connections without TLS rejected (pg_hba), so
    a client that connects at all spoke TLS; dsn then says sslmode=require."""

    def __init__(self, port=None, host="127.0.0.1", settings=None, ready_timeout=60.0,
                 tls=False):
        import pwd
        pw = pwd.getpwnam("postgres")
        self.bindir = pg_bindir()
        self.host = host
        self.port = port or free_port(host)
        workdir = tempfile.mkdtemp(prefix="sonde-it-postgres-")
        self.datadir = os.path.join(workdir, "data")
        self.sockdir = os.path.join(workdir, "sock")
        os.mkdir(self.sockdir)
        for d in (workdir, self.sockdir):
            os.chown(d, pw.pw_uid, pw.pw_gid)
        init = subprocess.run(
            [os.path.join(self.bindir, "initdb"), "-D", self.datadir, "-A", "trust",
             "-U", "postgres", "-E", "UTF8", "--locale=C", "--no-sync"],
            user="postgres", cwd=workdir, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            timeout=180)
        if init.returncode != 0:
            shutil.rmtree(workdir, ignore_errors=True)
            raise RuntimeError(f"initdb failed:\n{init.stdout.decode(errors='replace')}")
        conf = self._tls_conf(workdir, pw) if tls else {}
        conf.update({
            "listen_addresses": host, "port": str(self.port),
            "unix_socket_directories": self.sockdir,
            "shared_preload_libraries": "pg_stat_statements",
            "pg_stat_statements.track": "all", "log_statement": "all",
            "logging_collector": "off", "log_destination": "stderr",
            "fsync": "off", "synchronous_commit": "off", "full_page_writes": "off",
            "max_connections": "60", "shared_buffers": "32MB",
        })
        conf.update(settings or {})
        argv = [os.path.join(self.bindir, "postgres"), "-D", self.datadir]
        for k, v in conf.items():
            argv += ["-c", f"{k}={v}"]
        super().__init__(argv, name="postgres", user="postgres", workdir=workdir)
        self.dsn = (f"postgres://postgres@{host}:{self.port}/postgres?sslmode="
                    + ("require" if tls else "disable"))
        try:
            wait_for(lambda: self.check_running() or self.psql("SELECT 1") == "1",
                     ready_timeout, interval=0.2, message="PostgreSQL to accept queries")
            self.psql("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        except Exception:
            self.stop()
            raise

    def _tls_conf(self, workdir, pw):
        """ssl = on with a certificate the server user owns; plain TCP rejected."""
        cert, key = make_tls_cert(workdir)
        for f in (cert, key):
            os.chown(f, pw.pw_uid, pw.pw_gid)
        os.chmod(key, 0o600)
        hba = os.path.join(self.datadir, "pg_hba.conf")
        with open(hba) as f:
            rules = f.read()
        with open(hba, "w") as f:
            f.write("hostnossl all all all reject\n" + rules)
        return {"ssl": "on", "ssl_cert_file": cert, "ssl_key_file": key}

    def psql(self, sql, db="postgres", timeout=60.0):
        """Runs sql with psql over TCP; returns the unaligned, tuples-only output."""
        r = subprocess.run(
            [os.path.join(self.bindir, "psql"), "-X", "-q", "-A", "-t", "-v",
             "ON_ERROR_STOP=1", "-h", self.host, "-p", str(self.port), "-U", "postgres",
             "-d", db, "-c", sql],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout)
        if r.returncode != 0:
            raise RuntimeError(f"psql {sql!r}: {r.stderr.decode(errors='replace').strip()}")
        return r.stdout.decode().strip()

    def pgbench(self, *args, db="postgres", timeout=120.0):
        """Runs pgbench against this cluster; returns its output (raises on failure)."""
        r = subprocess.run(
            [os.path.join(self.bindir, "pgbench"), "-h", self.host, "-p", str(self.port),
             "-U", "postgres", *[str(a) for a in args], db],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=timeout)
        out = r.stdout.decode(errors="replace")
        if r.returncode != 0:
            raise RuntimeError(f"pgbench {' '.join(map(str, args))} failed:\n{out}")
        return out

    def stop(self, sig=signal.SIGINT, timeout=30.0):
        # SIGINT is the postmaster's "fast shutdown": backends are told to exit.
        return super().stop(sig, timeout)


def start_postgres(port=None, **kwargs):
    """Starts a Postgres (see its arguments) on port, or on a free port."""
    return retry_if_port_in_use(lambda p: Postgres(port=p, **kwargs), port)


# --------------------------------------------------------------------------- Redis

class Redis(Proc):
    """redis-server on host:port, no persistence."""

    def __init__(self, port=None, host="127.0.0.1", extra_args=(), ready_timeout=10.0):
        self.host = host
        self.port = port or free_port(host)
        workdir = tempfile.mkdtemp(prefix="sonde-it-redis-")
        super().__init__(["redis-server", "--port", str(self.port), "--bind", host,
                          "--save", "", "--appendonly", "no", "--dir", workdir,
                          "--daemonize", "no", "--logfile", "", *extra_args],
                         name="redis-server", workdir=workdir)
        self.addr = f"{host}:{self.port}"
        try:
            wait_for(lambda: self.check_running() or self.cli("PING") == "PONG",
                     ready_timeout, message="redis-server PING")
        except Exception:
            self.stop()
            raise

    def cli(self, *args, timeout=30.0):
        r = subprocess.run(["redis-cli", "-h", self.host, "-p", str(self.port),
                            *[str(a) for a in args]],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout)
        if r.returncode != 0:
            raise RuntimeError(f"redis-cli {args}: {r.stderr.decode(errors='replace')}")
        return r.stdout.decode().strip()

    def commandstats(self):
        """{command: {"calls": n, "usec": n, ...}} from INFO commandstats."""
        out = {}
        for line in self.cli("INFO", "commandstats").splitlines():
            if not line.startswith("cmdstat_"):
                continue
            name, _, fields = line.strip().partition(":")
            stats = {}
            for kv in fields.split(","):
                k, _, v = kv.partition("=")
                stats[k] = float(v) if "." in v else int(v)
            out[name[len("cmdstat_"):]] = stats
        return out

    @staticmethod
    def benchmark_commands(requests, pipeline=1):
        """Commands of each type that `redis-benchmark -n requests -P pipeline` sends: it
        issues whole pipelines until the requests are covered, so it rounds up."""
        return -(-requests // pipeline) * pipeline

    def benchmark(self, *args, timeout=120.0):
        r = subprocess.run(["redis-benchmark", "-h", self.host, "-p", str(self.port),
                            *[str(a) for a in args]],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=timeout)
        out = r.stdout.decode(errors="replace")
        if r.returncode != 0:
            raise RuntimeError(f"redis-benchmark failed:\n{out}")
        return out


def start_redis(port=None, **kwargs):
    """Starts a Redis (see its arguments) on port, or on a free port."""
    return retry_if_port_in_use(lambda p: Redis(port=p, **kwargs), port)


# --------------------------------------------------------------------------- sonde

def _listen_port(args):
    for i, a in enumerate(args):
        val = None
        if a.startswith("--listen="):
            val = a.split("=", 1)[1]
        elif a == "--listen" and i + 1 < len(args):
            val = args[i + 1]
        if val is not None:
            return int(val.rpartition(":")[2])
    return None


class Sonde(Proc):
    """sonde itself. Unless args hold --listen, adds --listen=127.0.0.1:PORT (a free port).
    Ready when /healthz answers 200; stop() sends SIGTERM and raises AssertionError
    unless the exit code is expect_rc. wrap: argv run in front of sonde's (e.g. setpriv)."""

    def __init__(self, args=(), bin=None, port=None, env=None, ready_timeout=30.0, wrap=()):
        args = [str(a) for a in args]
        self.port = _listen_port(args)
        if self.port is None:
            self.port = port or free_port()
            args.append(f"--listen=127.0.0.1:{self.port}")
        super().__init__([*wrap, bin or sonde_bin(), *args], name="sonde", env=env)
        self.url = f"http://127.0.0.1:{self.port}"
        self.metrics_url = self.url + "/metrics"
        try:
            wait_for(lambda: self.check_running() or http_get(self.url + "/healthz")[0] == 200,
                     ready_timeout, interval=0.1, message="sonde /healthz")
        except Exception:
            self.stop(sig=signal.SIGKILL, expect_rc=None, expect_no_misses=False)
            raise

    def scrape(self):
        return scrape(self.metrics_url)

    def health(self):
        """/health, parsed (its status code is 200 or 503: both carry the JSON)."""
        _, _, body = http_request("GET", self.url + "/health")
        return json.loads(body)

    def health_tls(self, **want):
        """/health's tls_targets whose fields equal want's (e.g. state="probed")."""
        return [t for t in self.health()["tls_targets"]
                if all(t.get(k) == v for k, v in want.items())]

    def recursion_misses(self):
        """{prog id: n} of this sonde's BPF programs whose runs the kernel skipped (the
        program was already running on that CPU): each is I/O sonde never saw. {} when
        none; raises OSError once sonde is gone."""
        return {i: st["recursion_misses"] for i, st in bpf_programs_of(self.pid).items()
                if st.get("recursion_misses")}

    def tls_targets(self):
        """Processes whose TLS library sonde probes (0 when it does not answer)."""
        try:
            return int(sum(v for _, v in samples(self.scrape(), "sonde_tls_targets",
                                                  state="probed")))
        except Exception:  # noqa: BLE001 - a sonde that does not answer stops all the same
            return 0

    def stop(self, sig=signal.SIGTERM, timeout=15.0, expect_rc=0, expect_no_misses=True):
        """Stops sonde; raises AssertionError unless it exits with expect_rc (None: any)
        and, with expect_no_misses, unless its programs' recursion_misses, read just before
        the signal, are all 0."""
        misses = {}
        if self.alive():
            try:
                misses = self.recursion_misses()
            except OSError:  # exited meanwhile: its programs are gone with it
                pass
            timeout += UPROBE_DETACH_S * self.tls_targets()
        rc = super().stop(sig, timeout)
        if expect_rc is not None and rc != expect_rc:
            raise AssertionError(f"sonde exited with {rc}, expected {expect_rc}:\n"
                                 f"{self.final_log}")
        if expect_no_misses and misses:
            raise AssertionError(f"sonde's BPF programs skipped runs (recursion_misses by "
                                 f"program id: {misses}): I/O never seen\n{self.final_log}")
        return rc


# The kernel detaches uprobes one link at a time under a global mutex, each waiting for
# grace periods: ~80 ms a link measured here, 13 links per OpenSSL process (12 probed
# processes: 13 s to stop). A stopping sonde gets this much more time per TLS target.
UPROBE_DETACH_S = 2.0


def start_sonde(args=(), **kwargs):
    return Sonde(args, **kwargs)


# --------------------------------------------------------------------------- scraping

def scrape_raw(url, timeout=10.0):
    """GETs url; returns (Content-Type, body text). The body must be valid UTF-8."""
    with urllib.request.urlopen(url, timeout=timeout) as resp:
        if resp.status != 200:
            raise RuntimeError(f"scrape {url}: status {resp.status}")
        return resp.headers.get("Content-Type"), resp.read().decode("utf-8")


def scrape(url, timeout=10.0):
    """Fetches a /metrics URL and parses it: {(name, frozenset(labels.items())): value},
    a prom_text.Metrics whose .types, .help and .content_type are also filled."""
    ctype, text = scrape_raw(url, timeout)
    metrics = parse_prometheus_text(text)
    metrics.content_type = ctype
    return metrics


def promtool_check_metrics(text, timeout=30.0):
    """(exit code, output) of `promtool check metrics` on text (lint findings included)."""
    r = subprocess.run(["promtool", "check", "metrics"], input=text.encode(),
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=timeout)
    return r.returncode, r.stdout.decode(errors="replace")


# --------------------------------------------------------------------------- load

def wrk_run(url, connections, requests_per_conn, mix="api", paths=(), timeout=60.0,
            extra_args=()):
    """Runs wrk with wrk/count.lua: `connections` keep-alive connections (one wrk thread
    each), each sending exactly requests_per_conn requests. mix "api" cycles over the
    trade-engine routes, "get" over GET of paths. Returns the script's JSON: sent,
    received, complete, errors, per_thread, sent_by [{method, route, count}] and counts
    [{method, route, status, count}]. Raises if wrk fails or exceeds timeout seconds."""
    if connections < 1 or requests_per_conn < 1:
        raise ValueError("connections and requests_per_conn must be >= 1")
    # -d bounds the run in time; a finished run is ended early with SIGINT.
    argv = ["wrk", "-t", str(connections), "-c", str(connections),
            "-d", f"{int(timeout) + 1}s", "--timeout", "10s", "-s", WRK_SCRIPT,
            *extra_args, url, "--", str(requests_per_conn), mix, *paths]
    p = Proc(argv, name="wrk")
    try:
        wait_for(lambda: not p.alive() or
                 p.stdout().count("SONDE_WRK_THREAD_DONE") >= connections,
                 timeout + 5, interval=0.02, message="wrk threads to reach their quota")
        # wrk's main thread sleeps for -d; SIGINT ends the sleep. Repeat it: the handler
        # is installed only after the threads start.
        for _ in range(100):
            if not p.alive():
                break
            os.kill(p.pid, signal.SIGINT)
            p.wait(0.1)
        p.stop(signal.SIGKILL)
        for line in p.final_stdout.splitlines():
            if line.startswith("SONDE_WRK_RESULT "):
                return json.loads(line.split(" ", 1)[1])
        raise RuntimeError(f"wrk gave no result (exit {p.returncode}):\n{p.final_log}")
    finally:
        p.stop(signal.SIGKILL)


def pipeliner_run(addr, conns=1, depth=10, rounds=1, requests=None, split=0,
                  split_delay_ms=None, pad_header=0, timeout=30.0, check=True):
    """Runs go/pipeliner against addr (host:port): on each of conns connections, rounds
    times, depth requests in one write (or in pieces of split bytes). requests: list of
    "METHOD /path" cycled over ({id} becomes a number). Returns its JSON: sent, received,
    errors, sent_by [{method, path, count}], counts [{method, path, status, count}]."""
    argv = [go_bin("pipeliner"), "-addr", addr, "-conns", str(conns), "-depth", str(depth),
            "-rounds", str(rounds), "-split", str(split), "-pad-header", str(pad_header),
            "-timeout", f"{timeout}s"]
    if requests:
        argv += ["-requests", ",".join(requests)]
    if split_delay_ms is not None:
        argv += ["-split-delay", f"{split_delay_ms}ms"]
    r = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=timeout + 10)
    out = r.stdout.decode(errors="replace")
    try:
        result = json.loads(out)
    except ValueError:
        raise RuntimeError(f"pipeliner printed no JSON (exit {r.returncode}):\n{out}\n"
                           f"{r.stderr.decode(errors='replace')}") from None
    if check and r.returncode != 0:
        raise AssertionError(f"pipeliner failed (exit {r.returncode}): {result}")
    return result


# --------------------------------------------------------------------------- unittest

class IntegrationCase(unittest.TestCase):
    """Base class: skips unless root; started(x) / class_started(x) stop x on teardown."""

    @classmethod
    def setUpClass(cls):
        require_root()
        super().setUpClass()

    def started(self, proc):
        self.addCleanup(proc.stop)
        return proc

    @classmethod
    def class_started(cls, proc):
        cls.addClassCleanup(proc.stop)
        return proc


SKIP_EXIT_CODE = 77  # ctest's SKIP_RETURN_CODE convention (automake's too)


def main():
    """Entry point of a test file run as a script. Exits 77 when any test was skipped (no
    root, a tool not installed) and nothing failed, so that ctest (SKIP_RETURN_CODE 77)
    reports the file as skipped instead of passed."""
    prog = unittest.main(module="__main__", verbosity=2, exit=False)
    result = prog.result
    if not result.wasSuccessful():
        sys.exit(1)
    if result.skipped:
        for test, reason in result.skipped:
            print(f"SKIPPED {test}: {reason}", file=sys.stderr)
        sys.exit(SKIP_EXIT_CODE)
    sys.exit(0)
