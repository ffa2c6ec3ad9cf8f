#!/usr/bin/python3
"""Casty's fault harness: a fleet on several hosts, the faults of a real network, and what
every listener heard.

Every host is a network namespace (`ip netns`) with its own address on one bridge: the local
test radio (Icecast 2 + ffmpeg), the ingest, and one host per mirror. Players sit on the leaf
hosts: a reference observer on the root, and on every leaf a peer observer (segment numbers),
an ICY player (bytes), dummy clients (casty-dummy), and real players (ffmpeg, mpg123). Then the
faults run one after the other, each with players attached throughout:

  cable-3s / cable-4s  the link of an inner node set down, then up (a pulled cable)
  loss-10pct           1 packet in 10 dropped both ways on an inner node's link (iptables)
  kill                 an inner node killed (SIGKILL), restarted after the measurement
  freeze               an inner node stopped (SIGSTOP) for 4 s, then resumed
  upstream-drop        the radio drops the ingest's connection and stays up (Icecast killclient)
  upstream-restart     the radio stopped and started again
  ingest-restart       the ingest stopped (SIGTERM) and started again
  member-change        the fleet file changed while everyone listens: a new mirror added, an inner
                       one removed (drained: its children move, it leaves); SIGHUP to the ingest,
                       then to every mirror; the new mirror started (only with --faults)
  root-kill            (--standby) the root ingest killed (SIGKILL): the standby takes over;
                       the old one, restarted, must follow it
  root-cable-4s        (--standby) the root ingest's host cut off for 4 s: the standby takes
                       over; the old one, back, must follow it
  mass-kill            a quarter of the mirrors (rounded up), inner ones, killed at the same
                       instant (SIGKILL), restarted after the measurement; joins per second at
                       the root reported (only with --faults mass-kill)
  upgrade              an inner mirror with a child mirror (picked as kill picks it, when the
                       listeners start) upgraded in place: the next build (OUT/next/: the binary
                       with bytes appended, so another build digest and version) started on its
                       host with its arguments and environment plus --take-over; the old process
                       must exit and the new one log `took over from pid` within 30 s; the new
                       pid is tracked from then on (only with --faults)
  upgrade-ingest       the same for the ingest: the new one must splice the radio (`upstream
                       reconnected: dropped the audio it sent again`) (only with --faults)
  stop-start           for comparison, the upgrade's target stopped (SIGTERM) and started again
                       with the same binary: what an upgrade costs without a hand-over
                       (only with --faults)

--faults K1,K2,… runs those faults instead of the usual schedule (`none`: none, to measure how the
fleet forms and a run without faults). Every run reports how long the tree took to form and each
mirror's memory (VmRSS) once formed.

With upgrade or stop-start, the target mirror carries --listeners-on-target listeners (200): from
the start an observer and --players-on-target ICY players (8) recorded like the leaves' ones, and,
from 5 s before each such fault to the end of its measurement, casty-dummy clients for the rest
(half players, half peer observers, at most 48 from each of the listener hosts l1, l2, …, since a
node takes 64 connections per address); its child has players too (a leaf's own, or 2 more). With
upgrade-ingest the root carries as many. Their extra table: the hand-over time (the new process's
start to the old one's exit; for stop-start, SIGTERM to the new process serving again), the
longest pause at the target's and at its child's players (the longest gap between two reads that
brought audio, from DIR/NAME.reads: at the fault, i.e. among the gaps that end from its start
to 2 s after its end; over the whole measurement; and in the 10 s before, for comparison, since
segments come about once a second), the longest delay behind the root at those players, lost and repeated, the
players' reconnects with the audio a reconnect brought again (its burst) or skipped, the
connections to the node's port kept (`ss -tnpe` in its host before and after: the same peer
address, port and socket inode, now held by the new pid alone), the child's rejoins (at most 1),
and the dummies' failed/gaps/repeats (a dummy whose connection closes fails). Every node's control
socket is in OUT/run (RUNTIME_DIRECTORY), away from other fleets on the machine.

For each: segments lost and repeated at every observer and player, time until every one of them
is whole again (has every segment the root has, within 250 ms), rejoins, and the tree's depth
after. Once the root's tree is whole again, every live mirror's own /status.json must agree with
it (its parent, and its depth counted in the root's tree) within 2 s: the row says how long that
took, or which mirror disagreed with what. Writes OUT/report.json and OUT/report.md, prints the table, exits 1 if a target is missed
(0 lost and 0 repeated except for an ingest restart, recovery within 2 s of the fault's end).

--format F plays the test radio in format F (scripts/test-radio.sh --format; default mp3). For
Ogg (vorbis, vorbis-chained, opus, flac) a player's first bytes are its chain's header pages: the
harness checks that they equal that chain's header pages in the root's reference (the reference
observer joins with protocol version 2, which also brings the header pages of the chain it joins
in, and from the oldest segment the root keeps, so that it holds the players' first burst),
compares the rest byte for byte from the first audio page on, and decodes every player's
recording with `ffmpeg -v error -i REC -f null -`. Both real players are ffmpeg unless the format
is MP3 (ffmpeg and mpg123). --short-ogg runs one kill and one freeze on an Ogg fleet whose radio
starts a new chain every 12 s, so that chain boundaries fall inside the faults (the first kill
and freeze come about 9 s and 22 s after the radio starts).

Needs root (namespaces, iptables). Tears down every namespace and process it made, also on
Ctrl-C or SIGTERM. Run it through scripts/netfleet.sh.
"""

