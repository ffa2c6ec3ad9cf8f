"""The faults: their schedule, the pick of a target, each fault done and undone, and the state of the
tree after it (self.faults, one entry per fault, for the checks)."""

import json
import os
import re
import signal
import time

from .config import DUMMY_LEAD_S, PORT, UPGRADE_FAULTS, log


class Faults:
    """Part of Harness (runner.py): the faults, one after the other."""

    def inner_target(self):
        """An inner mirror (one with children) without listeners of its own, nearest the root,
        not the last one faulted. (Relocations move the leaves that carry listeners inward too.)"""
        tree = self.tree()
        depths = self.tree_depths(tree)
        parents = set(tree.values()) - {"root", "root2"} - set(self.leaves)
        recent = [fault["target"] for fault in self.faults[-1:]]
        candidates = sorted(parents, key=lambda name: (depths.get(name, 99), name in recent, int(name[1:])))
        if not candidates:
            raise RuntimeError(f"no inner mirror without listeners to fault in {tree}")
        return candidates[0]

    def mass_targets(self):
        """A quarter of the mirrors (rounded up), all inner ones without listeners, spread over
        the levels: every other inner mirror by position, then the rest."""
        tree = self.tree()
        inner = sorted(set(tree.values()) - {"root", "root2"} - set(self.leaves), key=lambda name: int(name[1:]))
        count = (len(self.mirrors) + 3) // 4
        if len(inner) < count:
            raise RuntimeError(f"only {len(inner)} inner mirrors without listeners, {count} needed, in {tree}")
        ordered = inner[::2] + inner[1::2]
        return sorted(ordered[:count], key=lambda name: int(name[1:]))

    def schedule(self):
        if self.args.faults is not None:
            return [(kind, int(kind.rstrip("s").split("-")[-1]) if kind.startswith(("cable-", "freeze-")) else 4 if kind == "freeze" else
                     self.args.loss_seconds if kind.startswith("loss") else 0) for kind in self.args.faults]
        loss = self.args.loss_seconds
        if self.args.short_ogg:
            return [("kill", 0), ("freeze", 4)]
        if self.args.short:
            return [("cable-3s", 3), ("loss-10pct", loss), ("kill", 0), ("freeze", 4), ("upstream-drop", 0), ("upstream-restart", 0), ("ingest-restart", 0)]
        return [("cable-3s", 3), ("cable-4s", 4), ("loss-10pct", loss), ("kill", 0), ("freeze", 4), ("upstream-drop", 0), ("upstream-restart", 0),
                ("ingest-restart", 0)]

    def planned_seconds(self):
        per_fault = self.args.settle + self.args.gap + 25
        extra = {kind: DUMMY_LEAD_S + 15 for kind in UPGRADE_FAULTS}
        return int(self.args.warmup + sum(seconds + per_fault + extra.get(kind, 0) for kind, seconds in self.schedule()) + 120)

    def fault(self, kind, seconds=0.0):
        restart = None
        if kind == "mass-kill":
            victims = self.mass_targets()
            target = "+".join(victims)
        else:
            target = ({"upstream-restart": "radio", "upstream-drop": "radio", "ingest-restart": "root", "upgrade-ingest": "root"}.get(kind)
                      or (self.current_root() if kind.startswith("root-") else None)
                      or (self.upgrade_target if kind in ("upgrade", "stop-start") else None) or self.inner_target())
        upgrade = self.before_upgrade(kind, target) if kind in UPGRADE_FAULTS else None
        log(f"fault {kind} on {target} ({seconds:g} s)")
        start = time.time()
        if kind.startswith("cable"):
            self.net.cable(target, up=False)
            time.sleep(seconds)
            self.net.cable(target, up=True)
        elif kind.startswith("loss"):
            self.net.packet_loss(target, 0.1, on=True)
            time.sleep(seconds)
            self.net.packet_loss(target, 0.1, on=False)
        elif kind == "kill":
            self.processes[target].signal(signal.SIGKILL)
            self.processes[target].popen.wait(5)
            restart = target
        elif kind == "freeze" or kind.startswith("freeze-"):
            self.processes[target].signal(signal.SIGSTOP)
            time.sleep(seconds)
            self.processes[target].signal(signal.SIGCONT)
        elif kind == "upstream-restart":
            self.stop_radio()
            self.start_radio()
        elif kind == "upstream-drop":
            self.kick_ingest_from_radio()
        elif kind == "ingest-restart":
            self.processes["root"].stop()
            self.start_node("root")
        elif kind == "member-change":
            # The spare host's mirror joins the file, the target leaves it; a short drain.
            self.fleet["mirrors"] = [m for m in self.fleet["mirrors"] if m["name"] != target] + [
                {"name": self.spare, "host": self.net.address[self.spare], "port": PORT}]
            self.fleet["drainSeconds"] = 5
            with open(self.fleet_path + ".new", "w") as file:
                json.dump(self.fleet, file, indent=2)
            os.replace(self.fleet_path + ".new", self.fleet_path)
            self.processes["root"].signal(signal.SIGHUP)
            time.sleep(0.2)
            for name in self.mirrors:
                self.processes[name].signal(signal.SIGHUP)
            self.mirrors = [name for name in self.mirrors if name != target] + [self.spare]
            self.start_node(self.spare)
            target = f"+{self.spare} -{target}"
        elif kind.startswith("root-"):
            # The root ingest fails; the other ingest must be root within 2 s, and the failed one,
            # back, must follow it.
            other = "root2" if target == "root" else "root"
            if kind == "root-kill":
                self.processes[target].signal(signal.SIGKILL)
                self.processes[target].popen.wait(5)
            else:
                self.net.cable(target, up=False)
            failed_at = time.monotonic()
            self.wait(lambda: (self.status(other) or {}).get("is_root") is True, 10, f"{other} to become the root")
            takeover = round(time.monotonic() - failed_at, 2)
            if kind == "root-kill":
                self.start_node(target)
            else:
                time.sleep(max(0.0, 4 - (time.monotonic() - failed_at)))
                self.net.cable(target, up=True)
            back_at = time.monotonic()
            self.wait(lambda: (self.status(target) or {}).get("is_root") is False and (self.status(target) or {}).get("root") == other,
                      15, f"the old root {target} to follow {other}")
            follows = round(time.monotonic() - back_at, 2)
            log(f"  {other} is root {takeover} s after the fault; {target} follows it {follows} s after it is back")
            self.takeovers.append({"fault": kind, "old": target, "new": other, "takeover_s": takeover, "follows_s": follows})
        elif kind in ("upgrade", "upgrade-ingest"):
            upgrade.update(self.take_over(target))
        elif kind == "stop-start":
            upgrade.update(self.stop_start(target))
        elif kind == "mass-kill":
            for victim in victims:  # one signal each, back to back: the same instant to the fleet
                self.processes[victim].signal(signal.SIGKILL)
            for victim in victims:
                self.processes[victim].popen.wait(5)
            restart = victims
        end = time.time()
        time.sleep(self.args.settle)
        measured_until = time.time()
        joins = self.root_joins(start, measured_until)
        if upgrade is not None:
            self.after_upgrade(upgrade, start, measured_until)
        if isinstance(restart, str):
            self.start_node(restart)
        elif restart:
            for victim in restart:
                self.start_node(victim)
        try:
            self.wait_for_tree(30)
            healed = True
        except RuntimeError:
            healed = False
        places_s, wrong = self.wait_for_places()
        tree = self.tree()
        depth = max(self.tree_depths(tree).values()) if tree else None
        self.faults.append({"kind": kind, "target": target, "seconds": round(end - start, 2), "start": start, "end": end,
                            "until": measured_until, "depth_after": depth, "tree_whole_after": healed, "tree_after": tree,
                            "places_agree_s": places_s, "root_joins": joins, "places_wrong": {name: list(place) for name, place in wrong.items()},
                            "upgrade": upgrade})
        agree = f"within {places_s:.2f} s" if places_s is not None else "NO: " + self.wrong_text(wrong)
        log(f"  done: depth {depth}, tree whole again: {healed}; every mirror's own place agrees: {agree}; "
            f"joins at the root {joins['total']} (most in a second: {joins['peak_per_second']}); {self.tree_text()}")
        time.sleep(self.args.gap)

    def root_joins(self, start, until):
        """The mirrors' joins the root answered between `start` and `until` (taken, redirected or
        refused), from its log: the total and the most in any second."""
        pattern = re.compile(r"peer joined|join redirected|join refused")
        lines = [entry for name in ("root", "root2") if name in self.processes for entry in self.processes[name].lines]
        times = sorted(t for t, line in lines if start <= t <= until and pattern.search(line) and "observer" not in line)
        peak, low = 0, 0
        for high in range(len(times)):
            while times[high] - times[low] >= 1.0:
                low += 1
            peak = max(peak, high - low + 1)
        return {"total": len(times), "peak_per_second": peak}
