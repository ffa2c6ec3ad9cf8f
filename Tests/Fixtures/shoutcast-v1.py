#!/usr/bin/env python3
"""Tiny SHOUTcast-v1-style test server (Python 3 stdlib only).

Usage:
  shoutcast-v1.py --port P --mp3 FILE [--metaint 8192] [--title-every 5]
                  [--status-line "ICY 200 OK"] [--no-metaint] [--host 127.0.0.1]

Serves FILE (assumed 128 kbps CBR MP3) looping forever at real-time pace
(--rate bytes/s, default 16000) to every client, on any path. All clients
share one global clock: a new client starts at the current position, like a
real radio. Response head:

  ICY 200 OK                      (or --status-line)
  icy-notice1:<BR>This stream requires <a href="http://www.winamp.com/">Winamp</a><BR>
  icy-notice2:Casty SHOUTcast v1 test server<BR>
  icy-name:Casty SHOUTcast Test
  icy-genre:Test
  icy-url:http://127.0.0.1:P/
  content-type:audio/mpeg
  icy-pub:0
  icy-br:128
  icy-metaint:M                   (only if the client sent "Icy-MetaData: 1"
                                   and --no-metaint is not given)

Header lines use the original SHOUTcast "name:value" form (no space).
With metadata, after every M audio bytes a block is inserted: one length
byte k, then "StreamTitle='...';" NUL-padded to k*16 bytes; k=0 (empty
block) when the title did not change since the last block sent to that
client. The title changes every --title-every seconds, alternating between
"Casty - Shout Title N" (N odd) and "Guns N' Roses - Don't Cry N" (N even;
apostrophes are sent unescaped, as real servers do), N = 1, 2, 3, ...

Prints "listening on HOST:PORT" (flushed) when ready (--port 0 picks a free
port). Exits cleanly on SIGTERM/SIGINT.
"""

import argparse
import asyncio
import signal
import ssl
import sys
import time

HEAD_LIMIT = 16 * 1024
HEAD_TIMEOUT = 5.0
TICK = 0.1                # seconds of audio per broadcast chunk
CLIENT_QUEUE_CHUNKS = 50  # ~5 s of backlog before a slow client is dropped

TITLE_TEMPLATES = [
    "Casty - Shout Title {n}",
    "Guns N' Roses - Don't Cry {n}",
]


def strip_tags(data: bytes) -> bytes:
    """Remove a leading ID3v2 tag and a trailing ID3v1 tag so the loop is pure MP3 frames."""
    if len(data) >= 10 and data[:3] == b"ID3":
        size = 0
        for b in data[6:10]:
            size = (size << 7) | (b & 0x7F)
        size += 10
        if data[5] & 0x10:  # footer present
            size += 10
        data = data[size:]
    if len(data) >= 128 and data[-128:-125] == b"TAG":
        data = data[:-128]
    return data


def metadata_block(title: str) -> bytes:
    text = "StreamTitle='{}';".format(title).encode("utf-8")
    text = text[: 255 * 16]
    k = (len(text) + 15) // 16
    return bytes([k]) + text.ljust(k * 16, b"\0")


