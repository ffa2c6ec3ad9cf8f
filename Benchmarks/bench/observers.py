#!/usr/bin/python3
"""Peer observers that record when each segment number arrives at each node of a Casty fleet.

    observers.py hops --fleet F [--seconds S]
    observers.py failover --fleet F --pids-dir D [--seconds S]

An observer joins a node directly as a peer observer (docs/PROTOCOL.md: signed `GET
/casty/v1/join?...&observer=1`, no child slot, never redirected) and reads its frames; every
`data(N)` frame is stamped with time.monotonic() when it is complete. All observers run in this
one process (selectors), so their clocks agree.

hops      one observer on every node of a chain fleet (fanout 1). For every segment seen at the
          root and at depth d: delay = arrival(d) - arrival(root). Reports the median and p99
          per depth and the added latency per hop (least-squares slope of the medians).
failover  observers on the root and on every leaf of a tree fleet. After S s of baseline, the
          script SIGKILLs an inner node at depth 1 (the PID from D/NAME.pid) about 150 ms before
          the next segment is due (so that segment is caught by the fault), waits S s, then
          SIGSTOPs another inner node the same way, waits S s and SIGCONTs it. For each fault:
          the last moment any leaf got a late segment (delay beyond its baseline by > 50 ms),
          counted from the fault ("whole again"), the largest extra delay, and segments lost or
          repeated at any leaf; and when the root's tree (polled every 50 ms) next showed no
          mirror below the victim and every live mirror placed ("tree healed").

Prints one JSON object. Every wait is bounded; a frozen node is always resumed.
"""

import argparse
import hashlib
import hmac
import json
import os
import secrets
import selectors
import signal
import socket
import statistics
import struct
import sys
import time
import urllib.parse
import urllib.request


def status(node, timeout=1.0):
    with urllib.request.urlopen(f"http://{node['host']}:{node['port']}/status.json", timeout=timeout) as r:
        return json.load(r)


class Observer:
    """One observer connection: join, parse frames, record arrival time per segment number."""

    def __init__(self, node, secret, label):
        self.node, self.secret, self.label = node, secret, label
        self.arrivals = {}  # seq -> monotonic time (first arrival)
        self.repeats = 0
        self.gaps = 0
        self.rejoins = 0
        self.next_seq = None
        self.stream = None
        self.sock = None
        self.buf = b""
        self.head_done = False

    def connect(self):
        name = f"bench-obs-{self.label}"
        nonce = f"{int(time.time() * 1000)}-{secrets.token_hex(8)}"
        proof = hmac.new(self.secret.encode(), f"casty/1|{name}|{nonce}".encode(), hashlib.sha256).hexdigest()
        q = {"v": "1", "name": name, "observer": "1", "nonce": nonce, "proof": proof}
        if self.next_seq is not None:
            q["from"] = str(self.next_seq)
            if self.stream:
                q["stream"] = self.stream
        query = urllib.parse.urlencode(q, quote_via=urllib.parse.quote)
        s = socket.create_connection((self.node["host"], self.node["port"]), timeout=2)
        s.sendall(f"GET /casty/v1/join?{query} HTTP/1.0\r\nHost: {self.node['host']}:{self.node['port']}\r\n"
                  f"User-Agent: casty-bench-observer\r\n\r\n".encode())
        s.setblocking(False)
        self.sock, self.buf, self.head_done = s, b"", False

    def on_readable(self, now):
        """Reads what is there; returns False when the connection ended."""
        try:
            data = self.sock.recv(262144)
        except BlockingIOError:
            return True
        except OSError:
            return False
        if not data:
            return False
        self.buf += data
        if not self.head_done:
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                return len(self.buf) < 65536
            head = self.buf[:end].decode("latin-1").split("\r\n")
            if " 200 " not in head[0] + " ":
                # e.g. 503 while the node is itself (re)joining: the caller retries
                print(f"observers: join refused by {self.node['name']}: {head[0]}", file=sys.stderr)
                return False
            for line in head[1:]:
                k, _, v = line.partition(":")
                if k.strip().lower() == "casty-stream":
                    self.stream = v.strip()
            self.buf = self.buf[end + 4:]
            self.head_done = True
        while len(self.buf) >= 5:
            ftype, length = self.buf[0], struct.unpack(">I", self.buf[1:5])[0]
            if len(self.buf) < 5 + length:
                break
            payload = self.buf[5:5 + length]
            self.buf = self.buf[5 + length:]
            if ftype == 1:
                seq = struct.unpack(">Q", payload[:8])[0]
                if seq in self.arrivals:
                    self.repeats += 1
                else:
                    if self.next_seq is not None and seq > self.next_seq:
                        self.gaps += seq - self.next_seq
                    self.arrivals[seq] = now
                self.next_seq = max(self.next_seq or 0, seq + 1)
        return True


