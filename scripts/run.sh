#!/usr/bin/env bash
# Casty's main job. For now (issue 2) the ingest only exists as a command line: build and show it.
set -euo pipefail
cd "$(dirname "$0")/.."
swift build -c release --product casty-ingest
"$(swift build -c release --show-bin-path)/casty-ingest" --help
