#!/usr/bin/env python3
"""Hostile clients against `dmarc-report serve`: the measurements of
docs/decisions/0005-web-server-library.md.

    python3 bench/web_attack.py BINARY [--header-mb 400] [--body-mb 2048] [--seconds 10]

Starts `serve` on a fresh store with a users file (sign-in by password, Argon2id), then:
  headers  4 connections each send up to --header-mb MB of request headers;
  chunked  one POST /api/login sends a chunked body of up to --body-mb MB;
  flood    200 slow clients (half a request line each, from 20 loopback addresses) and a
           sign-in flood from 40 addresses (127.0.2.x) while /healthz is asked every 100 ms.
For each: what the server read, its peak resident memory (VmHWM, reset before each), and for the
flood the /healthz latencies. Client addresses are distinct loopback addresses (Linux).
"""
import argparse
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time


def status_kb(pid, field):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def reset_peak(pid):
    with open(f"/proc/{pid}/clear_refs", "w") as f:
        f.write("5")


def connect(port, source="127.0.0.1", timeout=2.0):
    s = socket.socket()
    s.bind((source, 0))
    s.settimeout(timeout)
    s.connect(("127.0.0.1", port))
    return s


def send_until_refused(s, first, block, limit):
    """Sends first, then block until limit bytes; returns the bytes the server took."""
    sent = 0
    try:
        s.sendall(first)
        while sent < limit:
            s.sendall(block)
            sent += len(block)
    except OSError:
        pass
    return sent


def answer_status(s):
    try:
        data = s.recv(4096)
        return data.split(b"\r\n", 1)[0].decode(errors="replace") if data else "closed"
    except OSError as e:
        return f"no answer ({e.__class__.__name__})"


def headers_attack(port, mb):
    block = b"".join(b"X-Flood-%d: %s\r\n" % (i, b"a" * 1000) for i in range(64))
    results = []

    def one(i):
        s = connect(port, f"127.0.4.{i + 1}")
        n = send_until_refused(s, b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n", block,
                               mb << 20)
        results.append((n, answer_status(s)))
        s.close()

    threads = [threading.Thread(target=one, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def chunked_attack(port, mb):
    s = connect(port)
    chunk = b"%x\r\n%s\r\n" % (65536, b" " * 65536)
    first = (b"POST /api/login HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
             b"Transfer-Encoding: chunked\r\n\r\n")
    n = send_until_refused(s, first, chunk, mb << 20)
    status = answer_status(s)
    s.close()
    return n, status


def healthz_ms(port):
    start = time.monotonic()
    try:
        s = connect(port, timeout=10)
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        ok = s.recv(64).startswith(b"HTTP/1.1 200")
        s.close()
    except OSError:
        ok = False
    return (time.monotonic() - start) * 1000 if ok else float("inf")


def flood_attack(port, seconds):
    slow = []
    for i in range(200):
        try:
            s = connect(port, f"127.0.1.{1 + i % 20}")
            s.sendall(b"GET /healthz HT")
            slow.append(s)
        except OSError:
            pass
    stop = threading.Event()
    body = b'{"user":"ana","password":"guess"}'
    request = (b"POST /api/login HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
               b"Content-Length: %d\r\nConnection: close\r\n\r\n%s" % (len(body), body))

    def guess(a):
        while not stop.is_set():
            try:
                s = connect(port, f"127.0.2.{a + 1}", timeout=10)
                s.sendall(request)
                s.recv(4096)
                s.close()
            except OSError:
                time.sleep(0.05)

    flood = [threading.Thread(target=guess, args=(a,)) for a in range(40)]
    for t in flood:
        t.start()
    times = []
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        times.append(healthz_ms(port))
        time.sleep(0.1)
    stop.set()
    for t in flood:
        t.join()
    for s in slow:
        s.close()
    times.sort()
    return len(slow), times


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("binary")
    ap.add_argument("--header-mb", type=int, default=400)
    ap.add_argument("--body-mb", type=int, default=2048)
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--attacks", default="headers,chunked,flood")
    args = ap.parse_args()
    work = tempfile.mkdtemp(prefix="web-attack-")
    line = subprocess.run([args.binary, "hash-password", "--user", "ana"], input="correct horse\n",
                          capture_output=True, text=True, check=True).stdout
    users = os.path.join(work, "users")
    with open(users, "w") as f:
        f.write(line)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen([args.binary, "serve", "--db", f"sqlite:{work}/t.db", "--listen",
                               f"127.0.0.1:{port}", "--users", users],
                              stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):
            if healthz_ms(port) != float("inf"):
                break
            time.sleep(0.1)
        pid = server.pid
        print(f"idle: {status_kb(pid, 'VmRSS') / 1024:.0f} MB resident")

        attacks = args.attacks.split(",")
        reset_peak(pid)
        r = headers_attack(port, args.header_mb) if "headers" in attacks else []
        print(f"headers: read {[n >> 20 for n, _ in r]} MB per connection, answers "
              f"{[a for _, a in r]}; peak {status_kb(pid, 'VmHWM') / 1024:.0f} MB, now "
              f"{status_kb(pid, 'VmRSS') / 1024:.0f} MB")

        reset_peak(pid)
        n, answer = chunked_attack(port, args.body_mb) if "chunked" in attacks else (0, "")
        print(f"chunked: read {n >> 20} MB of body, answer {answer}; peak "
              f"{status_kb(pid, 'VmHWM') / 1024:.0f} MB")

        if "flood" not in attacks:
            return
        reset_peak(pid)
        held, times = flood_attack(port, args.seconds)
        pct = lambda p: times[min(len(times) - 1, int(p * len(times)))]
        print(f"flood: {held} slow clients held; /healthz over {len(times)} requests: "
              f"p50 {pct(0.5):.1f} ms, p95 {pct(0.95):.1f} ms, max {times[-1]:.1f} ms; peak "
              f"{status_kb(pid, 'VmHWM') / 1024:.0f} MB")
    finally:
        server.terminate()
        server.wait()


if __name__ == "__main__":
    sys.exit(main())
