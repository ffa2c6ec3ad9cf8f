#!/usr/bin/python3
# A stand-in for casty-ingest and casty-mirror, used by scripts/tests/rolling-upgrade-selftest.sh
# (copied there into folders named like a build, as casty-ingest and casty-mirror). It does what the
# upgrade scripts rely on and nothing else:
# - serves GET /status.json on its fleet-file port: name, pid, version (the VERSION file next to it),
#   and at the ingest the tree in $CASTY_FAKE_TREE (JSON, mirror -> parent) if set;
# - listens on its control socket, ${RUNTIME_DIRECTORY:-${XDG_RUNTIME_DIR:-/tmp}}/casty-NAME-PORT.control
#   or --control-socket; a "TAKEOVER <pid>" there gets "OK <its pid>" plus its listening socket
#   (SCM_RIGHTS), then it logs "handed over to pid <pid>" and exits 0;
# - with --take-over, takes the listening socket from the running node of its name that way and logs
#   "took over from pid <old>"; a FAIL file next to it makes it exit 1 first (a broken build), a
#   HANG file makes it sleep without taking over (a stuck one).
import json
import os
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer

here = os.path.dirname(os.path.abspath(__file__))
prog = os.path.basename(__file__)
args = sys.argv[1:]


def option(flag):
    return args[args.index(flag) + 1] if flag in args else None


fleet = json.load(open(option("--fleet")))
name = option("--name") or fleet["ingest"]["name"]
nodes = [fleet["ingest"]] + ([fleet["standby"]] if fleet.get("standby") else []) + fleet["mirrors"]
node = next(n for n in nodes if n["name"] == name)
version = open(os.path.join(here, "VERSION")).read().strip()
runtime = os.environ.get("RUNTIME_DIRECTORY") or os.environ.get("XDG_RUNTIME_DIR") or "/tmp"
control_path = option("--control-socket") or os.path.join(runtime, "casty-%s-%d.control" % (name, node["port"]))


def log(message):
    print("%s %s [%d] %s: %s" % (prog, name, os.getpid(), version, message), flush=True)


if "--take-over" in args:
    if os.path.exists(os.path.join(here, "FAIL")):
        print("%s %s: take-over failed: this build refuses (FAIL marker)" % (prog, name), file=sys.stderr, flush=True)
        sys.exit(1)
    if os.path.exists(os.path.join(here, "HANG")):
        log("hanging before the take-over (HANG marker)")
        time.sleep(3600)
    client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    client.settimeout(5)
    client.connect(control_path)
    client.sendall(b"TAKEOVER %d\n" % os.getpid())
    message, fds, _, _ = socket.recv_fds(client, 1024, 1)
    old_pid = int(message.split()[1])
    listener = socket.socket(fileno=fds[0])
    log("took over from pid %d" % old_pid)
else:
    listener = socket.create_server((node["host"], node["port"]))
    log("serving on %s:%d" % (node["host"], node["port"]))


class Status(BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path != "/status.json":
            self.send_error(404)
            return
        status = {"name": name, "pid": os.getpid(), "version": version}
        if name == fleet["ingest"]["name"] and os.environ.get("CASTY_FAKE_TREE"):
            status["tree"] = json.loads(os.environ["CASTY_FAKE_TREE"])
        body = json.dumps(status).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_):
        pass


server = HTTPServer((node["host"], node["port"]), Status, bind_and_activate=False)
server.socket.close()
server.socket = listener

# The new node binds the control path afresh; the old one, once it handed over, leaves the path alone.
try:
    os.unlink(control_path)
except FileNotFoundError:
    pass
control = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
control.bind(control_path)
control.listen()


def serve_control():
    while True:
        connection, _ = control.accept()
        request = connection.recv(1024).split()
        if len(request) == 2 and request[0] == b"TAKEOVER":
            socket.send_fds(connection, [b"OK %d\n" % os.getpid()], [listener.fileno()])
            connection.close()
            log("handed over to pid %d" % int(request[1]))
            server.shutdown()
            return
        connection.close()


threading.Thread(target=serve_control, daemon=True).start()
server.serve_forever(poll_interval=0.05)
os._exit(0)
