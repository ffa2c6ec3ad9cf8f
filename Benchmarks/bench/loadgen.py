#!/usr/bin/env python3
"""Player load generator for benchmarking radio relays (Casty, Icecast).

One process, one thread, non-blocking sockets on an epoll selector: opens
N player connections (GET <path> HTTP/1.0, optionally Icy-MetaData: 1),
reads from all of them continuously, and after the hold time prints ONE JSON
line on stdout describing what the players got, plus this process's OWN CPU
use (getrusage; over the whole run and over the hold window), so that it is
never mistaken for the server's.

Timeline:
  ramp   connections are opened in small batches (default 10 every 10 ms,
         at most 200 waiting for their response head at a time), so 1000
         players are in within ~1-2 s on loopback if the server keeps up.
         (Icecast 2.4 listens with a backlog of 5, so some SYNs overflow and
         are retried by the kernel after 1 s/3 s: its ramp takes ~3-5 s.)
         The ramp ends when every player got its response head or failed,
         or after --ramp-timeout s.
  settle --settle s (default 2) of listening so that the servers' initial
         bursts are delivered before measuring.
  hold   --seconds S of steady listening. Rates are measured over this
         window only, so the servers' initial bursts do not inflate them.
  end    --ready-file is created when the hold starts and --done-file when
         it ends (before any socket is closed), so a caller can measure the
         server over exactly the hold window. Then all sockets are closed.
The whole run is bounded by ramp-timeout + settle + S + ~1 s. SIGINT/SIGTERM end the
hold early (the JSON line is still printed).

Counts: "connected" = got a 200 response head; "failed" = never did
(refused, reset, timeout, bad status); "dropped" = connected, then lost
(EOF/reset) before the end. Rates are audio bytes/s per player (body minus
ICY metadata when --metadata is given), over the players connected when the
hold started: rate_Bps from the player's first to its last receive inside
the hold window (the first receive's bytes not counted, so chunky delivery
does not quantise it), rate_window_Bps = hold-window bytes / hold time.
max_gap_s is the longest time a player received nothing during the hold
(up to its end), which is where a stall shows.

Example:
  Benchmarks/bench/loadgen.py --url http://127.0.0.1:8000/ --clients 1000 --seconds 20 --metadata
"""

import argparse
import errno
import json
import os
import resource
import selectors
import signal
import socket
import statistics
import sys
import time
import urllib.parse

CONNECTING, SENDING, HEAD, BODY, CLOSED = range(5)
AUDIO, METALEN, META = range(3)

MAX_HEAD = 16384
RECV_SIZE = 65536


