# SPDX-License-Identifier: GPL-2.0-only
"""Loss that is never silent, on both capture paths: sonde runs with a tiny ring buffer
(--ringbuf-bytes), a server of this file's own answers a bounded burst of HTTP/1.1
requests of exactly known sizes on keep-alive connections, and sonde_capture_bytes_total
must account for every byte the server moved, exactly, per direction:

    received: parsed + unparsed + lost == CONNS * REQUESTS * request size
    sent:     parsed + unparsed + lost == CONNS * REQUESTS * response size

with lost > 0 (the ring overflowed: sonde_events_lost_total{reason="ringbuf_full"} > 0 and
at least one record per gap), and the lost bytes per direction equal, exactly, the bytes of
the records the kernel could not write (sonde_events_lost_bytes_total). Each response is written in one send of RESP_BODY bytes and
more: up to four records of --capture-bytes each, more than the ring holds at once.

Selection: the server only (pid=), so each byte is seen once; the client is this process.
The connections close only after sonde has drained the ring, so their close records (which
carry the final offsets, and show a lost tail) are delivered.
"""

import os
import socket
import sys
import tempfile
import textwrap
import threading
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import sonde_it  # noqa: E402

RING = 16384
CONNS = 4
REQUESTS = 50  # per connection, sent one after the other
RESP_BODY = 40000
REQUEST = (b"GET /burst HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: sonde-loss-test\r\n"
           b"Accept: */*\r\n\r\n")
RESPONSE = (b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
            b"Content-Length: %d\r\n\r\n" % RESP_BODY) + b"x" * RESP_BODY

# The server: one thread per connection; each request (read up to its blank line) gets
# RESPONSE in one sendall. It prints its port once listening.
SERVER = textwrap.dedent("""\
    import socket, sys, threading
    RESPONSE = %r

    def serve(c):
        buf = b""
        with c:
            while True:
                data = c.recv(65536)
                if not data:
                    return
                buf += data
                while b"\\r\\n\\r\\n" in buf:
                    _, buf = buf.split(b"\\r\\n\\r\\n", 1)
                    c.sendall(RESPONSE)

    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", 0))
    s.listen(64)
    print("listening", s.getsockname()[1], flush=True)
    while True:
        c, _ = s.accept()
        threading.Thread(target=serve, args=(c,), daemon=True).start()
""") % (RESPONSE,)


def recv_exactly(sock, n):
    got = 0
    while got < n:
        data = sock.recv(min(1 << 20, n - got))
        if not data:
            raise AssertionError(f"server closed after {got} of {n} bytes")
        got += len(data)


def capture_bytes(m):
    """{(direction, outcome, reason): value} of sonde_capture_bytes_total."""
    out = {}
    for (name, labels), v in m.items():
        if name == "sonde_capture_bytes_total":
            d = dict(labels)
            out[(d["direction"], d["outcome"], d["reason"])] = v
    return out


def total(b, direction, outcome=None):
    return sum(v for (d, o, _), v in b.items() if d == direction and outcome in (None, o))


