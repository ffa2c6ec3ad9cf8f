#!/usr/bin/env bash
# Starts the ingest, the standby root (if the file names one) and every mirror of a fleet file on
# this machine.
#   scripts/fleet-up.sh [FLEET=fleet.json] [DIR]
# Logs and PID files go to DIR (default: a new folder under /tmp, printed); stop them with
# scripts/fleet-down.sh DIR. Binaries: release build, or $CASTY_BIN if set (a folder holding
# casty-ingest and casty-mirror). Waits until every node answers /status.json.
set -euo pipefail
cd "$(dirname "$0")/.."
fleet=${1:-fleet.json}
dir=${2:-$(mktemp -d "${TMPDIR:-/tmp}/casty-fleet.XXXXXX")}
mkdir -p "$dir"
if [ -z "${CASTY_BIN:-}" ]; then
  swift build -c release --product casty-ingest >&2
  swift build -c release --product casty-mirror >&2
  CASTY_BIN=$(swift build -c release --show-bin-path)
fi
nodes=$(python3 - "$fleet" <<'PY'
import json, sys
f = json.load(open(sys.argv[1]))
print("ingest", f["ingest"]["name"], f["ingest"]["host"], f["ingest"]["port"])
if f.get("standby"):
    s = f["standby"]
    print("standby", s["name"], s["host"], s["port"])
for m in f["mirrors"]:
    print("mirror", m["name"], m["host"], m["port"])
PY
)
cp "$fleet" "$dir/fleet.json"
while read -r role name host port; do
  # Opened for appending, so that what scripts/rolling-upgrade.sh appends is not overwritten.
  : >"$dir/$name.log"
  if [ "$role" = ingest ]; then
    "$CASTY_BIN/casty-ingest" --fleet "$dir/fleet.json" ${CASTY_LOG_LEVEL:+--log-level "$CASTY_LOG_LEVEL"} >>"$dir/$name.log" 2>&1 &
    echo $! >"$dir/$name.pid"
    sleep 0.3
  elif [ "$role" = standby ]; then
    "$CASTY_BIN/casty-ingest" --fleet "$dir/fleet.json" --name "$name" ${CASTY_LOG_LEVEL:+--log-level "$CASTY_LOG_LEVEL"} >>"$dir/$name.log" 2>&1 &
    echo $! >"$dir/$name.pid"
    sleep 0.3
  else
    "$CASTY_BIN/casty-mirror" --fleet "$dir/fleet.json" --name "$name" ${CASTY_LOG_LEVEL:+--log-level "$CASTY_LOG_LEVEL"} >>"$dir/$name.log" 2>&1 &
    echo $! >"$dir/$name.pid"
  fi
done <<<"$nodes"
ok=1
while read -r role name host port; do
  up=0
  for _ in $(seq 1 100); do
    if curl -fsS --max-time 1 "http://$host:$port/status.json" >/dev/null 2>&1; then up=1; break; fi
    sleep 0.1
  done
  if [ $up = 1 ]; then
    echo "$name ($role): stream http://$host:$port/   status page http://$host:$port/status   json http://$host:$port/status.json"
  else
    echo "$name ($role): NOT answering on $host:$port (see $dir/$name.log)" >&2
    ok=0
  fi
done <<<"$nodes"
echo "fleet: dir=$dir"
[ $ok = 1 ]
