#!/usr/bin/env python3
"""Checks a Casty node's status page in headless Chromium, end to end.

    status-page-check.py URL [--expect-nodes N] [--kill-pid PID --expect-down NAME]
                             [--screenshot FILE] [--timeout S] [--min-play-seconds S]

URL is a node's page, e.g. http://127.0.0.1:8000/status. The script starts Debian's
`chromium` headless, drives it over the Chrome DevTools Protocol (with a small WebSocket
client of its own: Python's standard library only, nothing to pip install), and checks:

  1. the page's tree (svg#tree) shows N nodes (default 8), each with a data-parent that
     agrees with the root's own /status.json (`nodes`, or `tree` on an older root), and
     exactly one root with an empty data-parent; every node up;
  2. the page's player (audio#player) plays: its currentTime passes 1.0 s (with
     --min-play-seconds S: it advances by S seconds from where it was when the player first
     had data, readyState >= 2; a live Ogg stream's currentTime starts at its first page's
     granule position, not at 0, so "passes 1.0 s" would not show that it plays);
  3. with --kill-pid: after SIGKILL to PID, the node --expect-down NAME is shown with
     data-state="down" ("down") or has left the tree ("removed"); either passes;
  4. no uncaught JavaScript exception on the page.

With --screenshot it saves a 1280x900 PNG of the page at the end (after the kill, if any;
also when a check failed, to see why). It prints one JSON line with the results and exits
0 only if every check passed (1 if one failed, 2 on a usage or setup error). --timeout
bounds the whole run (default 60 s); Chromium is always killed and its profile removed.
"""

import argparse
import base64
import ctypes
import hashlib
import json
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request

# ---------------------------------------------------------------------------------------
# A minimal WebSocket client (RFC 6455), enough for the DevTools protocol: text frames out
# (masked), text/binary frames in (fragmented or not), ping answered, close honoured.


class WebSocketClosed(Exception):
    pass


class WebSocket:
    GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

    def __init__(self, url, timeout):
        parts = urllib.parse.urlsplit(url)
        if parts.scheme != "ws":
            raise ValueError("only ws:// URLs are supported: %s" % url)
        host, port = parts.hostname, parts.port or 80
        path = parts.path or "/"
        if parts.query:
            path += "?" + parts.query
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.buffer = b""
        key = base64.b64encode(os.urandom(16)).decode()
        request = (
            "GET %s HTTP/1.1\r\nHost: %s:%d\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n" % (path, host, port, key)
        )
        self.sock.sendall(request.encode())
        deadline = time.monotonic() + timeout
        while b"\r\n\r\n" not in self.buffer:
            self._fill(deadline)
        head, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        if " 101 " not in lines[0] + " ":
            raise ConnectionError("WebSocket handshake refused: %s" % lines[0])
        headers = {k.strip().lower(): v.strip() for k, _, v in (l.partition(":") for l in lines[1:])}
        expected = base64.b64encode(hashlib.sha1((key + self.GUID).encode()).digest()).decode()
        if headers.get("sec-websocket-accept") != expected:
            raise ConnectionError("WebSocket handshake: bad Sec-WebSocket-Accept")

    def _fill(self, deadline):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("WebSocket read timed out")
        self.sock.settimeout(remaining)
        chunk = self.sock.recv(1 << 20)
        if not chunk:
            raise WebSocketClosed("connection closed")
        self.buffer += chunk

    def _take(self, n, deadline):
        while len(self.buffer) < n:
            self._fill(deadline)
        data, self.buffer = self.buffer[:n], self.buffer[n:]
        return data

    def _send_frame(self, opcode, payload):
        header = bytes([0x80 | opcode])
        n = len(payload)
        if n < 126:
            header += bytes([0x80 | n])
        elif n < 1 << 16:
            header += bytes([0x80 | 126]) + struct.pack("!H", n)
        else:
            header += bytes([0x80 | 127]) + struct.pack("!Q", n)
        mask = os.urandom(4)
        masked = bytes(b ^ mask[i & 3] for i, b in enumerate(payload))
        self.sock.sendall(header + mask + masked)

    def send(self, text):
        self._send_frame(0x1, text.encode())

    def recv(self, timeout):
        """The next whole message (str), or TimeoutError."""
        deadline = time.monotonic() + timeout
        message, kind = b"", None
        while True:
            b0, b1 = self._take(2, deadline)
            fin, opcode, n = b0 & 0x80, b0 & 0x0F, b1 & 0x7F
            if n == 126:
                n = struct.unpack("!H", self._take(2, deadline))[0]
            elif n == 127:
                n = struct.unpack("!Q", self._take(8, deadline))[0]
            mask = self._take(4, deadline) if b1 & 0x80 else None
            payload = self._take(n, deadline)
            if mask:
                payload = bytes(b ^ mask[i & 3] for i, b in enumerate(payload))
            if opcode == 0x8:
                raise WebSocketClosed("closed by the browser")
            if opcode == 0x9:
                self._send_frame(0xA, payload)
                continue
            if opcode == 0xA:
                continue
            if opcode in (0x1, 0x2):
                message, kind = payload, opcode
            elif opcode == 0x0:
                message += payload
            if fin and kind is not None:
                return message.decode("utf-8", errors="replace")

    def close(self):
        try:
            self._send_frame(0x8, struct.pack("!H", 1000))
        except OSError:
            pass
        try:
            self.sock.close()
        except OSError:
            pass