class Player:
    __slots__ = (
        "idx", "sock", "state", "t_start", "t_head", "head", "req_left",
        "metaint", "mstate", "mleft", "mbuf", "body_bytes", "audio_bytes",
        "audio_at_hold", "alive_at_hold", "last_rx", "max_gap", "meta_blocks",
        "meta_nonempty", "meta_errors", "titles", "last_title", "fail",
        "dropped", "t_end", "h_t1", "h_b1", "h_t2", "h_b2",
    )

    def __init__(self, idx):
        self.idx = idx
        self.sock = None
        self.state = CONNECTING
        self.t_start = 0.0
        self.t_head = None
        self.head = bytearray()
        self.req_left = b""
        self.metaint = 0
        self.mstate = AUDIO
        self.mleft = 0
        self.mbuf = bytearray()
        self.body_bytes = 0
        self.audio_bytes = 0
        self.audio_at_hold = None
        self.alive_at_hold = False
        self.last_rx = 0.0
        self.max_gap = 0.0
        self.meta_blocks = 0
        self.meta_nonempty = 0
        self.meta_errors = 0
        self.titles = 0
        self.last_title = None
        self.fail = None
        self.dropped = False
        self.t_end = None
        self.h_t1 = self.h_b1 = self.h_t2 = self.h_b2 = None


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--url", required=True, help="http://HOST:PORT/PATH of the stream")
    p.add_argument("--clients", type=int, required=True, help="number of players (0 = just sleep)")
    p.add_argument("--seconds", type=float, required=True, help="hold time after the ramp")
    p.add_argument("--metadata", action="store_true", help="send Icy-MetaData: 1 and strip/check ICY metadata")
    p.add_argument("--batch", type=int, default=10, help="connections opened per batch (default 10)")
    p.add_argument("--batch-interval", type=float, default=0.01, help="seconds between batches (default 0.01)")
    p.add_argument("--max-pending", type=int, default=200,
                   help="max players waiting for their response head at once (default 200)")
    p.add_argument("--ramp-timeout", type=float, default=10.0, help="max ramp time in s (default 10)")
    p.add_argument("--settle", type=float, default=2.0,
                   help="s between the ramp and the hold, so initial bursts are delivered (default 2)")
    p.add_argument("--head-timeout", type=float, default=8.0, help="max s to get a response head (default 8)")
    p.add_argument("--ready-file", help="created when the hold window starts")
    p.add_argument("--done-file", help="created when the hold window ends, before sockets are closed")
    a = p.parse_args()
    if a.clients < 0 or a.seconds <= 0 or a.batch < 1 or a.max_pending < 1:
        p.error("need --clients >= 0, --seconds > 0, --batch >= 1, --max-pending >= 1")
    return a


def raise_nofile(need):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
            soft = hard
        except (ValueError, OSError):
            pass
    if soft != resource.RLIM_INFINITY and soft < need:
        print(f"loadgen: RLIMIT_NOFILE {soft} < {need} needed; some players will fail", file=sys.stderr)
    return soft


def touch(path):
    if path:
        with open(path, "w") as f:
            f.write(f"{time.time():.6f}\n")


def cpu_self():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def pct(sorted_vals, q):
    if not sorted_vals:
        return None
    i = min(len(sorted_vals) - 1, max(0, int(round(q * (len(sorted_vals) - 1)))))
    return sorted_vals[i]