import argparse
import bisect
import concurrent.futures
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

PREFIX = "cnf-"  # every namespace this harness makes starts with it
HUB = PREFIX + "hub"
SUBNET = "10.77.0"
PORT = 8000
LATE_S = 0.25  # a segment later than this behind the root means the listener is not whole
RECOVERY_TARGET_S = 2.0
PLACES_AGREE_S = 2.0  # every mirror's own parent and depth agree with the root's tree within this
FORMATS = ("mp3", "mp3-vbr", "aac", "vorbis", "vorbis-chained", "opus", "flac")  # scripts/test-radio.sh --format
OGG_FORMATS = ("vorbis", "vorbis-chained", "opus", "flac")
# ffmpeg 5.1 prints these while decoding a chained Ogg stream at a chain boundary, also for a
# perfect stream (Icecast's own recording of the mount shows them): known ffmpeg behaviour, not
# decode errors, once the run's recording of the radio itself shows them too.
KNOWN_FFMPEG_OGG = {
    "new chain": re.compile(r"^\[ogg @ 0x[0-9a-f]+\] failed to create or replace stream$"),
    "dts at a chain boundary": re.compile(r"^\[[\w:]+ @ 0x[0-9a-f]+\] Application provided invalid, non monotonically increasing dts to muxer "
                                          r"in stream \d+: -?\d+ >= -?\d+$"),
}
HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
UPGRADE_FAULTS = ("upgrade", "upgrade-ingest", "stop-start")
DUMMIES_PER_HOST = 48
DUMMY_LEAD_S = 5.0  # the target's dummy clients connect this long before an upgrade fault
TAKE_OVER_WAIT_S = 30.0  # at most this long for the old process to exit and the new one to take over


def log(message):
    print(f"netfleet: {message}", file=sys.stderr, flush=True)


def run(argv, check=True, timeout=60):
    result = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=timeout)
    if check and result.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed ({result.returncode}): {result.stdout.strip()}")
    return result.stdout


def in_ns(host, argv):
    return ["ip", "netns", "exec", PREFIX + host] + argv


def remove_namespaces():
    """Kills every process in, and deletes, every namespace named with PREFIX."""
    names = [line.split()[0] for line in run(["ip", "netns", "list"], check=False).splitlines() if line.startswith(PREFIX)]
    for name in names:
        for sig in (signal.SIGCONT, signal.SIGKILL):
            for pid in run(["ip", "netns", "pids", name], check=False).split():
                try:
                    os.kill(int(pid), sig)
                except (ProcessLookupError, ValueError):
                    pass
    deadline = time.monotonic() + 5
    for name in names:
        while run(["ip", "netns", "pids", name], check=False).strip() and time.monotonic() < deadline:
            time.sleep(0.05)
        run(["ip", "netns", "del", name], check=False)


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


