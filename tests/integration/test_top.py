# SPDX-License-Identifier: GPL-2.0-only
"""`sonde top` against a running sonde that observes the Go trade-engine (with Redis).

Live view under tmux (a private tmux server per test): the loaded routes appear with
nonzero req/s and their exact error % (the fail route answers only 500, the others never
5xx), redis GET with nonzero ops/s, rows sorted by rate; `q` and Ctrl-C end it with exit
code 0, the alternate screen left, the cursor shown again and the tty settings exactly as
before. An unreachable sonde shows the failure in the view and `q` still quits.

--once: a known burst sent between its two scrapes (3 s apart, the burst 1 s after the
start) is found exactly: rate x interval rounds to each route's request count. Without a
terminal on stdout, top prints one snapshot and exits without --once."""

import http.client
import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import sonde_it  # noqa: E402
from http_cases import DURATION, TRADE_ENGINE_ROUTES, sonde_args  # noqa: E402

LOADED = ("/api/v1/orders/{id}", "/api/v1/orders", "/api/v1/orders/{id}/fail")
ERR_PCT = {"/api/v1/orders/{id}": "0.0", "/api/v1/orders": "0.0",
           "/api/v1/orders/{id}/fail": "100.0"}
SERVICE = "trade-engine"


def order_body(i):
    return json.dumps({"symbol": "ACME", "qty": i % 1000 + 1, "price": 12.5})


def send_requests(host, port, counts, stop=None, pause=0.0):
    """Sends counts {route: n} round-robin on one keep-alive connection (until stop is set
    when stop is given: then counts are per-round). Returns {route: requests answered}."""
    conn = http.client.HTTPConnection(host, port, timeout=10)
    done = {r: 0 for r in counts}
    i = 0
    try:
        while True:
            progressed = False
            for route, n in counts.items():
                if stop is None and done[route] >= n:
                    continue
                i += 1
                if route == "/api/v1/orders":
                    conn.request("POST", route, body=order_body(i),
                                 headers={"Content-Type": "application/json"})
                else:
                    conn.request("GET", route.replace("{id}", str(1000 + i)))
                conn.getresponse().read()
                done[route] += 1
                progressed = True
                if pause:
                    time.sleep(pause)
            if stop is not None and stop.is_set():
                return done
            if stop is None and not progressed:
                return done
    finally:
        conn.close()


class Load:
    """Background traffic over LOADED until stopped: about 150 requests/s."""

    def __init__(self, engine):
        self.stop_event = threading.Event()
        self.error = None
        self.thread = threading.Thread(target=self._run, args=(engine,), daemon=True)
        self.thread.start()

    def _run(self, engine):
        try:
            send_requests(engine.host, engine.port, {r: 1 for r in LOADED},
                          stop=self.stop_event, pause=0.005)
        except Exception as e:  # noqa: BLE001 - reported by stop()
            self.error = e

    def stop(self):
        self.stop_event.set()
        self.thread.join(30)
        if self.error:
            raise AssertionError(f"load generator failed: {self.error!r}")


class Tmux:
    """A private tmux server (its own socket) with one session running a shell command."""

    def __init__(self, directory, command, width=150, height=45):
        self.sock = os.path.join(directory, "tmux.sock")
        self.run("new-session", "-d", "-s", "top", "-x", str(width), "-y", str(height),
                 command)

    def run(self, *args):
        r = subprocess.run(["tmux", "-S", self.sock, *args], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=15)
        if r.returncode != 0:
            raise RuntimeError(f"tmux {args}: {r.stderr.decode(errors='replace')}")
        return r.stdout.decode(errors="replace")

    def capture(self):
        return self.run("capture-pane", "-p", "-t", "top")

    def screen_state(self):
        """(alternate screen on, cursor visible) of the pane."""
        return tuple(self.run("display-message", "-p", "-t", "top",
                              "#{alternate_on} #{cursor_flag}").split())

    def keys(self, *keys):
        self.run("send-keys", "-t", "top", *keys)

    def kill(self):
        subprocess.run(["tmux", "-S", self.sock, "kill-server"], stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, timeout=15)


