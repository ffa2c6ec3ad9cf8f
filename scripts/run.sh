#!/usr/bin/env bash
# Casty's main job: a local fleet (the ingest and the mirrors of a fleet file) relaying a radio.
#   scripts/run.sh [--fleet FILE] [URL]
# With no URL, starts the embedded local test radio (Icecast 2 + ffmpeg, scripts/test-radio.sh)
# on the fleet file's upstream port and relays it; with a URL, relays that radio instead.
# FILE defaults to fleet.json (the ingest and three mirrors on 127.0.0.1:8000-8003).
# Prints every node's stream and status URL. Ctrl-C (SIGINT) or SIGTERM stops everything this
# script started. Works as root and as an ordinary user; its files go to a new folder under
# $TMPDIR (or /tmp), printed at the start and at the end.
set -euo pipefail
cd "$(dirname "$0")/.."

usage() { sed -n '2,9s/^# \{0,1\}//p' "$0" >&2; exit 2; }
die() { echo "run: $*" >&2; exit 1; }

fleet_in=fleet.json
url=""
while (( $# )); do
  case $1 in
    --fleet) fleet_in=${2:?--fleet needs a file}; shift 2 ;;
    -h|--help) usage ;;
    -*) die "unknown option $1 (scripts/run.sh --help)" ;;
    *) [ -z "$url" ] || die "give at most one URL (scripts/run.sh --help)"; url=$1; shift ;;
  esac
done
[ -r "$fleet_in" ] || die "cannot read the fleet file $fleet_in"
for tool in swift python3 curl; do
  command -v "$tool" >/dev/null || die "$tool not found: run scripts/install-deps.sh first"
done
json() {  # json FILE EXPR: a value of the fleet file, as Python sees it
  python3 -c 'import json,sys; f=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"
}
json "$fleet_in" 'f["upstream"], f["ingest"]["port"]' >/dev/null 2>&1 \
  || die "$fleet_in is not a fleet file (JSON with upstream, ingest and mirrors; see fleet.json)"

# A radio given by URL must answer before anything is built or started: a mistyped URL gets one
# line, not a fleet that retries for ever.
if [ -n "$url" ]; then
  case $url in http://*|https://*) ;; *) die "'$url' is not an http:// or https:// URL" ;; esac
  set +e
  code=$(curl -s -o /dev/null --http0.9 --max-time 4 -H 'Icy-MetaData: 1' -w '%{http_code}' "$url" 2>/dev/null)
  rc=$?
  set -e
  case $rc in
    6) die "cannot resolve the host of $url: check the URL" ;;
    7) die "cannot connect to $url (nothing listens there): check the URL, or start the radio first" ;;
    35|51|58|60|77) die "TLS failed for $url (curl error $rc): check the URL, or the radio's certificate" ;;
  esac
  if [[ $code =~ ^[45] ]]; then die "$url answered HTTP $code: check the URL's path"; fi
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/casty-run.XXXXXX")
fleet="$work/fleet.json"
radio_dir=""
fleet_dir="$work/fleet"
echo "run: files in $work"

swift build -c release --product casty-ingest
swift build -c release --product casty-mirror
export CASTY_BIN
CASTY_BIN="$(swift build -c release --show-bin-path)"

cleanup() {
  trap - EXIT INT TERM
  scripts/fleet-down.sh "$fleet_dir" >/dev/null 2>&1 || true
  if [ -n "$radio_dir" ]; then scripts/test-radio.sh stop --dir "$radio_dir" >/dev/null 2>&1 || true; fi
  echo "run: stopped (logs in $work)"
}
trap cleanup EXIT
trap 'exit 0' INT TERM

if [ -z "$url" ]; then
  cp "$fleet_in" "$fleet"
  upstream=$(json "$fleet" 'f["upstream"]')
  radio_port=$(python3 -c 'import sys,urllib.parse; print(urllib.parse.urlsplit(sys.argv[1]).port or 80)' "$upstream")
  radio_dir="$work/radio"
  echo "run: starting the local test radio on port $radio_port"
  scripts/test-radio.sh start --port "$radio_port" --dir "$radio_dir" >/dev/null
else
  python3 -c 'import json,sys; f=json.load(open(sys.argv[1])); f["upstream"]=sys.argv[2]; json.dump(f, open(sys.argv[3], "w"), indent=2)' "$fleet_in" "$url" "$fleet"
fi
echo "run: relaying $(json "$fleet" 'f["upstream"]')"
scripts/fleet-up.sh "$fleet" "$fleet_dir"
first_mirror=$(json "$fleet" '"http://%s:%d/" % (f["mirrors"][0]["host"], f["mirrors"][0]["port"]) if f["mirrors"] else "http://%s:%d/" % (f["ingest"]["host"], f["ingest"]["port"])')
echo "run: listen with e.g. mpg123 $first_mirror ; Ctrl-C stops"
echo "run: upgrade it in place with: scripts/rolling-upgrade.sh $fleet_dir"
# The ingest's PID file is read again every second: an upgrade (scripts/rolling-upgrade.sh) puts a
# new process in it, a moment after the old one exited; only 3 s without a live ingest end the run.
ingest_pidfile="$fleet_dir/$(json "$fleet" 'f["ingest"]["name"]').pid"
misses=0
while [ $misses -lt 3 ]; do
  pid=$(cat "$ingest_pidfile" 2>/dev/null || true)
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then misses=0; else misses=$((misses + 1)); fi
  sleep 1
done
die "the ingest stopped (see $fleet_dir/*.log)"
