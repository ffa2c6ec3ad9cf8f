"""Setting the fleet up and tearing it down: binaries (and the "next" build an upgrade installs), the
hosts, the fleet file, the test radio, the nodes in order, and the tree they form."""

import json
import os
import re
import shutil
import tempfile
import time

from .config import DUMMIES_PER_HOST, PORT, REPO, SUBNET, UPGRADE_FAULTS, log
from .network import Network, in_ns, remove_namespaces, run
from .process import Process


class Fleet:
    """Part of Harness (runner.py): the hosts (self.net), the radio and the nodes (self.processes)."""

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

    def teardown(self):
        for process in self.processes.values():
            try:
                process.stop(timeout=3)
            except Exception as error:  # keep tearing down
                log(f"stopping {process.name}: {error}")
        self.stop_radio()
        remove_namespaces()
