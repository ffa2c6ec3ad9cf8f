#!/usr/bin/env python3
"""Tiny raw HTTP test server for Casty (Python 3 stdlib only): serves bytes exactly as given.

Usage:
  raw-stream.py --port P [--host 127.0.0.1]
                [--file F [--content-type T] [--rate BYTES_PER_S] [--silent-after S]]
                [--route /path=CONTENT_TYPE=FILE ...]

--route /path=CONTENT_TYPE=FILE (repeatable) answers GET /path (query ignored) with
  "HTTP/1.0 200 OK", "Content-Type: CONTENT_TYPE", "Content-Length: <size>" and FILE's
  bytes, then closes: a playlist, say. The file is read at every request.
--file F answers every other path with a stream: "HTTP/1.0 200 OK",
  "Content-Type: T" (default audio/mpeg, sent as given: it may lie about the bytes) and no
  Content-Length, then F's bytes from its first byte, looped for ever, paced at --rate
  bytes per second (default 16000) in chunks every 0.1 s. Every client gets its own copy
  from byte 0, so what a client receives is exactly predictable. No ICY metadata.
--silent-after S: the first client of the stream gets S seconds of it, then nothing more, and
  its connection stays open (the server reads from it, and sends nothing) until the client
  closes it: a radio that hangs without hanging up. The server logs "falling silent" when it
  stops sending. Later clients get the stream as usual.
Without --file, other paths get 404.

Logs every request to stderr ("GET /path from HOST:PORT -> 200 T"); prints
"listening on HOST:PORT" (flushed) on stdout when ready (--port 0 picks a free port).
Exits cleanly on SIGTERM/SIGINT.
"""

import argparse
import asyncio
import signal
import sys
import time

HEAD_LIMIT = 16 * 1024
TICK = 0.1


def log(msg: str):
    print("{} {}".format(time.strftime("%H:%M:%S"), msg), file=sys.stderr, flush=True)


async def read_request_line(reader) -> str:
    """The request line; the rest of the head is read and ignored (bounded in size and time)."""
    async def _read():
        first, total = None, 0
        while True:
            line = await reader.readline()
            if not line:
                raise ConnectionError("EOF before end of request head")
            total += len(line)
            if total > HEAD_LIMIT:
                raise ValueError("request head too large")
            if line in (b"\r\n", b"\n"):
                return first or ""
            if first is None:
                first = line.decode("latin-1").rstrip("\r\n")
    return await asyncio.wait_for(_read(), 5.0)


async def stream(reader, writer, data: bytes, rate: int, silent_after=None):
    """Sends `data` looped for ever at `rate` bytes/s (from the start of the connection: no drift);
    with `silent_after` (seconds), stops sending then and holds the connection open until the
    client closes it."""
    start, sent, pos = time.monotonic(), 0, 0
    while True:
        elapsed = time.monotonic() - start
        if silent_after is not None and elapsed >= silent_after:
            log("falling silent after {} bytes; the connection stays open".format(sent))
            while await reader.read(4096):
                pass
            log("the client closed the silent connection")
            return
        due = int(elapsed * rate)
        if due > sent:
            out = bytearray()
            while len(out) < due - sent:
                take = min(due - sent - len(out), len(data) - pos)
                out += data[pos:pos + take]
                pos = (pos + take) % len(data)
            writer.write(bytes(out))
            await writer.drain()
            sent = due
        await asyncio.sleep(TICK)


