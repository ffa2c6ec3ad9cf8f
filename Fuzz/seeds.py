#!/usr/bin/env python3
"""Writes the hand-made seed inputs (files named seed-*) into Fuzz/Corpus/<Target>/.

Every input starts with the configuration bytes its driver takes off the front (see the drivers in
Sources/FuzzDrivers): here mostly zeros, meaning "all at once, default limits, no padding".
Run again after changing a driver's input layout; scripts/fuzz.sh never deletes seed-* files.
"""
import hmac
import hashlib
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))


def write(target, name, data):
    folder = os.path.join(HERE, "Corpus", target)
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "seed-" + name), "wb") as f:
        f.write(data)


def metadata_block(text):
    k = (len(text) + 15) // 16
    return bytes([k]) + text + b"\0" * (k * 16 - len(text))


VLC = (
    b"GET /stream HTTP/1.1\r\nHost: radio.example:8000\r\nAccept: */*\r\nAccept-Language: en_US\r\n"
    b"User-Agent: VLC/3.0.18 LibVLC/3.0.18\r\nRange: bytes=0-\r\nIcy-MetaData: 1\r\n\r\n"
)
MPG123 = b"GET / HTTP/1.0\r\nHost: 127.0.0.1:8000\r\nUser-Agent: mpg123/1.31.2\r\nAccept: audio/mpeg, */*\r\nIcy-MetaData: 1\r\n\r\n"
BARE_LF = b"GET /a HTTP/1.0\nHost: x\n\nHEAD /b HTTP/1.1\nX-Odd:\tvalue\t\n\n"
JOIN_LINE = b"GET /casty/v1/join?v=1&name=m1&from=42&nonce=1700000000000-9f3a&proof=00ff HTTP/1.0\r\nCasty-Version: 1\r\n\r\n"

# [chunking][limits][padding]
write("FuzzICYRequest", "vlc", b"\x00\x00\x00" + VLC)
write("FuzzICYRequest", "mpg123-bytewise", b"\x01\x00\x00" + MPG123)
write("FuzzICYRequest", "pipelined-bare-lf", b"\x03\x00\x00" + BARE_LF)
write("FuzzICYRequest", "join-small-limits", b"\x02\xff\x00" + JOIN_LINE)
write("FuzzICYRequest", "partial-padded", b"\x00\x00 GET / HTTP/1.0\r\nHost: x")

ICECAST_HEAD = (
    b"HTTP/1.0 200 OK\r\nContent-Type: audio/mpeg\r\nicy-br:128\r\nicy-name:Test Radio\r\n"
    b"icy-pub:0\r\nServer: Icecast 2.4.4\r\nCache-Control: no-cache\r\nicy-metaint:16\r\n\r\n"
)
SHOUTCAST_HEAD = b"ICY 200 OK\r\nicy-notice1:<BR>This stream requires Winamp<BR>\r\nicy-name:Old Radio\r\nicy-metaint: 8\r\n\r\n"
TITLE = b"StreamTitle='Artist - Song';StreamUrl='http://x.example/a.jpg';"
BODY16 = bytes(range(16)) + metadata_block(TITLE) + bytes(range(16, 32)) + b"\0"
BODY8 = b"\xff\xfb\x90\x00" * 2 + metadata_block(b"StreamTitle='Caf\xe9';") + b"\xff\xfb\x90\x00" * 2 + b"\0"

# [chunking][limits][audio-only size][padding]
write("FuzzICYResponse", "icecast-two-segments", b"\x00\x00\x00\x00" + ICECAST_HEAD + BODY16)
write("FuzzICYResponse", "icecast-random-reads", b"\x03\x00\x00\x00" + ICECAST_HEAD + BODY16)
write("FuzzICYResponse", "shoutcast-v1", b"\x06\x00\x00\x00" + SHOUTCAST_HEAD + BODY8)
write("FuzzICYResponse", "audio-only", b"\x00\x00\x08\x00" + b"HTTP/1.1 200 OK\r\nContent-Type: audio/aac\r\n\r\n" + bytes(24))
write("FuzzICYResponse", "not-found", b"\x00\x00\x00\x00" + b"HTTP/1.0 404 Not Found\r\nContent-Length: 0\r\n\r\n")
write("FuzzICYResponse", "small-limits-padded", b"\x01\xa7\x00\x41" + b"ICY 200 OK\r\nicy-metaint:4\r\n\r\nabcd\x00")

