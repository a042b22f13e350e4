#!/usr/bin/env python3
"""What hostile clients cost a hub binary: the figures behind "safe to expose".

Starts the given server binary on loopback (and, with --redis, a throwaway
redis-server), attacks it the way an unauthenticated client can, and prints
one line per figure:

  metrics_bytes      size of /metrics after 1000 requests with made-up
                     1 KiB methods and paths (labels must not grow with them)
  held_fds / rss_kib open descriptors and resident memory of the server
                     35 s after 1000 half-open sockets (h2c prefaces, bodies
                     announced and never sent, chunked bodies left hanging,
                     unfinished 20 KiB heads); whether /api/health answered
  us_per_byte        server CPU per byte of a head dripped a byte at a time,
                     at 1, 8 and 15 KiB (must not grow with the head)
  redis_resume       with --history-len 3 and 9 events, what a client that
                     saw the first one gets on resume: `reset`, or how many
                     events it was replayed

Usage: python3 bench/hostile.py --bin target/release/server [--redis]
Only loopback is used; every loop is bounded.
"""

import argparse
import base64
import hashlib
import hmac
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

SECRET = "hostile-bench-secret-0123456789abcdef"


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def jwt(sub, role):
    def b64(b):
        return base64.urlsafe_b64encode(b).rstrip(b"=")

    head = b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    claims = {"sub": sub, "role": role, "exp": int(time.time()) + 3600}
    body = b64(json.dumps(claims).encode())
    sig = hmac.new(SECRET.encode(), head + b"." + body, hashlib.sha256).digest()
    return (head + b"." + body + b"." + b64(sig)).decode()