# ---------------------------------------------------------------------------------------
# The DevTools protocol over that socket.


class DevTools:
    def __init__(self, ws):
        self.ws = ws
        self.next_id = 0
        self.exceptions = []

    def _event(self, message):
        if message.get("method") == "Runtime.exceptionThrown":
            details = message.get("params", {}).get("exceptionDetails", {})
            text = details.get("exception", {}).get("description") or details.get("text", "exception")
            self.exceptions.append(text.splitlines()[0][:300])

    def call(self, method, params=None, timeout=10.0):
        self.next_id += 1
        mine = self.next_id
        self.ws.send(json.dumps({"id": mine, "method": method, "params": params or {}}))
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError("%s: no answer within %.0f s" % (method, timeout))
            message = json.loads(self.ws.recv(remaining))
            if message.get("id") == mine:
                if "error" in message:
                    raise RuntimeError("%s: %s" % (method, message["error"].get("message")))
                return message.get("result", {})
            self._event(message)

    def evaluate(self, expression, timeout=5.0):
        result = self.call("Runtime.evaluate", {"expression": expression, "returnByValue": True}, timeout)
        if "exceptionDetails" in result:
            raise RuntimeError("evaluate: %s" % result["exceptionDetails"].get("text"))
        return result.get("result", {}).get("value")


# What the page shows: the tree's nodes and the player.
PROBE = """(() => {
  const nodes = {};
  const svg = document.getElementById('tree');
  if (svg) for (const e of svg.querySelectorAll('[data-node]'))
    nodes[e.getAttribute('data-node')] = {parent: e.getAttribute('data-parent'), state: e.getAttribute('data-state')};
  const a = document.getElementById('player');
  return JSON.stringify({
    ready: document.readyState, nodes: nodes,
    audio: a ? {t: a.currentTime, paused: a.paused, readyState: a.readyState, network: a.networkState,
                error: a.error ? a.error.code : null, src: a.currentSrc} : null
  });
})()"""


# ---------------------------------------------------------------------------------------


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stop_chromium(process):
    """Kills Chromium's whole process group; True once it has exited (within 10 s)."""
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except OSError:
        pass
    try:
        process.wait(timeout=10)
        return True
    except subprocess.TimeoutExpired:
        return False


def get_json(url, timeout=2.0):
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return json.loads(response.read().decode("utf-8"))


def die_with_parent():
    """In Chromium's child: SIGKILL when this script dies, even by SIGKILL."""
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except OSError:
        pass
    os.setsid()


def expected_parents(page_url):
    """name -> parent ("" for the root and for nodes off the tree), from the root's status.json."""
    parts = urllib.parse.urlsplit(page_url)
    own = get_json("%s://%s/status.json" % (parts.scheme, parts.netloc))
    root_url = (own.get("root_url") or "%s://%s" % (parts.scheme, parts.netloc)).rstrip("/")
    root = own if root_url == "%s://%s" % (parts.scheme, parts.netloc) else get_json(root_url + "/status.json")
    if isinstance(root.get("nodes"), list):
        return {n["name"]: (n.get("parent") or "") for n in root["nodes"] if isinstance(n, dict) and n.get("name")}
    expected = {root.get("name", ""): ""}
    expected.update({k: v for k, v in (root.get("tree") or {}).items()})
    return expected