# [chunking][limits][padding]
write("FuzzICYResponseHead", "icecast", b"\x00\x00\x00" + ICECAST_HEAD)
write("FuzzICYResponseHead", "shoutcast-bytewise", b"\x01\x00\x00" + SHOUTCAST_HEAD)
write("FuzzICYResponseHead", "two-heads", b"\x03\x00\x00" + b"HTTP/1.1 302 Found\nLocation: /x\n\nICY 200\r\n\r\n")
write("FuzzICYResponseHead", "small-limits", b"\x02\xb3\x00" + SHOUTCAST_HEAD)

# [chunking][framing kind][size-1][size-1 high if kind & 2][padding]
write("FuzzICYSegment", "metaint16", b"\x00\x00\x0f\x00" + BODY16)
write("FuzzICYSegment", "metaint8-bytewise", b"\x01\x00\x07\x00" + BODY8)
write("FuzzICYSegment", "metaint16-padded", b"\x03\x00\x0f\x02" + BODY16[:20])
write("FuzzICYSegment", "audio-only8", b"\x00\x01\x07\x00" + bytes(range(24)))
write("FuzzICYSegment", "metaint-two-byte", b"\x02\x02\x00\x01\x00" + bytes(257) + metadata_block(TITLE))

# [mode]
write("FuzzICYMetadata", "title-url", b"\x00" + TITLE)
write("FuzzICYMetadata", "quotes", b"\x00" + b"StreamTitle='Guns N' Roses - Don't Cry';StreamUrl='';adw_ad='true';")
write("FuzzICYMetadata", "escapes", b"\x00" + b"StreamTitle='It\\'s a \\\\ b';x='unterminated")
write("FuzzICYMetadata", "latin1", b"\x01" + b"StreamTitle='Caf\xe9 ';")
write("FuzzICYMetadata", "not-fields", b"\x00" + b"just some text; no fields")
write("FuzzICYMetadata", "built-fields", b"\x02" + b"StreamTitle\x00a';b\\\x00StreamUrl\x00'\x00k\x00\\")


def frame(kind, payload):
    return bytes([kind]) + struct.pack(">I", len(payload)) + payload


DATA = frame(1, struct.pack(">QH", 42, len(TITLE)) + TITLE + bytes(range(32)))
HEARTBEAT = frame(2, struct.pack(">Q", 41))
HEARTBEAT_NONE = frame(2, b"\xff" * 8)
LEAVE = frame(3, b"shutting down")
EVICT = frame(4, b"\x01m3")
RELOCATE = frame(4, b"\x02m7")

# [chunking][padding]
write("FuzzPeerFrames", "data", b"\x00\x00" + DATA)
write("FuzzPeerFrames", "heartbeats", b"\x00\x00" + HEARTBEAT + HEARTBEAT_NONE)
write("FuzzPeerFrames", "leave", b"\x00\x00" + LEAVE)
write("FuzzPeerFrames", "tree", b"\x00\x00" + EVICT + RELOCATE)
write("FuzzPeerFrames", "all-random-reads", b"\x03\x00" + DATA + HEARTBEAT + LEAVE + EVICT + RELOCATE + HEARTBEAT_NONE)
write("FuzzPeerFrames", "unfinished-padded", b"\x01\x07" + DATA + b"\x01\x00\x00\x10\x00")


def proof(secret, name, nonce):
    return hmac.new(secret, b"casty/1|" + name + b"|" + nonce, hashlib.sha256).hexdigest().encode()


NONCE = b"1700000000000-9f3a0c"
JOIN_QUERY = (
    b"v=1&name=m%201%2F%C3%A9&from=1234&stream=abcd&lost=m0&nonce=" + NONCE + b"&proof=" + proof(b"s3cret", "m 1/é".encode(), NONCE)
)
OBSERVER_QUERY = b"v=1&name=load&observer=1&nonce=" + NONCE + b"&proof=" + proof(b"s3cret", b"load", NONCE)
LOST_QUERY = b"v=1&name=m1&child=m2&nonce=" + NONCE + b"&proof=" + proof(b"s3cret", b"m1", NONCE)

# [mode] 0: whole target, 1: join query, 2: loss-report query, 3: whole target as Latin-1
write("FuzzJoinRequest", "join-target", b"\x00/casty/v1/join?" + JOIN_QUERY)
write("FuzzJoinRequest", "join-query", b"\x01" + JOIN_QUERY)
write("FuzzJoinRequest", "observer-query", b"\x01" + OBSERVER_QUERY)
write("FuzzJoinRequest", "lost-target", b"\x00/casty/v1/lost?" + LOST_QUERY)
write("FuzzJoinRequest", "lost-query", b"\x02" + LOST_QUERY)
write("FuzzJoinRequest", "latin1", b"\x03/casty/v1/join?v=1&name=caf\xe9&nonce=1&proof=2")


