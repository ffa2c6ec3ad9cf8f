#!/usr/bin/env bash
# Casty's main job: a local fleet (the ingest and the mirrors of fleet.json) relaying a radio.
#   scripts/run.sh [URL]
# With no URL, starts the embedded local test radio (Icecast 2 + ffmpeg, scripts/test-radio.sh)
# on fleet.json's upstream port and relays it. Prints every node's stream and status URL.
# Ctrl-C stops everything this script started.
set -euo pipefail
cd "$(dirname "$0")/.."
url=${1:-}
work=$(mktemp -d "${TMPDIR:-/tmp}/casty-run.XXXXXX")
fleet="$work/fleet.json"
radio_dir=""
fleet_dir="$work/fleet"

swift build -c release --product casty-ingest
swift build -c release --product casty-mirror
export CASTY_BIN
CASTY_BIN="$(swift build -c release --show-bin-path)"

cleanup() {
  trap - EXIT INT TERM
  scripts/fleet-down.sh "$fleet_dir" >/dev/null 2>&1 || true
  [ -n "$radio_dir" ] && scripts/test-radio.sh stop --dir "$radio_dir" >/dev/null 2>&1 || true
  echo "run: stopped (logs in $work)"
}
trap cleanup EXIT
trap 'exit 0' INT TERM

if [ -z "$url" ]; then
  cp fleet.json "$fleet"
  upstream=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["upstream"])' "$fleet")
  radio_port=$(python3 -c 'import sys,urllib.parse; print(urllib.parse.urlsplit(sys.argv[1]).port or 80)' "$upstream")
  radio_dir="$work/radio"
  echo "run: starting the local test radio on port $radio_port"
  scripts/test-radio.sh start --port "$radio_port" --dir "$radio_dir" >/dev/null
else
  python3 -c 'import json,sys; f=json.load(open("fleet.json")); f["upstream"]=sys.argv[1]; json.dump(f, open(sys.argv[2], "w"), indent=2)' "$url" "$fleet"
fi
echo "run: relaying $(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["upstream"])' "$fleet")"
scripts/fleet-up.sh "$fleet" "$fleet_dir"
echo "run: listen with e.g. mpg123 http://127.0.0.1:8001/ ; Ctrl-C stops"
while kill -0 "$(cat "$fleet_dir/root.pid")" 2>/dev/null; do sleep 1; done
