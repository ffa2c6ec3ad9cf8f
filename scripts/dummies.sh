#!/usr/bin/env bash
# Starts N dummy clients against a node, or spread over a whole fleet, for a bounded time, and
# fails if any saw a gap or a repeat in the segment numbers.
#   scripts/dummies.sh N URL|FLEET.json [SECONDS=30]
# With a fleet file, clients are spread over every node of it (and prove its secret); with a URL,
# they use fleet.json's secret. Binaries: release build, or $CASTY_BIN if set.
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:?usage: dummies.sh N URL|FLEET.json [SECONDS]}
target=${2:?usage: dummies.sh N URL|FLEET.json [SECONDS]}
seconds=${3:-30}
if [ -z "${CASTY_BIN:-}" ]; then
  swift build -c release --product casty-dummy >&2
  CASTY_BIN=$(swift build -c release --show-bin-path)
fi
fleet=fleet.json
if [ -f "$target" ]; then
  fleet=$target
  mapfile -t urls < <(python3 -c 'import json,sys; f=json.load(open(sys.argv[1])); [print("http://%s:%d/" % (n["host"], n["port"])) for n in [f["ingest"]] + f["mirrors"]]' "$fleet")
else
  urls=("$target")
fi
echo "dummies: $n clients over ${#urls[@]} node(s) for ${seconds}s"
exec "$CASTY_BIN/casty-dummy" "${urls[@]}" --clients "$n" --seconds "$seconds" --fleet "$fleet"