def ogg_crc(data):
    crc = 0
    for b in data:
        crc ^= b << 24
        for _ in range(8):
            crc = ((crc << 1) ^ 0x04C11DB7) & 0xFFFFFFFF if crc & 0x80000000 else (crc << 1) & 0xFFFFFFFF
    return crc


def ogg_pages(serial, packets, flags=0, seq=0, per_page=255):
    """Ogg pages (RFC 3533) holding `packets`, at most `per_page` lacing values a page; `flags` on the first."""
    segments = []
    for p in packets:
        while len(p) >= 255:
            segments.append((p[:255], False))
            p = p[255:]
        segments.append((p, True))
    out, continued = b"", False
    for i in range(0, len(segments), per_page):
        these = segments[i:i + per_page]
        f = (1 if continued else 0) | (flags if i == 0 else 0)
        lacing = bytes(len(s) for s, _ in these)
        head = b"OggS\x00" + bytes([f]) + struct.pack("<qIIIB", i, serial, seq, 0, len(lacing)) + lacing
        page = head + b"".join(s for s, _ in these)
        page = page[:22] + struct.pack("<I", ogg_crc(page)) + page[26:]
        out += page
        seq += 1
        continued = not these[-1][1]
    return out


def comment_block(comments):
    block = struct.pack("<I", 4) + b"Lavf" + struct.pack("<I", len(comments))
    for c in comments:
        block += struct.pack("<I", len(c)) + c
    return block


VORBIS = (
    ogg_pages(7, [b"\x01vorbis" + bytes([0, 0, 0, 0, 2]) + struct.pack("<IiiiB", 44100, 0, 128000, 0, 0xB8) + b"\x01"], flags=2)
    + ogg_pages(7, [b"\x03vorbis" + comment_block([b"TITLE=Song", b"ARTIST=Band"]) + b"\x01", b"\x05vorbis" + bytes(range(200))], seq=1, per_page=1)
    + ogg_pages(7, [bytes([n]) * 90 for n in range(1, 7)], seq=3, per_page=2)
)
OPUS = (
    ogg_pages(8, [b"OpusHead\x01\x02\x38\x01" + struct.pack("<I", 48000) + b"\x00\x00\x00"], flags=2)
    + ogg_pages(8, [b"OpusTags" + comment_block([b"title=Tune"])], seq=1)
    + ogg_pages(8, [bytes([0x7C]) * 60] * 4, seq=2, per_page=2)
)
FLAC = (
    ogg_pages(9, [b"\x7fFLAC\x01\x00\x00\x01fLaC" + b"\x00\x00\x00\x22" + bytes(34)], flags=2)
    + ogg_pages(9, [b"\x84" + struct.pack(">I", len(comment_block([b"TITLE=F"])))[1:] + comment_block([b"TITLE=F"])], seq=1)
    + ogg_pages(9, [b"\xff\xf8" + bytes(50)] * 3, seq=2)
)
DAMAGED = bytearray(OPUS)
DAMAGED[-20] ^= 0x10

# [chunking][mode: bit 0 resume, bit 1 with the headers of a first pass, bit 2 small header limit]
write("FuzzOgg", "vorbis", b"\x00\x00" + VORBIS)
write("FuzzOgg", "vorbis-bytewise", b"\x01\x00" + VORBIS)
write("FuzzOgg", "chained-random-reads", b"\x03\x00" + VORBIS + OPUS + FLAC)
write("FuzzOgg", "garbage-and-damage", b"\x02\x00" + VORBIS[:100] + b"junkOggS\x00\x00" + bytes(DAMAGED) + FLAC)
write("FuzzOgg", "resume-mid-page", b"\x07\x03" + VORBIS[30:])
write("FuzzOgg", "small-limit", b"\x0b\x04" + VORBIS + OPUS)

ADTS = bytes([0xFF, 0xF1, 0x50, 0x80, 0x05, 0x9F, 0xFC]) + bytes(range(3, 40))  # 44 bytes, AAC LC 44.1 kHz stereo
MP3 = b"\xff\xfb\x90\x64" + bytes(413)

# [content type: 0 audio/mpeg, 1 audio/aacp, 2 application/ogg, 3 audio/flac, 4 none, ...]
write("FuzzStreamFormat", "adts-as-mp3", b"\x00" + ADTS * 3)
write("FuzzStreamFormat", "mp3-after-id3", b"\x00" + b"ID3\x04\x00\x00\x00\x00\x00\x05abcde" + MP3 * 2)
write("FuzzStreamFormat", "ogg-as-mp3", b"\x00" + OPUS[:200])
write("FuzzStreamFormat", "adts-no-type", b"\x04" + b"\x00\x01" + ADTS * 2)
write("FuzzStreamFormat", "flac", b"\x03" + b"fLaC\x00\x00\x00\x22" + bytes(40))