class Radio:
    """Global clock: produces audio chunks at real-time pace and fans them out."""

    def __init__(self, audio: bytes, rate: int, title_every: float):
        self.audio = audio
        self.rate = rate
        self.title_every = title_every
        self.pos = 0
        self.clients = set()  # of asyncio.Queue
        self.start = time.monotonic()

    def title_at(self, now: float) -> str:
        n = int((now - self.start) // self.title_every) if self.title_every > 0 else 0
        return TITLE_TEMPLATES[n % len(TITLE_TEMPLATES)].format(n=n + 1)

    def _next_chunk(self, size: int) -> bytes:
        out = bytearray()
        while len(out) < size:
            take = min(size - len(out), len(self.audio) - self.pos)
            out += self.audio[self.pos:self.pos + take]
            self.pos = (self.pos + take) % len(self.audio)
        return bytes(out)

    async def run(self):
        sent = 0  # bytes produced since start (drives the pacing, no drift)
        while True:
            now = time.monotonic()
            due = int((now - self.start) * self.rate)
            if due > sent:
                chunk = self._next_chunk(due - sent)
                sent = due
                title = self.title_at(now)
                for q in list(self.clients):
                    try:
                        q.put_nowait((chunk, title))
                    except asyncio.QueueFull:
                        self.clients.discard(q)
                        # Signal the writer to give up on this slow client.
                        while not q.empty():
                            q.get_nowait()
                        q.put_nowait(None)
            await asyncio.sleep(TICK)


async def read_head(reader: asyncio.StreamReader) -> list:
    """Read request lines up to the blank line; bounded in size and time."""
    lines = []
    total = 0

    async def _read():
        nonlocal total
        while True:
            line = await reader.readline()
            if not line:
                raise ConnectionError("EOF before end of request head")
            total += len(line)
            if total > HEAD_LIMIT:
                raise ValueError("request head too large")
            if line in (b"\r\n", b"\n"):
                return
            lines.append(line.decode("latin-1").rstrip("\r\n"))

    await asyncio.wait_for(_read(), HEAD_TIMEOUT)
    return lines


def wants_metadata(lines: list) -> bool:
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if sep and name.strip().lower() == "icy-metadata" and value.strip() == "1":
            return True
    return False


async def handle(reader, writer, radio: Radio, args):
    peer = writer.get_extra_info("peername")
    q = None
    try:
        try:
            lines = await read_head(reader)
        except (asyncio.TimeoutError, ValueError, ConnectionError, asyncio.LimitOverrunError):
            return
        if args.redirect_to:
            # A radio directory: send the player elsewhere.
            writer.write("HTTP/1.1 302 Found\r\nLocation: {}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                         .format(args.redirect_to).encode("utf-8"))
            await writer.drain()
            log("client {} redirected to {}".format(peer, args.redirect_to))
            return
        meta = (not args.no_metaint) and wants_metadata(lines)
        port = writer.get_extra_info("sockname")[1]
        head = [
            "HTTP/1.1 200 OK" if args.chunked else args.status_line,
            "icy-notice1:<BR>This stream requires <a href=\"http://www.winamp.com/\">Winamp</a><BR>",
            "icy-notice2:Casty SHOUTcast v1 test server<BR>",
            "icy-name:Casty SHOUTcast Test",
            "icy-genre:Test",
            "icy-url:http://127.0.0.1:{}/".format(port),
            "content-type:audio/mpeg",
            "icy-pub:0",
            "icy-br:128",
        ]
        if meta:
            head.append("icy-metaint:{}".format(args.metaint))
        if args.chunked:
            head.append("Transfer-Encoding: chunked")
        writer.write(("\r\n".join(head) + "\r\n\r\n").encode("utf-8"))
        send = writer.write
        if args.chunked:
            def send(data, write=writer.write):
                write(b"%x\r\n" % len(data) + data + b"\r\n")
        await writer.drain()
        log("client {} connected (metadata={}, request={!r})".format(peer, meta, lines[0] if lines else ""))

        q = asyncio.Queue(maxsize=CLIENT_QUEUE_CHUNKS)
        radio.clients.add(q)
        until_meta = args.metaint
        last_title = None
        while True:
            item = await q.get()
            if item is None:
                log("client {} too slow, dropped".format(peer))
                return
            chunk, title = item
            if not meta:
                send(chunk)
            else:
                out = bytearray()
                view = memoryview(chunk)
                while len(view):
                    take = min(until_meta, len(view))
                    out += view[:take]
                    view = view[take:]
                    until_meta -= take
                    if until_meta == 0:
                        if title != last_title:
                            out += metadata_block(title)
                            last_title = title
                        else:
                            out += b"\0"
                        until_meta = args.metaint
                send(bytes(out))
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    except asyncio.CancelledError:
        # Shutdown. Swallowed on purpose: asyncio's start_server callback
        # would otherwise log "Exception in callback" for cancelled handlers.
        pass
    finally:
        if q is not None:
            radio.clients.discard(q)
            log("client {} disconnected".format(peer))
        try:
            writer.close()
            await writer.wait_closed()
        except (ConnectionError, OSError):
            pass


def log(msg: str):
    print("{} {}".format(time.strftime("%H:%M:%S"), msg), file=sys.stderr, flush=True)


async def main(args) -> int:
    with open(args.mp3, "rb") as f:
        audio = strip_tags(f.read())
    if not audio:
        print("shoutcast-v1: {} contains no audio".format(args.mp3), file=sys.stderr)
        return 1
    radio = Radio(audio, args.rate, args.title_every)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)

    tls = None
    if args.tls_cert:
        tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        tls.load_cert_chain(args.tls_cert, args.tls_key)
    server = await asyncio.start_server(
        lambda r, w: handle(r, w, radio, args), args.host, args.port,
        limit=HEAD_LIMIT, reuse_address=True, ssl=tls)
    port = server.sockets[0].getsockname()[1]
    producer = asyncio.create_task(radio.run())
    print("listening on {}:{}".format(args.host, port), flush=True)

    await stop.wait()
    log("shutting down")
    server.close()
    producer.cancel()
    tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    return 0


def parse_args(argv=None):
    p = argparse.ArgumentParser(description="Tiny SHOUTcast-v1-style test server for Casty.")
    p.add_argument("--port", type=int, required=True, help="TCP port (0 = pick a free one)")
    p.add_argument("--host", default="127.0.0.1", help="bind address (default 127.0.0.1)")
    p.add_argument("--mp3", required=True, help="MP3 file to loop (128 kbps CBR)")
    p.add_argument("--metaint", type=int, default=8192, help="audio bytes between metadata blocks (default 8192)")
    p.add_argument("--title-every", type=float, default=5.0, help="seconds between title changes (default 5)")
    p.add_argument("--status-line", default="ICY 200 OK", help='status line (default "ICY 200 OK")')
    p.add_argument("--no-metaint", action="store_true", help="never send icy-metaint / metadata")
    p.add_argument("--chunked", action="store_true", help="answer HTTP/1.1 200 OK with a chunked body")
    p.add_argument("--redirect-to", default="", help="answer every request with a 302 to this URL")
    p.add_argument("--tls-cert", default="", help="serve TLS (https) with this PEM certificate")
    p.add_argument("--tls-key", default="", help="the PEM private key for --tls-cert")
    p.add_argument("--rate", type=int, default=16000, help="audio bytes per second (default 16000 = 128 kbps)")
    a = p.parse_args(argv)
    if a.metaint < 1:
        p.error("--metaint must be >= 1")
    if a.rate < 1:
        p.error("--rate must be >= 1")
    return a


if __name__ == "__main__":
    try:
        sys.exit(asyncio.run(main(parse_args())))
    except KeyboardInterrupt:
        sys.exit(0)
