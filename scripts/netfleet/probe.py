#!/usr/bin/python3
"""Listeners for the fault harness that write down what they receive, and when.

  probe.py --out DIR [--seconds T] [--secret S] [--version V] [--ogg]
           [--observe NAME@HOST:PORT[+audio][+oldest]]... [--play NAME@HOST:PORT]...

An *observer* joins the node as a Casty peer observer (docs/PROTOCOL.md: a signed
`/casty/v1/join` with `observer=1`) and writes DIR/NAME.seq, one line per data frame:
`<unix time> <stream> <seq> <audio bytes>`. With `+audio` it also appends every segment's
audio to DIR/NAME.audio (the harness's reference recording at the root). When its connection
ends it rejoins the same node at once with `from` = the next segment and `stream`, as a mirror
would, so a gap or a repeat it logs is the node's, not its own. `--version 2` joins with `v=2`:
the node then also sends `codecHeaders` frames (an Ogg chain's header pages, before the first data
frame), which go to DIR/NAME.codec (an event `# <time> codecHeaders at=<audio bytes so far>
bytes=<n>` per frame) and `context` frames (an event each). With `+oldest` the observer's first
join asks for the oldest segment the node keeps (it learns the stream's identity with a join that
it closes at once, then joins with `from=0`), so that its recording also holds the audio that
players get in their first burst; those segments' times are when the observer got them.

A *player* is an ICY listener (`GET /` with `Icy-MetaData: 1`). It appends the audio it
receives, metadata blocks removed, to DIR/NAME.audio and writes DIR/NAME.reads, one line per
read: `<unix time> <audio bytes so far>`. If the node closes the stream it reconnects. With `--ogg`
a node answers without `icy-metaint` (Ogg gets no ICY metadata): the player then records the body
as it comes; an Ogg answer that has `icy-metaint` is logged (`# <time> connected metaint=N …`).

Lines starting with `#` are events (`# <time> connected …`, `# <time> closed …`).
Runs until --seconds pass or SIGTERM/SIGINT, then exits 0. Python 3 standard library only.
"""

import argparse
import hashlib
import hmac
import os
import secrets
import signal
import socket
import struct
import threading
import time
import urllib.parse

STOP = threading.Event()
OBSERVER_SILENCE_S = 3.0  # a node sends observers a heartbeat every 200 ms
PLAYER_SILENCE_S = 15.0  # players get nothing while the radio is down; real players wait as long


def parse_target(spec):
    name, _, rest = spec.partition("@")
    oldest = rest.endswith("+oldest")
    rest = rest.removesuffix("+oldest")
    audio = rest.endswith("+audio")
    rest = rest.removesuffix("+audio")
    host, _, port = rest.rpartition(":")
    if not name or not host or not port.isdigit():
        raise SystemExit(f"probe: '{spec}' is not NAME@HOST:PORT")
    return name, host, int(port), audio, oldest


class Log:
    """A line-buffered text file shared by one probe's thread."""

    def __init__(self, path):
        self.file = open(path, "a", buffering=1)

    def line(self, text):
        self.file.write(text + "\n")

    def event(self, text):
        self.line(f"# {time.time():.6f} {text}")


def read_head(sock):
    """Reads an HTTP/ICY response head; returns (status, headers, bytes after the head)."""
    data = b""
    while b"\r\n\r\n" not in data:
        if len(data) > 65536:
            raise OSError("response head longer than 64 KiB")
        chunk = sock.recv(4096)
        if not chunk:
            raise OSError("closed before the end of the response head")
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    status = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0
    headers = {}
    for line in lines[1:]:
        key, _, value = line.partition(":")
        headers[key.strip().lower()] = value.strip()
    return status, headers, rest


def recv_some(sock, deadline_silence):
    """recv() that wakes up to check STOP and fails once the silence deadline passes."""
    while not STOP.is_set():
        try:
            chunk = sock.recv(65536)
        except socket.timeout:
            if time.monotonic() > deadline_silence:
                raise OSError("nothing received for too long")
            continue
        if not chunk:
            raise OSError("closed by the node")
        return chunk
    return b""


