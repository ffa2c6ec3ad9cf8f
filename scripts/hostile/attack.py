#!/usr/bin/python3
"""Hostile clients against a running Casty node (Python 3 standard library only).

    attack.py sources N
        prints the N attacker addresses (one per line) that scripts/hostile.sh puts on the
        attacker's veth: 10.79.1.1 ... 10.79.1.250, 10.79.2.1 ...
    attack.py run --mirror HOST:PORT --ingest HOST:PORT --fleet F --mirror-pid PID
                  --sources N --out RESULT.json [--short]
        runs every attack (each bounded in count and time), samples the mirror's memory and open
        files every 0.2 s, and writes what was sent, what the node answered and whether that
        passes.
    attack.py report --result RESULT.json --dummy-out F --dummy-rc N --player-err F
                  --player-rc N --json OUT.json
        adds the real listeners' verdict (casty-dummy's summary, the player's decode errors) and a
        last /status.json check, prints the Markdown table, writes OUT.json, exits 1 on any
        failed check.

Run inside the attacker's network namespace (every socket is bound to one of the attacker's
addresses, so the node's per-address limit applies to it).
"""

import argparse
import collections
import hashlib
import hmac
import json
import os
import re
import select
import selectors
import socket
import statistics
import sys
import threading
import time
import urllib.parse

# Source addresses: 0 probes the node (status, metrics), 1 tests the per-address limit,
# 2..9 send single requests (heads, garbage, joins, never-reading clients), 10.. hold the
# idle and slowloris connections.
PROBE, PER_ADDRESS, FIRST_REQUEST, FIRST_BULK = 0, 1, 2, 10
MAX_PER_SOURCE = 60  # stay under the node's 64 per address where the limit is not the point


def source(index):
    return f"10.79.{1 + index // 250}.{1 + index % 250}"


def log(message):
    print(f"hostile: {message}", file=sys.stderr, flush=True)


# --- sockets ------------------------------------------------------------------------------------

STATUS_LINE = re.compile(rb"^HTTP/1\.[01] (\d{3})")


def status_of(data):
    match = STATUS_LINE.match(data)
    return int(match.group(1)) if match else None


def connect(src, dst, timeout=5.0, rcvbuf=None):
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if rcvbuf:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    sock.bind((src, 0))
    sock.settimeout(timeout)
    sock.connect(dst)
    return sock


class Answer:
    """What the node did with one request: a status code, or close / reset / hang."""

    def __init__(self, label, status=None, seconds=0.0, data=b""):
        self.label, self.status, self.seconds, self.data = label, status, seconds, data

    @property
    def body(self):
        head, _, body = self.data.partition(b"\r\n\r\n")
        return body


def exchange(src, dst, payload, timeout=5.0):
    """Sends payload (stopping early if the node answers first) and reads the answer until the
    node closes, the head of a 200 arrives (a stream: not waited for), or timeout (a hang)."""
    start = time.monotonic()
    try:
        sock = connect(src, dst, timeout)
    except OSError as error:
        return Answer(f"connect failed ({error.__class__.__name__})", seconds=time.monotonic() - start)
    data, label = b"", None
    try:
        view, sent = memoryview(payload), 0
        poller = select.poll()
        poller.register(sock, select.POLLIN)
        while sent < len(payload):
            sent += sock.send(view[sent:sent + 16384])
            if poller.poll(0):
                break  # answered (or closed) before the whole request was sent
        while time.monotonic() - start < timeout:
            sock.settimeout(max(0.05, timeout - (time.monotonic() - start)))
            chunk = sock.recv(65536)
            if not chunk:
                label = "close"
                break
            data += chunk
            if status_of(data) == 200 and b"\r\n\r\n" in data:
                break
            if len(data) > 1 << 20:
                break
        else:
            label = "hang"
    except socket.timeout:
        label = "hang"
    except (ConnectionResetError, BrokenPipeError):
        label = "reset"
    except OSError as error:
        label = f"error {error.errno}"
    finally:
        sock.close()
    status = status_of(data)
    return Answer(str(status) if status else label or "hang", status, time.monotonic() - start, data)


def http_get(dst, path, src_index=PROBE, timeout=5.0):
    return exchange(source(src_index), dst, f"GET {path} HTTP/1.0\r\nHost: casty\r\n\r\n".encode(), timeout)


def get_json(dst, path):
    answer = http_get(dst, path)
    if answer.status != 200:
        return None
    try:
        return json.loads(answer.body)
    except ValueError:
        return None


def metric(dst, name):
    answer = http_get(dst, "/metrics")
    for line in answer.body.decode("utf-8", "replace").splitlines():
        if line.startswith(name + "{") or line.startswith(name + " "):
            return float(line.rsplit(" ", 1)[1])
    return None


def settled_metric(dst, name, seconds=3.0):
    """A gauge once it holds still (two readings 0.3 s apart agree, within `seconds`): a
    connection the previous attack just closed may still be counted by the node for a moment,
    and must not be taken for part of the baseline."""
    last = metric(dst, name)
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        time.sleep(0.3)
        value = metric(dst, name)
        if value == last:
            return value
        last = value
    return last


# --- the node's memory --------------------------------------------------------------------------


class Sampler(threading.Thread):
    """Samples VmRSS and VmHWM of a process every 0.2 s, and its open files every second."""

    def __init__(self, pid):
        super().__init__(daemon=True)
        self.pid, self.samples, self.phase, self.stopping = pid, [], "before", threading.Event()
        self.fds = []

    def read(self):
        fields = {}
        with open(f"/proc/{self.pid}/status") as status:
            for line in status:
                key, _, value = line.partition(":")
                if key in ("VmRSS", "VmHWM"):
                    fields[key] = int(value.split()[0])
        return fields

    def fd_count(self):
        return len(os.listdir(f"/proc/{self.pid}/fd"))

    def run(self):
        start, tick = time.monotonic(), 0
        while not self.stopping.is_set():
            try:
                fields = self.read()
                self.samples.append((time.monotonic() - start, self.phase, fields["VmRSS"], fields["VmHWM"]))
                if tick % 5 == 0:
                    self.fds.append((time.monotonic() - start, self.phase, self.fd_count()))
            except (OSError, KeyError):
                self.samples.append((time.monotonic() - start, self.phase, None, None))
            tick += 1
            self.stopping.wait(0.2)

    def peak(self, phase=None):
        values = [s[2] for s in self.samples if s[2] is not None and (phase is None or s[1] == phase)]
        return max(values) if values else None

    def peak_fds(self, phase=None):
        values = [f[2] for f in self.fds if phase is None or f[1] == phase]
        return max(values) if values else None


