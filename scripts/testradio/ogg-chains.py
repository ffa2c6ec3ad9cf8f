#!/usr/bin/env python3
"""List the chains (logical streams) of an Ogg stream and their comments (Python 3 stdlib only).

Usage:
  ogg-chains.py [FILE]         (FILE, or standard input; a cut stream is fine)
  curl -s --max-time 30 http://127.0.0.1:8000/stream | ogg-chains.py

Prints one line per beginning-of-stream page, in order:
  chain N: serial 0x1234abcd vorbis 8.0 s TITLE=Déjà vu ARTIST=Café del Mar
(codec: vorbis, opus, flac or unknown; the last granule position in seconds; TITLE and ARTIST from
the stream's comment header, once it has arrived), then "pages P, chains C, bytes B". Exits 1 if the input does not start with an Ogg
page or has a page whose checksum is wrong, and 0 otherwise.
"""

import sys


def crc_table():
    table = []
    for i in range(256):
        r = i << 24
        for _ in range(8):
            r = ((r << 1) ^ 0x04C11DB7) if r & 0x80000000 else (r << 1)
        table.append(r & 0xFFFFFFFF)
    return table


CRC = crc_table()


def ogg_crc(data: bytes) -> int:
    crc = 0
    for b in data:
        crc = ((crc << 8) & 0xFFFFFFFF) ^ CRC[((crc >> 24) & 0xFF) ^ b]
    return crc


def pages(data: bytes):
    """Yields (header_type, serial, segments, body, granule) for each whole page; raises on bad data."""
    pos = 0
    while pos + 27 <= len(data):
        if data[pos:pos + 4] != b"OggS":
            raise ValueError("no Ogg page at byte {}".format(pos))
        nseg = data[pos + 26]
        if pos + 27 + nseg > len(data):
            return
        lacing = data[pos + 27:pos + 27 + nseg]
        size = 27 + nseg + sum(lacing)
        if pos + size > len(data):
            return
        page = bytearray(data[pos:pos + size])
        stored = int.from_bytes(page[22:26], "little")
        page[22:26] = b"\0\0\0\0"
        if ogg_crc(bytes(page)) != stored:
            raise ValueError("bad checksum in the page at byte {}".format(pos))
        serial = int.from_bytes(data[pos + 14:pos + 18], "little")
        granule = int.from_bytes(data[pos + 6:pos + 14], "little", signed=True)
        yield data[pos + 5], serial, lacing, data[pos + 27 + nseg:pos + size], granule
        pos += size


def comments(packet: bytes):
    """The user comments of a Vorbis-comment structure (vendor string first)."""
    try:
        vlen = int.from_bytes(packet[0:4], "little")
        pos = 4 + vlen
        count = int.from_bytes(packet[pos:pos + 4], "little")
        pos += 4
        out = []
        for _ in range(count):
            n = int.from_bytes(packet[pos:pos + 4], "little")
            pos += 4
            out.append(packet[pos:pos + n].decode("utf-8", "replace"))
            pos += n
        return [c for c in out if c.split("=", 1)[0].upper() in ("TITLE", "ARTIST")]
    except (IndexError, ValueError):
        return ["(unreadable comments)"]


def codec_of(packet: bytes) -> str:
    if packet.startswith(b"\x01vorbis"):
        return "vorbis"
    if packet.startswith(b"OpusHead"):
        return "opus"
    if packet.startswith(b"\x7fFLAC"):
        return "flac"
    return "unknown"


def sample_rate(codec: str, packet: bytes) -> int:
    """Granule positions per second, from the identification header."""
    if codec == "vorbis" and len(packet) >= 16:
        return int.from_bytes(packet[12:16], "little")
    if codec == "opus":
        return 48000
    if codec == "flac" and len(packet) >= 30:
        return int.from_bytes(packet[27:30], "big") >> 4
    return 0


def comment_packet(codec: str, packet: bytes):
    if codec == "vorbis" and packet.startswith(b"\x03vorbis"):
        return comments(packet[7:])
    if codec == "opus" and packet.startswith(b"OpusTags"):
        return comments(packet[8:])
    if codec == "flac" and packet and packet[0] & 0x7F == 4:
        return comments(packet[4:])
    return None


def main(argv) -> int:
    data = open(argv[1], "rb").read() if len(argv) > 1 else sys.stdin.buffer.read()
    if not data.startswith(b"OggS"):
        print("not an Ogg stream (starts with {!r})".format(data[:8]), file=sys.stderr)
        return 1
    chains = []          # [serial, codec, comments or None, rate, last granule]
    partial = {}         # serial -> bytes of an unfinished packet
    packets = {}         # serial -> packets seen
    count = 0
    try:
        for header_type, serial, lacing, body, granule in pages(data):
            count += 1
            if header_type & 0x02:
                chains.append([serial, None, None, 0, 0])
                partial[serial] = b""
                packets[serial] = 0
            pos = 0
            for lace in lacing:
                partial[serial] = partial.get(serial, b"") + body[pos:pos + lace]
                pos += lace
                if lace < 255:
                    packet, partial[serial] = partial[serial], b""
                    packets[serial] = packets.get(serial, 0) + 1
                    for chain in reversed(chains):  # the latest chain with this serial
                        if chain[0] != serial:
                            continue
                        if chain[1] is None:
                            chain[1] = codec_of(packet)
                            chain[3] = sample_rate(chain[1], packet)
                        elif chain[2] is None and packets[serial] <= 8:
                            found = comment_packet(chain[1], packet)
                            if found is not None:
                                chain[2] = found
                        break
            for chain in reversed(chains):
                if chain[0] == serial:
                    if granule >= 0:
                        chain[4] = granule
                    break
    except ValueError as error:
        print("bad Ogg stream: {}".format(error), file=sys.stderr)
        return 1
    for n, (serial, codec, found, rate, granule) in enumerate(chains, 1):
        seconds = "{:.1f} s".format(granule / rate) if rate else "? s"
        print("chain {}: serial 0x{:08x} {} {} {}".format(n, serial, codec or "?", seconds, " ".join(found or [])).rstrip())
    print("pages {}, chains {}, bytes {}".format(count, len(chains), len(data)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
