#!/usr/bin/env bash
# Runs every test: unit, property and integration tests (integration tests start real
# processes on loopback ports they pick, and stop them), the upgrade scripts' self-test, then,
# when this machine allows network namespaces (as root), the short fault harness (one fault of
# each kind on a 7-mirror fleet over namespaces) and the short hostile-input run against a live
# node, and last the smoke test of the README's run command (scripts/run-smoke.py). Says how long
# each part took.
set -euo pipefail
cd "$(dirname "$0")/.."
started=$SECONDS
step_started=$SECONDS
took() {  # WHAT: how long the part that just ended took
  echo "test: $1 took $((SECONDS - step_started)) s"
  step_started=$SECONDS
}

swift build --build-tests
took "the debug build"
# The release build that the README's run command makes (and the smoke test at the end runs)
# compiles meanwhile at the lowest CPU priority: the integration tests mostly wait on audio
# playing in real time, and the harnesses on faults, so it uses the time they leave, and gives
# way whenever they need a core. `--ignore-lock` below: it holds SwiftPM's lock on .build, and
# what runs meanwhile only reads the debug build, which it does not write.
release_log=$(mktemp "${TMPDIR:-/tmp}/casty-release-build.XXXXXX")
(for product in casty-ingest casty-mirror casty-dummy; do
  nice -n 19 swift build -c release --product "$product" || exit 1
done) >"$release_log" 2>&1 &
release_build=$!
stop_release_build() { pkill -P "$release_build" 2>/dev/null || true; }
trap stop_release_build EXIT

# The unit and in-process tests, and the integration tests (real Icecast, ffmpeg, Python,
# Chromium and Casty processes), which run only with CASTY_INTEGRATION=1.
CASTY_INTEGRATION=1 swift test --skip-build --ignore-lock
took "the unit and integration tests"
# The upgrade scripts (scripts/rolling-upgrade.sh, deploy/casty-take-over) against stand-in nodes.
scripts/tests/rolling-upgrade-selftest.sh
took "the upgrade scripts' self-test"

if [ "$(id -u)" = 0 ] && ip netns add casty-test-probe 2>/dev/null; then
  ip netns del casty-test-probe
  bin=$(swift build --show-bin-path --ignore-lock)
  run_harness() {  # NAME SCRIPT ARGS…: keeps the logs only when it fails
    local name=$1 script=$2 out
    shift 2
    out=$(mktemp -d "${TMPDIR:-/tmp}/casty-$name.XXXXXX")
    echo "test: $name ($script $*)"
    if CASTY_BIN=$bin "$script" "$@" --out "$out"; then
      rm -rf "$out"
    else
      echo "test: $name FAILED; logs in $out" >&2
      return 1
    fi
    took "$name"
  }
  run_harness netfleet scripts/netfleet.sh --short
  # The same over an Ogg Opus radio (a new chain every 12 s): one kill and one freeze, about a minute.
  run_harness netfleet-ogg scripts/netfleet.sh --format opus --short-ogg
  echo "test: hostile input (scripts/hostile.sh --short)"
  CASTY_BIN=$bin scripts/hostile.sh --short
  took "the hostile-input run"
else
  echo "test: skipping the fault harness and the hostile-input run: they need root and network namespaces"
fi

if ! wait "$release_build"; then
  cat "$release_log" >&2
  echo "test: the release build failed" >&2
  exit 1
fi
rm -f "$release_log"
took "the rest of the release build"
# The README's run command, end to end, as a newcomer runs it (its release build is a no-op now).
scripts/run-smoke.py
took "the smoke test of the run command"
echo "test: everything passed in $((SECONDS - started)) s"
