#!/usr/bin/env bash
# Upgrades a fleet started by scripts/fleet-up.sh to new binaries, one node at a time, by socket
# hand-over: each new process takes the listening socket and every listener from the old one.
#   scripts/rolling-upgrade.sh [--only NAME] [--pause SECONDS=2] [--timeout SECONDS=30] DIR [NEWBIN]
# NEWBIN: a folder holding the new casty-ingest and casty-mirror (default: $CASTY_BIN, else a
# release build). Order: the mirrors deepest first (from the tree in the root's /status.json; in
# reverse fleet-file order when no node answers with a tree), then the standby root, then the
# ingest. A new process gets the old one's arguments, working folder, RUNTIME_DIRECTORY and
# XDG_RUNTIME_DIR, plus --take-over; its output is appended to DIR/NAME.log. Once the old process
# has exited and the new one answers /status.json, DIR/NAME.pid gets the new PID.
# At the first failure it stops with exit 1 and shows the node's log; that node's old process keeps
# serving and the nodes after it are not touched.
set -euo pipefail
cd "$(dirname "$0")/.."
usage="usage: rolling-upgrade.sh [--only NAME] [--pause SECONDS] [--timeout SECONDS] DIR [NEWBIN]"
only="" pause=2 timeout=30 positional=()
while [ $# -gt 0 ]; do
  case "$1" in
    --only) only=${2:?$usage}; shift 2 ;;
    --pause) pause=${2:?$usage}; shift 2 ;;
    --timeout) timeout=${2:?$usage}; shift 2 ;;
    -h|--help) echo "$usage"; exit 0 ;;
    -*) echo "$usage" >&2; exit 2 ;;
    *) positional+=("$1"); shift ;;
  esac