def join_target(name, secret, next_seq, stream, version=1):
    nonce = f"{int(time.time() * 1000)}-{secrets.token_hex(8)}"
    proof = hmac.new(secret.encode(), f"casty/1|{name}|{nonce}".encode(), hashlib.sha256).hexdigest()
    query = [("v", str(version)), ("name", name)]
    if next_seq is not None and stream is not None:
        query += [("from", str(next_seq)), ("stream", stream)]
    query += [("observer", "1"), ("nonce", nonce), ("proof", proof)]
    return "/casty/v1/join?" + urllib.parse.urlencode(query)


def current_stream(name, host, port, secret, version):
    """The stream identity a node follows, from a join that is closed as soon as its head is read."""
    while not STOP.is_set():
        try:
            with socket.create_connection((host, port), timeout=1.0) as sock:
                sock.settimeout(2.0)
                target = join_target(name, secret, None, None, version)
                sock.sendall(f"GET {target} HTTP/1.0\r\nHost: {host}:{port}\r\nUser-Agent: casty-probe\r\n\r\n".encode())
                status, headers, _ = read_head(sock)
                if status == 200 and headers.get("casty-stream"):
                    return headers["casty-stream"]
        except OSError:
            pass
        STOP.wait(0.2)
    return None


def observe(name, host, port, secret, out, keep_audio, version=1, oldest=False, fallbacks=()):
    log = Log(os.path.join(out, name + ".seq"))
    audio = open(os.path.join(out, name + ".audio"), "ab") if keep_audio else None
    codec = open(os.path.join(out, name + ".codec"), "ab") if keep_audio and version >= 2 else None
    stream, next_seq, audio_total = None, None, 0
    if oldest:
        stream = current_stream(name, host, port, secret, version)
        next_seq = 0
        log.event(f"stream {stream} (was None), from the oldest segment kept")
    # Where to join: the node, then (a fleet with a standby root) the other ingest, in turn after
    # each failed join, so that the reference recording goes on across a takeover.
    targets, turn = [(host, port), *fallbacks], 0
    while not STOP.is_set():
        host, port = targets[turn]
        try:
            with socket.create_connection((host, port), timeout=1.0) as sock:
                sock.settimeout(0.25)
                target = join_target(name, secret, next_seq, stream, version)
                sock.sendall(f"GET {target} HTTP/1.0\r\nHost: {host}:{port}\r\nUser-Agent: casty-probe\r\n\r\n".encode())
                status, headers, buffer = read_head(sock)
                if status != 200:
                    raise OSError(f"join answered {status}")
                new_stream = headers.get("casty-stream")
                if new_stream != stream:
                    log.event(f"stream {new_stream} (was {stream})")
                    stream, next_seq = new_stream, None
                log.event(f"connected next={headers.get('casty-next-seq', '-')} parent={headers.get('casty-parent', '-')}")
                silence = time.monotonic() + OBSERVER_SILENCE_S
                while not STOP.is_set():
                    while len(buffer) >= 5:
                        kind, length = struct.unpack(">BI", buffer[:5])
                        if len(buffer) < 5 + length:
                            break
                        payload, buffer = buffer[5:5 + length], buffer[5 + length:]
                        if kind == 1:
                            seq, meta = struct.unpack(">QH", payload[:10])
                            audio_bytes = payload[10 + meta:]
                            log.line(f"{time.time():.6f} {stream} {seq} {len(audio_bytes)}")
                            if audio is not None:
                                audio.write(audio_bytes)
                                audio.flush()
                            audio_total += len(audio_bytes)
                            next_seq = seq + 1
                        elif kind == 3:
                            log.event("leave " + payload.decode("utf-8", "replace"))
                        elif kind == 5:
                            log.event(f"context bytes={len(payload)}")
                        elif kind == 6:
                            log.event(f"codecHeaders at={audio_total} bytes={len(payload)}")
                            if codec is not None:
                                codec.write(payload)
                                codec.flush()
                    chunk = recv_some(sock, silence)
                    silence = time.monotonic() + OBSERVER_SILENCE_S
                    buffer += chunk
        except OSError as error:
            if not STOP.is_set():
                log.event(f"closed {error}")
                turn = (turn + 1) % len(targets)
                STOP.wait(0.1)


