"""One run of the harness: its state, and its order (set up, listen, faults, stop)."""

import os
import secrets
import time

from .checks import Checks
from .config import OGG_FORMATS
from .faults import Faults
from .fleet import Fleet
from .listeners import Listeners
from .oggcheck import OggCheck
from .recordings import Recordings
from .report import Report
from .tree import Tree
from .upgrades import Upgrades


class Harness(Fleet, Tree, Listeners, Faults, Upgrades, Recordings, OggCheck, Checks, Report):
    """The run's state lives here (set in __init__ and by the steps); each base class is one job and
    reads and writes that state through self."""

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

    def run(self):
        self.setup()
        self.start_listeners(self.planned_seconds())
        time.sleep(self.args.warmup)
        for kind, seconds in self.schedule():
            self.fault(kind, seconds)
        for name in ("dummies", *self.real_players, *(["recorder"] if self.ogg else []), *[n for n in self.processes if n.startswith("probe-")]):
            self.processes[name].stop()
        self.finished = time.time()
