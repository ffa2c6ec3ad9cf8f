"""The listeners: the reference observer at the root, and on the leaves the observers, ICY players,
casty-dummy clients and real players (ffmpeg, mpg123); with an upgrade fault, players on its target."""

import os
import re

from .config import HERE, PORT, UPGRADE_FAULTS, log
from .ogg import known_ffmpeg_line
from .process import Process


class Listeners:
    """Part of Harness (runner.py): starts the probes (probe.py) and players; sets self.leaves,
    self.observers and self.node_players, what the checks compare with the root's recording."""

    def start_listeners(self, seconds):
        tree = self.tree()
        parents = set(tree.values())
        self.leaves = [name for name in self.mirrors if name not in parents]
        probe = os.path.join(HERE, "probe.py")
        base = ["/usr/bin/python3", probe, "--out", self.recordings, "--seconds", str(seconds), "--secret", self.secret]
        if self.ogg:
            base += ["--version", "2", "--ogg"]
            # Icecast's own stream of the mount, recorded next to the root: what a perfect
            # recording of it decodes to (see KNOWN_FFMPEG_OGG).
            self.processes["recorder"] = Process("recorder", "root", ["curl", "-sS", "-N", "--max-time", str(seconds), "-o",
                                                                      os.path.join(self.recordings, "icecast.audio"),
                                                                      f"http://{self.net.address['radio']}:{PORT}/stream"], self.logs)
        # With a standby, the reference joins the standby after a failed join, and listens from the
        # radio's host, which no fault cuts off.
        reference = ["--fallback", f"{self.net.address['root2']}:{PORT}"] if self.args.standby else []
        self.processes["probe-root"] = Process("probe-root", "radio" if self.args.standby else "root",
                                               base + reference + ["--observe", f"ref@{self.net.address['root']}:{PORT}+audio" + ("+oldest" if self.ogg else "")], self.logs)
        for leaf in self.leaves:
            address = f"{self.net.address[leaf]}:{PORT}"
            self.processes["probe-" + leaf] = Process("probe-" + leaf, leaf, base + ["--observe", f"obs-{leaf}@{address}", "--play", f"play-{leaf}@{address}"], self.logs)
        # Every observer and player whose recording is compared with the root's.
        self.observers = ["obs-" + leaf for leaf in self.leaves]
        self.node_players = {leaf: ["play-" + leaf] for leaf in self.leaves}
        self.place_upgrade_listeners(base, tree)
        urls = [f"http://{self.net.address[leaf]}:{PORT}/" for leaf in self.leaves]
        self.processes["dummies"] = Process("dummies", self.leaves[0], [os.path.join(self.bin, "casty-dummy"), *urls, "--clients", str(self.args.dummies),
                                                                        "--seconds", str(seconds), "--fleet", self.fleet_path, "--name", "dummy"], self.logs)
        decode_errors = re.compile(r"(?i)error|illegal|invalid|corrupt|junk|skipping|did not find|unable")
        known = None
        if self.ogg:  # ffmpeg -v error prints only errors: every line counts, but the known ones
            decode_errors, known = re.compile(r"\S"), known_ffmpeg_line
        first, second = self.leaves[0], self.leaves[-1]
        for name, leaf in zip(self.real_players, (first, second)):
            if name == "mpg123":
                argv = ["mpg123", "-t", "--no-control", f"http://{self.net.address[leaf]}:{PORT}/"]
            else:
                argv = ["ffmpeg", "-nostdin", "-hide_banner", "-v", "error", "-i", f"http://{self.net.address[leaf]}:{PORT}/", "-f", "null", "-"]
            self.processes[name] = Process(name, leaf, argv, self.logs, watch=decode_errors, known=known)
        log(f"listeners on the leaves {', '.join(self.leaves)}: observers, {'Ogg' if self.ogg else 'ICY'} players, {self.args.dummies} dummy clients, "
            f"{self.real_players[0]} on {first}, {self.real_players[1]} on {second}")

    def place_upgrade_listeners(self, base, tree):
        """With an upgrade or stop-start fault: players on the target mirror (an inner one, as a
        kill picks it, with a child mirror) and on the root, from the start, and on the target's
        child unless it is a leaf (which has its own). The rest of the --listeners-on-target come
        as casty-dummy clients around each such fault (see before_upgrade)."""
        self.upgrade_target = None
        kinds = set(self.args.faults or [])
        if not kinds & set(UPGRADE_FAULTS):
            return
        hosts = []
        if kinds & {"upgrade", "stop-start"}:
            self.upgrade_target = self.inner_target()
            hosts.append(self.upgrade_target)
            children = sorted((child for child, parent in tree.items() if parent == self.upgrade_target), key=lambda name: int(name[1:]))
            if not any(child in self.node_players for child in children):
                hosts.append(children[0])
        if "upgrade-ingest" in kinds:
            hosts.append("root")
            children = sorted((child for child, parent in tree.items() if parent == "root"), key=lambda name: int(name[1:]))
            if not any(child in self.node_players or child in hosts for child in children):
                hosts.append(children[0])
        players = min(self.args.players_on_target, self.args.listeners_on_target)
        for host in hosts:
            address = f"{self.net.address[host]}:{PORT}"
            count = players if host in (self.upgrade_target, "root") else 2
            names = [f"play-{host}-{index}" for index in range(1, count + 1)]
            specs = ["--observe", f"obs-{host}@{address}"] + [arg for name in names for arg in ("--play", f"{name}@{address}")]
            self.processes["probe-up-" + host] = Process("probe-up-" + host, host, base + specs, self.logs)
            self.observers.append("obs-" + host)
            self.node_players[host] = names
        log(f"upgrade target {self.upgrade_target or '-'}: players on {', '.join(f'{host} ({len(self.node_players[host])})' for host in hosts)}")