async def handle(reader, writer, args, routes):
    peer = "{}:{}".format(*writer.get_extra_info("peername")[:2])
    try:
        try:
            line = await read_request_line(reader)
        except (asyncio.TimeoutError, ValueError, ConnectionError, asyncio.LimitOverrunError):
            return
        parts = line.split(" ")
        method, path = (parts[0], parts[1]) if len(parts) >= 2 else ("", "")
        path = path.split("?", 1)[0]
        if path in routes:
            content_type, file = routes[path]
            with open(file, "rb") as f:
                body = f.read()
            log("{} {} from {} -> 200 {} ({} bytes)".format(method, path, peer, content_type, len(body)))
            writer.write("HTTP/1.0 200 OK\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n"
                         .format(content_type, len(body)).encode("latin-1"))
            if method != "HEAD":
                writer.write(body)
            await writer.drain()
        elif args.file:
            log("{} {} from {} -> 200 {} (stream of {}, {} bytes/s)".format(method, path, peer, args.content_type, args.file, args.rate))
            writer.write("HTTP/1.0 200 OK\r\nContent-Type: {}\r\nCache-Control: no-cache\r\n\r\n"
                         .format(args.content_type).encode("latin-1"))
            await writer.drain()
            if method != "HEAD":
                silent_after = None
                if args.silent_after is not None and not args.fell_silent:
                    args.fell_silent = True
                    silent_after = args.silent_after
                await stream(reader, writer, args.data, args.rate, silent_after)
        else:
            log("{} {} from {} -> 404".format(method, path, peer))
            writer.write(b"HTTP/1.0 404 Not Found\r\nContent-Type: text/plain\r\nContent-Length: 10\r\n\r\nnot found\n")
            await writer.drain()
    except (ConnectionError, OSError):
        log("client {} disconnected".format(peer))
    except asyncio.CancelledError:
        pass  # shutdown
    finally:
        try:
            writer.close()
            await writer.wait_closed()
        except (ConnectionError, OSError):
            pass


async def main(args) -> int:
    routes = {}
    for route in args.route:
        path, sep1, rest = route.partition("=")
        content_type, sep2, file = rest.partition("=")
        if not (path.startswith("/") and sep1 and sep2 and file):
            print("raw-stream: --route wants /path=CONTENT_TYPE=FILE, not {!r}".format(route), file=sys.stderr)
            return 2
        routes[path] = (content_type, file)
    args.data = b""
    args.fell_silent = False
    if args.file:
        with open(args.file, "rb") as f:
            args.data = f.read()
        if not args.data:
            print("raw-stream: {} is empty".format(args.file), file=sys.stderr)
            return 1
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    server = await asyncio.start_server(lambda r, w: handle(r, w, args, routes), args.host, args.port,
                                        limit=HEAD_LIMIT, reuse_address=True)
    print("listening on {}:{}".format(args.host, server.sockets[0].getsockname()[1]), flush=True)
    await stop.wait()
    log("shutting down")
    server.close()
    tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    return 0


def parse_args(argv=None):
    p = argparse.ArgumentParser(description="Tiny raw HTTP test server for Casty: a looped, paced stream and fixed bodies.")
    p.add_argument("--port", type=int, required=True, help="TCP port (0 = pick a free one)")
    p.add_argument("--host", default="127.0.0.1", help="bind address (default 127.0.0.1)")
    p.add_argument("--file", default="", help="file to stream in a loop on every path that is not a route")
    p.add_argument("--content-type", default="audio/mpeg", help="Content-Type of the stream (default audio/mpeg)")
    p.add_argument("--rate", type=int, default=16000, help="stream bytes per second (default 16000)")
    p.add_argument("--silent-after", type=float, default=None, metavar="S",
                   help="the stream's first client gets S seconds, then silence on an open connection")
    p.add_argument("--route", action="append", default=[], metavar="/path=CONTENT_TYPE=FILE",
                   help="serve FILE once, with Content-Length, at /path (repeatable)")
    a = p.parse_args(argv)
    if a.rate < 1:
        p.error("--rate must be >= 1")
    if a.silent_after is not None and (a.silent_after < 0 or not a.file):
        p.error("--silent-after needs --file and S >= 0")
    return a


if __name__ == "__main__":
    # A parent may have blocked SIGTERM/SIGINT (the mask is inherited through exec): unblock them,
    # or the handlers below would never run and a stop would wait for SIGKILL.
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM, signal.SIGINT})
    try:
        sys.exit(asyncio.run(main(parse_args())))
    except KeyboardInterrupt:
        sys.exit(0)
