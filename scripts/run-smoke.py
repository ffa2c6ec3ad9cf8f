#!/usr/bin/env python3
"""Smoke test of the README's run command, end to end, as a newcomer runs it.

    scripts/run-smoke.py

1. `scripts/run.sh --fleet F` (the embedded test radio): from this clone, in the background, with
   a copy of fleet.json on free loopback ports.
2. `scripts/run.sh --fleet F URL`: the test radio started separately (scripts/test-radio.sh),
   its URL given to run.sh.
In both, mpg123 plays the deepest mirror of the root's tree and must decode at least 5 s of audio
and print the station's name and a track title; then SIGINT stops run.sh, which must exit 0 and
leave no process behind (every PID it recorded is gone, no process names its folder) and no
network namespace. 3. A URL nothing listens on gets one line from run.sh and exit status 1.

Prints one line per check and, last, `smoke: N passed, M failed`; exits 1 if any failed.
"""
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
START_TIMEOUT = 300  # run.sh's own build is a no-op by then (see main)
passed = failed = 0


def check(ok, what):
    global passed, failed
    if ok:
        passed += 1
    else:
        failed += 1
    print(f"smoke: {'ok  ' if ok else 'FAIL'} {what}", flush=True)
    return ok


def free_ports(n):
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def fleet_file(folder):
    """fleet.json with the same names, on free ports; the upstream on a free port too."""
    fleet = json.load(open(os.path.join(REPO, "fleet.json")))
    ports = free_ports(2 + len(fleet["mirrors"]))
    fleet["upstream"] = f"http://127.0.0.1:{ports[0]}/stream"
    fleet["ingest"].update(host="127.0.0.1", port=ports[1])
    for mirror, port in zip(fleet["mirrors"], ports[2:]):
        mirror.update(host="127.0.0.1", port=port)
    path = os.path.join(folder, "fleet.json")
    json.dump(fleet, open(path, "w"), indent=2)
    return path, fleet, ports[0]


def get_json(url):
    with urllib.request.urlopen(url, timeout=3) as reply:
        return json.load(reply)


def deepest_mirror(fleet):
    """The mirror farthest from the root in the root's own tree, once every mirror is placed."""
    root = f"http://{fleet['ingest']['host']}:{fleet['ingest']['port']}"
    deadline = time.time() + 30
    tree = {}
    while time.time() < deadline:
        try:
            tree = get_json(root + "/status.json").get("tree") or {}
        except OSError:
            tree = {}
        if len(tree) == len(fleet["mirrors"]):
            break
        time.sleep(0.5)

    def depth(name):
        d = 0
        while name in tree and d <= len(tree):
            name, d = tree[name], d + 1
        return d

    if not tree:
        return None, 0
    name = max(sorted(tree), key=depth)
    mirror = next(m for m in fleet["mirrors"] if m["name"] == name)
    return f"http://{mirror['host']}:{mirror['port']}/", depth(name)


def processes_naming(text):
    out = subprocess.run(["pgrep", "-af", text], capture_output=True, text=True).stdout
    return [line for line in out.splitlines() if "pgrep" not in line and "run-smoke" not in line]


def namespaces():
    try:
        return subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    except FileNotFoundError:
        return ""


def recorded_pids(work):
    pids = set()
    for sub in ("fleet", "radio"):
        folder = os.path.join(work, sub)
        if not os.path.isdir(folder):
            continue
        for name in os.listdir(folder):
            if name.endswith(".pid"):
                try:
                    pids.add(int(open(os.path.join(folder, name)).read().strip()))
                except (OSError, ValueError):
                    pass
    return pids


def alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ")[1][0] != "Z"
    except OSError:
        return False


def play(url, folder):
    """mpg123 on url: (seconds decoded, its stderr)."""
    wav = os.path.join(folder, "heard.wav")
    run = subprocess.run(
        ["mpg123", "-v", "-n", "300", "-w", wav, url],
        capture_output=True, text=True, errors="replace", timeout=60,
    )
    size = os.path.getsize(wav) if os.path.exists(wav) else 0
    # 44.1 kHz, 16-bit stereo after a 44-byte WAV header.
    return max(size - 44, 0) / (44100 * 4), run.stderr


