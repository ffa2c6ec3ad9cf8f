"""A process started in a host's namespace, its output time-stamped into a log and kept for the checks."""

import os
import signal
import subprocess
import threading
import time

from .network import in_ns


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