def main():
    a = parse_args()
    u = urllib.parse.urlsplit(a.url)
    if u.scheme != "http" or not u.hostname:
        sys.exit("loadgen: --url must be http://HOST[:PORT]/PATH")
    host, port = u.hostname, u.port or 80
    path = (u.path or "/") + (("?" + u.query) if u.query else "")
    request = (
        f"GET {path} HTTP/1.0\r\nHost: {host}:{port}\r\nUser-Agent: casty-bench-loadgen/1\r\n"
        f"Accept: */*\r\n" + ("Icy-MetaData: 1\r\n" if a.metadata else "") + "\r\n"
    ).encode()
    addr = (socket.gethostbyname(host), port)
    nofile = raise_nofile(a.clients + 32)

    stop = [False]

    def on_signal(signum, frame):
        stop[0] = True

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)

    cpu0 = cpu_self()
    sel = selectors.DefaultSelector()
    players = [Player(i) for i in range(a.clients)]
    buf = bytearray(RECV_SIZE)
    view = memoryview(buf)
    errors = {}

    def note_error(reason):
        errors[reason] = errors.get(reason, 0) + 1

    counters = {"pending": 0, "open": 0, "finished_head": 0}

    def close(p, now, reason=None):
        if p.state == CLOSED:
            return
        if p.state in (CONNECTING, SENDING, HEAD):
            counters["pending"] -= 1
            p.fail = reason or "closed before response head"
            note_error(p.fail)
            counters["finished_head"] += 1
        elif reason is not None:  # BODY, lost before the end
            p.dropped = True
            note_error("dropped: " + reason)
        if p.sock is not None:
            try:
                sel.unregister(p.sock)
            except (KeyError, ValueError):
                pass
            p.sock.close()
            counters["open"] -= 1
        p.state = CLOSED
        p.t_end = now

    def open_player(p, now):
        p.t_start = now
        p.last_rx = now
        counters["pending"] += 1
        try:
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        except OSError as e:
            close(p, now, f"socket: {errno.errorcode.get(e.errno, e.errno)}")
            return
        counters["open"] += 1
        s.setblocking(False)
        p.sock = s
        err = s.connect_ex(addr)
        if err not in (0, errno.EINPROGRESS):
            close(p, now, f"connect: {errno.errorcode.get(err, err)}")
            return
        p.state = CONNECTING
        p.req_left = request
        sel.register(s, selectors.EVENT_WRITE, p)

    def on_head(p, now):
        end = p.head.find(b"\r\n\r\n")
        if end < 0:
            if len(p.head) > MAX_HEAD:
                close(p, now, "response head too long")
            return
        head = bytes(p.head[:end]).decode("latin-1")
        rest = bytes(p.head[end + 4:])
        p.head = bytearray()
        lines = head.split("\r\n")
        status = lines[0].split()
        if len(status) < 2 or status[1] != "200" or not (status[0].startswith("HTTP/") or status[0] == "ICY"):
            close(p, now, f"status: {lines[0][:60]}")
            return
        for line in lines[1:]:
            k, _, v = line.partition(":")
            if k.strip().lower() == "icy-metaint":
                try:
                    p.metaint = int(v.strip())
                except ValueError:
                    close(p, now, "bad icy-metaint")
                    return
        if a.metadata and p.metaint <= 0:
            note_error("no icy-metaint despite Icy-MetaData: 1")
        p.state = BODY
        p.t_head = now
        p.mstate = AUDIO
        p.mleft = p.metaint
        counters["pending"] -= 1
        counters["finished_head"] += 1
        sel.modify(p.sock, selectors.EVENT_READ, p)
        if rest:
            on_body(p, memoryview(rest), len(rest))

    def on_body(p, mv, n):
        p.body_bytes += n
        if p.metaint <= 0:
            p.audio_bytes += n
            return
        pos = 0
        while pos < n:
            st = p.mstate
            if st == AUDIO:
                take = min(p.mleft, n - pos)
                p.audio_bytes += take
                p.mleft -= take
                pos += take
                if p.mleft == 0:
                    p.mstate = METALEN
            elif st == METALEN:
                ln = mv[pos] * 16
                pos += 1
                p.meta_blocks += 1
                if ln == 0:
                    p.mstate = AUDIO
                    p.mleft = p.metaint
                else:
                    p.mstate = META
                    p.mleft = ln
                    p.mbuf = bytearray()
            else:
                take = min(p.mleft, n - pos)
                p.mbuf += mv[pos:pos + take]
                p.mleft -= take
                pos += take
                if p.mleft == 0:
                    md = bytes(p.mbuf).rstrip(b"\0")
                    p.meta_nonempty += 1
                    if not md.startswith(b"StreamTitle='"):
                        p.meta_errors += 1
                    elif md != p.last_title:
                        p.titles += 1
                        p.last_title = md
                    p.mstate = AUDIO
                    p.mleft = p.metaint

    RAMP, SETTLE, HOLD = range(3)
    t0 = time.monotonic()
    next_batch = t0
    to_open = 0
    ramp_deadline = t0 + a.ramp_timeout
    phase = RAMP
    settle_end = None
    hold_start = None
    hold_end = None
    ramp_seconds = None

    cpu_hold = [None, None]

    def start_hold(now):
        for p in players:
            if p.state == BODY:
                p.audio_at_hold = p.audio_bytes
                p.alive_at_hold = True
                p.last_rx = now
                p.max_gap = 0.0
        cpu_hold[0] = cpu_self()
        touch(a.ready_file)
        return now

    while not stop[0]:
        now = time.monotonic()
        if phase == RAMP:
            # open the next batch when due and the pending window allows
            while (to_open < a.clients and now >= next_batch
                   and counters["pending"] < a.max_pending):
                for _ in range(min(a.batch, a.clients - to_open, a.max_pending - counters["pending"])):
                    open_player(players[to_open], now)
                    to_open += 1
                next_batch += a.batch_interval
                if next_batch < now - a.batch_interval:
                    next_batch = now
            for p in players[:to_open]:
                if p.state in (CONNECTING, SENDING, HEAD) and now - p.t_start > a.head_timeout:
                    close(p, now, "response head timeout")
            if (to_open == a.clients and counters["finished_head"] >= a.clients) or now >= ramp_deadline:
                if now >= ramp_deadline:
                    for p in players[:to_open]:
                        if p.state in (CONNECTING, SENDING, HEAD):
                            close(p, now, "ramp timeout")
                    for p in players[to_open:]:
                        p.fail = "not started (ramp timeout)"
                        note_error(p.fail)
                        p.state = CLOSED
                ramp_seconds = now - t0
                settle_end = now + (a.settle if a.clients else 0.0)
                phase = SETTLE
        if phase == SETTLE and now >= settle_end:
            hold_start = start_hold(now)
            phase = HOLD
        if phase == HOLD and now >= hold_start + a.seconds:
            break
        if phase == RAMP:
            timeout = max(0.0, min(a.batch_interval, ramp_deadline - now))
        elif phase == SETTLE:
            timeout = max(0.0, min(0.1, settle_end - now))
        else:
            timeout = max(0.0, min(0.1, hold_start + a.seconds - now))
        if not sel.get_map():
            time.sleep(timeout)
            continue
        events = sel.select(timeout)
        now = time.monotonic()
        for key, mask in events:
            p = key.data
            s = p.sock
            st = p.state
            if st == CONNECTING:
                err = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                if err:
                    close(p, now, f"connect: {errno.errorcode.get(err, err)}")
                    continue
                p.state = st = SENDING
            if st == SENDING:
                try:
                    sent = s.send(p.req_left)
                except (BlockingIOError, InterruptedError):
                    continue
                except OSError as e:
                    close(p, now, f"send: {errno.errorcode.get(e.errno, e.errno)}")
                    continue
                p.req_left = p.req_left[sent:]
                if not p.req_left:
                    p.state = HEAD
                    sel.modify(s, selectors.EVENT_READ, p)
                continue
            # HEAD or BODY: read
            try:
                n = s.recv_into(buf)
            except (BlockingIOError, InterruptedError):
                continue
            except OSError as e:
                close(p, now, f"recv: {errno.errorcode.get(e.errno, e.errno)}")
                continue
            if n == 0:
                close(p, now, "EOF")
                continue
            gap = now - p.last_rx
            if gap > p.max_gap:
                p.max_gap = gap
            p.last_rx = now
            if st == HEAD:
                p.head += view[:n]
                on_head(p, now)
            else:
                on_body(p, view, n)
                if p.alive_at_hold:
                    if p.h_t1 is None:
                        p.h_t1, p.h_b1 = now, p.audio_bytes
                    else:
                        p.h_t2, p.h_b2 = now, p.audio_bytes

    now = time.monotonic()
    if hold_start is None:  # interrupted before the hold
        hold_start = now
        if ramp_seconds is None:
            ramp_seconds = now - t0
    hold_end = now
    cpu_hold[1] = cpu_self()
    touch(a.done_file)
    hold = max(1e-9, hold_end - hold_start)

    # gaps up to the end count too (a player that stopped receiving)
    for p in players:
        if p.state == BODY:
            gap = now - p.last_rx
            if gap > p.max_gap:
                p.max_gap = gap

    rates = []
    steady = []
    overall = []
    gaps = []
    for p in players:
        if p.alive_at_hold:
            end = p.t_end if (p.state == CLOSED and p.t_end is not None) else hold_end
            rates.append((p.audio_bytes - p.audio_at_hold) / hold)
            # Edge-corrected: from the first to the last receive inside the hold window, not
            # counting the first one. Servers that deliver in 1 s chunks would otherwise show
            # +-1 chunk per window (+-5 % over 20 s). A player that stalls shows in max_gap_s.
            if p.h_t2 is not None and p.h_t2 - p.h_t1 >= hold / 2:
                steady.append((p.h_b2 - p.h_b1) / (p.h_t2 - p.h_t1))
            else:
                steady.append(rates[-1])
            gaps.append(p.max_gap)
            if p.t_head is not None:
                overall.append(p.audio_bytes / max(1e-9, min(end, hold_end) - p.t_head))
    rates.sort()
    steady.sort()
    overall.sort()
    heads = sorted(p.t_head - p.t_start for p in players if p.t_head is not None)
    gaps.sort()

    connected = sum(1 for p in players if p.t_head is not None)
    failed = sum(1 for p in players if p.t_head is None)
    dropped = sum(1 for p in players if p.dropped)
    alive_end = sum(1 for p in players if p.state == BODY)

    for p in players:
        if p.sock is not None and p.state != CLOSED:
            try:
                sel.unregister(p.sock)
            except (KeyError, ValueError):
                pass
            p.sock.close()
            p.state = CLOSED
    sel.close()

    cpu = cpu_self() - cpu0
    wall = time.monotonic() - t0

    def r(x, d=1):
        return None if x is None else round(x, d)

    out = {
        "url": a.url,
        "metadata": a.metadata,
        "clients": a.clients,
        "connected": connected,
        "failed": failed,
        "dropped": dropped,
        "alive_at_end": alive_end,
        "ramp_s": r(ramp_seconds, 3),
        "settle_s": a.settle if a.clients else 0.0,
        "hold_s": r(hold, 3),
        "total_body_bytes": sum(p.body_bytes for p in players),
        "total_audio_bytes": sum(p.audio_bytes for p in players),
        "hold_audio_bytes": sum(p.audio_bytes - p.audio_at_hold for p in players if p.alive_at_hold),
        "rate_Bps": {"min": r(pct(steady, 0)), "median": r(pct(steady, 0.5)), "max": r(pct(steady, 1)),
                     "players": len(steady)},
        "rate_window_Bps": {"min": r(pct(rates, 0)), "median": r(pct(rates, 0.5)), "max": r(pct(rates, 1))},
        "rate_incl_burst_Bps": {"min": r(pct(overall, 0)), "median": r(pct(overall, 0.5)),
                                "max": r(pct(overall, 1))},
        "head_s": {"median": r(pct(heads, 0.5), 3), "max": r(pct(heads, 1), 3)},
        "max_gap_s": {"median": r(pct(gaps, 0.5), 3), "p99": r(pct(gaps, 0.99), 3), "max": r(pct(gaps, 1), 3)},
        "meta": {"blocks": sum(p.meta_blocks for p in players),
                 "nonempty": sum(p.meta_nonempty for p in players),
                 "errors": sum(p.meta_errors for p in players),
                 "title_changes_min": min((p.titles for p in players if p.alive_at_hold), default=None)},
        "errors": errors,
        "nofile": nofile,
        "interrupted": stop[0],
        "loadgen_hold_cpu_s": None if cpu_hold[0] is None else round(cpu_hold[1] - cpu_hold[0], 3),
        "loadgen_hold_cpu_per_s": None if cpu_hold[0] is None else round((cpu_hold[1] - cpu_hold[0]) / hold, 4),
        "loadgen_cpu_s": round(cpu, 3),
        "loadgen_wall_s": round(wall, 3),
        "loadgen_cpu_per_s": round(cpu / max(1e-9, wall), 4),
    }
    print(json.dumps(out, separators=(",", ":")), flush=True)


if __name__ == "__main__":
    main()
