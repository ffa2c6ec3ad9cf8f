#!/usr/bin/env bash
# Decode throughput of the ICY segment decoder (release build), next to the cost of only copying
# the same bytes. Usage: Benchmarks/bench-decode.sh [megabytes=512] [rounds=5]
set -euo pipefail
cd "$(dirname "$0")/.."
swift build -c release --product ICYDecodeBenchmark >&2
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(swift --version 2>/dev/null | head -1)"
"$(swift build -c release --show-bin-path)/ICYDecodeBenchmark" "${1:-512}" "${2:-5}"
