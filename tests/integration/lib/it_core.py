# SPDX-License-Identifier: GPL-2.0-only
"""Core of the integration harness: environment, waiting, plain HTTP and child processes.
Use it through sonde_it, which re-exports every public name."""

import atexit
import ctypes
import glob
import http.client
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time
import unittest
import urllib.parse

IT_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WRK_SCRIPT = os.path.join(IT_DIR, "wrk", "count.lua")
GO_BUILD = os.path.join(IT_DIR, "go", "build.sh")


class WaitTimeout(AssertionError):
    """A wait_for() deadline passed; an AssertionError so unittest reports a failure."""


class ProcessExited(RuntimeError):
    """A process the harness waits on is gone; wait_for() gives up at once on it."""

# --------------------------------------------------------------------------- environment

def require_root():
    """Raises unittest.SkipTest unless running as root (the only reason to skip)."""
    if os.geteuid() != 0:
        raise unittest.SkipTest("integration tests need root (BPF programs, private "
                                "PostgreSQL cluster): run them as root")


def sonde_bin():
    """Path of the sonde binary from SONDE_BIN."""
    path = os.environ.get("SONDE_BIN", "")
    if not path or not os.access(path, os.X_OK):
        raise RuntimeError("set SONDE_BIN to the built sonde binary (ctest does); "
                           f"got {path!r}")
    return path


_go_dir = None


def go_bin_dir():
    """Directory of trade-engine and pipeliner: SONDE_GO_BIN, or built once on demand."""
    global _go_dir
    if _go_dir:
        return _go_dir
    path = os.environ.get("SONDE_GO_BIN", "")
    if not path:
        path = os.path.join(tempfile.gettempdir(), f"sonde-it-go-{os.getuid()}")
        subprocess.run([GO_BUILD, path], check=True, stdout=subprocess.DEVNULL,
                       timeout=600)
    for prog in ("trade-engine", "pipeliner"):
        if not os.access(os.path.join(path, prog), os.X_OK):
            raise RuntimeError(f"{prog} missing in {path}: run go/build.sh {path}")
    _go_dir = path
    return path


def go_bin(name):
    return os.path.join(go_bin_dir(), name)