class Network:
    """One bridge in its own namespace; every host a namespace on a veth pair to it."""

    def __init__(self):
        self.address = {}
        run(["ip", "netns", "add", HUB])
        run(["ip", "-n", HUB, "link", "add", "br0", "type", "bridge"])
        run(["ip", "-n", HUB, "link", "set", "br0", "up"])

    def add_host(self, host, last_octet):
        ns = PREFIX + host
        run(["ip", "netns", "add", ns])
        run(["ip", "-n", HUB, "link", "add", "v-" + host, "type", "veth", "peer", "name", "eth0", "netns", ns])
        run(["ip", "-n", HUB, "link", "set", "v-" + host, "master", "br0", "up"])
        address = f"{SUBNET}.{last_octet}"
        run(["ip", "-n", ns, "addr", "add", address + "/24", "dev", "eth0"])
        run(["ip", "-n", ns, "link", "set", "eth0", "up"])
        run(["ip", "-n", ns, "link", "set", "lo", "up"])
        self.address[host] = address
        return address

    def cable(self, host, up):
        run(["ip", "-n", HUB, "link", "set", "v-" + host, "up" if up else "down"])

    def packet_loss(self, host, probability, on):
        for chain in ("INPUT", "OUTPUT"):
            run(in_ns(host, ["iptables", "-I" if on else "-D", chain, "-m", "statistic", "--mode", "random",
                             "--probability", str(probability), "-j", "DROP"]))


class Process:
    """A process in a namespace whose output goes, time-stamped, to a log file."""

    def __init__(self, name, host, argv, logs, watch=None, known=None, env=None):
        self.name, self.host, self.argv, self.logs, self.watch, self.known_kind = name, host, argv, logs, watch, known
        self.env = env  # the whole environment (None: the harness's own)
        self.events = []  # (time, line) of lines matching `watch`
        self.known = []  # (time, line) of lines `known` names a kind for (not in events)
        self.lines = []  # (time, line) of every line
        self.start()

    def start(self, argv=None):
        self.popen = subprocess.Popen(in_ns(self.host, argv or self.argv), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                      stdin=subprocess.DEVNULL, start_new_session=True, env=self.env)
        self.reader = threading.Thread(target=self._read, args=(self.popen,), daemon=True)
        self.reader.start()

    def replace(self, argv):
        """Starts `argv` in the same host and environment while the running process goes on (a
        take-over): from then on this Process is the new one (its pid is tracked for later faults
        and teardown); both write to the same log, events and lines. Returns the old Popen."""
        old, old_reader = self.popen, self.reader
        self.start(argv)
        self.previous = (old, old_reader)
        return old

    def _read(self, popen):
        with open(os.path.join(self.logs, self.name + ".log"), "a", buffering=1) as out:
            for raw in popen.stdout:
                now = time.time()
                line = raw.decode("utf-8", "replace").rstrip("\n")
                out.write(f"{now:.3f} {line}\n")
                self.lines.append((now, line))
                if self.known_kind and self.known_kind(line):
                    self.known.append((now, line))
                elif self.watch and self.watch.search(line):
                    self.events.append((now, line))

    def signal(self, sig):
        try:
            os.kill(self.popen.pid, sig)
        except ProcessLookupError:
            pass

    def stop(self, timeout=5):
        if self.popen.poll() is None:
            self.signal(signal.SIGCONT)
            self.signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.popen.pid, signal.SIGKILL)
                self.popen.wait(5)
        self.reader.join(timeout=2)