def run_observers(observers, seconds, actions=(), tick=None):
    """Runs every observer for `seconds`; `actions` is a list of (due_fn, fn) called when due_fn(now);
    `tick(now)`, if given, is called about every 50 ms."""
    sel = selectors.DefaultSelector()
    for o in observers:
        o.connect()
        sel.register(o.sock, selectors.EVENT_READ, o)
    end = time.monotonic() + seconds
    pending = list(actions)
    next_tick = time.monotonic()
    while True:
        now = time.monotonic()
        if now >= end:
            break
        if tick and now >= next_tick:
            tick(now)
            next_tick = now + 0.05
        for item in list(pending):
            if item[0](now):
                item[1](now)
                pending.remove(item)
        for key, _ in sel.select(timeout=0.002):
            o = key.data
            if not o.on_readable(time.monotonic()):
                sel.unregister(o.sock)
                o.sock.close()
                o.rejoins += 1
                if o.rejoins > 50:
                    continue
                time.sleep(0.05)
                try:
                    o.connect()
                    sel.register(o.sock, selectors.EVENT_READ, o)
                except OSError:
                    pass
    for o in observers:
        try:
            sel.unregister(o.sock)
        except (KeyError, ValueError):
            pass
        o.sock.close()
    sel.close()


def pct(values, q):
    v = sorted(values)
    if not v:
        return None
    return v[min(len(v) - 1, max(0, int(-(-q * len(v) // 1)) - 1))]


def hops(args, fleet):
    # wait (<= 20 s) until every mirror is in the chain with its own depth
    deadline = time.monotonic() + 20
    while True:
        nodes = [dict(fleet["ingest"], depth=0)]
        for m in fleet["mirrors"]:
            try:
                st = status(m)
            except OSError:
                st = {}
            nodes.append(dict(m, depth=int(st.get("depth") or 0) if st.get("parent") else 0))
        depths = sorted(n["depth"] for n in nodes[1:])
        if depths == list(range(1, len(nodes))) or time.monotonic() > deadline:
            break
        time.sleep(0.25)
    print(f"observers: chain depths {depths}", file=sys.stderr)
    observers = [Observer(n, fleet["secret"], f"{n['name']}") for n in nodes]
    run_observers(observers, args.seconds)
    root = observers[0]
    per_depth = {}
    for o in observers[1:]:
        d = o.node["depth"]
        # only segments that arrived at the root during the run, after the first 1 s
        delays = [(o.arrivals[s] - root.arrivals[s]) * 1000 for s in sorted(root.arrivals)[1:] if s in o.arrivals]
        if delays:
            per_depth.setdefault(d, []).extend(delays)
    rows = []
    for d in sorted(per_depth):
        v = per_depth[d]
        rows.append({"depth": d, "segments": len(v), "median_ms": round(statistics.median(v), 3),
                     "p99_ms": round(pct(v, 0.99), 3), "max_ms": round(max(v), 3)})
    xs = [r["depth"] for r in rows]
    ys = [r["median_ms"] for r in rows]
    slope = None
    if len(xs) >= 2:
        mx, my = statistics.mean(xs), statistics.mean(ys)
        slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sum((x - mx) ** 2 for x in xs)
    out = {"mode": "hops", "nodes": len(nodes), "seconds": args.seconds, "segments_at_root": len(root.arrivals),
           "depths": rows, "per_hop_ms": None if slope is None else round(slope, 3),
           "gaps": sum(o.gaps for o in observers), "repeats": sum(o.repeats for o in observers)}
    print(json.dumps(out))


def failover(args, fleet):
    by_name = {m["name"]: m for m in fleet["mirrors"]}
    root_st = status(fleet["ingest"])
    parent = root_st.get("tree") or {}
    children = {}
    for child, par in parent.items():
        children.setdefault(par, []).append(child)
    leaves = [n for n in by_name if n in parent and n not in children]
    depth1 = [n for n, p in parent.items() if p == fleet["ingest"]["name"] and n in children]
    if not leaves or len(depth1) < 2:
        raise SystemExit(f"failover: tree not as expected: {parent}")
    pid_of = lambda name: int(open(os.path.join(args.pids_dir, f"{name}.pid")).read().strip())
    root_obs = Observer(fleet["ingest"], fleet["secret"], "root")
    leaf_obs = [Observer(by_name[n], fleet["secret"], n) for n in leaves]
    observers = [root_obs] + leaf_obs
    faults = []
    frozen = []

    def due_before_next_segment(not_before):
        """True ~150 ms before the next segment is due at the root (after `not_before`)."""
        def due(now):
            if now < not_before[0]:
                return False
            a = sorted(root_obs.arrivals.values())
            if len(a) < 3:
                return False
            period = statistics.median(b - c for b, c in zip(a[1:], a[:-1]))
            nxt = a[-1] + period
            return nxt - 0.15 <= now < nxt - 0.05
        return due

    t_start = time.monotonic()
    kill_victim = depth1[0]
    # the freeze victim: an inner node of the other depth-1 subtree (its depth-1 node itself)
    freeze_victim = depth1[1]

    def do_kill(now):
        os.kill(pid_of(kill_victim), signal.SIGKILL)
        faults.append({"kind": "kill", "node": kill_victim, "t": now})

    def do_freeze(now):
        pid = pid_of(freeze_victim)
        os.kill(pid, signal.SIGSTOP)
        frozen.append(pid)
        faults.append({"kind": "freeze", "node": freeze_victim, "t": now})

    def do_thaw(now):
        for pid in frozen:
            os.kill(pid, signal.SIGCONT)
        frozen.clear()

    # the root's view of the tree, every 50 ms: when is the victim gone and every other mirror placed?
    snapshots = []

    def tick(now):
        try:
            t = status(fleet["ingest"], timeout=0.5).get("tree") or {}
            snapshots.append((time.monotonic(), t))
        except (OSError, ValueError):
            pass

    s = args.seconds
    actions = [(due_before_next_segment([t_start + s]), do_kill),
               (due_before_next_segment([t_start + 2 * s + 1.2]), do_freeze),
               (lambda now: now >= t_start + 3 * s + 2.5, do_thaw)]
    try:
        run_observers(observers, 3 * s + 4, actions, tick)
    finally:
        for pid in frozen:
            os.kill(pid, signal.SIGCONT)
    for f in faults:  # for the log: the tree 2 s after each fault
        later = [t for ts, t in snapshots if ts > f["t"] + 2]
        print(f"observers: tree 2 s after the {f['kind']} of {f['node']}: {later[0] if later else '?'}", file=sys.stderr)
    results = []
    root_seqs = sorted(root_obs.arrivals)
    for i, f in enumerate(faults):
        t_f = f["t"]
        t_next = faults[i + 1]["t"] if i + 1 < len(faults) else t_f + s + 2
        worst_delay, last_late, late_leaves = 0.0, 0.0, 0
        lost = 0
        for o in leaf_obs:
            base = [o.arrivals[q] - root_obs.arrivals[q] for q in root_seqs
                    if q in o.arrivals and root_obs.arrivals[q] < t_f - 0.2 and root_obs.arrivals[q] > t_start + 0.5]
            b = statistics.median(base) if base else 0.0
            window = [q for q in root_seqs if t_f - 1.2 <= root_obs.arrivals[q] < t_next - 0.2]
            late = False
            for q in window:
                if q not in o.arrivals:
                    if root_obs.arrivals[q] < t_next - 1.5:
                        lost += 1
                    continue
                extra = o.arrivals[q] - root_obs.arrivals[q] - b
                worst_delay = max(worst_delay, extra)
                if extra > 0.05:
                    late = True
                    last_late = max(last_late, o.arrivals[q] - t_f)
            late_leaves += late
        # tree healed: the first snapshot after the fault in which no mirror has the victim as its
        # parent and every live mirror has a place (every earlier victim is out of the tree; this
        # one may be back as a leaf)
        healed = None
        for t_snap, tree in snapshots:
            if t_snap <= t_f:
                continue
            if f["node"] not in tree.values() and len([n for n in tree if n != f["node"]]) >= len(fleet["mirrors"]) - (i + 1):
                healed = t_snap - t_f
                break
        results.append({"kind": f["kind"], "node": f["node"], "whole_again_s": round(last_late, 3),
                        "tree_healed_s": None if healed is None else round(healed, 3),
                        "worst_extra_delay_s": round(worst_delay, 3), "late_leaves": late_leaves,
                        "lost_segments": lost})
    out = {"mode": "failover", "mirrors": len(fleet["mirrors"]), "leaves": leaves, "faults": results,
           "repeats": sum(o.repeats for o in leaf_obs), "gaps_seen": sum(o.gaps for o in leaf_obs),
           "observer_reconnects": sum(o.rejoins for o in observers), "segments_at_root": len(root_seqs)}
    print(json.dumps(out))


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("mode", choices=["hops", "failover"])
    p.add_argument("--fleet", required=True)
    p.add_argument("--pids-dir", help="folder with NAME.pid for every node (failover)")
    p.add_argument("--seconds", type=float, default=10.0)
    a = p.parse_args()
    if not 1 <= a.seconds <= 120:
        p.error("--seconds must be 1..120")
    fleet = json.load(open(a.fleet))
    if a.mode == "hops":
        hops(a, fleet)
    else:
        if not a.pids_dir:
            p.error("failover needs --pids-dir")
        failover(a, fleet)


if __name__ == "__main__":
    main()
