#!/usr/bin/python3
"""Time from loading a page with <audio src=URL> in headless Chromium to currentTime advancing.

    browser_start.py [--timeout S] [--runs K] NAME=URL [NAME=URL ...]

For every NAME=URL, K times (default 2): navigates a fresh page (served by this script on
127.0.0.1, so that Chromium's private-network rules allow the stream; it holds only
`<audio src=URL autoplay>` and a 5 ms timer) and reads, from the page's own clock
(performance.now(), 0 = navigation start), when the `playing` event fired and when currentTime
first became > 0. Chromium is Debian's `chromium`, started headless with autoplay allowed and
driven over the DevTools protocol with the small client in Tests/Fixtures/status-page-check.py.
Prints one JSON object: {NAME: {"runs": [...], "median_advance_ms": ...}}. Chromium is always
killed and its profile removed; each load is bounded by --timeout.
"""

import argparse
import http.server
import threading
import importlib.util
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse

here = os.path.dirname(os.path.abspath(__file__))
spec = importlib.util.spec_from_file_location("status_page_check", os.path.join(here, "..", "..", "Tests", "Fixtures", "status-page-check.py"))
spc = importlib.util.module_from_spec(spec)
spec.loader.exec_module(spc)

PAGE = """<!doctype html><meta charset=utf-8><title>bench</title>
<audio id=a src="%s" autoplay></audio>
<script>
const a = document.getElementById('a');
window.res = {};
a.addEventListener('playing', () => { if (!window.res.playing) window.res.playing = performance.now(); });
a.addEventListener('error', () => { window.res.error = a.error ? a.error.code : -1; });
const iv = setInterval(() => {
  if (a.currentTime > 0 && !window.res.advanced) { window.res.advanced = performance.now(); clearInterval(iv); }
}, 5);
</script>"""


class PageHandler(http.server.BaseHTTPRequestHandler):
    """Serves the page for /?src=URL."""

    def do_GET(self):
        q = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query)
        src = q.get("src", [""])[0].replace('"', "%22")
        body = (PAGE % src).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("targets", nargs="+", metavar="NAME=URL")
    p.add_argument("--timeout", type=float, default=25.0, help="seconds per page load (default 25)")
    p.add_argument("--runs", type=int, default=2)
    a = p.parse_args()
    if not 1 <= a.runs <= 10 or not 1 <= a.timeout <= 120:
        p.error("--runs 1..10, --timeout 1..120")
    targets = []
    for t in a.targets:
        name, _, url = t.partition("=")
        if not url.startswith("http://"):
            p.error(f"bad target {t!r}: NAME=http://...")
        targets.append((name, url))
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if not browser:
        sys.exit("browser_start: no chromium (apt-get install chromium)")
    profile = tempfile.mkdtemp(prefix="casty-bench-chromium-")
    log = open(os.path.join(profile, "chromium.log"), "wb")
    port = spc.free_port()
    process = ws = None
    out = {}
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), PageHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    page_base = "http://127.0.0.1:%d/?src=" % server.server_address[1]
    try:
        process = subprocess.Popen(
            [browser, "--headless=new", "--no-sandbox", "--disable-gpu", "--autoplay-policy=no-user-gesture-required",
             "--no-first-run", "--no-default-browser-check", "--disable-extensions", "--mute-audio",
             "--remote-debugging-address=127.0.0.1", "--remote-debugging-port=%d" % port,
             "--user-data-dir=%s" % os.path.join(profile, "data"), "about:blank"],
            stdin=subprocess.DEVNULL, stdout=log, stderr=log, preexec_fn=spc.die_with_parent)
        target = None
        deadline = time.monotonic() + 20
        while target is None:
            if time.monotonic() > deadline or process.poll() is not None:
                raise RuntimeError("chromium did not offer DevTools")
            try:
                targets_json = spc.get_json("http://127.0.0.1:%d/json" % port, timeout=1)
                target = next((t for t in targets_json if t.get("type") == "page" and t.get("webSocketDebuggerUrl")), None)
            except (OSError, ValueError):
                pass
            if target is None:
                time.sleep(0.2)
        ws = spc.WebSocket(target["webSocketDebuggerUrl"], timeout=10)
        tools = spc.DevTools(ws)
        tools.call("Runtime.enable")
        tools.call("Page.enable")
        for name, url in targets:
            runs = []
            for _ in range(a.runs):
                tools.call("Page.navigate", {"url": "about:blank"})
                time.sleep(0.3)
                page = page_base + urllib.parse.quote(url, safe="")
                tools.call("Page.navigate", {"url": page}, timeout=15)
                end = time.monotonic() + a.timeout
                res = {}
                while time.monotonic() < end:
                    res = json.loads(tools.evaluate("JSON.stringify(window.res || {})") or "{}")
                    if "advanced" in res or "error" in res:
                        break
                    time.sleep(0.05)
                runs.append({"advance_ms": round(res["advanced"], 1) if "advanced" in res else None,
                             "playing_ms": round(res["playing"], 1) if "playing" in res else None,
                             "error": res.get("error")})
            adv = [r["advance_ms"] for r in runs if r["advance_ms"] is not None]
            out[name] = {"url": url, "runs": runs, "median_advance_ms": statistics.median(adv) if adv else None,
                         "timed_out": sum(1 for r in runs if r["advance_ms"] is None)}
        tools.call("Page.navigate", {"url": "about:blank"})
    finally:
        if ws is not None:
            ws.close()
        if process is not None:
            spc.stop_chromium(process)
        server.shutdown()
        log.close()
        shutil.rmtree(profile, ignore_errors=True)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