def free_port(host="127.0.0.1"):
    """A TCP port the kernel just found free on host (bind to port 0, then close)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def retry_if_port_in_use(start, port, attempts=3):
    """start(port) with port None (a free port is picked) retried when another process
    took the port between the pick and the bind; a given port is tried once."""
    for attempt in range(1 if port else attempts):
        try:
            return start(port)
        except Exception as e:  # noqa: BLE001 - only "in use" failures are retried
            if port or attempt == attempts - 1 or "in use" not in str(e):
                raise
    raise AssertionError("unreachable")


def wait_for(predicate, timeout=10.0, interval=0.05, message=None):
    """Polls predicate() until it returns a truthy value, which is returned. Exceptions
    count as "not yet"; on timeout raises WaitTimeout with message and the last error."""
    deadline = time.monotonic() + timeout
    last_err = None
    while True:
        try:
            result = predicate()
            if result:
                return result
        except ProcessExited:
            raise
        except Exception as e:  # noqa: BLE001 - the predicate may fail until ready
            last_err = e
        if time.monotonic() >= deadline:
            what = message or getattr(predicate, "__name__", "condition")
            extra = f" (last error: {last_err!r})" if last_err else ""
            raise WaitTimeout(f"timed out after {timeout:.1f}s waiting for {what}{extra}")
        time.sleep(interval)


def wait_tcp(host, port, timeout=10.0):
    def accepts():
        with socket.create_connection((host, port), timeout=1):
            return True
    return wait_for(accepts, timeout, message=f"{host}:{port} to accept connections")


def http_request(method, url, body=None, headers=None, timeout=10.0):
    """One request on a fresh connection: returns (status, headers dict, body bytes)."""
    u = urllib.parse.urlsplit(url)
    if u.scheme == "https":
        # Test servers use self-signed certificates.
        conn = http.client.HTTPSConnection(u.hostname, u.port or 443, timeout=timeout,
                                           context=ssl._create_unverified_context())
    else:
        conn = http.client.HTTPConnection(u.hostname, u.port or 80, timeout=timeout)
    try:
        path = u.path or "/"
        if u.query:
            path += "?" + u.query
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
            headers = dict(headers or {}, **{"Content-Type": "application/json"})
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        data = resp.read()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, data
    finally:
        conn.close()


def http_get(url, timeout=10.0):
    return http_request("GET", url, timeout=timeout)


# --------------------------------------------------------------------------- processes

_live = set()
_PR_SET_PDEATHSIG = 1
try:
    _libc = ctypes.CDLL("libc.so.6", use_errno=True)
except OSError:
    _libc = None


def _die_with_parent():
    # Runs in the child between fork and exec: a crashed test leaves no server behind.
    if _libc is not None:
        _libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


class Proc:
    """A child process with a private temp dir holding its stdout.log and stderr.log.

    user: run as that user (name), e.g. "postgres". stop() signals the pid only: a
    server is expected to stop its own children (nginx workers, postgres backends)."""

    def __init__(self, argv, name=None, env=None, cwd=None, user=None, workdir=None):
        self.name = name or os.path.basename(argv[0])
        self.dir = workdir or tempfile.mkdtemp(prefix=f"sonde-it-{self.name}-")
        self.argv = [str(a) for a in argv]
        self.returncode = None
        self._out = open(os.path.join(self.dir, "stdout.log"), "wb")
        self._err = open(os.path.join(self.dir, "stderr.log"), "wb")
        full_env = dict(os.environ if env is None else env)
        try:
            self.popen = subprocess.Popen(
                self.argv, stdin=subprocess.DEVNULL, stdout=self._out, stderr=self._err,
                cwd=cwd or self.dir, env=full_env, user=user, start_new_session=True,
                preexec_fn=_die_with_parent)
        except Exception:
            self._close_logs()
            raise
        self.pid = self.popen.pid
        _live.add(self)

    def alive(self):
        return self.popen.poll() is None

    def _read_log(self, name):
        try:
            with open(os.path.join(self.dir, name), "rb") as f:
                return f.read().decode(errors="replace")
        except FileNotFoundError:  # stopped, directory removed
            return ""

    def stdout(self):
        return self._read_log("stdout.log")

    def stderr(self):
        return self._read_log("stderr.log")

    def log_tail(self, n=40):
        lines = (self.stdout() + self.stderr()).splitlines()
        return "\n".join(lines[-n:])

    def wait(self, timeout):
        try:
            self.returncode = self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            return None
        return self.returncode

    def stop(self, sig=signal.SIGTERM, timeout=10.0):
        """Sends sig to the pid, waits up to timeout, then SIGKILL. Returns the exit code
        (negative: killed by that signal)."""
        if self.alive():
            try:
                os.kill(self.pid, sig)
            except ProcessLookupError:
                pass
            if self.wait(timeout) is None:
                os.kill(self.pid, signal.SIGKILL)
                self.wait(timeout)
        self.returncode = self.popen.wait()
        self._close_logs()
        _live.discard(self)
        if not hasattr(self, "final_log"):  # what the process wrote, kept after cleanup
            self.final_stdout = self.stdout()
            self.final_log = self.log_tail()
        self._remove_dir()
        return self.returncode

    def _close_logs(self):
        for f in (self._out, self._err):
            if not f.closed:
                f.close()

    def _remove_dir(self):
        if os.environ.get("SONDE_IT_KEEP") != "1":
            shutil.rmtree(self.dir, ignore_errors=True)

    def check_running(self):
        """None while running; raises ProcessExited (with the log tail) once it is gone."""
        if not self.alive():
            raise ProcessExited(f"{self.name} (pid {self.pid}) exited with "
                                f"{self.popen.returncode}:\n{self.log_tail()}")

    def __repr__(self):
        return f"<{type(self).__name__} {self.name} pid={self.pid}>"


@atexit.register
def _stop_leftovers():
    for p in list(_live):
        try:
            p.stop(signal.SIGKILL, timeout=5)
        except Exception:  # noqa: BLE001 - best effort at exit
            pass


def start_process(argv, name=None, env=None, cwd=None, user=None):
    """A process of its own, in a private temp dir (see Proc)."""
    return Proc(argv, name=name, env=env, cwd=cwd, user=user)


def children_of(pid):
    """Pids whose parent is pid (from /proc/PID/stat)."""
    out = []
    for stat in glob.glob("/proc/[0-9]*/stat"):
        try:
            with open(stat) as f:
                data = f.read()
        except OSError:
            continue
        # comm may contain spaces and parentheses: fields resume after the last ')'.
        fields = data[data.rindex(")") + 2:].split()
        if int(fields[1]) == pid:
            out.append(int(stat.split("/")[2]))
    return sorted(out)


def fdinfos(pid):
    """The fields of /proc/PID/fdinfo/FD ({name: text}) of each fd process pid holds."""
    fdinfo = f"/proc/{pid}/fdinfo"
    for fd in os.listdir(fdinfo):
        try:
            with open(os.path.join(fdinfo, fd)) as f:
                yield dict(line.split(":", 1) for line in f if ":" in line)
        except OSError:  # the fd was closed meanwhile
            continue


def bpf_objects_of(pid):
    """{"prog"|"link"|"map": set of ids} of the BPF objects whose fds process pid holds
    (each fd's fdinfo names its id)."""
    out = {"prog": set(), "link": set(), "map": set()}
    for fields in fdinfos(pid):
        for kind in out:
            if f"{kind}_id" in fields:
                out[kind].add(int(fields[f"{kind}_id"]))
    return out


def sonde_map(sonde_pid, name, key=None):
    """The entries of the BPF map called name that sonde (sonde_pid) holds open, through
    bpftool: [{"key": ..., "value": ...}], keys and values as bpftool formats them; with
    key (bytes), only the entry under that key ([] when it has none)."""
    for i in sorted(bpf_objects_of(sonde_pid)["map"]):
        info = json.loads(subprocess.check_output(["bpftool", "-j", "map", "show", "id",
                                                   str(i)]))
        if info.get("name") != name:
            continue
        if key is None:
            return json.loads(subprocess.check_output(["bpftool", "-j", "map", "dump", "id",
                                                       str(i)]))
        out = subprocess.run(["bpftool", "-j", "map", "lookup", "id", str(i), "key", "hex"] +
                             [f"{b:02x}" for b in key], stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL, check=False)
        return [json.loads(out.stdout)] if out.returncode == 0 else []
    raise AssertionError(f"sonde {sonde_pid} holds no map {name}")


def bpf_programs_of(pid):
    """{prog id: {stat: n}} of the BPF programs whose fds process pid holds. A program fd's
    fdinfo carries its id and its counters: run_cnt and run_time_ns (counted only while
    bpf_stats are enabled) and recursion_misses (always counted: runs the kernel skipped
    because a program was already running on that CPU). A program held only through a
    link fd is listed with its id and no counters."""
    progs = {}
    for fields in fdinfos(pid):
        if "prog_id" not in fields:
            continue
        stats = progs.setdefault(int(fields["prog_id"]), {})
        for key in ("run_cnt", "run_time_ns", "recursion_misses"):
            if key in fields:
                stats[key] = int(fields[key])
    return progs


def process_comm(pid):
    with open(f"/proc/{pid}/comm") as f:
        return f.read().strip()


def parent_pid(pid):
    with open(f"/proc/{pid}/stat") as f:
        data = f.read()
    return int(data[data.rindex(")") + 2:].split()[1])
