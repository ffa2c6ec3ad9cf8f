"""The report: the table (OUT/report.md, printed), OUT/report.json, and whether the run passes."""

import json
import os
import re

from .config import log


class Report:
    """Part of Harness (runner.py): the last step."""

    def report(self, rows, dummies, decode):
        mode = ("faults " + (",".join(self.args.faults) or "none")) if self.args.faults is not None else "short Ogg" if self.args.short_ogg else "short" if self.args.short else "full"
        stream = "" if self.args.format == "mp3" else f"{self.args.format}, "
        lines = [f"### {len(self.mirrors)} mirrors ({stream}{mode} run, {len(self.leaves)} leaves, {len(self.leaves) * 2} probe listeners + "
                 f"{self.args.dummies} dummy clients + {' + '.join(self.real_players)})", "",
                 "| fault | on | lasted | lost | repeated | whole again after the end | longest delay | rejoins | depth after (min) | own places agree | decode errors | pass |",
                 "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
        for row in rows:
            recovery = "never" if row["recovery_s"] is None else f"{row['recovery_s']:.2f} s"
            lost = f"{row['lost']}" + (f" (new stream ×{row['stream_changes']})" if row["stream_changes"] else "")
            if row.get("heard_again_s"):
                lost += f"; {row['heard_again_s']:.1f} s of audio heard again"
            extra = ""
            if row["corrupt"] or row["reconnects"]:
                extra = f" ({row['corrupt']} corrupt, {row['reconnects']} reconnects)"
            delay = "-" if row["max_delay_s"] is None else f"{row['max_delay_s']:.2f} s"
            places = (f"{row['places_agree_s']:.2f} s" if row["places_agree_s"] is not None
                      else "NO: " + self.wrong_text({name: tuple(place) for name, place in row["places_wrong"].items()}))
            lines.append(f"| {row['fault']} | {row['target']} | {row['seconds']:.1f} s | {lost}{extra} | {row['repeated']} | {recovery} | {delay} | "
                         f"{row['rejoins']} | {row['depth_after']} ({row['min_depth']}) | {places} | {sum(row[name + '_errors'] for name in self.real_players)} | "
                         f"{'yes' if row['pass'] else 'NO'} |")
        if any(row["fault"] == "mass-kill" for row in rows):
            for row, fault in zip(rows, self.faults):
                if fault["kind"] == "mass-kill":
                    lines.append(f"mass-kill: joins answered by the root from the kill to {self.args.settle:g} s after: {fault['root_joins']['total']}, "
                                 f"most in one second {fault['root_joins']['peak_per_second']}")
        upgrades = [row for row in rows if row.get("upgrade")]
        if upgrades:
            lines += ["", "| fault | on | listeners on it | hand-over time | longest pause at its players: at the fault / in the measurement / in the 10 s before | the same at its child's players "
                      "| longest delay behind the root, its / child's players | lost | repeated | player reconnects (audio heard again / skipped) "
                      "| connections kept | child rejoins | dummies failed/gaps/repeats | pass |",
                      "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
            for row in upgrades:
                upgrade = row["upgrade"]

                def pause(side):
                    if upgrade[side + "_pause_s"] is None:
                        return "-"
                    return " / ".join("-" if upgrade[side + key] is None else f"{upgrade[side + key]:.2f} s" for key in ("_pause_s", "_pause_after_s", "_pause_before_s"))
                handover = "failed" if upgrade["handover_s"] is None else f"{upgrade['handover_s']:.3f} s"
                if row["fault"] == "stop-start" and upgrade["handover_s"] is not None:
                    handover = f"{upgrade['handover_s']:.3f} s (SIGTERM to serving again)"
                child = f"{upgrade['child'] or '-'}"
                rejoins = ", ".join(f"{name} {count}" for name, count in upgrade["child_rejoins"].items()) or "-"
                delay = " / ".join("-" if upgrade[side + "_delay_s"] is None else f"{upgrade[side + '_delay_s']:.2f} s" for side in ("target", "child"))
                reconnects = (f"{upgrade['player_reconnects']} ({upgrade['reconnect_heard_again_s']:.1f} s / {upgrade['reconnect_skipped_s']:.1f} s)"
                              if upgrade["player_reconnects"] else "0")
                dummy_text = ", ".join(f"{entry['mode']}s {entry['failed']}/{entry['gaps']}/{entry['repeats']}" for entry in upgrade["dummies"]) or "-"
                lines.append(f"| {row['fault']} | {row['target']} (child {child}) | {upgrade['listeners']} | {handover} | {pause('target')} | {pause('child')} | {delay} | "
                             f"{row['lost']} | {row['repeated']} | {reconnects} | {upgrade['connections_kept']} of {upgrade['connections_before']} | {rejoins} | {dummy_text} | "
                             f"{'n/a (comparison)' if row['fault'] == 'stop-start' else 'yes' if row['pass'] else 'NO'} |")
            for row in upgrades:
                upgrade = row["upgrade"]
                if upgrade.get("version"):
                    lines.append(f"{row['fault']}: versions {upgrade.get('from_version')} -> {upgrade.get('version')}; the old process's own count "
                                 f"{upgrade.get('old_handover_ms')} ms; {upgrade.get('connections')} connections handed over")
                for line in upgrade.get("spliced", [])[:1]:
                    lines.append(f"{row['fault']}: {line.strip()[:200]}")
                if not upgrade["ok"]:
                    lines.append(f"{row['fault']}: FAILED: " + " | ".join(upgrade.get("handover_lines", [])[:5]))
        for takeover in self.takeovers:
            lines.append(f"{takeover['fault']}: {takeover['new']} was the root {takeover['takeover_s']:.2f} s after the fault "
                         f"(target 2 s); {takeover['old']}, back, followed it {takeover['follows_s']:.2f} s later")
        rss = [kib for name, kib in self.memory_kib.items() if name not in ("root", "root2") and kib]
        lines += ["", f"tree formed in {self.formed_s} s ({len(self.mirrors)} mirrors started 0.2 s apart), depth {self.min_depth()} (minimum); "
                  f"memory per mirror once formed (VmRSS): median {sorted(rss)[len(rss) // 2] / 1024:.1f} MiB, max {max(rss) / 1024:.1f} MiB; "
                  f"ingest {self.memory_kib.get('root', 0) / 1024:.1f} MiB" if rss else "tree formed; memory not read"]
        whole = {kind: sum(entry[kind] for entry in self.whole_run.values()) for kind in ("lost", "repeated", "corrupt", "reconnects")}
        lines += ["", f"whole run, every observer and player: lost {whole['lost']}, repeated {whole['repeated']}, corrupt {whole['corrupt']}, "
                  f"reconnects {whole['reconnects']}; the player on the deepest leaf ({self.deepest}, depth {self.deepest_depth}): "
                  f"{self.deepest_segments} segments equal to the reference byte for byte"]
        whole_clean = not any(whole.values()) and self.deepest_segments > 0
        if not whole_clean:
            log("a listener lost, repeated or mangled audio over the run, or the deepest leaf's player matched nothing")
        lines += ["", f"casty-dummy: `{dummies}`",
                  "real players, decode errors over the whole run: " + ", ".join(f"{name} {decode[name]}" for name in self.real_players)]
        ogg_clean = True
        if self.ogg:
            ogg = self.ogg_result
            starts = ogg["starts"]
            counts = {result: sum(1 for start in starts if start["result"] == result) for result in ("equal", "differ", "missing", "unverifiable")}
            whole = {kind: sum(entry[kind] for entry in ogg["whole_run"].values()) for kind in ("lost", "repeated", "corrupt", "reconnects")}
            lines.append(f"whole run, every observer and player: lost {whole['lost']}, repeated {whole['repeated']}, corrupt {whole['corrupt']}, "
                         f"reconnects {whole['reconnects']}")
            lines.append(f"Ogg player starts: {len(starts)}; header pages first and equal to their chain's in the reference: {counts['equal']}; "
                         f"different: {counts['differ']}; missing: {counts['missing']}; unverifiable: {counts['unverifiable']}; "
                         f"answered with icy-metaint: {sum(1 for start in starts if start['icy_metaint'])}")
            for start in starts:
                if start["result"] != "equal":
                    lines.append(f"  {start['listener']} at {start['time']:.3f}: {start['result']} ({start['compared_with']})")
            icecast = ogg["icecast"]
            known_text = "; ".join(sorted(set(icecast["lines"]))) or "none"
            lines.append(f"Icecast's own recording of the mount ({icecast['bytes']:,} bytes, {icecast['chains']} chains), "
                         f"ffmpeg -v error: {len(icecast['lines'])} lines ({known_text}); known ffmpeg lines so verified: "
                         f"{', '.join(ogg['verified_known']) or 'none'}")
            parts = []
            for name, entry in ogg["recordings"].items():
                parts.append(f"{name} {len(entry['errors'])} ({entry['bytes']:,} bytes, {entry['chains']} chains, {len(entry['known'])} known lines)")
            lines.append("players' recordings decoded (ffmpeg -v error), decode errors: " + ", ".join(parts))
            for name, entry in ogg["recordings"].items():
                for line in entry["errors"][:5]:
                    lines.append(f"  {name}: {line}")
            lines.append("live ffmpeg players, known chain-boundary lines (not errors): " + ", ".join(f"{name} {count}" for name, count in ogg["live_known"].items()))
            ogg_clean = (not any(whole.values()) and bool(starts) and counts["equal"] == len(starts) and not any(start["icy_metaint"] for start in starts) and icecast["bytes"] > 0
                         and all(not entry["errors"] for entry in ogg["recordings"].values()))
            if not ogg_clean:
                log("Ogg: a player's start or recording is not clean (see the report)")
        lines += [f"run time: {self.finished - self.started:.0f} s", ""]
        text = "\n".join(lines)
        with open(os.path.join(self.out, "report.md"), "w") as file:
            file.write(text)
        with open(os.path.join(self.out, "report.json"), "w") as file:
            json.dump({"mirrors": len(self.mirrors), "formed_s": self.formed_s, "memory_kib": self.memory_kib, "mode": mode, "format": self.args.format, "leaves": self.leaves, "faults": rows,
                       "dummies": dummies, "decode_errors": decode, "ogg": self.ogg_result, "seconds": round(self.finished - self.started, 1)},
                      file, indent=2)
        print(text)
        counts = dict(re.findall(r"(\w+)=(\d+)", dummies))
        dummies_clean = counts.get("gaps") == "0" and counts.get("repeats") == "0"
        if not dummies_clean:
            log("casty-dummy saw gaps or repeats (or gave no summary)")
        faults_expected = any(row["fault"] in ("ingest-restart", "upstream-restart", "stop-start") for row in rows)
        return all(row["pass"] for row in rows) and dummies_clean and ogg_clean and (whole_clean or faults_expected or self.ogg)