# --- the attacks --------------------------------------------------------------------------------


class Attack:
    def __init__(self, name, target, sent, count):
        self.name, self.target, self.sent, self.count = name, target, sent, count
        self.answers = collections.Counter()
        self.times = []
        self.failures = []
        self.notes = []
        self.rss_peak_kb = None

    def record(self, answer, ok):
        self.answers[answer.label] += 1
        self.times.append(answer.seconds)
        if not ok:
            self.failures.append(f"{answer.label} after {answer.seconds:.2f} s: {answer.data[:120]!r}")

    def fail(self, why):
        self.failures.append(why)

    def as_dict(self):
        return {
            "attack": self.name,
            "target": self.target,
            "sent": self.sent,
            "count": self.count,
            "answers": dict(self.answers),
            "seconds_median": round(statistics.median(self.times), 3) if self.times else None,
            "seconds_max": round(max(self.times), 3) if self.times else None,
            "rss_peak_kb": self.rss_peak_kb,
            "notes": self.notes,
            "failures": self.failures[:20],
            "failure_count": len(self.failures),
            "pass": not self.failures,
        }


def is_refusal(answer):
    """A clear refusal: a 4xx, or the node closing the connection."""
    return (answer.status is not None and 400 <= answer.status < 500) or answer.label in ("close", "reset")


def run_parallel(jobs, workers=20):
    """Runs callables on `workers` threads; returns their results in order."""
    results, lock, index = [None] * len(jobs), threading.Lock(), [0]

    def worker():
        while True:
            with lock:
                i = index[0]
                index[0] += 1
            if i >= len(jobs):
                return
            results[i] = jobs[i]()

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(min(workers, len(jobs)))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def request_source(i):
    return source(FIRST_REQUEST + i % (FIRST_BULK - FIRST_REQUEST))


