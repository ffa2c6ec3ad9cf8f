#!/usr/bin/env bash
# Checks scripts/rolling-upgrade.sh and deploy/casty-take-over without the Swift binaries, against
# stand-ins for casty-ingest and casty-mirror (scripts/tests/fake-casty-node.py, copied into "build"
# folders v1, v2, ...; they hand their listening socket over a Unix control socket on --take-over).
#   scripts/tests/rolling-upgrade-selftest.sh
# Runs a fleet of an ingest, a standby root and three mirrors on free ports through
# scripts/fleet-up.sh, then: a full roll (order, PID files, versions), a broken build (the roll
# stops, the old node serves), a stuck build (stopped after --timeout), --only on a node that was
# already taken over, and casty-take-over (the systemd reload helper) both ways, also with --unit
# against a stand-in systemctl. About 15 s; stops everything it started.
set -euo pipefail
cd "$(dirname "$0")/../.."
t=$(mktemp -d "${TMPDIR:-/tmp}/casty-upgrade-test.XXXXXX")
fleet=$t/fleet
cleanup() {
  scripts/fleet-down.sh "$fleet" >/dev/null 2>&1 || true
  # Also any stand-in no PID file names (a broken script under test may have lost one).
  local f pid
  for f in /proc/[0-9]*/cmdline; do
    pid=${f#/proc/}; pid=${pid%/cmdline}
    if grep -qF "$t/" "$f" 2>/dev/null; then kill -KILL "$pid" 2>/dev/null || true; fi
  done
  rm -rf "$t"
}
trap cleanup EXIT
fail() { echo "rolling-upgrade-selftest: FAILED: $*" >&2; exit 1; }
alive() { [ -e "/proc/$1" ] && ! grep -q '^[^ ]* ([^)]*) Z' "/proc/$1/stat" 2>/dev/null; }
version_of() { # version_of NAME: the version its /status.json reports, after checking the pid there
  local port json
  port=$(/usr/bin/python3 -c 'import json,sys; f=json.load(open(sys.argv[1])); print(next(n["port"] for n in [f["ingest"], f["standby"]] + f["mirrors"] if n["name"] == sys.argv[2]))' "$fleet/fleet.json" "$1")
  json=$(curl -fsS --max-time 2 "http://127.0.0.1:$port/status.json") || fail "$1 does not answer on $port"
  /usr/bin/python3 -c 'import json,sys; s=json.loads(sys.argv[1]); p=int(open(sys.argv[2]).read()); assert s["pid"] == p, "%s serves from pid %s, its PID file says %s" % (s["name"], s["pid"], p); print(s["version"])' "$json" "$fleet/$1.pid" || fail "$1: PID file and server disagree"
}
pids() { for n in root root2 m1 m2 m3; do printf '%s=%s ' "$n" "$(cat "$fleet/$n.pid")"; done; }

for v in v1 v2 v3 bad stuck; do
  mkdir -p "$t/$v"
  cp scripts/tests/fake-casty-node.py "$t/$v/casty-ingest"
  cp scripts/tests/fake-casty-node.py "$t/$v/casty-mirror"
  echo "$v" >"$t/$v/VERSION"
done
touch "$t/bad/FAIL" "$t/stuck/HANG"
mapfile -t ports < <(/usr/bin/python3 -c '
import socket
socks = [socket.socket() for _ in range(5)]
for s in socks: s.bind(("127.0.0.1", 0))
for s in socks: print(s.getsockname()[1])')
cat >"$t/fleet.json" <<EOF
{"upstream": "http://127.0.0.1:9/stream", "fanout": 2, "secret": "s",
 "ingest": {"name": "root", "host": "127.0.0.1", "port": ${ports[0]}},
 "standby": {"name": "root2", "host": "127.0.0.1", "port": ${ports[1]}},
 "mirrors": [{"name": "m1", "host": "127.0.0.1", "port": ${ports[2]}},
             {"name": "m2", "host": "127.0.0.1", "port": ${ports[3]}},
             {"name": "m3", "host": "127.0.0.1", "port": ${ports[4]}}]}
EOF
mkdir -p "$t/run"
# The root's tree puts m1 deepest (under m3): deepest first is m1 m3 m2, unlike reverse file order.
CASTY_BIN=$t/v1 XDG_RUNTIME_DIR=$t/run CASTY_FAKE_TREE='{"m1": "m3", "m3": "root", "m2": "root"}' \
  scripts/fleet-up.sh "$t/fleet.json" "$fleet" >/dev/null
for n in root root2 m1 m2 m3; do [ "$(version_of $n)" = v1 ] || fail "$n did not start as v1"; done
ls "$t/run"/casty-m1-*.control >/dev/null 2>&1 || fail "no control socket $t/run/casty-m1-PORT.control"

echo "[$SECONDS s] 1. full roll v1 -> v2"
before=$(pids)
# A different XDG_RUNTIME_DIR here: the new processes must get the old ones' value to find them.
XDG_RUNTIME_DIR=$t/elsewhere scripts/rolling-upgrade.sh --pause 0 "$fleet" "$t/v2" >"$t/roll1.out" 2>&1 \
  || { cat "$t/roll1.out"; fail "the roll failed"; }
cat "$t/roll1.out"
order=$(sed -n 's/^rolling-upgrade: \([a-z0-9]*\) (.*hand-over took.*/\1/p' "$t/roll1.out" | tr '\n' ' ')
[ "$order" = "m1 m3 m2 root2 root " ] || fail "order was '$order', expected 'm1 m3 m2 root2 root '"
for n in root root2 m1 m2 m3; do
  [ "$(version_of $n)" = v2 ] || fail "$n is not v2"
  old=$(tr ' ' '\n' <<<"$before" | sed -n "s/^$n=//p")
  alive "$old" && fail "$n's old pid $old is still running"
  grep -q "took over from pid $old" "$fleet/$n.log" || fail "$n.log lacks 'took over from pid $old'"
done

echo "[$SECONDS s] 2. broken build: the roll stops at the first node, which keeps serving"
# The new root has no CASTY_FAKE_TREE (only the old runtime folders are passed on): reverse file order.
before=$(pids)
if scripts/rolling-upgrade.sh --pause 0 "$fleet" "$t/bad" >"$t/roll2.out" 2>&1; then
  cat "$t/roll2.out"; fail "the roll with a failing build exited 0"
fi
cat "$t/roll2.out"
grep -q "reverse fleet-file order" "$t/roll2.out" || fail "the order is not reverse fleet-file order"
grep -q "m3 (mirror) FAILED" "$t/roll2.out" || fail "the failure does not name m3"
grep -q "take-over failed: this build refuses" "$t/roll2.out" || fail "the failure does not show m3's log"
[ "$(pids)" = "$before" ] || fail "PID files changed: $before -> $(pids)"
for n in root root2 m1 m2 m3; do [ "$(version_of $n)" = v2 ] || fail "$n is not v2 any more"; done

echo "[$SECONDS s] 3. stuck build: stopped after --timeout, the old node keeps serving"
if scripts/rolling-upgrade.sh --only m2 --timeout 1 "$fleet" "$t/stuck" >"$t/roll3.out" 2>&1; then
  cat "$t/roll3.out"; fail "the roll with a stuck build exited 0"
fi
cat "$t/roll3.out"
grep -q "did not take over within 1 s and was stopped" "$t/roll3.out" || fail "no timeout message"
stuck=$(sed -n 's/.*the new process (pid \([0-9]*\)).*/\1/p' "$t/roll3.out")
if [ -z "$stuck" ] || alive "$stuck"; then fail "the stuck process '$stuck' is still running"; fi
[ "$(pids)" = "$before" ] || fail "PID files changed"
[ "$(version_of m2)" = v2 ] || fail "m2 is not serving v2"

echo "[$SECONDS s] 4. --only m2 (already taken over once) -> v3"
scripts/rolling-upgrade.sh --only m2 "$fleet" "$t/v3" || fail "--only m2 failed"
[ "$(version_of m2)" = v3 ] || fail "m2 is not v3"
for n in root root2 m1 m3; do [ "$(version_of $n)" = v2 ] || fail "$n changed version"; done
[ "$(tr '\0' '\n' <"/proc/$(cat "$fleet/m2.pid")/cmdline" | grep -c -- --take-over)" = 1 ] \
  || fail "m2's command line does not hold exactly one --take-over"

echo "[$SECONDS s] 5. casty-take-over (systemd ExecReload helper) on m3: a broken build, then v3"
old=$(cat "$fleet/m3.pid")
if XDG_RUNTIME_DIR=$t/run deploy/casty-take-over "$old" "$t/bad/casty-mirror" --fleet "$fleet/fleet.json" --name m3 \
  >"$t/helper1.out" 2>&1; then
  cat "$t/helper1.out"; fail "casty-take-over with a failing build exited 0"
fi
cat "$t/helper1.out"
alive "$old" || fail "m3's old process died after a failed take-over"
[ "$(version_of m3)" = v2 ] || fail "m3 is not serving v2"
XDG_RUNTIME_DIR=$t/run deploy/casty-take-over "$old" "$t/v3/casty-mirror" --fleet "$fleet/fleet.json" --name m3 \
  >"$t/helper2.out" 2>&1 || { cat "$t/helper2.out"; fail "casty-take-over failed"; }
cat "$t/helper2.out"
new=$(sed -n 's/.*handed over to pid \([0-9]*\).*/\1/p' "$t/helper2.out" | head -n 1)
[ -n "$new" ] || fail "casty-take-over did not say the new pid"
echo "$new" >"$fleet/m3.pid"
alive "$old" && fail "m3's old pid $old still runs"
[ "$(version_of m3)" = v3 ] || fail "m3 is not v3"

echo "[$SECONDS s] 6. casty-take-over --unit on m1: systemd (a stand-in systemctl) never gets MAINPID=, then does"
mkdir -p "$t/sd-none" "$t/sd-new"
printf '#!/bin/sh\necho 0\n' >"$t/sd-none/systemctl"
printf '#!/bin/sh\npgrep -n -f -- "--name m1 --take-over"\n' >"$t/sd-new/systemctl"
chmod +x "$t/sd-none/systemctl" "$t/sd-new/systemctl"
old=$(cat "$fleet/m1.pid")
if PATH=$t/sd-none:$PATH XDG_RUNTIME_DIR=$t/run deploy/casty-take-over --unit casty-mirror@m1.service "$old" \
  "$t/v3/casty-mirror" --fleet "$fleet/fleet.json" --name m1 >"$t/helper3.out" 2>&1; then
  cat "$t/helper3.out"; fail "casty-take-over exited 0 though systemd's main PID stayed 0"
fi
cat "$t/helper3.out"
grep -q "did not send MAINPID=" "$t/helper3.out" || fail "no MAINPID= message"
sed -n 's/.*started pid \([0-9]*\).*/\1/p' "$t/helper3.out" >"$fleet/m1.pid"
[ "$(version_of m1)" = v3 ] || fail "m1 is not v3"
old=$(cat "$fleet/m1.pid")
PATH=$t/sd-new:$PATH XDG_RUNTIME_DIR=$t/run deploy/casty-take-over --unit casty-mirror@m1.service "$old" \
  "$t/v2/casty-mirror" --fleet "$fleet/fleet.json" --name m1 >"$t/helper4.out" 2>&1 \
  || { cat "$t/helper4.out"; fail "casty-take-over --unit failed"; }
cat "$t/helper4.out"
new=$(sed -n "s/.*systemd's main PID of casty-mirror@m1.service is \([0-9]*\).*/\1/p" "$t/helper4.out")
[ -n "$new" ] || fail "casty-take-over did not report systemd's main PID"
echo "$new" >"$fleet/m1.pid"
[ "$(version_of m1)" = v2 ] || fail "m1 is not v2"
echo "rolling-upgrade-selftest: ok ($SECONDS s)"
