# SPDX-License-Identifier: GPL-2.0-only
"""The syscall path's argument stash when two threads share a slot (--capture syscalls).

sys_enter stashes a read's or write's arguments in slot (thread id mod IO_SLOTS) of the
io_slots array, claimed with a compare-and-swap; a thread whose slot another live thread
holds uses the io_stash hash instead (bpf/capture.bpf.h). The fallback must lose nothing.

A server of this file's own makes the collision for real: a "holder" thread blocks in
recv on connection 1 (its stash sits in its slot), then the server starts short-lived
threads until one has a thread id IO_SLOTS apart from the holder's modulo IO_SLOTS, and
that thread answers REQUESTS requests on connection 2 while the holder still waits. Checked
in the kernel's maps while it works (bpftool): the holder owns the slot, the colliding
thread's stash is in the hash. Then the holder answers one request. sonde must count every
exchange of both threads: REQUESTS + 1, 0 lost. Thread ids reach past IO_SLOTS only if
kernel.pid_max allows: the test raises it for its run when it is lower (and restores it).
"""

import os
import socket
import sys
import tempfile
import textwrap
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import sonde_it  # noqa: E402

IO_SLOTS = 32768  # bpf/capture.bpf.h
REQUESTS = 20
PID_MAX = "/proc/sys/kernel/pid_max"
REQUEST = b"GET /collide HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
RESPONSE = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"

SERVER = textwrap.dedent("""\
    import socket, threading
    SLOTS, REQUESTS, RESPONSE = %d, %d, %r

    def serve(c, n):
        with c:
            for _ in range(n):
                buf = b""
                while b"\\r\\n\\r\\n" not in buf:
                    data = c.recv(4096)
                    if not data:
                        return
                    buf += data
                c.sendall(RESPONSE)

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(4)
    print("listening", s.getsockname()[1], flush=True)
    c1, _ = s.accept()
    holder = threading.Thread(target=serve, args=(c1, 1))
    holder.start()
    target = holder.native_id %% SLOTS
    found = threading.Event()

    def candidate():
        if threading.get_native_id() %% SLOTS != target:
            return
        found.set()
        print("colliding", holder.native_id, threading.get_native_id(), flush=True)
        c2, _ = s.accept()
        serve(c2, REQUESTS)

    for _ in range(4 * SLOTS):  # bounded: thread ids advance by at least one each
        t = threading.Thread(target=candidate)
        t.start()
        if found.is_set():
            break
        t.join()
    else:
        print("no collision", flush=True)
    holder.join()
""") % (IO_SLOTS, REQUESTS, RESPONSE)


def recv_response(sock):
    got = b""
    while len(got) < len(RESPONSE):
        data = sock.recv(4096)
        if not data:
            raise AssertionError(f"server closed after {got!r}")
        got += data
    return got


class StashCollisionTest(sonde_it.IntegrationCase):
    def raise_pid_max(self):
        with open(PID_MAX) as f:
            old = f.read().strip()
        if int(old) >= 4 * IO_SLOTS:
            return

        def restore():
            with open(PID_MAX, "w") as f:
                f.write(old)
        with open(PID_MAX, "w") as f:
            f.write(str(8 * IO_SLOTS))
        self.addCleanup(restore)

    def server_line(self, srv, prefix, timeout):
        def line():
            srv.check_running()
            for text in srv.stdout().splitlines():
                if text.startswith(prefix) or text == "no collision":
                    return text.split()
            return None
        return sonde_it.wait_for(line, timeout, message=f"the server's {prefix!r} line")

    def test_colliding_threads_both_counted(self):
        self.raise_pid_max()
        workdir = tempfile.mkdtemp(prefix="sonde-it-collide-")
        path = os.path.join(workdir, "server.py")
        with open(path, "w") as f:
            f.write(SERVER)
        srv = self.started(sonde_it.start_process([sys.executable, path], name="collide"))
        port = int(self.server_line(srv, "listening", 10)[1])
        sonde = self.started(sonde_it.start_sonde(
            ["--capture", "syscalls", "--select", f"pid={srv.pid}"]))
        c1 = socket.create_connection(("127.0.0.1", port), timeout=30)
        self.addCleanup(c1.close)
        words = self.server_line(srv, "colliding", 120)
        self.assertEqual(words[0], "colliding", "no thread id collided within the bound")
        holder, other = int(words[1]), int(words[2])
        self.assertNotEqual(holder, other)
        self.assertEqual(holder % IO_SLOTS, other % IO_SLOTS)
        c2 = socket.create_connection(("127.0.0.1", port), timeout=30)
        self.addCleanup(c2.close)
        for i in range(REQUESTS):
            c2.sendall(REQUEST)
            self.assertEqual(recv_response(c2), RESPONSE)
            if i == REQUESTS // 2:
                self.check_maps(sonde.pid, srv.pid, holder, other)
        c1.sendall(REQUEST)
        self.assertEqual(recv_response(c1), RESPONSE)

        def counted():
            m = sonde.scrape()
            n = sonde_it.hist_count(m, "http_server_request_duration_seconds")
            b = sonde_it.value(m, "sonde_capture_bytes_total", direction="received")
            return m if n >= REQUESTS + 1 and b >= (REQUESTS + 1) * len(REQUEST) else None
        try:
            m = sonde_it.wait_for(counted, 10, interval=0.25, message="every exchange")
        except sonde_it.WaitTimeout:
            m = sonde.scrape()
        print(f"\nthreads {holder} and {other} share stash slot {holder % IO_SLOTS}: "
              f"{sonde_it.hist_count(m, 'http_server_request_duration_seconds'):.0f} "
              f"exchanges counted of {REQUESTS + 1}")
        self.assertEqual(sonde_it.hist_count(m, "http_server_request_duration_seconds",
                                             http_request_method="GET",
                                             http_response_status_code="200"), REQUESTS + 1)
        self.assertEqual(sonde_it.value(m, "sonde_events_lost_total"), 0)
        self.assertEqual(sonde_it.value(m, "sonde_capture_bytes_total", direction="received",
                                        outcome="parsed"), (REQUESTS + 1) * len(REQUEST))

    def check_maps(self, sonde_pid, tgid, holder, other):
        """The holder (blocked in recv) owns the shared slot; the other thread, blocked in
        its next recv now, has its stash in the hash."""
        def pid_tgid(tid):
            return (tgid << 32 | tid).to_bytes(8, "little")

        slot = sonde_it.sonde_map(sonde_pid, "io_slots",
                                  key=(holder % IO_SLOTS).to_bytes(4, "little"))
        self.assertEqual(len(slot), 1)
        value = slot[0].get("formatted", slot[0])["value"]
        owner = value["owner"] if isinstance(value, dict) else \
            bytes(int(b, 16) for b in value[:8])
        if isinstance(owner, int):
            owner = owner.to_bytes(8, "little")
        self.assertEqual(owner, pid_tgid(holder), "the holder's stash is in the slot")

        def in_hash():
            return sonde_it.sonde_map(sonde_pid, "io_stash", key=pid_tgid(other)) or None
        sonde_it.wait_for(in_hash, 5, message="the colliding thread's stash in the hash")


if __name__ == "__main__":
    sonde_it.main()