class Harness:
    def __init__(self, args):
        self.args = args
        self.out = os.path.abspath(args.out)
        self.logs = os.path.join(self.out, "logs")
        self.recordings = os.path.join(self.out, "recordings")
        os.makedirs(self.logs, exist_ok=True)
        os.makedirs(self.recordings, exist_ok=True)
        self.bin = os.path.join(self.out, "bin")
        self.next_bin = os.path.join(self.out, "next")
        self.net = None
        self.processes = {}
        self.radio_dir = os.path.join(self.out, "radio")
        self.secret = secrets.token_hex(16)
        self.mirrors = [f"m{i}" for i in range(1, args.mirrors + 1)]
        self.faults = []
        self.started = time.time()
        self.formed_s = None
        self.memory_kib = {}
        self.takeovers = []
        self.ogg = args.format in OGG_FORMATS
        # The real players: ffmpeg, and mpg123 where it can decode the stream (MP3).
        self.real_players = ["ffmpeg", "mpg123"] if args.format in ("mp3", "mp3-vbr") else ["ffmpeg", "ffmpeg-2"]
        self.bytes_per_second = 16000  # 128 kbps; measured from the reference for other formats
        self.ogg_result = None

    # --- set-up ---------------------------------------------------------------------------------

    def setup(self):
        os.makedirs(self.bin, exist_ok=True)
        for tool in ("casty-ingest", "casty-mirror", "casty-dummy"):
            shutil.copy2(os.path.join(self.args.bin, tool), self.bin)
        # The "next" build an upgrade installs: the same binaries with bytes appended, so that their
        # build digest, and so their version string, differ (a different build to the node).
        os.makedirs(self.next_bin, exist_ok=True)
        for tool in ("casty-ingest", "casty-mirror"):
            shutil.copy2(os.path.join(self.bin, tool), self.next_bin)
            with open(os.path.join(self.next_bin, tool), "ab") as file:
                file.write(b"\nnext build of the netfleet harness\n")
        # Every node's control socket (casty-NAME-PORT.control) in a folder of this run's own, so
        # that it meets no other fleet's nodes of the same names; a take-over gets the same
        # environment, so the same path.
        self.runtime = os.path.join(self.out, "run")
        if len(self.runtime) > 70:  # a Unix socket's path has at most 107 bytes
            self.runtime = tempfile.mkdtemp(prefix="cnf-run-")
        os.makedirs(self.runtime, exist_ok=True)
        self.node_env = dict(os.environ, RUNTIME_DIRECTORY=self.runtime)
        remove_namespaces()
        self.net = Network()
        self.net.add_host("radio", 2)
        self.net.add_host("root", 10)
        if self.args.standby:
            self.net.add_host("root2", 9)
        for index, name in enumerate(self.mirrors):
            self.net.add_host(name, 11 + index)
        # A host for the mirror a member-change adds, outside the fleet file until then.
        self.spare = f"m{len(self.mirrors) + 1}"
        if "member-change" in (self.args.faults or []):
            self.net.add_host(self.spare, 11 + len(self.mirrors))
        # Hosts for the dummy clients around an upgrade: a node takes at most 64 connections from
        # one address (--max-connections-per-address), so at most DUMMIES_PER_HOST from each.
        self.listener_hosts = []
        if set(self.args.faults or []) & set(UPGRADE_FAULTS):
            for index in range(1, -(-self.args.listeners_on_target // DUMMIES_PER_HOST) + 2):
                self.listener_hosts.append(f"l{index}")
                self.net.add_host(f"l{index}", 199 + index)
        fleet = {
            "upstream": f"http://{self.net.address['radio']}:{PORT}/stream",
            "fanout": 2,
            "secret": self.secret,
            "ingest": {"name": "root", "host": self.net.address["root"], "port": PORT},
            "mirrors": [{"name": name, "host": self.net.address[name], "port": PORT} for name in self.mirrors],
        }
        if self.args.standby:
            fleet["standby"] = {"name": "root2", "host": self.net.address["root2"], "port": PORT}
        self.fleet_path = os.path.join(self.out, "fleet.json")
        self.fleet = fleet
        with open(self.fleet_path, "w") as file:
            json.dump(fleet, file, indent=2)
        log(f"{len(self.net.address)} hosts on {SUBNET}.0/24; fleet file {self.fleet_path}")
        self.start_radio()
        self.start_node("root")
        self.wait(lambda: self.status("root") is not None and self.status("root").get("seq") is not None, 30, "the ingest's first segment")
        if self.args.standby:
            self.start_node("root2")
            self.wait(lambda: (self.status("root2") or {}).get("root") == "root" and (self.status("root2") or {}).get("is_root") is False,
                      30, "the standby to follow the root")
        forming = time.monotonic()
        for name in self.mirrors:
            self.start_node(name)
            time.sleep(0.2)  # joins in order, so the tree's places follow the names
        self.wait_for_tree(40 + len(self.mirrors))
        self.formed_s = round(time.monotonic() - forming, 2)
        self.memory_kib = {name: self.rss_kib(name) for name in ["root", *self.mirrors]}
        mirrors_rss = [kib for name, kib in self.memory_kib.items() if name != "root" and kib]
        log(f"tree formed in {self.formed_s} s (mirrors started 0.2 s apart), depth {max(self.tree_depths(self.tree()).values())}; "
            f"mirror memory (VmRSS) median {sorted(mirrors_rss)[len(mirrors_rss) // 2] / 1024:.1f} MiB, max {max(mirrors_rss) / 1024:.1f} MiB")
        places_s, wrong = self.wait_for_places()
        log(f"tree: {self.tree_text()}; every mirror's own place agrees: "
            f"{f'within {places_s:.2f} s' if places_s is not None else 'NO: ' + self.wrong_text(wrong)}")

    def rss_kib(self, name):
        """The resident memory of a node's process, in KiB (VmRSS), or None."""
        try:
            with open(f"/proc/{self.processes[name].popen.pid}/status") as status:
                for line in status:
                    if line.startswith("VmRSS:"):
                        return int(line.split()[1])
        except (OSError, ValueError):
            return None
        return None

    def start_radio(self):
        env = ["env", "TRACK_NOISE=1", f"TRACK_SECONDS={self.args.track_seconds}"]
        fmt = [] if self.args.format == "mp3" else ["--format", self.args.format]
        run(in_ns("radio", env + [os.path.join(REPO, "scripts/test-radio.sh"), "start", "--port", str(PORT),
                                  "--bind", self.net.address["radio"], "--dir", self.radio_dir, "--count", "5"] + fmt), timeout=120)

    def stop_radio(self):
        run([os.path.join(REPO, "scripts/test-radio.sh"), "stop", "--dir", self.radio_dir], check=False, timeout=30)

    def kick_ingest_from_radio(self):
        """The radio drops the ingest's connection and stays up (Icecast's admin `killclient`),
        as a radio server restarting a listener socket or a load balancer would."""
        env = dict(line.strip().split("=", 1) for line in open(os.path.join(self.radio_dir, "radio.env")) if "=" in line)
        admin = f"{env['ADMIN_USER']}:{env['ADMIN_PASSWORD']}"
        base = f"{env['ICECAST_URL']}/admin"
        listing = run(in_ns("radio", ["curl", "-fsS", "--max-time", "2", "-u", admin, f"{base}/listclients?mount={env['MOUNT']}"]))
        ids = [client for address, client in re.findall(r"<listener>\s*<IP>([^<]*)</IP>.*?<ID>(\d+)</ID>", listing, re.S)
               if address == self.net.address["root"]]
        if not ids:
            raise RuntimeError(f"the ingest is not a listener of the radio: {listing[:300]}")
        for client in ids:
            run(in_ns("radio", ["curl", "-fsS", "--max-time", "2", "-u", admin, f"{base}/killclient?mount={env['MOUNT']}&id={client}"]))

    def start_node(self, name):
        if name == "root":
            argv = [os.path.join(self.bin, "casty-ingest"), "--fleet", self.fleet_path]
        elif name == "root2":
            argv = [os.path.join(self.bin, "casty-ingest"), "--fleet", self.fleet_path, "--name", "root2"]
        else:
            argv = [os.path.join(self.bin, "casty-mirror"), "--fleet", self.fleet_path, "--name", name]
        if name in self.processes:
            self.processes[name].start()
        else:
            self.processes[name] = Process(name, name, argv, self.logs, watch=re.compile(r"joined parent"), env=self.node_env)

    def status(self, host, node=None):
        address = self.net.address[node or host]
        out = run(in_ns(host, ["curl", "-fsS", "--max-time", "1", f"http://{address}:{PORT}/status.json"]), check=False)
        try:
            return json.loads(out)
        except ValueError:
            return None

    def current_root(self):
        """The ingest that is the root now: `root`, or, with a standby that took over, `root2`."""
        if self.args.standby and (self.status("root2") or {}).get("is_root"):
            return "root2"
        return "root"

    def tree(self):
        status = self.status(self.current_root())
        return (status or {}).get("tree") or {}

    def tree_depths(self, tree):
        depths = {}
        for name in tree:
            depth, node, hops = 0, name, 0
            while node in tree and hops < 64:
                node, depth, hops = tree[node], depth + 1, hops + 1
            depths[name] = depth
        return depths

    def tree_text(self):
        tree = self.tree()
        return ", ".join(f"{child}<-{parent}" for child, parent in sorted(tree.items(), key=lambda kv: int(kv[0][1:])))

    def min_depth(self):
        depth, capacity, placed = 0, 1, 0
        while placed < len(self.mirrors):
            depth, capacity = depth + 1, capacity * 2
            placed += capacity
        return depth

    def tree_whole(self):
        """Every mirror placed, of minimum depth, and every mirror's own parent agrees."""
        tree = self.tree()
        if sorted(tree) != sorted(self.mirrors):
            return False
        if max(self.tree_depths(tree).values()) != self.min_depth():
            return False
        nodes = (self.status(self.current_root()) or {}).get("nodes") or []
        up = {node.get("name") for node in nodes if node.get("state") == "up"}
        return set(self.mirrors) <= up

    def places(self):
        """The mirrors whose own /status.json disagrees with the root's tree about their parent or
        depth, as {name: (own parent, own depth, root's parent, root's depth)}; a mirror that does
        not answer counts as disagreeing."""
        tree = self.tree()
        depths = self.tree_depths(tree)
        names = sorted(tree, key=lambda name: int(name[1:]))
        with concurrent.futures.ThreadPoolExecutor(max_workers=16) as pool:
            statuses = dict(zip(names, pool.map(lambda name: self.status(name), names)))
        wrong = {}
        for name in names:
            own = statuses[name] or {}
            if own.get("parent") != tree[name] or own.get("depth") != depths[name]:
                wrong[name] = (own.get("parent"), own.get("depth"), tree[name], depths[name])
        return wrong

    def wait_for_places(self, seconds=PLACES_AGREE_S):
        """Polls until every mirror's own place agrees with the root's tree; returns the seconds it
        took (None if it never did) and the last disagreements."""
        start = time.monotonic()
        while True:
            wrong = self.places()
            elapsed = time.monotonic() - start
            if not wrong:
                return round(elapsed, 2), {}
            if elapsed >= seconds:
                return None, wrong
            time.sleep(0.1)

    def wait_for_tree(self, seconds):
        self.wait(self.tree_whole, seconds, "a whole tree of minimum depth")

    def wait(self, predicate, seconds, what):
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if predicate():
                return True
            time.sleep(0.25)
        raise RuntimeError(f"timed out after {seconds} s waiting for {what}")

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

    # --- faults ---------------------------------------------------------------------------------

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
        elif kind == "freeze":
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

    # --- upgrades -------------------------------------------------------------------------------

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

    @staticmethod
    def wrong_text(wrong):
        return ", ".join(f"{name} says {own_parent}/{own_depth}, root {parent}/{depth}"
                         for name, (own_parent, own_depth, parent, depth) in sorted(wrong.items()))
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

    def schedule(self):
        if self.args.faults is not None:
            return [(kind, int(kind.rstrip("s").split("-")[-1]) if kind.startswith("cable-") else 4 if kind == "freeze" else
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

    # --- run ------------------------------------------------------------------------------------

    def run(self):
        self.setup()
        self.start_listeners(self.planned_seconds())
        time.sleep(self.args.warmup)
        for kind, seconds in self.schedule():
            self.fault(kind, seconds)
        for name in ("dummies", *self.real_players, *(["recorder"] if self.ogg else []), *[n for n in self.processes if n.startswith("probe-")]):
            self.processes[name].stop()
        self.finished = time.time()

    def teardown(self):
        for process in self.processes.values():
            try:
                process.stop(timeout=3)
            except Exception as error:  # keep tearing down
                log(f"stopping {process.name}: {error}")
        self.stop_radio()
        remove_namespaces()

    # --- analysis -------------------------------------------------------------------------------

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

    # --- Ogg ------------------------------------------------------------------------------------

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


def main():
    parser = argparse.ArgumentParser(description=__doc__, epilog="Run it through scripts/netfleet.sh.",
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bin", required=True, help="folder with casty-ingest, casty-mirror and casty-dummy")
    parser.add_argument("--mirrors", type=int, default=7, help="mirrors in the fleet (1..63, default 7)")
    parser.add_argument("--standby", action="store_true", help="a standby root ingest (root2) in the fleet file, on a host of its own")
    parser.add_argument("--faults", type=lambda text: [] if text == "none" else text.split(","),
                        help="comma-separated faults to run instead of the usual schedule (`none` for none): cable-3s, cable-4s, "
                             "loss-10pct, kill, freeze, upstream-drop, upstream-restart, ingest-restart, mass-kill, member-change, "
                             "root-kill, root-cable-4s (--standby), upgrade, upgrade-ingest, stop-start (see above)")
    parser.add_argument("--short", action="store_true", help="one fault of each kind, a 10 s packet loss")
    parser.add_argument("--format", choices=FORMATS, default="mp3", help="the test radio's format (scripts/test-radio.sh --format; default mp3)")
    parser.add_argument("--short-ogg", action="store_true", help="Ogg formats: one kill and one freeze, with a new chain every 12 s")
    parser.add_argument("--track-seconds", type=int, help="the test radio's track length (default 60, 12 with --short-ogg)")
    parser.add_argument("--loss-seconds", type=float, help="how long the packet loss lasts (default 60, 10 with --short)")
    parser.add_argument("--settle", type=float, default=10, help="seconds measured after each fault ends (default 10)")
    parser.add_argument("--gap", type=float, default=2, help="seconds between faults (default 2)")
    parser.add_argument("--warmup", type=float, default=5, help="seconds of listening before the first fault (default 5)")
    parser.add_argument("--dummies", type=int, default=40, help="casty-dummy clients spread over the leaves (default 40)")
    parser.add_argument("--listeners-on-target", type=int, default=200,
                        help="upgrade, upgrade-ingest, stop-start: listeners on the target (default 200): --players-on-target "
                             "ICY players and one observer recorded from the start, the rest casty-dummy clients (half players, "
                             "half peer observers) connected 5 s before the fault")
    parser.add_argument("--players-on-target", type=int, default=8,
                        help="recorded ICY players on the upgrade target, and on the root with upgrade-ingest (default 8)")
    parser.add_argument("--out", required=True, help="folder for logs, recordings and the report")
    args = parser.parse_args()
    if not 1 <= args.mirrors <= 63:
        parser.error("--mirrors must be 1..63")
    if any(kind.startswith("root-") for kind in args.faults or []) and not args.standby:
        parser.error("the root-kill and root-cable-4s faults need --standby")
    if "member-change" in (args.faults or []) and args.mirrors > 62:
        parser.error("member-change adds a mirror: --mirrors must be 1..62")
    kinds = ("cable-3s", "cable-4s", "loss-10pct", "kill", "freeze", "upstream-drop", "upstream-restart", "ingest-restart", "mass-kill",
             "member-change", "root-kill", "root-cable-4s", *UPGRADE_FAULTS)
    for kind in args.faults or []:
        if kind not in kinds:
            parser.error(f"unknown fault {kind!r}; the faults are {', '.join(kinds)}")
    if "upgrade-ingest" in (args.faults or []) and args.standby:
        parser.error("upgrade-ingest: casty-ingest --take-over does not support a fleet with a standby root yet")
    if args.players_on_target < 1 or not args.players_on_target + 1 <= args.listeners_on_target <= 2000:
        parser.error("--listeners-on-target must be --players-on-target + 1 (the observer) to 2000, --players-on-target at least 1")
    if args.short_ogg and args.format not in OGG_FORMATS:
        parser.error(f"--short-ogg needs an Ogg --format ({', '.join(OGG_FORMATS)})")
    if args.short_ogg and args.short:
        parser.error("give --short or --short-ogg, not both")
    if args.track_seconds is None:
        args.track_seconds = 12 if args.short_ogg else 60
    if args.loss_seconds is None:
        args.loss_seconds = 10 if args.short else 60
    if os.geteuid() != 0:
        parser.error("needs root (network namespaces and iptables)")
    harness = Harness(args)

    def interrupted(number, _frame):
        raise KeyboardInterrupt(f"signal {number}")

    signal.signal(signal.SIGTERM, interrupted)
    signal.signal(signal.SIGINT, interrupted)  # also when started in the background, where SIGINT is ignored
    signal.signal(signal.SIGHUP, interrupted)
    ok = False
    try:
        harness.run()
        rows, dummies, decode, _ = harness.analyse()
        ok = harness.report(rows, dummies, decode)
    except KeyboardInterrupt:
        log("interrupted; tearing down")
    except Exception as error:
        log(f"failed: {error}")
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        harness.teardown()
        log(f"torn down; logs, recordings and the report in {harness.out}")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