def play(name, host, port, out, ogg=False):
    log = Log(os.path.join(out, name + ".reads"))
    audio = open(os.path.join(out, name + ".audio"), "ab")
    total = 0
    while not STOP.is_set():
        try:
            with socket.create_connection((host, port), timeout=1.0) as sock:
                sock.settimeout(0.25)
                sock.sendall(f"GET / HTTP/1.0\r\nHost: {host}:{port}\r\nUser-Agent: casty-probe\r\nIcy-MetaData: 1\r\n\r\n".encode())
                status, headers, buffer = read_head(sock)
                if status != 200:
                    raise OSError(f"stream answered {status}")
                metaint = int(headers.get("icy-metaint", "0"))
                if metaint <= 0 and not ogg:
                    raise OSError("no icy-metaint in the answer")
                log.event(f"connected metaint={metaint} offset={total}")
                until_meta, meta_left = metaint, -1  # meta_left -1: the next byte is the length byte
                silence = time.monotonic() + PLAYER_SILENCE_S
                while not STOP.is_set():
                    kept = bytearray()
                    view = memoryview(buffer)
                    i = 0
                    if metaint <= 0:  # Ogg: no metadata blocks, the body is the audio
                        kept += view
                        i = len(view)
                    while i < len(view):
                        if until_meta > 0:
                            n = min(until_meta, len(view) - i)
                            kept += view[i:i + n]
                            until_meta -= n
                            i += n
                        elif meta_left < 0:
                            meta_left = view[i] * 16
                            i += 1
                        else:
                            n = min(meta_left, len(view) - i)
                            meta_left -= n
                            i += n
                        if until_meta == 0 and meta_left == 0:
                            until_meta, meta_left = metaint, -1
                    view.release()
                    if kept:
                        audio.write(kept)
                        audio.flush()
                        total += len(kept)
                        log.line(f"{time.time():.6f} {total}")
                    buffer = recv_some(sock, silence)
                    silence = time.monotonic() + PLAYER_SILENCE_S
        except OSError as error:
            if not STOP.is_set():
                log.event(f"closed {error}")
                STOP.wait(0.1)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True, help="folder for the recordings")
    parser.add_argument("--seconds", type=float, default=900, help="stop after this long (default 900)")
    parser.add_argument("--secret", default="", help="the fleet's secret, for observers")
    parser.add_argument("--observe", action="append", default=[], metavar="NAME@HOST:PORT[+audio]")
    parser.add_argument("--play", action="append", default=[], metavar="NAME@HOST:PORT")
    parser.add_argument("--version", type=int, choices=(1, 2), default=1, help="the observers' protocol version (default 1)")
    parser.add_argument("--ogg", action="store_true", help="players: the stream is Ogg, answered without icy-metaint")
    parser.add_argument("--fallback", action="append", default=[], metavar="HOST:PORT",
                        help="observers: another node to join, in turn, after a failed join (the standby root)")
    args = parser.parse_args()
    if not args.observe and not args.play:
        parser.error("give at least one --observe or --play")
    if args.observe and not args.secret:
        parser.error("observers need --secret")
    os.makedirs(args.out, exist_ok=True)
    signal.signal(signal.SIGTERM, lambda *_: STOP.set())
    signal.signal(signal.SIGINT, lambda *_: STOP.set())
    threads = []
    for spec in args.observe:
        name, host, port, keep_audio, oldest = parse_target(spec)
        fallbacks = [(text.rsplit(":", 1)[0], int(text.rsplit(":", 1)[1])) for text in args.fallback]
        threads.append(threading.Thread(target=observe, args=(name, host, port, args.secret, args.out, keep_audio, args.version, oldest, fallbacks),
                                        daemon=True))
    for spec in args.play:
        name, host, port, _, _ = parse_target(spec)
        threads.append(threading.Thread(target=play, args=(name, host, port, args.out, args.ogg), daemon=True))
    for thread in threads:
        thread.start()
    STOP.wait(args.seconds)
    STOP.set()
    for thread in threads:
        thread.join(timeout=2)


if __name__ == "__main__":
    main()
