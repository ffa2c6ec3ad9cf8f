#!/usr/bin/python3
"""What listeners that never read cost a server: its RSS before, while they stall, and after.

    slow_listeners.py --url URL --pid PID [--clients N] [--seconds S]

Opens N connections to URL, sends each `GET PATH HTTP/1.0` with `Icy-MetaData: 1` and a small
receive buffer (4 KiB), then never reads. Samples the server's VmRSS every 0.5 s for S seconds
and counts how many of the connections the server has closed by then (a stalled listener is
dropped once it is more than --max-listener-lag behind; until then it costs its socket buffers
and, at most, the lag). Prints one JSON object; every socket is closed at the end.
"""

import argparse
import json
import socket
import time
import urllib.parse


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--url", required=True)
    p.add_argument("--pid", type=int, required=True)
    p.add_argument("--clients", type=int, default=200)
    p.add_argument("--seconds", type=float, default=12)
    a = p.parse_args()
    if not 1 <= a.clients <= 5000 or not 1 <= a.seconds <= 120:
        p.error("--clients 1..5000, --seconds 1..120")
    u = urllib.parse.urlsplit(a.url)
    before = rss_kb(a.pid)
    socks = []
    try:
        for _ in range(a.clients):
            s = socket.socket()
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            s.settimeout(2)
            s.connect((u.hostname, u.port or 80))
            s.sendall(f"GET {u.path or '/'} HTTP/1.0\r\nHost: {u.netloc}\r\nIcy-MetaData: 1\r\n\r\n".encode())
            socks.append(s)
        samples = []
        end = time.monotonic() + a.seconds
        while time.monotonic() < end:
            samples.append(rss_kb(a.pid))
            time.sleep(0.5)
        # closed by the server: a non-blocking peek sees EOF or a reset only after the unread
        # data; count sockets whose peer has shut down via TCP_INFO state (CLOSE_WAIT = 8)
        closed = 0
        for s in socks:
            info = s.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 8)
            if info[0] in (7, 8):  # TCP_CLOSE, TCP_CLOSE_WAIT
                closed += 1
        peak = max(samples) if samples else before
    finally:
        for s in socks:
            s.close()
    time.sleep(1.5)
    after = rss_kb(a.pid)
    print(json.dumps({"clients": a.clients, "seconds": a.seconds, "rss_before_kb": before, "rss_peak_kb": peak,
                      "rss_after_kb": after, "peak_per_slow_listener_kb": round((peak - before) / a.clients, 1),
                      "closed_by_server": closed}))


if __name__ == "__main__":
    main()