def big_heads(dst, target, repeats):
    mib = 1 << 20
    kinds = [
        ("one 1 MiB header line", b"GET / HTTP/1.0\r\nX-Big: " + b"a" * mib + b"\r\n\r\n"),
        ("1 MiB of 100-byte header lines", b"GET / HTTP/1.0\r\n" + b"X-Many: " + b"b" * 90 + b"\r\n" * 1 + (b"X-Many: " + b"b" * 90 + b"\r\n") * (mib // 100) + b"\r\n"),
        ("a 1 MiB request target", b"GET /" + b"c" * mib + b" HTTP/1.0\r\n\r\n"),
        ("1 MiB without a newline", b"d" * mib),
    ]
    attacks = []
    for name, payload in kinds:
        attack = Attack(f"head of 1 MiB: {name}", target, f"{len(payload)} bytes", repeats)
        answers = run_parallel([lambda i=i: exchange(request_source(i), dst, payload, timeout=5.0) for i in range(repeats)], workers=10)
        for answer in answers:
            attack.record(answer, answer.label in ("431", "400", "close", "reset"))
        attacks.append(attack)
    return attacks


GARBAGE = [
    # (group, description, request bytes, acceptable statuses; None = any 4xx or a close)
    ("bad method", "POST", b"POST / HTTP/1.0\r\nContent-Length: 5\r\n\r\nhello", {405}),
    ("bad method", "PUT", b"PUT /stream HTTP/1.0\r\n\r\n", {405}),
    ("bad method", "DELETE", b"DELETE /status.json HTTP/1.0\r\n\r\n", {405}),
    ("bad method", "CONNECT", b"CONNECT 10.79.0.1:22 HTTP/1.0\r\n\r\n", {405}),
    ("bad method", "TRACE", b"TRACE / HTTP/1.0\r\n\r\n", {405}),
    ("bad method", "SOURCE (Icecast source client)", b"SOURCE /stream HTTP/1.0\r\nAuthorization: Basic c291cmNlOmhhY2ttZQ==\r\n\r\n", {405}),
    ("bad method", "lower-case get", b"get / HTTP/1.0\r\n\r\n", {405}),
    ("bad method", "HTTP/2 preface", b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", {405}),
    ("bad method", "method with a NUL", b"G\x00ET / HTTP/1.0\r\n\r\n", {400}),
    ("bad method", "method with '('", b"GE(T / HTTP/1.0\r\n\r\n", {400}),
    ("bad method", "8 KiB method", b"G" * 8200 + b" / HTTP/1.0\r\n\r\n", {400, 431}),
    ("bad path", "empty target", b"GET  HTTP/1.0\r\n\r\n", {400}),
    ("bad path", "space in the target", b"GET /a b HTTP/1.0\r\n\r\n", {400}),
    ("bad path", "control byte in the target", b"GET /\x01 HTTP/1.0\r\n\r\n", {400}),
    ("bad path", "DEL in the target", b"GET /\x7f HTTP/1.0\r\n\r\n", {400}),
    ("bad path", "non-ASCII target", b"GET /\xff\xfe HTTP/1.0\r\n\r\n", {400}),
    ("bad path", "9 KiB target", b"GET /" + b"p" * 9000 + b" HTTP/1.0\r\n\r\n", {414, 431}),
    ("bad path", "join without a query", b"GET /casty/v1/join HTTP/1.0\r\n\r\n", {400}),
    ("bad path", "join with a broken query", b"GET /casty/v1/join?%zz&&=&v HTTP/1.0\r\n\r\n", {400}),
    ("bad path", "join with 'from' not a number", b"GET /casty/v1/join?v=1&name=x&from=-1&nonce=1-a&proof=b HTTP/1.0\r\n\r\n", {400}),
    ("bad path", "loss report without a query", b"GET /casty/v1/lost HTTP/1.0\r\n\r\n", {400}),
    ("bad path", "loss report, missing fields", b"GET /casty/v1/lost?v=1&name=root HTTP/1.0\r\n\r\n", {400}),
    ("bad version", "HTTP/0.9 (no version)", b"GET /\r\n\r\n", {400}),
    ("bad version", "ICY instead of HTTP", b"GET / ICY\r\n\r\n", {400}),
    ("bad version", "lower-case http/1.0", b"GET / http/1.0\r\n\r\n", {400}),
    ("bad version", "HTTP/10.0", b"GET / HTTP/10.0\r\n\r\n", {400}),
    ("bad header", "header without a colon", b"GET / HTTP/1.0\r\nHost\r\n\r\n", {400}),
    ("bad header", "space before the colon", b"GET / HTTP/1.0\r\nHost : x\r\n\r\n", {400}),
    ("bad header", "folded header (obs-fold)", b"GET / HTTP/1.0\r\nX-A: a\r\n  folded\r\n\r\n", {400}),
    ("bad header", "empty header name", b"GET / HTTP/1.0\r\n: x\r\n\r\n", {400}),
    ("bad header", "NUL in a header value", b"GET / HTTP/1.0\r\nIcy-MetaData: 1\x00\r\n\r\n", {400}),
    ("bad header", "bare CR in a header value", b"GET / HTTP/1.0\r\nX-A: a\rX-B: b\r\n\r\n", {400}),
    ("bad header", "non-ASCII header name", b"GET / HTTP/1.0\r\nX-\xc3\xa9: x\r\n\r\n", {400}),
    ("bad header", "9 KiB header line", b"GET / HTTP/1.0\r\nX-Long: " + b"h" * 9000 + b"\r\n\r\n", {431}),
    ("bad header", "300 headers (20 KiB head)", b"GET / HTTP/1.0\r\n" + b"X-Many: 0123456789012345678901234567890123456789012345678901234\r\n" * 300 + b"\r\n", {431}),
    ("garbage", "4 KiB of random bytes", bytes((i * 7919 + 13) % 256 for i in range(4096)), {400, 431}),
    ("garbage", "TLS ClientHello", bytes.fromhex("16030100c4010000c00303") + bytes(range(32)) + b"\x00\x00\x02\x13\x01\x01\x00\x00\x95" + b"\x00" * 149, {400}),
    ("garbage", "blank lines only", b"\r\n\r\n", {400}),
    ("garbage", "SSH banner", b"SSH-2.0-OpenSSH_9.2\r\n", None),  # no blank line: 400 on the line, or 408
]


def garbage(dst, target, repeats):
    attacks = {}
    jobs = []
    for group, description, payload, expected in GARBAGE:
        attack = attacks.setdefault(group, Attack(f"{group}s" if group != "garbage" else "binary garbage", target, "", 0))
        attack.count += repeats
        for r in range(repeats):
            jobs.append((attack, description, payload, expected, r))
    timeout = 12.0
    answers = run_parallel([lambda job=job, i=i: exchange(request_source(i), dst, job[2], timeout=timeout) for i, job in enumerate(jobs)], workers=20)
    per_case = collections.defaultdict(collections.Counter)
    for (attack, description, payload, expected, _), answer in zip(jobs, answers):
        ok = answer.status != 200 and answer.label != "hang" and (
            is_refusal(answer) if expected is None else (answer.status in expected or answer.label in ("close", "reset"))
        )
        attack.record(answer, ok)
        if not ok:
            attack.failures[-1] = f"{description}: " + attack.failures[-1]
        per_case[(attack.name, description)][answer.label] += 1
    for attack in attacks.values():
        cases = [(d, c) for (name, d), c in per_case.items() if name == attack.name]
        attack.sent = "; ".join(d for d, _ in cases)
        attack.notes = [f"{d}: " + ", ".join(f"{k}×{v}" for k, v in sorted(c.items())) for d, c in cases]
    # By design every other GET path is the stream: a path traversal gets audio, never a file.
    odd = Attack("path traversal (any GET path is the stream)", target, "GET /../../../etc/passwd, GET /%2e%2e/%2e%2e/etc/shadow", 2 * repeats)
    for i in range(repeats):
        for path in (b"/../../../etc/passwd", b"/%2e%2e/%2e%2e/etc/shadow"):
            answer = exchange(request_source(i), dst, b"GET " + path + b" HTTP/1.0\r\n\r\n", timeout=5.0)
            head = answer.data.partition(b"\r\n\r\n")[0].lower()
            odd.record(answer, answer.status == 200 and b"content-type: audio/" in head and b"root:" not in answer.data)
    return list(attacks.values()) + [odd]


# --- joins and loss reports ---------------------------------------------------------------------


def make_nonce(ms=None):
    return f"{int(time.time() * 1000) if ms is None else ms}-{os.urandom(8).hex()}"


def make_proof(secret, name, nonce):
    return hmac.new(secret.encode(), f"casty/1|{name}|{nonce}".encode(), hashlib.sha256).hexdigest()


def join_target(name, nonce, proof, version="1", observer=True, extra=""):
    q = urllib.parse.quote
    return f"/casty/v1/join?v={version}&name={q(name, safe='')}{extra}{'&observer=1' if observer else ''}&nonce={q(nonce, safe='')}&proof={proof}"


def lost_target(reporter, child, nonce, proof):
    q = urllib.parse.quote
    return f"/casty/v1/lost?v=1&name={q(reporter, safe='')}&child={q(child, safe='')}&nonce={q(nonce, safe='')}&proof={proof}"


def get(dst, target, i):
    return exchange(request_source(i), dst, f"GET {target} HTTP/1.0\r\nHost: casty\r\nUser-Agent: hostile\r\n\r\n".encode(), timeout=5.0)


def joins(dst, target, secret, repeats, mirror_names, ingest_name):
    attacks = []

    def batch(name, sent, make, check, count):
        attack = Attack(name, target, sent, count)
        answers = run_parallel([lambda i=i: get(dst, make(i), i) for i in range(count)], workers=10)
        for answer in answers:
            attack.record(answer, check(answer))
        attacks.append(attack)
        return attack

    wrong = "not-" + secret
    refused = lambda code, words=None: (lambda a: a.status == code and (words is None or words in a.body.decode("utf-8", "replace")))
    batch("join with a wrong secret (observer)", "observer join, proof keyed with another secret",
          lambda i: (lambda n: join_target(f"evil-{i}", n, make_proof(wrong, f"evil-{i}", n)))(make_nonce()), refused(403, "proof"), repeats)
    batch("join with a wrong secret as a fleet mirror", f"join as '{mirror_names[0]}' (takes a tree place), wrong secret",
          lambda i: (lambda n: join_target(mirror_names[0], n, make_proof(wrong, mirror_names[0], n), observer=False))(make_nonce()), refused(403, "proof"), repeats)
    batch("join with a forged proof", "64 random hex digits as proof",
          lambda i: join_target(f"evil-{i}", make_nonce(), os.urandom(32).hex()), refused(403, "proof"), repeats)
    batch("join with another join's proof", "a valid proof for name A, sent with name B",
          lambda i: (lambda n: join_target(f"evil-b-{i}", n, make_proof(secret, f"evil-a-{i}", n)))(make_nonce()), refused(403, "proof"), repeats)
    batch("join with an upper-case proof", "the valid proof in upper case",
          lambda i: (lambda n: join_target(f"evil-{i}", n, make_proof(secret, f"evil-{i}", n).upper()))(make_nonce()), refused(403), repeats)
    batch("join with a stale nonce", "valid proof over a nonce 120 s old",
          lambda i: (lambda n: join_target(f"evil-{i}", n, make_proof(secret, f"evil-{i}", n)))(make_nonce(int(time.time() * 1000) - 120_000)), refused(403, "stale"), repeats)
    batch("join with a nonce from the future", "valid proof over a nonce 120 s ahead",
          lambda i: (lambda n: join_target(f"evil-{i}", n, make_proof(secret, f"evil-{i}", n)))(make_nonce(int(time.time() * 1000) + 120_000)), refused(403, "stale"), repeats)
    batch("join with a nonce without a time", "valid proof over the nonce 'abc'",
          lambda i: join_target(f"evil-{i}", f"abc{i}", make_proof(secret, f"evil-{i}", f"abc{i}")), refused(403, "stale"), repeats)
    batch("join with a wrong version", "v=4 with a valid proof",
          lambda i: (lambda n: join_target(f"evil-{i}", n, make_proof(secret, f"evil-{i}", n), version="4"))(make_nonce()), refused(426, "version"), repeats)
    batch("join with version 0", "v=0 with a valid proof",
          lambda i: (lambda n: join_target(f"evil-{i}", n, make_proof(secret, f"evil-{i}", n), version="0"))(make_nonce()), refused(426), max(1, repeats // 5))
    batch("join with a non-numeric version", "v=one",
          lambda i: (lambda n: join_target(f"evil-{i}", n, make_proof(secret, f"evil-{i}", n), version="one"))(make_nonce()), refused(400), max(1, repeats // 5))
    batch("join as a name not in the fleet (right secret)", "non-observer join as 'intruder-N' with a valid proof",
          lambda i: (lambda n: join_target(f"intruder-{i}", n, make_proof(secret, f"intruder-{i}", n), observer=False))(make_nonce()), refused(403, "not a mirror"), repeats)

    # Replays: a valid observer join is accepted once (200, closed at once), then refused.
    replay = Attack("replayed join (same nonce)", target, "a valid observer join, then the same request again", 0)
    n_replay = max(2, repeats // 4)
    for i in range(n_replay):
        nonce = make_nonce()
        request = join_target(f"hx-replay-{i}", nonce, make_proof(secret, f"hx-replay-{i}", nonce))
        first = get(dst, request, i)
        if first.status != 200:
            replay.fail(f"the original join was answered {first.label}, not 200")
        for r in range(2):
            again = get(dst, request, i + r + 1)
            replay.count += 1
            replay.record(again, again.status == 403 and "replayed" in again.body.decode("utf-8", "replace"))
    replay.notes.append(f"{n_replay} originals accepted with 200 and closed")
    attacks.append(replay)

    # Loss reports: only the root acts on them; forged ones must change nothing.
    batch("forged loss report", f"/casty/v1/lost: '{ingest_name}' reports '{mirror_names[0]}' lost, forged proof",
          lambda i: lost_target(ingest_name, mirror_names[0], make_nonce(), os.urandom(32).hex()), refused(403), repeats)
    batch("loss report with a wrong secret", f"'{mirror_names[0]}' reports a child lost, proof keyed with another secret",
          lambda i: (lambda n: lost_target(mirror_names[0], "m9", n, make_proof(wrong, mirror_names[0], n)))(make_nonce()), refused(403), repeats)
    batch("loss report with a stale nonce", "valid proof over a nonce 120 s old",
          lambda i: (lambda n: lost_target(mirror_names[0], "m9", n, make_proof(secret, mirror_names[0], n)))(make_nonce(int(time.time() * 1000) - 120_000)), refused(403, "stale"), repeats)
    lost = Attack("replayed loss report", target, "a harmless valid report (a child that is not the reporter's), then the same again", 0)
    for i in range(max(2, repeats // 4)):
        nonce = make_nonce()
        request = lost_target(mirror_names[0], f"nobody-{i}", nonce, make_proof(secret, mirror_names[0], nonce))
        first = get(dst, request, i)
        if first.status not in (204, 404):
            lost.fail(f"the original report was answered {first.label}, not 204 (root) or 404 (mirror)")
        again = get(dst, request, i + 1)
        lost.count += 1
        lost.record(again, again.status == 403 and "replayed" in again.body.decode("utf-8", "replace"))
    attacks.append(lost)
    return attacks


# --- connection floods --------------------------------------------------------------------------


def per_address(dst, target, limit, extra):
    """limit + extra connections from one address: the first `limit` are held, the rest closed."""
    attack = Attack("connections from one address", target, f"idle connections, all from {source(PER_ADDRESS)} (limit {limit})", limit + extra)
    socks, start = [], time.monotonic()
    for _ in range(limit + extra):
        try:
            socks.append(connect(source(PER_ADDRESS), dst, 5.0))
        except OSError as error:
            attack.answers[f"connect failed ({error.__class__.__name__})"] += 1
        time.sleep(0.002)  # in order, so that the first `limit` are the ones admitted
    time.sleep(1.0)
    held, closed = 0, 0
    for sock in socks:
        sock.setblocking(False)
        try:
            data = sock.recv(4096)
            closed += 1 if not data else 0
            attack.answers["close" if not data else str(status_of(data))] += 1
        except BlockingIOError:
            held += 1
        except (ConnectionResetError, OSError):
            closed += 1
            attack.answers["reset"] += 1
    attack.answers["held open 1 s"] = held
    attack.times.append(time.monotonic() - start)
    for sock in socks:
        sock.close()
    if held != limit or closed != extra:
        attack.fail(f"held {held} (expected {limit}), closed at once {closed} (expected {extra})")
    attack.notes.append(f"held {held}, closed at once {closed}")
    return [attack]


def idle_flood(dst, target, count, first_source, sources, timeout_s, probe):
    """`count` connections that send nothing, spread over many addresses."""
    per_source = -(-count // (sources - first_source))
    if per_source > MAX_PER_SOURCE:
        raise SystemExit(f"idle flood: {per_source} per address is over {MAX_PER_SOURCE}; give more --sources")
    attack = Attack("idle connections", target, f"connections sending nothing, from {min(count, sources - first_source)} addresses ({per_source} at most each)", count)
    sel = selectors.DefaultSelector()
    state = {}  # fd -> [sock, connected_at, data]
    start = time.monotonic()
    deadline = start + 30 + timeout_s + count / 1000
    opened, closed, failed = 0, 0, 0
    probe_thread = None
    while time.monotonic() < deadline:
        # Keep at most 500 connects in flight.
        pending = sum(1 for v in state.values() if v[1] is None)
        while opened < count and pending < 500:
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setblocking(False)
            sock.bind((source(first_source + opened % (sources - first_source)), 0))
            sock.connect_ex(dst)
            state[sock.fileno()] = [sock, None, b""]
            sel.register(sock, selectors.EVENT_WRITE)
            opened += 1
            pending += 1
        if opened == count and probe_thread is None and all(v[1] is not None for v in state.values()):
            attack.notes.append(f"all {count - failed} connected in {time.monotonic() - start:.1f} s")
            probe_thread = threading.Thread(target=probe, daemon=True)
            probe_thread.start()
        if not state:
            break
        for key, events in sel.select(timeout=0.2):
            entry = state[key.fd]
            sock = entry[0]
            now = time.monotonic()
            if entry[1] is None:
                error = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                if error:
                    failed += 1
                    attack.answers[f"connect failed ({os.strerror(error)})"] += 1
                    sel.unregister(sock)
                    sock.close()
                    del state[key.fd]
                    continue
                entry[1] = now
                sel.modify(sock, selectors.EVENT_READ)
                continue
            try:
                chunk = sock.recv(4096)
            except OSError:
                chunk = None
            if chunk:
                entry[2] += chunk
                continue
            status = status_of(entry[2])
            attack.answers[str(status) if status else ("close" if chunk == b"" else "reset")] += 1
            attack.times.append(now - entry[1])
            closed += 1
            sel.unregister(sock)
            sock.close()
            del state[key.fd]
    if state:
        attack.fail(f"{len(state)} connections still open {deadline - start:.0f} s after the flood began")
        attack.answers["still open at the deadline"] += len(state)
        for entry in state.values():
            entry[0].close()
    sel.close()
    if probe_thread:
        probe_thread.join(10)
    if attack.times and max(attack.times) > timeout_s + 3:
        attack.fail(f"a connection was held {max(attack.times):.1f} s, more than the request timeout + 3 s")
    if attack.times and min(attack.times) < timeout_s - 1 and attack.answers.get("408", 0) < closed:
        attack.notes.append(f"{closed - attack.answers.get('408', 0)} closed before the timeout")
    if failed:
        attack.notes.append(f"{failed} could not connect")
    return attack


def slowloris(dst, target, count, first_source, sources, timeout_s):
    """`count` clients that send a never-ending request, one byte a second each."""
    attack = Attack("slowloris (1 byte/s)", target, "clients sending 'GET / HTTP/1.0\\r\\nX-Slow: aaaa…' one byte a second", count)
    payload = b"GET / HTTP/1.0\r\nX-Slow: " + b"a" * 10_000
    clients = []
    for i in range(count):
        try:
            sock = connect(source(first_source + i % (sources - first_source)), dst, 5.0)
            sock.setblocking(False)
            clients.append({"sock": sock, "at": time.monotonic(), "sent": 0, "data": b"", "done": False})
        except OSError as error:
            attack.answers[f"connect failed ({error.__class__.__name__})"] += 1
    start = time.monotonic()
    next_byte = start
    sel = selectors.DefaultSelector()
    for c in clients:
        sel.register(c["sock"], selectors.EVENT_READ, c)
    while time.monotonic() < start + timeout_s + 10 and not all(c["done"] for c in clients):
        now = time.monotonic()
        if now >= next_byte:
            for c in clients:
                if not c["done"]:
                    try:
                        c["sock"].send(payload[c["sent"]:c["sent"] + 1])
                        c["sent"] += 1
                    except OSError:
                        pass  # the read below sees the close
            next_byte += 1.0
        for key, _ in sel.select(timeout=max(0.0, min(0.2, next_byte - time.monotonic()))):
            c = key.data
            try:
                chunk = c["sock"].recv(4096)
            except OSError:
                chunk = None
            if chunk:
                c["data"] += chunk
                continue
            c["done"] = True
            sel.unregister(c["sock"])
            status = status_of(c["data"])
            answer = Answer(str(status) if status else ("close" if chunk == b"" else "reset"), status, time.monotonic() - c["at"], c["data"])
            attack.record(answer, answer.seconds <= timeout_s + 2 and (status == 408 or status is None))
            c["sock"].close()
    sel.close()
    for c in clients:
        if not c["done"]:
            attack.answers["still open at the deadline"] += 1
            attack.fail(f"still open after {time.monotonic() - c['at']:.1f} s ({c['sent']} bytes sent)")
            c["sock"].close()
    sent = [c["sent"] for c in clients]
    if sent:
        attack.notes.append(f"bytes sent per client before the close: {min(sent)}–{max(sent)}")
    return attack


def never_reading(mirror, target, secret, observers, players, timeout_s):
    """Valid observers (right secret) and players that never read: the node must drop them once
    they lag more than the node's --max-listener-lag, so they cost it bounded memory."""
    status = get_json(mirror, "/status.json") or {}
    stream, seq = status.get("stream"), status.get("seq")
    gauges = {"observer": "casty_peers", "player": "casty_listeners"}
    dropped_before = metric(mirror, "casty_dropped_slow_listeners_total") or 0
    groups = []
    for kind, n in (("observer", observers), ("player", players)):
        if n == 0:
            continue
        if kind == "observer":
            sent = "observer joins with the fleet's secret, from the oldest segment in the ring; receive buffer 4 KiB, never read"
        else:
            sent = "players (GET / with Icy-MetaData: 1); receive buffer 4 KiB, never read"
        attack = Attack(f"a valid {kind} that never reads", target, sent, n)
        baseline = settled_metric(mirror, gauges[kind]) or 0
        socks, opened = [], time.monotonic()
        for i in range(n):
            if kind == "observer":
                nonce = make_nonce()
                name = f"hx-stall-{i}"
                extra = f"&from={max(0, (seq or 0) - 100000)}&stream={stream}" if stream and seq is not None else ""
                request = join_target(name, nonce, make_proof(secret, name, nonce), extra=extra)
            else:
                request = "/"
            try:
                sock = connect(request_source(i), mirror, 5.0, rcvbuf=4096)
                sock.sendall(f"GET {request} HTTP/1.0\r\nHost: casty\r\nIcy-MetaData: 1\r\n\r\n".encode())
                socks.append(sock)
            except OSError as error:
                attack.fail(f"could not connect: {error}")
        groups.append({"kind": kind, "attack": attack, "socks": socks, "baseline": baseline, "opened": opened, "gone_at": None, "peak": baseline})
    # The node's own gauges say when every stalled client of a kind is gone.
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and any(g["gone_at"] is None for g in groups):
        for g in groups:
            if g["gone_at"] is not None:
                continue
            value = metric(mirror, gauges[g["kind"]])
            if value is None:
                continue
            g["peak"] = max(g["peak"], value)
            if g["peak"] >= g["baseline"] + len(g["socks"]) and value <= g["baseline"]:
                g["gone_at"] = time.monotonic() - g["opened"]
        time.sleep(0.5)
    dropped = int((metric(mirror, "casty_dropped_slow_listeners_total") or 0) - dropped_before)
    # Now read: a dropped client finds the end of its stream after what the kernels still held.
    for g in groups:
        attack = g["attack"]
        sizes = []
        for sock in g["socks"]:
            data, closed, read_start = b"", False, time.monotonic()
            sock.settimeout(1.0)
            try:
                while time.monotonic() - read_start < 10:
                    chunk = sock.recv(1 << 20)
                    if not chunk:
                        closed = True
                        break
                    data += chunk
            except socket.timeout:
                pass
            except OSError:
                closed = True
            sock.close()
            sizes.append(len(data))
            status = status_of(data)
            label = f"{status}, then dropped" if closed else f"{status}, still streaming"
            attack.answers[label] += 1
            if not (closed and status == 200):
                attack.failures.append(f"{label}: {len(data)} bytes")
        if g["gone_at"] is None:
            attack.fail(f"the node still counted them {timeout_s} s after they connected (peak {g['peak']:.0f}, baseline {g['baseline']:.0f})")
        else:
            attack.times = [g["gone_at"]]
        attack.notes.append(f"{gauges[g['kind']]} {g['baseline']:.0f} → {g['peak']:.0f} → {g['baseline']:.0f}, all gone {g['gone_at'] or 0:.1f} s after they connected; each got {min(sizes or [0])}–{max(sizes or [0])} bytes before the close")
    total = sum(len(g["socks"]) for g in groups)
    if groups:
        groups[0]["attack"].notes.append(f"casty_dropped_slow_listeners_total +{dropped} (of {total} stalled)")
        if dropped < total:
            groups[0]["attack"].fail(f"only {dropped} of {total} never-reading clients counted as dropped")
    return [g["attack"] for g in groups]


# --- run ----------------------------------------------------------------------------------------


def parse_address(text):
    host, _, port = text.rpartition(":")
    return host, int(port)


def command_run(args):
    mirror, ingest = parse_address(args.mirror), parse_address(args.ingest)
    fleet = json.load(open(args.fleet))
    secret, mirror_names, ingest_name = fleet["secret"], [m["name"] for m in fleet["mirrors"]], fleet["ingest"]["name"]
    short = args.short
    scale = {
        "heads": 5 if short else 50,
        "garbage": 1 if short else 10,
        "joins": 8 if short else 50,
        "idle": args.idle or (2000 if short else 10_000),
        "slowloris": 20 if short else 200,
        "stalled": 3 if short else 20,
    }
    timeout_s = args.request_timeout_ms / 1000
    sampler = Sampler(args.mirror_pid)
    sampler.start()
    results, started = [], time.monotonic()

    def phase(name):
        sampler.phase = name
        log(f"{time.monotonic() - started:5.1f} s: {name}")

    def run(name, function):
        phase(name)
        before = len(sampler.samples)
        attacks = function()
        peak = max((s[2] for s in sampler.samples[max(0, before - 1):] if s[2] is not None), default=None)
        for attack in attacks:
            attack.rss_peak_kb = peak
            results.append(attack)
            log(f"   {attack.name} [{attack.target}]: {dict(attack.answers)} {'pass' if not attack.failures else 'FAIL: ' + attack.failures[0]}")

    time.sleep(2.0)
    before = sampler.read()
    fds_before = sampler.fd_count()
    status_before = get_json(mirror, "/status.json") or {}
    rejoins_before = metric(mirror, "casty_rejoins_total")
    run("1 MiB heads", lambda: big_heads(mirror, "mirror", scale["heads"]))
    run("garbage", lambda: garbage(mirror, "mirror", scale["garbage"]))
    run("1 MiB heads and garbage (ingest)", lambda: big_heads(ingest, "ingest", max(1, scale["heads"] // 5)) + garbage(ingest, "ingest", 1))
    run("joins (mirror)", lambda: joins(mirror, "mirror", secret, scale["joins"], mirror_names, ingest_name))
    run("joins (ingest)", lambda: joins(ingest, "ingest", secret, scale["joins"], mirror_names, ingest_name))
    run("per-address limit", lambda: per_address(mirror, "mirror", args.max_per_address, 36))

    probes = {}

    def probe():
        t = time.monotonic()
        answer = http_get(mirror, "/status.json")
        probes["status"] = (answer.label, round(time.monotonic() - t, 3))
        player = exchange(source(PROBE), mirror, b"GET / HTTP/1.0\r\nIcy-MetaData: 1\r\n\r\n", timeout=5.0)
        probes["player"] = (player.label, round(player.seconds, 3))

    def idle():
        attack = idle_flood(mirror, "mirror", scale["idle"], FIRST_BULK, args.sources, timeout_s, probe)
        attack.notes.append(f"during the flood a new client got /status.json: {probes.get('status')}, a new player got: {probes.get('player')}")
        if probes.get("status", ("-",))[0] != "200" or probes.get("player", ("-",))[0] != "200":
            attack.fail(f"the node did not serve a new client during the flood: {probes}")
        return [attack]

    slow = [
        ("idle connections", idle),
        ("slowloris", lambda: [slowloris(mirror, "mirror", scale["slowloris"], FIRST_BULK, args.sources, timeout_s)]),
        ("never-reading clients", lambda: never_reading(mirror, "mirror", secret, scale["stalled"], scale["stalled"], 90)),
    ]
    if short:
        # The slow attacks together, so that --short stays short.
        phase("idle + slowloris + never-reading, at once")
        before_samples = len(sampler.samples)
        outputs = [None] * len(slow)
        threads = [threading.Thread(target=lambda i=i, f=f: outputs.__setitem__(i, f()), daemon=True) for i, (_, f) in enumerate(slow)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(180)
        peak = max((s[2] for s in sampler.samples[before_samples:] if s[2] is not None), default=None)
        for output in outputs:
            for attack in output or []:
                attack.rss_peak_kb = peak
                results.append(attack)
                log(f"   {attack.name} [{attack.target}]: {dict(attack.answers)} {'pass' if not attack.failures else 'FAIL: ' + attack.failures[0]}")
    else:
        for name, function in slow:
            run(name, function)
        # The same flood again: memory that is only kept for reuse does not grow a second time.
        first_peak = sampler.peak("idle connections")

        def again():
            attacks = idle()
            attacks[0].name = "idle connections, again (memory reused, not grown)"
            second_peak = sampler.peak("idle connections again") or 0
            attacks[0].notes.append(f"peak RSS {first_peak / 1024:.1f} MiB in the first flood, {second_peak / 1024:.1f} MiB in this one")
            if first_peak and second_peak > first_peak * 1.1 + 8 * 1024:
                attacks[0].fail(f"peak RSS grew from {first_peak / 1024:.1f} to {second_peak / 1024:.1f} MiB")
            return attacks

        run("idle connections again", again)

    phase("after")
    time.sleep(5.0)
    after = sampler.read()
    fds_after = sampler.fd_count()
    sampler.stopping.set()
    sampler.join()
    status_after = get_json(mirror, "/status.json") or {}
    ingest_after = get_json(ingest, "/status.json") or {}
    rejoins_after = metric(mirror, "casty_rejoins_total")
    checks = []

    def check(name, ok, detail):
        checks.append({"check": name, "pass": bool(ok), "detail": detail})

    check("mirror answers /status.json after the attacks", bool(status_after), f"seq {status_before.get('seq')} → {status_after.get('seq')}")
    check("mirror kept its place in the tree", status_after.get("parent") == status_before.get("parent") and rejoins_after == rejoins_before,
          f"parent {status_before.get('parent')} → {status_after.get('parent')}, rejoins {rejoins_before} → {rejoins_after}")
    tree = ingest_after.get("tree")
    check("the root's tree is still the fleet (no intruder, no eviction)",
          isinstance(tree, dict) and set(tree) <= set(mirror_names) and tree.get(mirror_names[0]) == ingest_name,
          f"tree {tree}")
    check("mirror's open files back to the level before", fds_after <= fds_before + 4, f"{fds_before} before, {sampler.peak_fds()} at the peak, {fds_after} after")
    peak_rss = max(sampler.peak() or 0, after["VmHWM"])
    check(f"mirror's peak RSS within {args.rss_limit_mb} MiB", peak_rss <= args.rss_limit_mb * 1024, f"{peak_rss / 1024:.1f} MiB")
    result = {
        "mode": "short" if short else "full",
        "seconds": round(time.monotonic() - started, 1),
        "mirror": args.mirror,
        "ingest": args.ingest,
        "scale": scale,
        "attacks": [a.as_dict() for a in results],
        "memory": {
            "before_rss_kb": before["VmRSS"], "before_hwm_kb": before["VmHWM"],
            "during_peak_rss_kb": sampler.peak(), "after_rss_kb": after["VmRSS"], "after_hwm_kb": after["VmHWM"],
            "samples": len(sampler.samples),
            "per_phase_peak_rss_kb": {p: sampler.peak(p) for p in dict.fromkeys(s[1] for s in sampler.samples)},
        },
        "fds": {"before": fds_before, "peak": sampler.peak_fds(), "after": fds_after},
        "checks": checks,
    }
    with open(args.out, "w") as out:
        json.dump(result, out, indent=1)
    log(f"attacks done in {result['seconds']} s; results in {args.out}")
    return 0


# --- report -------------------------------------------------------------------------------------


def command_report(args):
    result = json.load(open(args.result))
    checks = result["checks"]

    def check(name, ok, detail):
        checks.append({"check": name, "pass": bool(ok), "detail": detail})

    summary = ""
    try:
        lines = [l for l in open(args.dummy_out).read().splitlines() if l.startswith("dummies: clients=")]
        summary = lines[-1] if lines else ""
    except OSError:
        pass
    fields = dict(re.findall(r"(\w+)=(\d+)", summary))
    listeners = {k: int(v) for k, v in fields.items()}
    check("real listeners (peer observers): no gap, no repeat, none lost", args.dummy_rc == 0 and listeners.get("gaps") == 0 and listeners.get("repeats") == 0 and listeners.get("failed") == 0 and listeners.get("received", 0) > 0,
          summary.removeprefix("dummies: ") or f"no summary (exit {args.dummy_rc})")
    try:
        errors = [l for l in open(args.player_err).read().splitlines() if l.strip()]
    except OSError:
        errors = ["no player log"]
    check("real player (ffmpeg): no decode error, still playing at the end", not errors and args.player_rc == 0,
          f"{len(errors)} error lines, ffmpeg exit {args.player_rc}" + (f": {errors[:3]}" if errors else ""))
    if args.mirror:
        status = get_json(parse_address(args.mirror), "/status.json")
        check("mirror answers /status.json at the end", status is not None, f"seq {status.get('seq') if status else None}")
    if args.mirror_pid:
        try:
            with open(f"/proc/{args.mirror_pid}/status") as f:
                rss = dict((k, int(v.split()[0])) for k, _, v in (l.partition(":") for l in f) if k in ("VmRSS", "VmHWM"))
            result["memory"]["end_rss_kb"], result["memory"]["end_hwm_kb"] = rss["VmRSS"], rss["VmHWM"]
        except OSError:
            check("mirror still running at the end", False, "gone")
    result["listeners"], result["player_errors"] = listeners, len(errors)
    result["pass"] = all(a["pass"] for a in result["attacks"]) and all(c["pass"] for c in checks)

    def answers(a):
        return ", ".join(f"{k} ×{v}" for k, v in sorted(a["answers"].items(), key=lambda kv: -kv[1]))

    def seconds(a):
        if a["seconds_median"] is None:
            return "–"
        return f"{a['seconds_median']:.2f} / {a['seconds_max']:.2f}"

    mib = lambda kb: f"{kb / 1024:.1f}" if kb else "–"
    out = [f"Hostile input against a running mirror ({result['mode']} run, {result['seconds']:.0f} s of attacks)", ""]
    out.append("| attack | target | sent | node's answer | time to answer or close, median / max (s) | mirror RSS peak during (MiB) | pass |")
    out.append("| --- | --- | --- | --- | --- | --- | --- |")
    for a in result["attacks"]:
        sent = f"{a['count']} × {a['sent']}"
        note = ("<br>" + "; ".join(a["notes"])) if a["notes"] and not a["attack"].startswith(("bad ", "binary")) else ""
        verdict = "pass" if a["pass"] else "**FAIL**: " + "; ".join(a["failures"][:2]).replace("|", "/")
        out.append(f"| {a['attack']} | {a['target']} | {sent.replace('|', '/')} | {answers(a)}{note.replace('|', '/')} | {seconds(a)} | {mib(a['rss_peak_kb'])} | {verdict} |")
    out += ["", "| check | result | pass |", "| --- | --- | --- |"]
    for c in checks:
        out.append(f"| {c['check']} | {str(c['detail']).replace('|', '/')} | {'pass' if c['pass'] else '**FAIL**'} |")
    m, f = result["memory"], result["fds"]
    out += ["", "| mirror | VmRSS (MiB) | VmHWM (MiB) | open files |", "| --- | --- | --- | --- |"]
    out.append(f"| before the attacks | {mib(m['before_rss_kb'])} | {mib(m['before_hwm_kb'])} | {f['before']} |")
    out.append(f"| during (peak of {m['samples']} samples, every 0.2 s) | {mib(m['during_peak_rss_kb'])} | {mib(m['after_hwm_kb'])} | {f['peak']} |")
    out.append(f"| 5 s after the attacks | {mib(m['after_rss_kb'])} | {mib(m['after_hwm_kb'])} | {f['after']} |")
    if "end_rss_kb" in m:
        out.append(f"| at the end (listeners done) | {mib(m['end_rss_kb'])} | {mib(m['end_hwm_kb'])} | |")
    out += ["", "Peak RSS per phase (MiB): " + ", ".join(f"{p} {mib(v)}" for p, v in m["per_phase_peak_rss_kb"].items())]
    out += ["", f"Result: {'PASS' if result['pass'] else 'FAIL'}"]
    print("\n".join(out))
    with open(args.json, "w") as j:
        json.dump(result, j, indent=1)
    return 0 if result["pass"] else 1


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    p = commands.add_parser("sources")
    p.add_argument("count", type=int)
    p = commands.add_parser("run")
    p.add_argument("--mirror", required=True)
    p.add_argument("--ingest", required=True)
    p.add_argument("--fleet", required=True)
    p.add_argument("--mirror-pid", type=int, required=True)
    p.add_argument("--sources", type=int, required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--short", action="store_true")
    p.add_argument("--idle", type=int, default=0, help="idle connections (default 10000, or 2000 with --short)")
    p.add_argument("--request-timeout-ms", type=int, default=10_000)
    p.add_argument("--max-per-address", type=int, default=64)
    p.add_argument("--rss-limit-mb", type=int, default=512)
    p = commands.add_parser("report")
    p.add_argument("--result", required=True)
    p.add_argument("--dummy-out", required=True)
    p.add_argument("--dummy-rc", type=int, required=True)
    p.add_argument("--player-err", required=True)
    p.add_argument("--player-rc", type=int, required=True)
    p.add_argument("--mirror")
    p.add_argument("--mirror-pid", type=int)
    p.add_argument("--json", required=True)
    args = parser.parse_args()
    if args.command == "sources":
        if not 1 <= args.count <= 1000:
            raise SystemExit("sources: 1 to 1000")
        print("\n".join(source(i) for i in range(args.count)))
        return 0
    if args.command == "run":
        if args.sources <= FIRST_BULK or args.sources > 1000:
            raise SystemExit(f"--sources must be in ({FIRST_BULK}, 1000]")
        return command_run(args)
    return command_report(args)


if __name__ == "__main__":
    sys.exit(main())
