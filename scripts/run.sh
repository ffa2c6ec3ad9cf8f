#!/usr/bin/env bash
# Casty's main job: relay a radio through casty-ingest.
#   scripts/run.sh [URL]
# With no URL, starts the embedded local test radio (Icecast 2 + ffmpeg, scripts/test-radio.sh)
# on the upstream port of fleet.json and relays it. Ports come from fleet.json. Ctrl-C stops
# everything this script started.
set -euo pipefail
cd "$(dirname "$0")/.."
url=${1:-}
fleet=fleet.json
ingest_port=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["ingest"]["port"])' "$fleet")
upstream=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["upstream"])' "$fleet")

swift build -c release --product casty-ingest
bin="$(swift build -c release --show-bin-path)"

work=$(mktemp -d "${TMPDIR:-/tmp}/casty-run.XXXXXX")
radio_dir=""
ingest_pid=""
cleanup() {
  trap - EXIT INT TERM
  [ -n "$ingest_pid" ] && kill "$ingest_pid" 2>/dev/null && wait "$ingest_pid" 2>/dev/null || true
  [ -n "$radio_dir" ] && scripts/test-radio.sh stop --dir "$radio_dir" >/dev/null 2>&1 || true
  echo "run: stopped (logs in $work)"
}
trap cleanup EXIT
trap 'exit 0' INT TERM

if [ -z "$url" ]; then
  radio_port=$(python3 -c 'import sys,urllib.parse; print(urllib.parse.urlsplit(sys.argv[1]).port or 80)' "$upstream")
  radio_dir="$work/radio"
  echo "run: starting the local test radio on port $radio_port"
  scripts/test-radio.sh start --port "$radio_port" --dir "$radio_dir" >/dev/null
  url=$upstream
fi

"$bin/casty-ingest" "$url" --port "$ingest_port" 2> >(tee "$work/ingest.log" >&2) &
ingest_pid=$!
for _ in $(seq 1 50); do
  curl -fsS "http://127.0.0.1:$ingest_port/status.json" >/dev/null 2>&1 && break
  sleep 0.2
done
echo
echo "run: relaying $url"
echo "run: listen at   http://127.0.0.1:$ingest_port/        (e.g. mpg123 http://127.0.0.1:$ingest_port/)"
echo "run: status at   http://127.0.0.1:$ingest_port/status.json"
echo "run: Ctrl-C stops"
wait "$ingest_pid"