class _LossCases(sonde_it.IntegrationCase):
    CAPTURE = None

    def start_server(self):
        workdir = tempfile.mkdtemp(prefix="sonde-it-loss-")
        path = os.path.join(workdir, "server.py")
        with open(path, "w") as f:
            f.write(SERVER)
        srv = self.started(sonde_it.start_process([sys.executable, path], name="loss-server"))

        def port():
            srv.check_running()
            for line in srv.stdout().splitlines():
                if line.startswith("listening "):
                    return int(line.split()[1])
            return None
        return srv, sonde_it.wait_for(port, 10, message="the test server's port")

    def burst(self, port):
        """CONNS connections, REQUESTS requests each, one at a time per connection, all at
        once; every response read whole. Returns the open sockets (closed by the caller)."""
        socks = [socket.create_connection(("127.0.0.1", port), timeout=30)
                 for _ in range(CONNS)]
        errors = []

        def run(s):
            try:
                for _ in range(REQUESTS):
                    s.sendall(REQUEST)
                    recv_exactly(s, len(RESPONSE))
            except Exception as e:  # noqa: BLE001 - reported below
                errors.append(e)
        threads = [threading.Thread(target=run, args=(s,)) for s in socks]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        self.assertEqual(errors, [])
        return socks

    def test_forced_overflow_accounted_exactly(self):
        srv, port = self.start_server()
        sonde = self.started(sonde_it.start_sonde(
            ["--capture", self.CAPTURE, f"--ringbuf-bytes={RING}", "--select",
             f"pid={srv.pid}"]))
        m = sonde.scrape()
        self.assertEqual(sonde_it.value(m, "sonde_capture_mode", mode=self.CAPTURE), 1)
        socks = self.burst(port)
        time.sleep(1.0)  # sonde drains the ring (it polls every 250 ms) before the closes
        for s in socks:
            s.close()
        want = {"received": CONNS * REQUESTS * len(REQUEST),
                "sent": CONNS * REQUESTS * len(RESPONSE)}

        def accounted():
            b = capture_bytes(sonde.scrape())
            return b if all(total(b, d) == n for d, n in want.items()) else None
        try:
            b = sonde_it.wait_for(accounted, 15, interval=0.25,
                                  message="every byte moved accounted for")
        except sonde_it.WaitTimeout:
            b = capture_bytes(sonde.scrape())
        def kernel_lost(m):
            return {d: sonde_it.value(m, "sonde_events_lost_bytes_total", direction=d)
                    for d in want}

        def kernel_agrees():  # the kernel's counters are read once a second
            m = sonde.scrape()
            return m if kernel_lost(m) == {d: total(b, d, "lost") for d in want} else None
        try:
            m = sonde_it.wait_for(kernel_agrees, 5, interval=0.25,
                                  message="the kernel's lost bytes")
        except sonde_it.WaitTimeout:
            m = sonde.scrape()
        lost_events = sonde_it.value(m, "sonde_events_lost_total", reason="ringbuf_full")
        gaps = sonde_it.value(m, "sonde_events_lost_total", reason="gap")
        print(f"\n[{self.CAPTURE}] --ringbuf-bytes={RING}: {CONNS} connections x {REQUESTS} "
              f"requests of {len(REQUEST)} B, responses of {len(RESPONSE)} B")
        for d in ("received", "sent"):
            print(f"  {d}: moved {want[d]} = parsed {total(b, d, 'parsed'):.0f} + unparsed "
                  f"{total(b, d, 'unparsed'):.0f} + lost {total(b, d, 'lost'):.0f}")
        print(f"  sonde_events_lost_total: ringbuf_full {lost_events:.0f}, gap {gaps:.0f}")
        print("  sonde_events_lost_bytes_total (kernel): " +
              ", ".join(f"{d} {v:.0f}" for d, v in kernel_lost(m).items()))
        for d, n in want.items():
            self.assertEqual(total(b, d), n, f"{d}: every byte, once ({b})")
        lost = total(b, "received", "lost") + total(b, "sent", "lost")
        self.assertGreater(lost, 0, "the tiny ring overflowed")
        self.assertEqual(total(b, "received", "unparsed") + total(b, "sent", "unparsed"), 0)
        # Every lost byte was in a record the ring refused; each gap follows at least one.
        self.assertGreater(lost_events, 0)
        self.assertLessEqual(gaps, lost_events)
        self.assertEqual(set(r for (_, o, r) in b if o == "lost"), {"ringbuf_full"})
        # The lost bytes user space found missing from the offsets are, byte for byte, the
        # bytes of the records the kernel could not put in the ring.
        self.assertEqual(kernel_lost(m), {d: total(b, d, "lost") for d in want})


class LossSocketTest(_LossCases):
    CAPTURE = "socket"


class LossSyscallsTest(_LossCases):
    CAPTURE = "syscalls"


def load_tests(loader, tests, pattern):
    suite = unittest.TestSuite()
    for cls in (LossSocketTest, LossSyscallsTest):
        suite.addTests(loader.loadTestsFromTestCase(cls))
    return suite


if __name__ == "__main__":
    sonde_it.main()