def tree_problems(parents):
    """What is wrong with a parent map as a tree (empty if it is one tree)."""
    roots = [n for n, p in parents.items() if p == ""]
    if len(roots) != 1:
        return ["%d nodes without a parent: %s" % (len(roots), sorted(roots))]
    problems = []
    for name in parents:
        seen, node = set(), name
        while parents.get(node, "") != "":
            if node in seen:
                problems.append("cycle through %s" % name)
                break
            seen.add(node)
            node = parents[node]
            if node not in parents:
                problems.append("%s hangs from unknown %s" % (name, node))
                break
    return problems


def main():
    parser = argparse.ArgumentParser(description="Check a Casty status page in headless Chromium.")
    parser.add_argument("url", help="the page, e.g. http://127.0.0.1:8000/status")
    parser.add_argument("--expect-nodes", type=int, default=8, help="nodes the tree must show (default 8)")
    parser.add_argument("--kill-pid", type=int, help="SIGKILL this process once the tree is complete")
    parser.add_argument("--expect-down", help="the node that PID is; it must then show as down or leave the tree")
    parser.add_argument("--screenshot", help="save a PNG of the page here at the end")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds for the whole run (default 60)")
    parser.add_argument("--min-play-seconds", type=float, default=None,
                        help="the player must play this long: currentTime advances by S from where it first had data")
    args = parser.parse_args()
    if (args.kill_pid is None) != (args.expect_down is None):
        parser.error("--kill-pid and --expect-down go together")

    started = time.monotonic()
    deadline = started + args.timeout
    result = {
        "ok": False, "url": args.url, "expected_nodes": args.expect_nodes, "nodes_seen": 0, "parents": {},
        "tree_ok": False, "current_time": None, "audio_ok": False, "killed_pid": args.kill_pid,
        "expect_down": args.expect_down, "down_detected": None, "screenshot": None, "page_exceptions": [],
        "errors": [], "seconds": None,
    }

    def left():
        return deadline - time.monotonic()

    browser = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    if not browser:
        result["errors"].append("no chromium found: apt-get install chromium")
        result["seconds"] = round(time.monotonic() - started, 2)
        print(json.dumps(result, sort_keys=True))
        return 2

    profile = tempfile.mkdtemp(prefix="casty-chromium-")
    log = open(os.path.join(profile, "chromium.log"), "wb")
    port = free_port()
    process = None
    ws = None
    tools = None
    try:
        process = subprocess.Popen(
            [browser, "--headless=new", "--no-sandbox", "--disable-gpu", "--autoplay-policy=no-user-gesture-required",
             "--no-first-run", "--no-default-browser-check", "--disable-extensions", "--mute-audio",
             "--remote-debugging-address=127.0.0.1", "--remote-debugging-port=%d" % port,
             "--user-data-dir=%s" % os.path.join(profile, "data"), "--window-size=1280,900", "about:blank"],
            stdin=subprocess.DEVNULL, stdout=log, stderr=log, preexec_fn=die_with_parent,
        )

        # The page target's WebSocket, from /json.
        target = None
        while target is None:
            if left() <= 0 or process.poll() is not None:
                raise RuntimeError("chromium did not offer DevTools on port %d (exit %s)" % (port, process.poll()))
            try:
                targets = get_json("http://127.0.0.1:%d/json" % port, timeout=1)
                target = next((t for t in targets if t.get("type") == "page" and t.get("webSocketDebuggerUrl")), None)
            except (OSError, ValueError):
                pass
            if target is None:
                time.sleep(0.2)
        ws = WebSocket(target["webSocketDebuggerUrl"], timeout=min(10, max(1, left())))
        tools = DevTools(ws)
        tools.call("Runtime.enable")
        tools.call("Page.enable")
        tools.call("Emulation.setDeviceMetricsOverride", {"width": 1280, "height": 900, "deviceScaleFactor": 1, "mobile": False})
        tools.call("Page.navigate", {"url": args.url}, timeout=min(15, max(1, left())))

        # 1 and 2: the whole tree, right, and the player playing.
        expected, shown, last_problem = None, {}, "nothing yet"
        play_start = None
        while left() > 0:
            probe = json.loads(tools.evaluate(PROBE) or "{}")
            shown = probe.get("nodes") or {}
            audio = probe.get("audio") or {}
            result["current_time"] = round(audio.get("t") or 0.0, 3)
            result["audio"] = audio
            if args.min_play_seconds is None:
                result["audio_ok"] = result["current_time"] > 1.0
            else:
                if play_start is None and (audio.get("readyState") or 0) >= 2:
                    play_start = audio.get("t") or 0.0
                    result["play_start_time"] = round(play_start, 3)
                played = 0.0 if play_start is None else (audio.get("t") or 0.0) - play_start
                result["played_seconds"] = round(played, 3)
                result["audio_ok"] = played >= args.min_play_seconds
            result["nodes_seen"] = len(shown)
            result["parents"] = {n: v.get("parent") or "" for n, v in sorted(shown.items())}
            if not result["tree_ok"]:
                parents = result["parents"]
                try:
                    expected = expected_parents(args.url)
                except (OSError, ValueError) as error:
                    expected = None
                    last_problem = "cannot read the root's status.json: %s" % error
                if expected is not None:
                    down = sorted(n for n, v in shown.items() if v.get("state") != "up")
                    problems = tree_problems(parents)
                    if len(shown) != args.expect_nodes:
                        last_problem = "the page shows %d nodes, not %d" % (len(shown), args.expect_nodes)
                    elif down:
                        last_problem = "nodes not up: %s" % down
                    elif problems:
                        last_problem = "; ".join(problems)
                    elif parents != expected:
                        last_problem = "the page's parents %s differ from the root's %s" % (parents, expected)
                    else:
                        result["tree_ok"] = True
            if result["tree_ok"] and result["audio_ok"]:
                break
            time.sleep(0.25)
        if not result["tree_ok"]:
            result["errors"].append("tree: %s" % last_problem)
        if not result["audio_ok"] and args.min_play_seconds is None:
            result["errors"].append("player: currentTime %s, not past 1.0 s: %s" % (result["current_time"], result.get("audio")))
        elif not result["audio_ok"]:
            result["errors"].append("player: played %s s (currentTime %s from %s), not %s s: %s" % (
                result.get("played_seconds"), result["current_time"], result.get("play_start_time"), args.min_play_seconds, result.get("audio")))
        print("parents: %s" % json.dumps(result["parents"], sort_keys=True), file=sys.stderr, flush=True)

        # 3: a node killed shows as down (or leaves the tree).
        if args.kill_pid is not None and result["tree_ok"]:
            try:
                os.kill(args.kill_pid, signal.SIGKILL)
            except OSError as error:
                result["errors"].append("cannot kill %d: %s" % (args.kill_pid, error))
            killed = time.monotonic()
            while left() > 0:
                shown = json.loads(tools.evaluate(PROBE) or "{}").get("nodes") or {}
                if args.expect_down not in shown:
                    result["down_detected"] = "removed"
                elif shown[args.expect_down].get("state") == "down":
                    result["down_detected"] = "down"
                if result["down_detected"]:
                    result["down_seconds"] = round(time.monotonic() - killed, 2)
                    result["states_after_kill"] = {n: v.get("state") for n, v in sorted(shown.items())}
                    break
                time.sleep(0.25)
            if not result["down_detected"]:
                result["errors"].append("%s still shown up %.0f s after the kill" % (args.expect_down, time.monotonic() - killed))
        elif args.kill_pid is not None:
            result["errors"].append("did not kill %d: the tree was not right first" % args.kill_pid)
    except Exception as error:  # a setup failure is a result too: report it in the JSON line
        result["errors"].append("%s: %s" % (type(error).__name__, error))
    finally:
        # Screenshot at the end, whatever happened (if the page is there at all).
        if args.screenshot and tools is not None:
            try:
                time.sleep(0.3)
                shot = tools.call("Page.captureScreenshot", {"format": "png"}, timeout=15)
                data = base64.b64decode(shot["data"])
                directory = os.path.dirname(os.path.abspath(args.screenshot))
                os.makedirs(directory, exist_ok=True)
                with open(args.screenshot, "wb") as f:
                    f.write(data)
                result["screenshot"] = os.path.abspath(args.screenshot)
                result["screenshot_bytes"] = len(data)
            except Exception as error:
                result["errors"].append("screenshot: %s: %s" % (type(error).__name__, error))
        if tools is not None:
            result["page_exceptions"] = tools.exceptions
        if ws is not None:
            ws.close()
        if process is not None and not stop_chromium(process):
            result["errors"].append("chromium did not exit")
        log.close()
        shutil.rmtree(profile, ignore_errors=True)

    if args.screenshot and not result["screenshot"] and not any(e.startswith("screenshot") for e in result["errors"]):
        result["errors"].append("screenshot: not taken")
    if result["page_exceptions"]:
        result["errors"].append("uncaught exceptions on the page: %s" % result["page_exceptions"])
    result["seconds"] = round(time.monotonic() - started, 2)
    result["ok"] = not result["errors"]
    print(json.dumps(result, sort_keys=True), flush=True)
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