def table_rows(text):
    """{(section, first, second): [rate, err, p50, p99]} of the rows of a top frame, and
    the rows of each section in screen order; section 0 is HTTP, 1 the database."""
    rows, order, section = {}, ([], []), None
    for line in text.splitlines():
        if line.startswith("HTTP server:"):
            section = 0
        elif line.startswith("Database client:"):
            section = 1
        parts = line.split()
        if section is None or len(parts) != 6 or parts[0] in ("SERVICE", "SYSTEM"):
            continue
        rows[(section, parts[0], parts[1])] = parts[2:]
        order[section].append(parts[1:])
    return rows, order


def header_dt(text):
    """The seconds of "rates over X s" in the first line."""
    words = text.splitlines()[0].split()
    return float(words[words.index("over") + 1])


class TopCase(sonde_it.IntegrationCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.redis = cls.class_started(sonde_it.start_redis())
        cls.engine = cls.class_started(sonde_it.start_trade_engine(redis=cls.redis.addr))
        cls.sonde = cls.class_started(sonde_it.start_sonde(
            sonde_args("auto", pids=[cls.engine.pid], routes=TRADE_ENGINE_ROUTES)))

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="sonde-it-top-")
        if not os.environ.get("SONDE_IT_KEEP"):
            self.addCleanup(shutil.rmtree, self.dir, ignore_errors=True)

    def top_cmd(self, *args):
        return [sonde_it.sonde_bin(), "top", "--url", self.sonde.metrics_url, *args]

    def start_tmux(self, url=None):
        """Runs sonde top in tmux; the shell records the tty settings before and after it
        and its exit code, then stays so the pane can still be inspected."""
        d = shlex.quote(self.dir)
        top = self.top_cmd() if url is None else [sonde_it.sonde_bin(), "top", "--url", url]
        cmd = (f"stty -a > {d}/stty.before; {' '.join(map(shlex.quote, top))}; "
               f"echo $? > {d}/rc; stty -a > {d}/stty.after; exec sleep 600")
        tmux = Tmux(self.dir, cmd)
        self.addCleanup(tmux.kill)
        return tmux

    def read(self, name):
        with open(os.path.join(self.dir, name)) as f:
            return f.read()

    def assert_quits(self, tmux, *keys):
        """keys end top: exit code 0, main screen, cursor shown, tty settings as before."""
        self.assertEqual(tmux.screen_state(), ("1", "0"), "top runs on the alternate "
                         "screen with the cursor hidden")
        tmux.keys(*keys)
        sonde_it.wait_for(lambda: os.path.exists(os.path.join(self.dir, "stty.after")),
                          10, message=f"sonde top to exit on {keys}")
        self.assertEqual(self.read("rc").strip(), "0", f"exit code after {keys}")
        self.assertEqual(tmux.screen_state(), ("0", "1"),
                         "the main screen and the cursor are back")
        self.assertEqual(self.read("stty.after"), self.read("stty.before"),
                         "tty settings restored")

    def wait_loaded_rows(self, tmux):
        """Waits until the loaded routes and redis GET show nonzero rates; returns the
        frame's text."""
        text = ""

        def loaded():
            nonlocal text
            text = tmux.capture()
            rows, _ = table_rows(text)
            return (all(float(rows.get((0, SERVICE, r), ["0"])[0]) > 0 for r in LOADED)
                    and float(rows.get((1, "redis", "GET"), ["0"])[0]) > 0)

        try:
            sonde_it.wait_for(loaded, 20, interval=0.2)
        except sonde_it.WaitTimeout:
            self.fail(f"the loaded routes never showed traffic:\n{text}")
        return text

    def test_live_rows_then_q(self):
        load = Load(self.engine)
        self.addCleanup(load.stop)
        tmux = self.start_tmux()
        text = self.wait_loaded_rows(tmux)
        rows, order = table_rows(text)
        for route in LOADED:
            rate, err, p50, p99 = rows[(0, SERVICE, route)]
            self.assertEqual(err, ERR_PCT[route], f"error % of {route}\n{text}")
            self.assertLessEqual(float(p50), float(p99), f"{route}\n{text}")
        rate, errs, p50, p99 = rows[(1, "redis", "GET")]
        self.assertEqual(errs, "0.0", f"redis GET errors/s\n{text}")
        for section in order:
            rates = [float(r[1]) for r in section]
            self.assertEqual(rates, sorted(rates, reverse=True), f"sorted by rate\n{text}")
        self.assertIn("sonde top  " + self.sonde.metrics_url, text.splitlines()[0])
        self.assertIn("(q quits)", text.splitlines()[0])
        load.stop()
        self.assert_quits(tmux, "q")

    def test_live_ctrl_c(self):
        load = Load(self.engine)
        self.addCleanup(load.stop)
        tmux = self.start_tmux()
        self.wait_loaded_rows(tmux)
        load.stop()
        self.assert_quits(tmux, "C-c")

    def test_live_unreachable(self):
        url = f"http://127.0.0.1:{sonde_it.free_port()}/metrics"
        tmux = self.start_tmux(url)
        want = f"scrape of {url} failed: Connection refused (is sonde running? see --url)"
        sonde_it.wait_for(lambda: want in tmux.capture(), 10,
                          message="the scrape failure in the view")
        self.assertIn("(waiting for the second scrape)", tmux.capture())
        self.assert_quits(tmux, "q")

    def settle(self):
        """Waits until sonde's request total on the engine's port stops moving."""
        last = [None]

        def still():
            m = self.sonde.scrape()
            total = sum(v for _, v in sonde_it.samples(m, DURATION + "_count",
                                                       server_port=str(self.engine.port)))
            same, last[0] = total == last[0], total
            return same

        sonde_it.wait_for(still, 20, interval=0.5, message="sonde to settle")

    def test_once_exact_counts(self):
        """A burst of 60 GET, 20 POST and 10 failing requests between the two scrapes."""
        burst = {"/api/v1/orders/{id}": 60, "/api/v1/orders": 20,
                 "/api/v1/orders/{id}/fail": 10}
        sonde_it.http_get(self.engine.url + "/healthz")  # a route with no traffic later
        self.settle()
        top = subprocess.Popen(self.top_cmd("--once", "--interval", "3"),
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        time.sleep(1.0)  # the first scrape is done within milliseconds of the start
        sent = send_requests(self.engine.host, self.engine.port, burst)
        self.assertEqual(sent, burst)
        out, err = top.communicate(timeout=30)
        text = out.decode()
        self.assertEqual(top.returncode, 0, err.decode())
        self.assertEqual(err, b"")
        self.assertNotIn("\033", text, "plain text, no escape sequences")
        dt = header_dt(text)
        self.assertTrue(2.9 < dt < 3.5, text)
        rows, _ = table_rows(text)
        for route, n in burst.items():
            rate, err_pct, p50, p99 = rows[(0, SERVICE, route)]
            self.assertEqual(round(float(rate) * dt), n, f"{route}: {rate}/s over {dt} s\n{text}")
            self.assertEqual(err_pct, ERR_PCT[route], f"{route}\n{text}")
            self.assertLessEqual(float(p50), float(p99), f"{route}\n{text}")
        # Every other trade-engine row saw nothing in between.
        for (section, first, second), vals in rows.items():
            if section == 0 and second not in burst:
                self.assertEqual(vals, ["0.0", "-", "-", "-"], f"{second}\n{text}")
        self.assertIn((0, SERVICE, "/healthz"), rows, text)
        # One redis GET per GET and per POST of an order.
        ops, errs, p50, p99 = rows[(1, "redis", "GET")]
        self.assertEqual(round(float(ops) * dt), 80, f"redis GET {ops}/s over {dt} s\n{text}")
        self.assertEqual(errs, "0.0", text)

    def test_not_a_tty_prints_one_snapshot(self):
        r = subprocess.run(self.top_cmd("--interval", "0.5"), stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, timeout=30)
        text = r.stdout.decode()
        self.assertEqual(r.returncode, 0, r.stderr.decode())
        self.assertTrue(text.startswith("sonde top  " + self.sonde.metrics_url +
                                        "  rates over "), text)
        self.assertIn("\nHTTP server: per service and route; errors are 5xx responses\n"
                      "SERVICE ", text)
        self.assertIn("\nDatabase client: per system and operation; errors have an "
                      "error_type\nSYSTEM ", text)

    def test_help_and_usage_errors(self):
        r = subprocess.run([sonde_it.sonde_bin(), "top", "--help"], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=30)
        self.assertEqual(r.returncode, 0)
        self.assertTrue(r.stdout.startswith(
            b"Usage: sonde top [--url URL] [--interval SECONDS] [--once]\n"), r.stdout)
        r = subprocess.run([sonde_it.sonde_bin(), "top", "--interval", "0"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
        self.assertEqual(r.returncode, 2)
        self.assertEqual(r.stderr, b"sonde top: --interval wants seconds from 0.1 to 3600, "
                                   b"not \"0\"\n")


if __name__ == "__main__":
    sonde_it.main()
