#!/usr/bin/env bash
# Stops exactly the nodes scripts/fleet-up.sh started in DIR (from their PID files).
#   scripts/fleet-down.sh DIR
set -uo pipefail
dir=${1:?usage: fleet-down.sh DIR}
for pidfile in "$dir"/*.pid; do
  [ -e "$pidfile" ] || continue
  pid=$(cat "$pidfile")
  if kill -0 "$pid" 2>/dev/null && grep -q casty /proc/"$pid"/cmdline 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null
    # A zombie (exited, not yet reaped by its parent) has an empty cmdline: it counts as gone.
    for _ in $(seq 1 50); do grep -q casty /proc/"$pid"/cmdline 2>/dev/null || break; sleep 0.1; done
    grep -q casty /proc/"$pid"/cmdline 2>/dev/null && kill -KILL "$pid" 2>/dev/null
  fi
  rm -f "$pidfile"
done
echo "fleet: stopped ($dir)"
