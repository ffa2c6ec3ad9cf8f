"""The checks: every fault's row (lost, repeated, corrupt, recovery, delay, rejoins, decode errors,
places) and its pass, an upgrade's own figures (pauses, connections kept, dummies)."""

import bisect
import os

from .config import LATE_S, RECOVERY_TARGET_S
from .ogg import ogg_pages


class Checks:
    """Part of Harness (runner.py): turns the recordings and the faults into rows."""

    def analyse(self):
        ref, _ = self.load_seq("ref")
        root_time = {}
        segments = []  # (start offset in ref.audio, length, key, root time)
        offset = 0
        for t, stream, seq, length in ref:
            root_time.setdefault((stream, seq), t)
            segments.append((offset, length, (stream, seq), t))
            offset += length
        with open(os.path.join(self.recordings, "ref.audio"), "rb") as file:
            ref_audio = file.read()
        if self.args.format != "mp3" and len(ref) > 1 and ref[-1][0] > ref[0][0]:
            self.bytes_per_second = sum(length for *_, length in ref[1:]) / (ref[-1][0] - ref[0][0])
        self.ogg_starts = []
        if self.ogg:
            self.ref_pages = ogg_pages(ref_audio)
            self.ref_page_index = {page[0]: index for index, page in enumerate(self.ref_pages)}
            self.ref_codec_headers = self.load_codec_headers("ref")
            decode_result = self.decode_recordings()  # before the rows: it settles which live lines are errors
        listeners = {}
        for name in self.observers:
            listeners[name] = self.observer_arrivals(name, root_time)
        for names in self.node_players.values():
            for name in names:
                listeners[name] = self.player_arrivals(name, ref_audio, segments)
        self.listener_data = listeners
        rows = []
        for fault in self.faults:
            rows.append(self.fault_row(fault, listeners, root_time))
            rows[-1]["heard_again_s"] = self.heard_again(ref, ref_audio, fault["start"], fault["until"])
            if fault["kind"] not in ("ingest-restart", "stop-start") and rows[-1]["heard_again_s"]:
                rows[-1]["pass"] = False
        # Over the whole run, every listener (the only figures of a run without faults).
        self.whole_run = {name: {kind: sum(count for _, mark, count in data["marks"] if mark in kinds)
                                 for kind, kinds in (("lost", ("lost",)), ("repeated", ("repeat",)),
                                                     ("corrupt", ("corrupt", "unaligned", "headers")), ("reconnects", ("reconnect",)))}
                          for name, data in listeners.items()}
        depths = self.tree_depths(self.tree())
        self.deepest = max(self.leaves, key=lambda name: (depths.get(name, 0), int(name[1:])))
        self.deepest_depth = depths.get(self.deepest)
        self.deepest_segments = len(listeners.get("play-" + self.deepest, {}).get("arrivals", []))
        dummies = next((line for _, line in reversed(self.processes["dummies"].lines) if line.startswith("dummies: clients=")), "no summary")
        decode = {name: len(self.processes[name].events) for name in self.real_players}
        if self.ogg:
            decode_result["starts"] = self.ogg_starts
            # Over the whole run, not only the faults' windows: chain boundaries fall anywhere.
            decode_result["whole_run"] = {name: {kind: sum(count for _, mark, count in data["marks"] if mark in kinds)
                                                 for kind, kinds in (("lost", ("lost",)), ("repeated", ("repeat",)),
                                                                     ("corrupt", ("corrupt", "unaligned", "headers")),
                                                                     ("reconnects", ("reconnect",)))}
                                          for name, data in listeners.items()}
            self.ogg_result = decode_result
        return rows, dummies, decode, listeners

    def fault_row(self, fault, listeners, root_time):
        start, end, until = fault["start"], fault["end"], fault["until"]
        restart = fault["kind"] in ("upstream-drop", "upstream-restart", "ingest-restart")
        row = {"fault": fault["kind"], "target": fault["target"], "seconds": fault["seconds"], "lost": 0, "repeated": 0,
               "corrupt": 0, "reconnects": 0, "stream_changes": 0, "listeners": {}, "depth_after": fault["depth_after"],
               "min_depth": self.min_depth(), "tree_whole_after": fault["tree_whole_after"],
               "places_agree_s": fault["places_agree_s"], "places_wrong": fault["places_wrong"]}
        recovery = 0.0
        for name, data in listeners.items():
            marks = [mark for mark in data["marks"] if start <= mark[0] <= until]
            lost = sum(count for _, kind, count in marks if kind == "lost")
            repeated = sum(count for _, kind, count in marks if kind == "repeat")
            corrupt = sum(count for _, kind, count in marks if kind in ("corrupt", "unaligned", "headers"))
            reconnects = sum(count for _, kind, count in marks if kind == "reconnect")
            streams = sum(count for _, kind, count in marks if kind == "stream")
            window = [(t, key, delay) for t, key, delay in data["arrivals"] if start <= t <= until]
            if restart:
                # Nothing is late behind a root that is itself waiting: measure when audio is back.
                after = [t for t, key, _ in window if t > end and root_time.get(key, 0) > end - 0.05]
                whole_at = after[0] if after else None
            else:
                late = [t for t, _, delay in window if delay is not None and delay > LATE_S]
                whole_at = max(late) if late else end
            listener_recovery = None if whole_at is None else max(0.0, whole_at - end)
            if listener_recovery is None:
                recovery = None
            elif recovery is not None:
                recovery = max(recovery, listener_recovery)
            max_delay = max((delay for _, _, delay in window if delay is not None), default=None)
            row["listeners"][name] = {"lost": lost, "repeated": repeated, "corrupt": corrupt, "reconnects": reconnects,
                                      "segments": len(window), "recovery_s": listener_recovery,
                                      "max_delay_s": None if max_delay is None else round(max_delay, 3)}
            row["lost"] += lost
            row["repeated"] += repeated
            row["corrupt"] += corrupt
            row["reconnects"] += reconnects
            row["stream_changes"] += streams
        row["recovery_s"] = None if recovery is None else round(recovery, 2)
        delays = [listener["max_delay_s"] for listener in row["listeners"].values() if listener["max_delay_s"] is not None]
        row["max_delay_s"] = max(delays, default=None)
        row["rejoins"] = sum(1 for name in self.mirrors for t, _ in self.processes[name].events if start <= t <= until)
        for name in self.real_players:
            row[name + "_errors"] = sum(1 for t, _ in self.processes[name].events if start <= t <= until)
        # A restart of the radio or the ingest cuts the stream mid-frame upstream of Casty, so a
        # decoder may report that one broken frame; anything else must play clean.
        clean = restart or all(row[name + "_errors"] == 0 for name in self.real_players)
        if fault.get("upgrade") is not None:
            self.upgrade_row(row, fault)
        if fault["kind"] == "stop-start":
            row["pass"] = True  # a comparison: what a stop and start costs the same listeners
        elif fault["kind"] == "ingest-restart":
            row["pass"] = row["corrupt"] == 0 and row["tree_whole_after"] and row["places_agree_s"] is not None
        else:
            row["pass"] = (row["lost"] == 0 and row["repeated"] == 0 and row["corrupt"] == 0 and row["reconnects"] == 0
                           and row["recovery_s"] is not None and row["recovery_s"] <= RECOVERY_TARGET_S
                           and clean and row["tree_whole_after"] and row["places_agree_s"] is not None)
        if fault["kind"] in ("upgrade", "upgrade-ingest"):
            upgrade = row["upgrade"]
            row["pass"] = (row["pass"] and upgrade["ok"] and upgrade["connections_kept"] == upgrade["connections_before"]
                           and max(upgrade["child_rejoins"].values(), default=0) <= 1 and upgrade["player_reconnects"] == 0
                           and all(entry["failed"] == 0 and entry["gaps"] == 0 and entry["repeats"] == 0 for entry in upgrade["dummies"]))
            if fault["kind"] == "upgrade-ingest":
                row["pass"] = row["pass"] and bool(upgrade["spliced"]) and "dropped the audio it sent again" in upgrade["spliced"][0]
        return row

    def read_times(self, name):
        """The times of a player's reads (DIR/NAME.reads), every read that brought audio."""
        cache = self.__dict__.setdefault("_read_times", {})
        if name not in cache:
            times = []
            with open(os.path.join(self.recordings, name + ".reads")) as file:
                for line in file:
                    parts = line.split()
                    if parts and parts[0] != "#":
                        times.append(float(parts[0]))
            cache[name] = times
        return cache[name]

    def longest_pause(self, names, start, until):
        """The longest gap between two reads that brought audio, over the players `names`, among
        the gaps that end within [start, until]: (seconds, player, when it ended), or None."""
        best = None
        for name in names:
            times = self.read_times(name)
            first = bisect.bisect_left(times, start)
            for index in range(max(1, first), bisect.bisect_right(times, until)):
                gap = times[index] - times[index - 1]
                if best is None or gap > best[0]:
                    best = (round(gap, 3), name, times[index])
        return best

    def upgrade_row(self, row, fault):
        """An upgrade's or stop-start's own figures: the pauses at the target's and its child's
        players (and the longest one in the 10 s before, for comparison), connections, rejoins."""
        upgrade = dict(fault["upgrade"])
        start, until = fault["start"], fault["until"]
        for side in ("target", "child"):
            names = upgrade[side + "_players"]
            # At the fault: the gaps that end from its start to 2 s after its end (segments come
            # about once a second, so the gap the hand-over falls in and the next one).
            pause = self.longest_pause(names, start, fault["end"] + 2)
            after = self.longest_pause(names, start, until)
            before = self.longest_pause(names, start - 10, start)
            upgrade[side + "_pause_s"] = pause[0] if pause else None
            upgrade[side + "_pause_at"] = [pause[1], round(pause[2] - start, 3)] if pause else None
            upgrade[side + "_pause_after_s"] = after[0] if after else None
            upgrade[side + "_pause_after_at"] = [after[1], round(after[2] - start, 3)] if after else None
            upgrade[side + "_pause_before_s"] = before[0] if before else None
        players = upgrade["target_players"] + upgrade["child_players"]
        # At each reconnect inside the window, how much of the root's audio the new connection
        # brought again (its burst started before the old one's end) or skipped, in seconds.
        again, skipped = {}, {}
        for name in players:
            spans = self.listener_data[name].get("spans", [])
            for before, after in zip(spans, spans[1:]):
                if start <= after["t"] <= until:
                    overlap = (before["last"] - after["first"]) / self.bytes_per_second
                    again[name] = again.get(name, 0) + max(0.0, overlap)
                    skipped[name] = skipped.get(name, 0) + max(0.0, -overlap)
        upgrade["reconnect_heard_again_s"] = round(max(again.values(), default=0.0), 2)
        upgrade["reconnect_skipped_s"] = round(max(skipped.values(), default=0.0), 2)
        for side in ("target", "child"):
            delays = [row["listeners"].get(name, {}).get("max_delay_s") for name in upgrade[side + "_players"]]
            upgrade[side + "_delay_s"] = max((delay for delay in delays if delay is not None), default=None)
        upgrade["player_reconnects"] = sum(row["listeners"].get(name, {}).get("reconnects", 0) for name in players)
        upgrade["player_lost"] = sum(row["listeners"].get(name, {}).get("lost", 0) for name in players)
        upgrade["player_repeated"] = sum(row["listeners"].get(name, {}).get("repeated", 0) for name in players)
        row["upgrade"] = upgrade
