"""The Ogg checks: a player's first bytes on each connection are its chain's header pages, equal to the
reference's; every recording decodes with ffmpeg, but for known chain-boundary lines that Icecast's
own recording shows too."""

import os
import re
import subprocess

from .ogg import is_header_page, known_ffmpeg_line, ogg_pages


class OggCheck:
    """Part of Harness (runner.py): used by Checks.analyse and Recordings.player_arrivals with an
    Ogg format."""

    def load_codec_headers(self, name):
        """The payloads of the codecHeaders frames an observer got (version 2 joins), in order."""
        _, events = self.load_seq(name)
        path = os.path.join(self.recordings, name + ".codec")
        data = open(path, "rb").read() if os.path.exists(path) else b""
        result, offset = [], 0
        for _, text in events:
            match = re.match(r"codecHeaders at=\d+ bytes=(\d+)$", text)
            if match:
                size = int(match.group(1))
                result.append(data[offset:offset + size])
                offset += size
        return result

    def chain_headers(self, ref_audio, q):
        """The header pages of the chain whose page starts at ref_audio[q], as the reference has
        them: the chain's first pages, when the reference holds its beginning, or else the
        codecHeaders frame the reference observer got when it joined. (bytes or None, where from)."""
        index = self.ref_page_index.get(q)
        if index is None:
            return None, "the first audio page is not a page of the reference"
        serial = self.ref_pages[index][4]
        first = index
        while first > 0 and self.ref_pages[first - 1][4] == serial and not self.ref_pages[first][2] & 2:
            first -= 1
        if self.ref_pages[first][2] & 2 and self.ref_pages[first][4] == serial:
            headers = []
            for page in self.ref_pages[first:index]:
                if not is_header_page(page) or (headers and page[0] != headers[-1][0] + headers[-1][1]):
                    break
                headers.append(page)
            if headers:
                return ref_audio[headers[0][0]:headers[-1][0] + headers[-1][1]], "the chain's first pages in the reference"
        for payload in self.ref_codec_headers:
            pages = ogg_pages(payload, resync=False)
            if pages and pages[0][4] == serial and pages[0][2] & 2:
                return payload, "the reference observer's codecHeaders frame"
        return None, f"the reference has no header pages of the chain {serial:#x}"

    def decode_recordings(self):
        """Decodes every player's recording, and Icecast's own recording of the mount, with
        `ffmpeg -v error -i REC -f null -`. Every line is a decode error but those of
        KNOWN_FFMPEG_OGG whose kind Icecast's recording shows too (then the same lines from the
        live ffmpeg players are not errors either)."""
        def decode(path):
            result = subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-i", path, "-f", "null", "-"], stdout=subprocess.PIPE,
                                    stderr=subprocess.STDOUT, text=True, errors="replace", timeout=300)
            lines = [line for line in result.stdout.splitlines() if line.strip()]
            if result.returncode != 0:
                lines.append(f"(ffmpeg exited with status {result.returncode})")
            return lines

        def described(path):
            data = open(path, "rb").read() if os.path.exists(path) else b""
            chains = sum(1 for page in ogg_pages(data) if page[2] & 2)
            return {"bytes": len(data), "chains": chains, "lines": decode(path) if data else ["(no recording)"]}

        icecast = described(os.path.join(self.recordings, "icecast.audio"))
        verified = {known_ffmpeg_line(line) for line in icecast["lines"]} - {None}
        recordings = {}
        for name in [name for names in self.node_players.values() for name in names]:
            entry = described(os.path.join(self.recordings, name + ".audio"))
            entry["known"] = [line for line in entry["lines"] if known_ffmpeg_line(line) in verified]
            entry["errors"] = [line for line in entry["lines"] if known_ffmpeg_line(line) not in verified]
            recordings[name] = entry
        live_known = {}
        for name in self.real_players:
            process = self.processes[name]
            unverified = [(t, line) for t, line in process.known if known_ffmpeg_line(line) not in verified]
            process.events = sorted(process.events + unverified)
            live_known[name] = len(process.known) - len(unverified)
        return {"icecast": icecast, "verified_known": sorted(verified), "recordings": recordings, "live_known": live_known}

    def check_ogg_start(self, name, connect_t, metaint, header_bytes, aligned, ref_audio, q):
        """Whether a player's first bytes on a connection were its chain's header pages."""
        if header_bytes is None:
            result, source = "missing", "the connection did not start with a chain's header pages (a BOS page, granule 0)"
        elif not aligned:
            result, source = "unverifiable", "the first audio page is not in the reference"
        else:
            expected, source = self.chain_headers(ref_audio, q)
            result = "unverifiable" if expected is None else ("equal" if header_bytes == expected else "differ")
        pages = len(ogg_pages(header_bytes, resync=False)) if header_bytes else 0
        self.ogg_starts.append({"listener": name, "time": round(connect_t, 3), "header_pages": pages,
                                "header_bytes": len(header_bytes or b""), "result": result, "compared_with": source, "icy_metaint": metaint})
        return result == "equal" and not metaint
