#!/usr/bin/env bash
# Runs every test: unit, property and integration tests (integration tests start real
# processes on loopback ports they pick, and stop them).
set -euo pipefail
cd "$(dirname "$0")/.."
swift build --build-tests
swift test --skip-build