done
if [ ${#positional[@]} -lt 1 ] || [ ${#positional[@]} -gt 2 ]; then echo "$usage" >&2; exit 2; fi
[[ $pause =~ ^[0-9]+(\.[0-9]+)?$ ]] || { echo "rolling-upgrade: --pause takes seconds, not '$pause'" >&2; exit 2; }
[[ $timeout =~ ^[1-9][0-9]*$ ]] || { echo "rolling-upgrade: --timeout takes whole seconds, not '$timeout'" >&2; exit 2; }
dir=${positional[0]}
[ -f "$dir/fleet.json" ] || { echo "rolling-upgrade: no $dir/fleet.json: give the DIR of scripts/fleet-up.sh" >&2; exit 2; }
newbin=${positional[1]:-${CASTY_BIN:-}}
if [ -z "$newbin" ]; then
  swift build -c release --product casty-ingest >&2
  swift build -c release --product casty-mirror >&2
  newbin=$(swift build -c release --show-bin-path)
fi
newbin=$(cd "$newbin" && pwd)

# "role name host port" lines in upgrade order; the order's origin goes to stderr.
nodes=$(/usr/bin/python3 - "$dir/fleet.json" "$only" <<'PY'
import json, sys, urllib.request
f = json.load(open(sys.argv[1]))
only = sys.argv[2]
roots = [("ingest", f["ingest"])] + ([("standby", f["standby"])] if f.get("standby") else [])
tree, origin = None, "reverse fleet-file order (no node answered with a tree)"
for role, n in roots:
    try:
        with urllib.request.urlopen("http://%s:%d/status.json" % (n["host"], n["port"]), timeout=2) as r:
            status = json.load(r)
    except Exception:
        continue
    if status.get("tree"):
        tree, origin = status["tree"], "deepest first (tree of %s)" % n["name"]
        break
def depth(name):
    # Mirrors missing from the tree have no children: they go first with the deepest.
    if name not in tree:
        return 1 << 30
    d = 0
    while name in tree and d < 10000:
        name, d = tree[name], d + 1
    return d
mirrors = list(reversed(f["mirrors"]))
if tree:
    mirrors.sort(key=lambda m: -depth(m["name"]))  # stable: equal depths stay in reverse file order
order = [("mirror", m) for m in mirrors] + list(reversed(roots))
if only:
    order = [(r, n) for r, n in order if n["name"] == only]
    if not order:
        sys.exit("rolling-upgrade: '%s' is not a node of %s" % (only, sys.argv[1]))
else:
    print("rolling-upgrade: mirrors in %s" % origin, file=sys.stderr)
for role, n in order:
    print(role, n["name"], n["host"], n["port"])
PY
)

# alive PID STARTTIME: the process exists, is not a zombie, and is the same one (start time).
alive() {
  local stat
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  local -a fields
  read -r -a fields <<<"${stat##*) }"
  [ "${fields[0]}" != Z ] && [ "${fields[0]}" != X ] && [ "${fields[19]}" = "$2" ]
}
starttime() { local stat; stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1; local -a f; read -r -a f <<<"${stat##*) }"; echo "${f[19]}"; }
micros() { local t=${EPOCHREALTIME//[.,]/}; echo "$((10#$t))"; }

# Check every node first: nothing is touched unless all of them run.
while read -r role name host port; do
  bin=casty-mirror; [ "$role" = mirror ] || bin=casty-ingest
  [ -x "$newbin/$bin" ] || { echo "rolling-upgrade: no $newbin/$bin" >&2; exit 2; }
  pid=$(cat "$dir/$name.pid" 2>/dev/null || true)
  if [ -z "$pid" ] || ! grep -q casty "/proc/$pid/cmdline" 2>/dev/null; then
    echo "rolling-upgrade: $name ($role) is not running (no live casty process in $dir/$name.pid); start it first or use --only" >&2
    exit 1
  fi
done <<<"$nodes"

current=""
trap 'echo "rolling-upgrade: interrupted${current:+ during $current}; check $dir/*.pid and the logs" >&2; exit 130' INT TERM

fail() { # fail NAME ROLE MESSAGE
  echo "rolling-upgrade: $1 ($2) FAILED: $3" >&2
  echo "---- last lines of $dir/$1.log:" >&2
  tail -n 15 "$dir/$1.log" >&2 || true
  exit 1
}

count=$(grep -c . <<<"$nodes")
index=0
while read -r role name host port <&3; do
  index=$((index + 1))
  bin=casty-mirror; [ "$role" = mirror ] || bin=casty-ingest
  log=$dir/$name.log
  old=$(cat "$dir/$name.pid")
  oldstart=$(starttime "$old") || fail "$name" "$role" "pid $old is gone"
  # The old command line: the words after the one naming the binary (an interpreter may precede it).
  mapfile -d '' -t cmd <"/proc/$old/cmdline"
  args=() seen=0
  for word in "${cmd[@]}"; do
    if [ $seen = 0 ]; then
      case "${word##*/}" in casty-ingest|casty-mirror) seen=1 ;; esac
    elif [ "$word" != --take-over ]; then
      args+=("$word")
    fi
  done
  [ $seen = 1 ] || fail "$name" "$role" "pid $old does not run casty-ingest or casty-mirror"
  # The control socket's default path depends on these two: give the new process the old values.
  envargs=(-u RUNTIME_DIRECTORY -u XDG_RUNTIME_DIR)
  while IFS= read -r -d '' kv; do
    case "$kv" in RUNTIME_DIRECTORY=*|XDG_RUNTIME_DIR=*) envargs+=("$kv") ;; esac
  done <"/proc/$old/environ"
  cwd=$(readlink "/proc/$old/cwd") || cwd=.

  current="$name (old pid $old)"
  t0=$(micros)
  echo "---- $(date -u +%FT%TZ) rolling-upgrade: $newbin/$bin --take-over (old pid $old)" >>"$log"
  # setsid: the new node is not in this script's process group, so a Ctrl-C here does not reach it.
  (cd "$cwd" && exec setsid env "${envargs[@]}" "$newbin/$bin" "${args[@]}" --take-over) </dev/null >>"$log" 2>&1 &
  new=$!
  current="$name (old pid $old, new pid $new)"
  newstart=$(starttime "$new" || echo gone)
  outcome=timeout
  for ((i = 0; i < timeout * 10; i++)); do
    if ! alive "$new" "$newstart"; then outcome=died; break; fi
    if ! alive "$old" "$oldstart" && curl -fsS --max-time 1 "http://$host:$port/status.json" >/dev/null 2>&1; then
      outcome=ok; break
    fi
    sleep 0.1
  done
  case $outcome in
    ok)
      echo "$new" >"$dir/$name.pid"
      us=$(($(micros) - t0))
      printf 'rolling-upgrade: %s (%s) pid %s -> %s, hand-over took %d.%03d s (%d/%d)\n' \
        "$name" "$role" "$old" "$new" $((us / 1000000)) $((us % 1000000 / 1000)) "$index" "$count"
      ;;
    died)
      status=0; wait "$new" || status=$?
      if alive "$old" "$oldstart"; then
        fail "$name" "$role" "the new process exited (status $status) before taking over; the old one (pid $old) keeps serving"
      fi
      fail "$name" "$role" "the new process exited (status $status) and the old one (pid $old) is gone too: $name is down, start it again"
      ;;
    timeout)
      if ! alive "$old" "$oldstart"; then
        echo "$new" >"$dir/$name.pid"
        fail "$name" "$role" "the old process exited but the new one (pid $new, now in $name.pid) does not answer http://$host:$port/status.json after ${timeout} s"
      elif tail -c 65536 "$log" | grep -q "took over from pid $old"; then
        # It has the sockets: both are left running, both in PID files so fleet-down.sh stops them.
        echo "$new" >"$dir/$name.pid"
        echo "$old" >"$dir/$name.old.pid"
        fail "$name" "$role" "pid $new took over but the old pid $old did not exit within ${timeout} s (both left running; $name.old.pid holds the old one)"
      else
        # It never took over: stop it, the old process still has everything.
        kill -TERM "$new" 2>/dev/null || true
        for _ in $(seq 1 50); do alive "$new" "$newstart" || break; sleep 0.1; done
        alive "$new" "$newstart" && kill -KILL "$new" 2>/dev/null
        wait "$new" 2>/dev/null || true
        fail "$name" "$role" "the new process (pid $new) did not take over within ${timeout} s and was stopped; the old one (pid $old) keeps serving"
      fi
      ;;
  esac
  current=""
  if [ "$index" -lt "$count" ]; then sleep "$pause"; fi
done 3<<<"$nodes"
echo "rolling-upgrade: $count node(s) upgraded to $newbin"
