#!/usr/bin/env bash
# Casty's fault harness: a fleet spread over network namespaces (one host per node, the local
# test radio on its own host, listeners on the leaves), put through the faults of a real network:
# pulled cables (3 s, 4 s), 10% packet loss, a killed node, a frozen node, a radio restart and an
# ingest restart. Reports, per fault, segments lost and repeated at every listener, the time until
# every listener is whole again, rejoins and the tree's depth; exits 1 if a target is missed.
#   scripts/netfleet.sh [--mirrors N=7] [--short] [--format F] [--out DIR] [harness options…]
#   scripts/netfleet.sh --format opus --short-ogg     (one kill and one freeze on an Ogg Opus fleet)
#   scripts/netfleet.sh --faults upgrade,upgrade-ingest,stop-start [--listeners-on-target 200]
# upgrade: an inner mirror with a child and 200 listeners upgraded in place to another build (the
# binary with bytes appended, started with --take-over); upgrade-ingest: the same for the ingest;
# stop-start: the mirror stopped and started instead, for comparison. Each reports the hand-over
# time, the longest pause at the node's and its child's players, the connections kept and the
# child's rejoins, besides what every fault reports.
# --format F: the test radio's format (scripts/test-radio.sh --format: mp3 (default), mp3-vbr, aac,
# vorbis, vorbis-chained, opus, flac). For Ogg, players' recordings are compared with the root's
# from their first audio page on, after their chain's header pages, and decoded with ffmpeg.
#   scripts/netfleet.sh --help     (every option)
# Needs root (ip netns, iptables). Binaries: release build, or $CASTY_BIN if set (a folder with
# casty-ingest, casty-mirror and casty-dummy). Every namespace (cnf-*) and process it starts is
# removed on exit, error, Ctrl-C or TERM. The report is OUT/report.md and OUT/report.json.
set -euo pipefail
cd "$(dirname "$0")/.."
for arg in "$@"; do
  if [ "$arg" = -h ] || [ "$arg" = --help ]; then exec /usr/bin/python3 scripts/netfleet/harness.py --help; fi
done
if [ "$(id -u)" != 0 ]; then
  echo "netfleet: needs root (network namespaces and iptables)" >&2
  exit 2
fi
for tool in ip ss iptables curl ffmpeg mpg123 icecast2; do
  command -v "$tool" >/dev/null || { echo "netfleet: $tool not found; run scripts/install-deps.sh" >&2; exit 2; }
done
if [ -z "${CASTY_BIN:-}" ]; then
  for product in casty-ingest casty-mirror casty-dummy; do
    swift build -c release --product "$product" >&2
  done
  CASTY_BIN=$(swift build -c release --show-bin-path)
fi
out=""
args=()
while [ $# -gt 0 ]; do
  case $1 in
    --out) out=${2:?--out needs a folder}; shift 2 ;;
    *) args+=("$1"); shift ;;
  esac
done
if [ -z "$out" ]; then
  out=$(mktemp -d "${TMPDIR:-/tmp}/casty-netfleet.XXXXXX")
fi
mkdir -p "$out"
# Icecast drops root for its own user and must reach its log folder inside $out.
chmod 755 "$out"
exec /usr/bin/python3 scripts/netfleet/harness.py --bin "$CASTY_BIN" --out "$out" "${args[@]}"
