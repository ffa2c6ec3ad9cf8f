"""The recordings read back: an observer's segment numbers, a player's audio aligned byte for byte
with the root's reference (segments heard, lost, repeated, corrupt; reconnects), and audio the root
itself sent twice."""

import bisect
import os

from .ogg import is_header_page, ogg_pages


class Recordings:
    """Part of Harness (runner.py): per listener, its arrivals and marks, from OUT/recordings."""

    def load_seq(self, name):
        arrivals, events = [], []
        path = os.path.join(self.recordings, name + ".seq")
        if not os.path.exists(path):
            return arrivals, events
        with open(path) as file:
            for line in file:
                parts = line.split()
                if parts[0] == "#":
                    events.append((float(parts[1]), " ".join(parts[2:])))
                else:
                    arrivals.append((float(parts[0]), parts[1], int(parts[2]), int(parts[3])))
        return arrivals, events

    def observer_arrivals(self, name, root_time):
        """(time, key, delay behind the root) per segment, plus (time, 'lost'|'repeat'|'stream', count)."""
        arrivals, events = self.load_seq(name)
        result, marks = [], []
        previous = None
        for t, stream, seq, _ in arrivals:
            key = (stream, seq)
            if previous and previous[0] == stream:
                if seq > previous[1] + 1:
                    marks.append((t, "lost", seq - previous[1] - 1))
                elif seq <= previous[1]:
                    marks.append((t, "repeat", 1))
            elif previous:
                marks.append((t, "stream", 1))
            previous = (stream, seq)
            result.append((t, key, t - root_time[key] if key in root_time else None))
        reconnects = [t for t, text in events if text.startswith("connected")][1:]
        marks += [(t, "reconnect", 1) for t in reconnects]
        return {"arrivals": result, "marks": marks}

    def player_arrivals(self, name, ref_audio, segments):
        """Aligns a player's audio with the root's, segment by segment: which segments it heard
        whole and when, and where it skipped (lost) or went back (repeated)."""
        path = os.path.join(self.recordings, name + ".audio")
        audio = open(path, "rb").read() if os.path.exists(path) else b""
        reads_t, reads_total, connects, metaints = [], [], [], {}
        with open(os.path.join(self.recordings, name + ".reads")) as file:
            for line in file:
                parts = line.split()
                if parts[0] == "#":
                    if parts[2] == "connected":
                        connects.append((float(parts[1]), int(parts[-1].split("=")[1])))
                        metaints[float(parts[1])] = int(parts[3].split("=")[1])
                else:
                    reads_t.append(float(parts[0]))
                    reads_total.append(int(parts[1]))
        starts = [segment[0] for segment in segments]
        by_prefix = {}
        for index, (start, length, _, _) in enumerate(segments):
            if length >= 64:
                by_prefix.setdefault(ref_audio[start:start + 64], []).append(index)

        def time_at(offset):
            i = bisect.bisect_left(reads_total, offset)
            return reads_t[i] if i < len(reads_t) else None

        def common(p, q, limit):
            """Length of the common prefix of audio[p:] and ref_audio[q:], at most limit."""
            low, high = 0, min(limit, len(audio) - p, len(ref_audio) - q)
            step = 16384
            while low + step <= high and audio[p + low:p + low + step] == ref_audio[q + low:q + low + step]:
                low += step
            high = min(high, low + step)
            while low < high:
                mid = (low + high + 1) // 2
                if audio[p:p + mid] == ref_audio[q:q + mid]:
                    low = mid
                else:
                    high = mid - 1
            return low

        result, marks, spans = [], [], []
        bounds = [offset for _, offset in connects] + [len(audio)]
        for (connect_t, begin), end in zip(connects, bounds[1:]):
            if connect_t != connects[0][0]:
                marks.append((connect_t, "reconnect", 1))
            # Where this connection's bytes are in the root's recording. A player's first bytes
            # (the burst) can predate the reference's first segment, and a restarted radio plays
            # its tracks again: take the occurrence nearest in time, skipping ahead if needed.
            p, q = begin, -1
            if self.ogg:
                # Ogg: the chain's header pages first, then audio from a page on; no ICY metadata.
                leading = []
                for page in ogg_pages(audio, begin, end, resync=False):
                    if not is_header_page(page):
                        break
                    leading.append(page)
                header_bytes = None
                if leading and leading[0][2] & 2:
                    p = leading[-1][0] + leading[-1][1]
                    header_bytes = audio[begin:p]
                first_audio = p
            for _ in range(60):
                needle = audio[p:p + 4096]
                if len(needle) < 4096:
                    break
                heard_at = time_at(p) or connect_t
                found, best = ref_audio.find(needle), None
                while found >= 0:
                    distance = abs(segments[bisect.bisect_right(starts, found) - 1][3] - heard_at)
                    if distance < 60 and (best is None or distance < best[0]):
                        best = (distance, found)
                    found = ref_audio.find(needle, found + 1)
                if best:
                    q = best[1]
                    break
                p += 16000
            if self.ogg and not self.check_ogg_start(name, connect_t, metaints.get(connect_t, 0), header_bytes, q >= 0 and p == first_audio, ref_audio, q):
                marks.append((connect_t, "headers", 1))
            if q < 0:
                marks.append((connect_t, "unaligned", 1))
                continue
            span = {"t": connect_t, "first": q - (p - begin), "last": q}
            spans.append(span)
            while p < end:
                n = common(p, q, end - p)
                # Segments completed inside the matched run.
                first = bisect.bisect_right(starts, q)
                last = bisect.bisect_right(starts, q + n)
                for index in range(first - 1, last):
                    seg_start, length, key, root_t = segments[index]
                    seg_end = seg_start + length
                    if q < seg_end <= q + n:
                        t = time_at(p + (seg_end - q))
                        if t is not None:
                            result.append((t, key, t - root_t))
                p, q = p + n, q + n
                if p >= end or q >= len(ref_audio) or end - p < 64:
                    break
                at = bisect.bisect_left(starts, q)
                t = time_at(p) or connect_t
                candidates = by_prefix.get(audio[p:p + 64], [])
                if at < len(starts) and starts[at] == q and candidates:
                    k = min(candidates, key=lambda c: abs(c - at))
                    if k > at:
                        marks.append((t, "lost", k - at))
                    else:
                        marks.append((t, "repeat", at - k))
                    q = starts[k]
                else:
                    marks.append((t, "corrupt", 1))
                    break
            span["last"] = q
        # spans: per connection, where its audio starts and ends in the root's recording (offsets in
        # ref.audio), so that a reconnect's burst shows as audio heard again.
        return {"arrivals": result, "marks": marks, "spans": spans}

    def heard_again(self, ref, ref_audio, start, until):
        """Audio the root sent twice within [start, until], in seconds at the radio's rate (16,000
        bytes a second at 128 kbps). Segment numbers cannot show it: a radio's burst to a new
        client (after a reconnect, or to a restarted ingest) repeats audio already sent, under new
        numbers. The audio can: the test radio's noise makes every stretch of it unique, so a
        segment whose first bytes were already sent in the 256 KiB before it starts a repeat.
        (Further back is the radio itself starting its playlist again after a restart.)"""
        repeated, offset, continuing = 0, 0, None
        for t, _, _, length in ref:
            if start <= t <= until and length >= 4096:
                found = ref_audio.rfind(ref_audio[offset:offset + 4096], max(0, offset - 262_144), offset)
                if found >= 0 and found != continuing:  # a new repeat, not the rest of the last one
                    repeated += offset - found
                continuing = found + length if found >= 0 else None
            offset += length
        return round(repeated / self.bytes_per_second, 2)