def request(port, raw, timeout=5.0):
    """Sends raw bytes, returns everything until the server closes (or
    `timeout` seconds in all)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    s.sendall(raw)
    out = b""
    deadline = time.time() + timeout
    try:
        while time.time() < deadline:
            s.settimeout(max(0.01, deadline - time.time()))
            chunk = s.recv(65536)
            if not chunk:
                break
            out += chunk
    except socket.timeout:
        pass
    s.close()
    return out


def http(port, method, path, body=None, token=None):
    head = f"{method} {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
    data = b""
    if token:
        head += f"Authorization: Bearer {token}\r\n"
    if body is not None:
        data = json.dumps(body).encode()
        head += f"Content-Type: application/json\r\nContent-Length: {len(data)}\r\n"
    raw = request(port, head.encode() + b"\r\n" + data)
    status = int(raw.split(b" ", 2)[1]) if raw.startswith(b"HTTP/") else 0
    payload = raw.split(b"\r\n\r\n", 1)[1] if b"\r\n\r\n" in raw else b""
    return status, payload


class Hub:
    def __init__(self, binary, extra):
        self.port = free_port()
        args = [binary, "--addr", f"127.0.0.1:{self.port}", "--jwt-secret", SECRET,
                "--log", "error", "--max-connections", "5000", "--demo-tick-ms", "0"] + extra
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(200):
            try:
                if http(self.port, "GET", "/api/health")[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.05)
        raise SystemExit("the hub did not start")

    def fds(self):
        return len(os.listdir(f"/proc/{self.proc.pid}/fd"))

    def rss_kib(self):
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return 0

    def cpu_secs(self):
        with open(f"/proc/{self.proc.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self):
        self.proc.kill()
        self.proc.wait()


def metrics_size(hub):
    filler = "X" * 1000
    for i in range(1000):
        request(hub.port, f"M{i:04}{filler} /api/x{i}{filler} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode(), 2)
    status, body = http(hub.port, "GET", "/metrics")
    return len(body)


def half_open(hub, hold=35):
    pub = jwt("pub", "publisher")
    kinds = [
        b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
        f"POST /api/sse/publish HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {pub}\r\nContent-Type: application/json\r\nContent-Length: 70000\r\n\r\n".encode(),
        f"POST /api/sse/publish HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {pub}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n1\r\n{{\r\n".encode(),
        b"GET / HTTP/1.1\r\nX-Long: " + b"a" * (20 * 1024),
    ]
    socks = []
    before = hub.fds()
    for i in range(1000):
        s = socket.create_connection(("127.0.0.1", hub.port))
        s.setblocking(False)
        try:
            s.send(kinds[i % len(kinds)])
        except BlockingIOError:
            pass
        socks.append(s)
    time.sleep(1)
    at_start = (hub.fds() - before, hub.rss_kib())
    time.sleep(hold - 1)
    held = hub.fds() - before
    rss = hub.rss_kib()
    try:
        healthy = http(hub.port, "GET", "/api/health")[0] == 200
    except OSError:
        healthy = False
    for s in socks:
        s.close()
    return at_start, held, rss, healthy


def drip_cost(hub, head_bytes, sockets=20, tail=1000):
    """Server CPU per byte of a head of `head_bytes` whose last `tail` bytes
    are dripped a byte at a time, on `sockets` connections in turn (each
    byte its own packet and, at this pace, its own read)."""
    head = b"GET /api/health HTTP/1.1\r\nX-Filler: " + b"a" * (head_bytes - 40)
    conns = [socket.create_connection(("127.0.0.1", hub.port)) for _ in range(sockets)]
    for c in conns:
        c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        c.sendall(head[:-tail])
    time.sleep(0.2)
    start = hub.cpu_secs()
    for i in range(len(head) - tail, len(head)):
        for c in conns:
            c.send(head[i:i + 1])
        time.sleep(0.0005)
    time.sleep(0.3)
    spent = hub.cpu_secs() - start
    for c in conns:
        c.close()
    return spent / (tail * sockets) * 1e6


def redis_resume(binary):
    if not shutil.which("redis-server"):
        return "skipped (no redis-server)"
    port = free_port()
    d = tempfile.mkdtemp()
    r = subprocess.Popen(["redis-server", "--port", str(port), "--save", "", "--dir", d],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(0.5)
    hub = Hub(binary, ["--broker", f"redis://127.0.0.1:{port}/0", "--history-len", "3"])
    try:
        pub = jwt("pub", "publisher")
        ids = []
        for i in range(9):
            status, body = http(hub.port, "POST", "/api/sse/publish",
                                {"event": "n", "data": i, "target": {"all": True}}, pub)
            ids.append(json.loads(body)["id"])
        user = jwt("alice", "user")
        raw = request(hub.port, f"GET /api/sse/stream?token={user} HTTP/1.1\r\nHost: x\r\nLast-Event-ID: {ids[0]}\r\n\r\n".encode(), 1.5)
        text = raw.decode("latin-1")
        events = [line[7:] for line in text.split("\n") if line.startswith("event: ")]
        events = [e.strip() for e in events if e.strip() != "connected"]
        if events and events[0] == "reset":
            return "reset (missed 8, history 3)"
        return f"replayed {len(events)} of 8 missed events, no reset"
    finally:
        hub.stop()
        r.kill()
        r.wait()
        shutil.rmtree(d, ignore_errors=True)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--bin", required=True)
    p.add_argument("--redis", action="store_true", help="also the Redis resume check")
    p.add_argument("--hold", type=int, default=35, help="seconds to hold the half-open sockets")
    a = p.parse_args()
    hub = Hub(a.bin, [])
    try:
        print(f"metrics_bytes after 1000 hostile requests: {metrics_size(hub)}", flush=True)
        for size in (1024, 8 * 1024, 15 * 1024):
            print(f"us_per_byte at {size // 1024} KiB heads: {drip_cost(hub, size):.2f}", flush=True)
        (fds1, rss1), held, rss, healthy = half_open(hub, a.hold)
        print(f"half_open after 1 s: {fds1} fds, rss {rss1} KiB; after {a.hold} s: held_fds {held}, "
              f"rss_kib {rss}, health answered: {healthy}", flush=True)
    finally:
        hub.stop()
    if a.redis:
        print(f"redis_resume: {redis_resume(a.bin)}", flush=True)


if __name__ == "__main__":
    sys.exit(main())
