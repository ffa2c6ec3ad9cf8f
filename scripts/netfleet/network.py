"""The hosts: one bridge in a namespace of its own, a namespace per host on a veth pair to it, commands
run inside a host, and the faults of the wire (a pulled cable, packet loss)."""

import os
import signal
import subprocess
import time

from .config import HUB, PREFIX, SUBNET


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