def run_case(label, url=None, upgrade=False):
    folder = tempfile.mkdtemp(prefix="casty-smoke.")
    path, fleet, radio_port = fleet_file(folder)
    radio_dir = None
    if url is not None:
        radio_dir = os.path.join(folder, "radio")
        start = subprocess.run(
            [os.path.join(REPO, "scripts/test-radio.sh"), "start", "--port", str(radio_port), "--dir", radio_dir],
            capture_output=True, text=True,
        )
        if not check(start.returncode == 0, f"{label}: the test radio started separately"):
            print(start.stderr)
            return
        url = re.search(r"^url=(\S+)", start.stdout, re.M).group(1)
    log_path = os.path.join(folder, "run.log")
    log = open(log_path, "w")
    netns_before = namespaces()
    command = [os.path.join(REPO, "scripts/run.sh"), "--fleet", path] + ([url] if url else [])
    print(f"smoke: {label}: {' '.join(command)}", flush=True)
    started = time.time()
    proc = subprocess.Popen(
        command, cwd=REPO, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
        start_new_session=True,
        # A background job of a non-interactive shell ignores SIGINT; run.sh must see it.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    work = None
    try:
        ready = False
        while time.time() - started < START_TIMEOUT and proc.poll() is None:
            text = open(log_path).read()
            if work is None and (m := re.search(r"^run: files in (\S+)", text, re.M)):
                work = m.group(1)
            if "run: listen with" in text:
                ready = True
                break
            time.sleep(1)
        if not check(ready, f"{label}: run.sh started the fleet ({time.time() - started:.0f} s)"):
            print(open(log_path).read()[-3000:])
            return
        pids = recorded_pids(work)
        mirror, depth = deepest_mirror(fleet)
        check(mirror is not None and depth >= 2, f"{label}: the deepest mirror is {mirror} at depth {depth}")
        if mirror:
            seconds, stderr = play(mirror, folder)
            check(seconds >= 5, f"{label}: mpg123 decoded {seconds:.1f} s from the deepest mirror")
            name = re.search(r"ICY-NAME: (.+)", stderr)
            title = re.search(r"ICY-META: StreamTitle='([^']+)'", stderr)
            check(name is not None, f"{label}: the station's name reached the player: {name.group(1) if name else None!r}")
            check(title is not None, f"{label}: a track title reached the player: {title.group(1) if title else None!r}")
        if upgrade and mirror:
            # The README's upgrade: every node handed over to a new process while run.sh runs on.
            fleet_dir = re.search(r"^fleet: dir=(\S+)", open(log_path).read(), re.M).group(1)
            roll = subprocess.run([os.path.join(REPO, "scripts/rolling-upgrade.sh"), "--pause", "0.5", fleet_dir],
                                  capture_output=True, text=True, timeout=180, cwd=REPO)
            check(roll.returncode == 0, f"{label}: scripts/rolling-upgrade.sh upgraded every node in place")
            if roll.returncode != 0:
                print(roll.stdout[-2000:], roll.stderr[-2000:])
            time.sleep(4)
            check(proc.poll() is None, f"{label}: run.sh runs on after the upgrade")
            seconds, _ = play(mirror, folder)
            check(seconds >= 5, f"{label}: mpg123 decoded {seconds:.1f} s from the deepest mirror after the upgrade")
        proc.send_signal(signal.SIGINT)
        try:
            code = proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            code = None
        check(code == 0, f"{label}: SIGINT stopped run.sh (exit status {code})")
        time.sleep(0.5)
        left = [p for p in pids if alive(p)] + processes_naming(work)
        check(pids and not left, f"{label}: none of its {len(pids)} processes is left {left or ''}")
        check(namespaces() == netns_before, f"{label}: no network namespace left")
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        if radio_dir:
            subprocess.run([os.path.join(REPO, "scripts/test-radio.sh"), "stop", "--dir", radio_dir], capture_output=True)
        log.close()


def unreachable_url():
    port = free_ports(1)[0]
    started = time.time()
    run = subprocess.run(
        [os.path.join(REPO, "scripts/run.sh"), f"http://127.0.0.1:{port}/stream"],
        cwd=REPO, capture_output=True, text=True, timeout=60,
    )
    lines = run.stderr.strip().splitlines()
    check(run.returncode == 1 and len(lines) == 1 and "cannot connect" in lines[0],
          f"an unreachable URL: exit {run.returncode} in {time.time() - started:.1f} s with {lines}")


def command_lines():
    """Each executable's --help ends with examples to paste; a mistyped option gets one line."""
    binaries = subprocess.run(["swift", "build", "-c", "release", "--show-bin-path"], cwd=REPO, capture_output=True, text=True).stdout.strip()
    for name in ("casty-ingest", "casty-mirror", "casty-dummy"):
        path = os.path.join(binaries, name)
        if not os.path.exists(path):  # casty-dummy is not part of run.sh's build
            subprocess.run(["swift", "build", "-c", "release", "--product", name], cwd=REPO, capture_output=True)
        help_text = subprocess.run([path, "--help"], capture_output=True, text=True)
        tail = help_text.stdout.rstrip().splitlines()[-5:]
        check(help_text.returncode == 0 and "EXAMPLES:" in help_text.stdout and tail[-1].strip().startswith(name),
              f"{name} --help ends with examples: {tail[-1].strip() if tail else None!r}")
        required = ["--name", "m1"] if name == "casty-mirror" else []
        typo = subprocess.run([path, *required, "--prot", "1"], capture_output=True, text=True)
        lines = typo.stderr.strip().splitlines()
        check(typo.returncode == 64 and len(lines) == 1 and "--prot" in lines[0] and "--help" in lines[0],
              f"{name} --prot: exit {typo.returncode}, {lines}")


def main():
    for tool in ("mpg123", "curl", "icecast2", "ffmpeg"):
        if subprocess.run(["sh", "-c", f"command -v {tool}"], capture_output=True).returncode != 0:
            print(f"smoke: {tool} not found: run scripts/install-deps.sh first")
            return 1
    unreachable_url()
    # The release build run.sh starts with, done first and shown, so that the cases time the
    # fleet's start, not the compiler (run.sh builds again: a no-op).
    started = time.time()
    for product in ("casty-ingest", "casty-mirror"):
        if subprocess.run(["swift", "build", "-c", "release", "--product", product], cwd=REPO).returncode != 0:
            check(False, f"the release build of {product}")
            print(f"smoke: {passed} passed, {failed} failed", flush=True)
            return 1
    print(f"smoke: release build done in {time.time() - started:.0f} s", flush=True)
    command_lines()
    run_case("embedded radio", upgrade=True)
    run_case("radio by URL", url="")
    print(f"smoke: {passed} passed, {failed} failed", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
