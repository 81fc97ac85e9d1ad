# SPDX-License-Identifier: GPL-2.0-only
"""The two ends of the TCP health test, each run inside its own network namespace.

server DIR: listens on 7000 (reads "<n>\\n" and n bytes, answers 2000 bytes, closes) at
once, and on 7003 (reads a byte, then closes with SO_LINGER 0: a reset) once DIR/go exists, so
one listener is older than sonde and one newer. Runs until killed.

client DIR SERVER_IP: waits for DIR/go, then connects in phases and records what each
connection saw (errno, tcp_info at the end) in DIR/report.json. Before the loss phase it
writes DIR/ready-loss and waits for DIR/go-loss (the test drops packets meanwhile)."""

import json
import os
import socket
import struct
import sys
import threading
import time

REPLY = 2000
N_OK, N_REFUSED, N_TIMEOUT, N_CANCEL, N_RESET, N_LOSS = 5, 3, 2, 2, 3, 4
LOSS_BYTES = 300000


def wait_file(path, timeout=120):
    end = time.monotonic() + timeout
    while not os.path.exists(path):
        if time.monotonic() > end:
            sys.exit(f"timed out waiting for {path}")
        time.sleep(0.05)


def listener(port):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("0.0.0.0", port))
    s.listen(64)
    return s


def read_exact(c, n):
    got = 0
    while got < n:
        b = c.recv(min(65536, n - got))
        if not b:
            break
        got += len(b)
    return got


def serve_echo(c):
    with c:
        line = b""
        while not line.endswith(b"\n"):
            b = c.recv(1)
            if not b:
                return
            line += b
        read_exact(c, int(line))
        c.sendall(b"r" * REPLY)


def serve_reset(c):
    c.recv(1)  # the client's request: its connect() has returned, it will read the reset
    c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    c.close()


def accept_loop(srv, handler):
    while True:
        c, _ = srv.accept()
        threading.Thread(target=handler, args=(c,), daemon=True).start()


def server(d):
    threading.Thread(target=accept_loop, args=(listener(7000), serve_echo), daemon=True).start()
    open(os.path.join(d, "listening"), "w").close()
    wait_file(os.path.join(d, "go"), timeout=600)
    threading.Thread(target=accept_loop, args=(listener(7003), serve_reset),
                     daemon=True).start()
    open(os.path.join(d, "listening-7003"), "w").close()
    while True:
        time.sleep(1)


def tcp_info(s):
    """bytes_sent, bytes_received and total_retrans of struct tcp_info (linux/tcp.h)."""
    raw = s.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 256)
    total_retrans, = struct.unpack_from("I", raw, 100)
    bytes_received, = struct.unpack_from("Q", raw, 128)
    bytes_sent, = struct.unpack_from("Q", raw, 200)
    return {"sent": bytes_sent, "received": bytes_received, "retrans": total_retrans}


def exchange(ip, port, nbytes):
    s = socket.create_connection((ip, port), timeout=60)
    rec = {"port": port, "errno": 0}
    try:
        s.sendall(b"%d\n" % nbytes + b"q" * nbytes)
        while s.recv(65536):
            pass
    except (ConnectionResetError, BrokenPipeError):
        rec["reset"] = True
    rec.update(tcp_info(s))
    s.close()
    return rec


def attempt(ip, port, out, timeout=None):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.settimeout(timeout)
        s.connect((ip, port))
        out.append({"port": port, "errno": 0})
    except OSError as e:
        # a kernel timeout is ETIMEDOUT; Python's own timeout (not used) would be errno None
        out.append({"port": port, "errno": e.errno})
    finally:
        s.close()


def canceled(ip, port):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setblocking(False)
    s.connect_ex((ip, port))
    time.sleep(0.2)
    s.close()


def client(d, ip):
    wait_file(os.path.join(d, "go"))
    wait_file(os.path.join(d, "..", "server", "listening-7003"))
    rep = {"ok": [], "failed": [], "reset": [], "loss": []}
    for _ in range(N_OK):
        rep["ok"].append(exchange(ip, 7000, 1000))
    for _ in range(N_REFUSED):
        attempt(ip, 7001, rep["failed"])
    threads = [threading.Thread(target=attempt, args=(ip, 7002, rep["failed"]))
               for _ in range(N_TIMEOUT)]
    threads += [threading.Thread(target=canceled, args=(ip, 7002)) for _ in range(N_CANCEL)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for _ in range(N_RESET):
        rep["reset"].append(exchange(ip, 7003, 10))
    open(os.path.join(d, "ready-loss"), "w").close()
    wait_file(os.path.join(d, "go-loss"))
    for _ in range(N_LOSS):
        rep["loss"].append(exchange(ip, 7000, LOSS_BYTES))
    with open(os.path.join(d, "report.json.tmp"), "w") as f:
        json.dump(rep, f)
    os.rename(os.path.join(d, "report.json.tmp"), os.path.join(d, "report.json"))


if __name__ == "__main__":
    if sys.argv[1] == "server":
        server(sys.argv[2])
    else:
        client(sys.argv[2], sys.argv[3])
