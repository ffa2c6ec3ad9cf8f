"""An upgrade in place (the next build started with --take-over) or, for comparison, a stop and start:
the target's dummy clients, its connections before and after (ss), the hand-over's own log lines."""

import os
import re
import subprocess
import threading
import time

from .config import DUMMIES_PER_HOST, DUMMY_LEAD_S, PORT, TAKE_OVER_WAIT_S, log
from .network import in_ns, run
from .process import Process


class Upgrades:
    """Part of Harness (runner.py): what an upgrade or stop-start fault does around the fault itself."""

    def listener_sockets(self, host):
        """The established TCP connections to the node's port on `host`, server side, as
        {(peer address:port, socket inode): set of pids holding the socket} (ss -tnpe in the host's
        namespace). A socket handed over keeps its inode; a new connection from the same port
        would not."""
        out = run(in_ns(host, ["ss", "-tnpeH", "state", "established", f"( sport = :{PORT} )"]), check=False)
        sockets = {}
        for line in out.splitlines():
            addresses = [token for token in line.split() if re.fullmatch(r"\[?[0-9a-fA-F.:]+\]?:\d+", token)]
            inode = re.search(r"\bino:(\d+)", line)
            if len(addresses) >= 2 and addresses[0].endswith(f":{PORT}"):
                sockets[(addresses[1], int(inode.group(1)) if inode else None)] = {int(pid) for pid in re.findall(r"pid=(\d+)", line)}
        return sockets

    def before_upgrade(self, kind, target):
        """Before an upgrade or stop-start: the target's dummy clients connected (as many as bring
        its listeners to --listeners-on-target, half ICY players, half peer observers), its
        children and its connections noted."""
        tree = self.tree()
        children = sorted((child for child, parent in tree.items() if parent == target), key=lambda name: int(name[1:]))
        if target != "root" and not children:
            log(f"  warning: the target {target} has no child mirror now ({self.tree_text()})")
        with_players = [child for child in children if child in self.node_players]
        child = with_players[0] if with_players else (children[0] if children else None)
        players = self.node_players.get(target, [])
        observers = [name for name in self.observers if name == "obs-" + target]
        dummies = max(0, self.args.listeners_on_target - len(players) - len(observers))
        info = {"target": target, "children": children, "child": child, "target_players": players,
                "child_players": self.node_players.get(child, []), "listeners": len(players) + len(observers) + dummies,
                "probe_players": len(players), "probe_observers": len(observers), "dummy_processes": []}
        url = f"http://{self.net.address[target]}:{PORT}/"
        lifetime = DUMMY_LEAD_S + TAKE_OVER_WAIT_S + self.args.settle + 60
        tag = f"dummies-{kind}-{len(self.faults) + 1}"
        hosts = iter(self.listener_hosts)
        for mode, total in (("player", dummies // 2), ("observer", dummies - dummies // 2)):
            for first in range(0, total, DUMMIES_PER_HOST):
                count, host = min(DUMMIES_PER_HOST, total - first), next(hosts)
                name = f"{tag}-{mode}s-{host}"
                argv = [os.path.join(self.bin, "casty-dummy"), url, "--clients", str(count), "--seconds", f"{lifetime:g}",
                        "--fleet", self.fleet_path, "--name", f"{tag}-{host}-{mode}"] + (["--player"] if mode == "player" else [])
                self.processes[name] = Process(name, host, argv, self.logs)
                info["dummy_processes"].append((name, mode, count))
        # Until every dummy says it is connected (its progress line, once a second), at least the lead.
        began = time.monotonic()
        while time.monotonic() - began < DUMMY_LEAD_S + 10:
            connected = 0
            for name, _, count in info["dummy_processes"]:
                progress = [line for _, line in self.processes[name].lines if line.startswith("dummies: ") and "left," in line]
                match = re.search(r"connected=(\d+)/", progress[-1]) if progress else None
                connected += int(match.group(1)) if match else 0
            if connected >= dummies and time.monotonic() - began >= DUMMY_LEAD_S:
                break
            time.sleep(0.25)
        info["dummies_connected_before"] = connected if info["dummy_processes"] else 0
        info["sockets_before"] = self.listener_sockets(target)
        info["old_pid"] = self.processes[target].popen.pid
        log(f"  {info['listeners']} listeners on {target} ({len(players)} players, {len(observers)} observer, {dummies} casty-dummy clients, "
            f"{info['dummies_connected_before']} connected); {len(info['sockets_before'])} connections to its port; "
            f"children {', '.join(children) or '-'}")
        return info

    def take_over(self, name):
        """Upgrades a node in place: the next build, same host, arguments and environment, plus
        --take-over. Waits (bounded) until the old process exited and the new one took over."""
        process = self.processes[name]
        tool = os.path.basename(process.argv[0])
        argv = [os.path.join(self.next_bin, tool)] + process.argv[1:] + ["--take-over"]
        first_line = len(process.lines)
        started = time.time()
        old = process.replace(argv)
        new = process.popen
        exited = {}
        threading.Thread(target=lambda: (old.wait(), exited.setdefault("t", time.time())), daemon=True).start()
        took = None
        while time.time() - started < TAKE_OVER_WAIT_S:
            if took is None:
                took = next(((t, line) for t, line in process.lines[first_line:] if "took over from pid" in line), None)
            if took and "t" in exited:
                break
            if new.poll() is not None and "t" not in exited:
                break  # the new process gave up; the old one serves on
            time.sleep(0.02)
        time.sleep(0.2)  # the rest of both processes' lines
        lines = [line for _, line in process.lines[first_line:]]
        ok = bool(took) and "t" in exited and old.returncode == 0 and new.poll() is None
        result = {"ok": ok, "new_pid": new.pid, "old_exit_code": old.poll(), "started": started,
                  "handover_s": round(exited["t"] - started, 3) if "t" in exited else None,
                  "took_over_s": round(took[0] - started, 3) if took else None,
                  "handover_lines": [line for line in lines if re.search(r"took over|handed over|take-over|hand over|refused|error", line, re.I)][:12]}
        handed = next((line for line in lines if "handed over to pid" in line), "")
        match = re.search(r"(?:^|\s)handover\.ms=(\d+)", handed)
        result["old_handover_ms"] = int(match.group(1)) if match else None
        if took:
            # swift-log's key=value, unquoted: a version is `casty 0.1.0 (build 0123456789ab)`.
            for key, value in (("handover.from_version", r"[^=]*?\(build [0-9a-f]+\)"), ("version", r"[^=]*?\(build [0-9a-f]+\)"),
                               ("handover.connections", r"\d+")):
                match = re.search(r"(?:^|\s)" + re.escape(key) + "=(" + value + ")", took[1])
                result[key.replace("handover.", "")] = match.group(1) if match else None
        if not ok:
            log(f"  take-over of {name} FAILED: " + " | ".join(result["handover_lines"]) or "no log lines")
            if new.poll() is None:
                new.terminate()
                try:
                    new.wait(5)
                except subprocess.TimeoutExpired:
                    new.kill()
            if old.poll() is None:  # the old process serves on: keep tracking it
                process.popen, process.reader = process.previous
        else:
            process.argv = argv[:-1]  # later restarts run the next build too
            log(f"  {name}: pid {old.pid} handed over to pid {new.pid} in {result['handover_s']:.3f} s "
                f"(the old one's own count {result['old_handover_ms']} ms); versions {result.get('from_version')} -> {result.get('version')}")
        return result

    def stop_start(self, name):
        """What an upgrade costs without a hand-over: SIGTERM, then the same binary again."""
        process = self.processes[name]
        first_line = len(process.lines)
        started = time.time()
        old_pid = process.popen.pid
        process.stop()
        stopped = time.time()
        self.start_node(name)
        ready = None
        while time.time() - started < TAKE_OVER_WAIT_S:
            if name == "root":
                if (self.status("root") or {}).get("seq") is not None:
                    ready = time.time()
            else:
                ready = next((t for t, line in process.lines[first_line:] if t >= stopped and "joined parent" in line), None)
            if ready:
                break
            time.sleep(0.05)
        log(f"  {name}: pid {old_pid} stopped in {stopped - started:.3f} s, pid {process.popen.pid} serving "
            f"{'after %.3f s' % (ready - started) if ready else 'NOT within %g s' % TAKE_OVER_WAIT_S}")
        return {"ok": ready is not None, "new_pid": process.popen.pid, "started": started, "stopped_s": round(stopped - started, 3),
                "handover_s": round(ready - started, 3) if ready else None}

    def after_upgrade(self, info, start, until):
        """After the measurement: which connections the node kept (same peer address and port,
        now held by the new pid only), the dummies' summaries, the children's rejoins."""
        target = info["target"]
        after = self.listener_sockets(target)
        new_pid = info.get("new_pid")
        before = info.pop("sockets_before")
        kept = [peer for peer in before if after.get(peer) == {new_pid}]
        info["connections_before"] = len(before)
        info["connections_kept"] = len(kept)
        info["connections_after"] = len(after)
        info["connections_lost"] = [peer for peer, _ in sorted(set(before) - set(kept))][:20]
        info["after_pids"] = sorted({pid for pids in after.values() for pid in pids})
        info["dummies"] = []
        for name, mode, count in info["dummy_processes"]:
            self.processes[name].stop(timeout=10)
            summary = next((line for _, line in reversed(self.processes[name].lines) if line.startswith("dummies: clients=")), "no summary")
            counts = {key: int(value) for key, value in re.findall(r"(\w+)=(\d+)", summary)}
            info["dummies"].append({"mode": mode, "clients": count, "summary": summary, "failed": counts.get("failed"),
                                    "gaps": counts.get("gaps"), "repeats": counts.get("repeats"), "connected": counts.get("connected")})
        info["child_rejoins"] = {child: sum(1 for t, _ in self.processes[child].events if start <= t <= until) for child in info["children"]}
        lines = self.processes[target].lines
        info["target_rejoins"] = sum(1 for t, _ in self.processes[target].events if start <= t <= until)
        info["spliced"] = [line for t, line in lines if start <= t <= until and "upstream reconnected" in line][:3]
        log(f"  connections to {target}:{PORT}: {len(before)} before, {len(kept)} kept by pid {new_pid}, {len(after)} after "
            f"(pids {info['after_pids']}); child rejoins {info['child_rejoins']}; dummies: "
            + "; ".join(f"{entry['mode']}s {entry['summary']}" for entry in info["dummies"])
            + (f"; {info['spliced'][0]}" if info["spliced"] else ""))
