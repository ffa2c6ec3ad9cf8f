"""Ogg pages in a recording (capture pattern, checksum, header pages), and the known ffmpeg lines at a
chain boundary."""

import re

# ffmpeg 5.1 prints these while decoding a chained Ogg stream at a chain boundary, also for a
# perfect stream (Icecast's own recording of the mount shows them): known ffmpeg behaviour, not
# decode errors, once the run's recording of the radio itself shows them too.
KNOWN_FFMPEG_OGG = {
    "new chain": re.compile(r"^\[ogg @ 0x[0-9a-f]+\] failed to create or replace stream$"),
    "dts at a chain boundary": re.compile(r"^\[[\w:]+ @ 0x[0-9a-f]+\] Application provided invalid, non monotonically increasing dts to muxer "
                                          r"in stream \d+: -?\d+ >= -?\d+$"),
}


def known_ffmpeg_line(line):
    """The kind of a known ffmpeg line at an Ogg chain boundary (KNOWN_FFMPEG_OGG), or None."""
    return next((kind for kind, pattern in KNOWN_FFMPEG_OGG.items() if pattern.search(line.strip())), None)


def ogg_crc(data):
    crc = 0
    for byte in data:
        crc = ((crc << 8) & 0xFFFFFFFF) ^ OGG_CRC[((crc >> 24) & 0xFF) ^ byte]
    return crc


OGG_CRC = []
for _i in range(256):
    _r = _i << 24
    for _ in range(8):
        _r = ((_r << 1) ^ 0x04C11DB7) if _r & 0x80000000 else (_r << 1)
    OGG_CRC.append(_r & 0xFFFFFFFF)


def ogg_page_at(data, pos, end, check_crc=False):
    """(length, flags, granule, serial) of the whole Ogg page at data[pos:], or None."""
    if pos + 27 > end or data[pos:pos + 4] != b"OggS" or data[pos + 4] != 0:
        return None
    count = data[pos + 26]
    if pos + 27 + count > end:
        return None
    size = 27 + count + sum(data[pos + 27:pos + 27 + count])
    if pos + size > end:
        return None
    if check_crc:
        page = bytearray(data[pos:pos + size])
        stored = int.from_bytes(page[22:26], "little")
        page[22:26] = b"\0\0\0\0"
        if ogg_crc(page) != stored:
            return None
    return size, data[pos + 5], int.from_bytes(data[pos + 6:pos + 14], "little", signed=True), int.from_bytes(data[pos + 14:pos + 18], "little")


def ogg_pages(data, start=0, end=None, resync=True):
    """[(offset, length, flags, granule, serial)] of the whole pages from `start` on, one after the
    other. With resync, the first page is the first capture pattern with a good checksum at or
    after `start` (a recording may begin inside a page), and so is the next one after any bytes
    that are not a page; without, the list stops there."""
    end = len(data) if end is None else end
    pages, pos, synced = [], start, False
    while pos < end:
        page = ogg_page_at(data, pos, end, check_crc=not synced)
        if page is None:
            if not resync:
                break
            pos = data.find(b"OggS", pos + 1, end)
            if pos < 0:
                break
            synced = False
            continue
        pages.append((pos,) + page)
        pos += page[0]
        synced = True
    return pages


def is_header_page(page):
    """An Ogg page of a chain's header packets: granule position 0 (or -1, no packet ends on it)."""
    return page[3] in (0, -1)
