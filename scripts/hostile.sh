#!/usr/bin/env bash
# Hostile input against a running Casty node, with real listeners watching.
#   scripts/hostile.sh [--short] [--keep]
#
# Builds the release binaries (swift build -c release --scratch-path .build-bench) unless
# CASTY_BIN names a folder holding casty-ingest, casty-mirror and casty-dummy; copies them into
# the run folder. Then, in two network namespaces joined by a veth pair (nothing on the host's
# network):
#   casty-hx-node  10.79.0.1: the test radio (Icecast), casty-ingest (:8000), casty-mirror m1
#                  (:8001, the node under attack, default limits), and its real listeners:
#                  20 peer observers (casty-dummy, counting gaps and repeats) and a real player
#                  (ffmpeg decoding the stream, counting decode errors);
#   casty-hx-evil  the attacker, with SOURCES (default 320) addresses 10.79.1.1 … on its veth,
#                  running scripts/hostile/attack.py: heads of 1 MiB, garbage requests (bad
#                  methods, paths, versions, headers, binary), forged / replayed / stale joins
#                  and loss reports (mirror and ingest), more than 64 connections from one
#                  address, then 10,000 idle connections (2,000 with --short), 200 slowloris
#                  clients (20), valid observers and players that never read (20 each; 3), and
#                  (full run only) the idle flood again, to show that memory is reused, not grown.
# The attacker samples the mirror's VmRSS / VmHWM every 0.2 s and its open files every second.
# Prints the Markdown tables (attack | sent | node's answer | time | RSS | pass, then checks and
# memory), writes RUN/hostile.json, exits 1 if any check fails. --short (for the test suite)
# takes about 90 s, the full run a few minutes. --keep keeps the run folder (logs) on success.
#
# Env: CASTY_BIN, SOURCES (attacker addresses, 170..1000), HOSTILE_JSON (where to copy the JSON).
# Needs root (ip netns), icecast2, ffmpeg, curl, /usr/bin/python3. Everything it starts is
# stopped, and both namespaces deleted, on exit, error, Ctrl-C or TERM; leftovers of a crashed
# earlier run (its namespaces and their processes) are removed at the start.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)

short=0 keep=0
for arg in "$@"; do
    case $arg in
        --short) short=1 ;;
        --keep) keep=1 ;;
        *) sed -n '2,28s/^# \{0,1\}//p' "$0" >&2; exit 2 ;;
    esac
done
sources=${SOURCES:-320}
[[ $sources =~ ^[0-9]+$ ]] && (( sources >= 170 && sources <= 1000 )) || { echo "hostile: SOURCES must be 170..1000" >&2; exit 2; }
(( EUID == 0 )) || { echo "hostile: needs root (network namespaces)" >&2; exit 1; }
for tool in ip icecast2 ffmpeg curl setsid; do
    command -v "$tool" >/dev/null || { echo "hostile: $tool not found" >&2; exit 1; }
done

py=/usr/bin/python3
attack="$repo/scripts/hostile/attack.py"
ns_node=casty-hx-node ns_evil=casty-hx-evil
node_ip=10.79.0.1 radio_port=18000 ingest_port=8000 mirror_port=8001
log() { echo "hostile: $*" >&2; }

# --- teardown ----------------------------------------------------------------------------------
# Every process this script starts runs in one of its two namespaces: ending the processes
# found there (by id) and deleting the namespaces removes all of it, also after a crash.
kill_namespace() {
    local ns=$1 pids i
    ip netns list 2>/dev/null | grep -qw "^$ns" || return 0
    for sig in TERM KILL; do
        pids=$(ip netns pids "$ns" 2>/dev/null | tr '\n' ' ')
        [[ -n ${pids// /} ]] || break
        # shellcheck disable=SC2086
        kill -s "$sig" $pids 2>/dev/null || true
        for (( i = 0; i < 50; i++ )); do
            [[ -z $(ip netns pids "$ns" 2>/dev/null) ]] && break
            sleep 0.1
        done
    done
    ip netns del "$ns" 2>/dev/null || true
}

run='' bg_pgids=()
cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    for pg in "${bg_pgids[@]}"; do kill -TERM -- "-$pg" 2>/dev/null || true; done
    if [[ -n $run && -d $run/radio ]]; then
        ip netns exec "$ns_node" "$repo/scripts/test-radio.sh" stop --dir "$run/radio" >/dev/null 2>&1 || true
    fi
    kill_namespace "$ns_evil"
    kill_namespace "$ns_node"
    if [[ -n $run && -d $run ]]; then
        if (( rc == 0 && keep == 0 )); then rm -rf "$run"; else log "run folder kept: $run"; fi
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

kill_namespace "$ns_evil"
kill_namespace "$ns_node"

# --- binaries ----------------------------------------------------------------------------------
if [[ -z ${CASTY_BIN:-} ]]; then
    log "building (release, --scratch-path .build-bench)"
    for exe in casty-ingest casty-mirror casty-dummy; do
        swift build -c release --scratch-path .build-bench --product "$exe" >&2
    done
    CASTY_BIN="$repo/.build-bench/release"
fi
run=$(mktemp -d "${TMPDIR:-/tmp}/casty-hostile.XXXXXX")
chmod 755 "$run"   # icecast2 drops root for its own user and must traverse it
mkdir -p "$run/bin"
for exe in casty-ingest casty-mirror casty-dummy; do
    [[ -x $CASTY_BIN/$exe ]] || { log "no $exe in $CASTY_BIN"; exit 1; }
    cp "$CASTY_BIN/$exe" "$run/bin/"
done
start_time=$(date +%s)

# --- namespaces --------------------------------------------------------------------------------
ip netns add "$ns_node"
ip netns add "$ns_evil"
ip -n "$ns_node" link add hx-node type veth peer name hx-evil netns "$ns_evil"
ip -n "$ns_node" link set lo up
ip -n "$ns_evil" link set lo up
ip -n "$ns_node" addr add "$node_ip/16" dev hx-node
"$py" "$attack" sources "$sources" | sed "s|^|addr add |; s|\$|/16 dev hx-evil|" | ip -n "$ns_evil" -batch -
ip -n "$ns_node" link set hx-node up
ip -n "$ns_evil" link set hx-evil up
for ns in "$ns_node" "$ns_evil"; do
    ip netns exec "$ns" sysctl -qw net.core.somaxconn=4096 net.ipv4.tcp_max_syn_backlog=8192 net.ipv4.ip_local_port_range="10000 65000"
done
for (( i = 0; i < 50; i++ )); do
    ip netns exec "$ns_evil" ping -c1 -W1 -I 10.79.1.1 "$node_ip" >/dev/null 2>&1 && break
    sleep 0.1
done

# bg NAME NS COMMAND…: runs COMMAND in namespace NS in a process group of its own, output in
# RUN/NAME.log; records the group.
bg() {
    local name=$1 ns=$2
    shift 2
    setsid ip netns exec "$ns" "$@" >"$run/$name.log" 2>&1 &
    bg_pgids+=("$!")
    eval "pid_${name//-/_}=$!"
}

# --- the node ----------------------------------------------------------------------------------
ulimit -n 20000
log "starting the test radio on $node_ip:$radio_port"
radio_url=$(ip netns exec "$ns_node" "$repo/scripts/test-radio.sh" start --port "$radio_port" --bind "$node_ip" --dir "$run/radio" --max-clients 10 | sed -n 's/^url=//p')
[[ -n $radio_url ]] || { log "the test radio did not start"; exit 1; }
secret=$(od -An -tx1 -N16 /dev/urandom | tr -d ' \n')
cat >"$run/fleet.json" <<EOF
{
  "upstream": "$radio_url",
  "fanout": 2,
  "secret": "$secret",
  "ingest": {"name": "root", "host": "$node_ip", "port": $ingest_port},
  "mirrors": [{"name": "m1", "host": "$node_ip", "port": $mirror_port}]
}
EOF
bg ingest "$ns_node" "$run/bin/casty-ingest" --fleet "$run/fleet.json"
bg mirror "$ns_node" "$run/bin/casty-mirror" --fleet "$run/fleet.json" --name m1
mirror_pid=''
for (( i = 0; i < 150; i++ )); do
    json=$(ip netns exec "$ns_node" curl -fsS --max-time 1 "http://$node_ip:$mirror_port/status.json" 2>/dev/null || true)
    if [[ $json == *'"parent":"root"'* || $json == *'"parent": "root"'* ]] && [[ $json != *'"seq":null'* ]]; then
        mirror_pid=$(ip netns pids "$ns_node" | while read -r p; do
            [[ $(readlink "/proc/$p/exe" 2>/dev/null) == "$run/bin/casty-mirror" ]] && echo "$p"; done | head -1)
        break
    fi
    sleep 0.2
done
[[ -n $mirror_pid ]] || { log "the mirror did not join (see $run/mirror.log)"; tail -5 "$run/mirror.log" >&2; exit 1; }
log "mirror m1 joined (pid $mirror_pid); run folder $run"

# --- its real listeners ------------------------------------------------------------------------
if (( short )); then listen_s=60; else listen_s=100; fi
stream="http://$node_ip:$mirror_port/"
bg dummy "$ns_node" "$run/bin/casty-dummy" "$stream" --clients 20 --seconds "$listen_s" --fleet "$run/fleet.json" --name listener
bg player "$ns_node" ffmpeg -nostdin -v error -i "$stream" -t $(( listen_s + 60 )) -f null -
sleep 2

# --- the attacks -------------------------------------------------------------------------------
attack_args=(run --mirror "$node_ip:$mirror_port" --ingest "$node_ip:$ingest_port" --fleet "$run/fleet.json"
    --mirror-pid "$mirror_pid" --sources "$sources" --out "$run/attacks.json")
(( short )) && attack_args+=(--short)
attack_start=$(date +%s)
setsid ip netns exec "$ns_evil" "$py" "$attack" "${attack_args[@]}" 2> >(tee "$run/attack.log" >&2) &
attack_pg=$!
bg_pgids+=("$attack_pg")
attack_rc=0
wait "$attack_pg" || attack_rc=$?
log "attacks took $(( $(date +%s) - attack_start )) s (exit $attack_rc)"
[[ -f $run/attacks.json ]] || { log "the attacks did not finish (see $run/attack.log)"; exit 1; }

# --- the verdict -------------------------------------------------------------------------------
dummy_rc=0 covered=1
kill -0 "$pid_dummy" 2>/dev/null || covered=0
wait "$pid_dummy" || dummy_rc=$?
if (( ! covered )); then
    log "the listeners' run ended before the attacks did: they did not watch all of it (raise listen_s)"
    dummy_rc=98
fi
player_rc=0
if kill -0 "$pid_player" 2>/dev/null; then
    kill -INT -- "-$pid_player" 2>/dev/null || true
    wait "$pid_player" || player_rc=$?
    (( player_rc == 255 )) && player_rc=0   # ffmpeg's exit status after an interrupt
else
    wait "$pid_player" || player_rc=$?
    log "the player ended early (exit $player_rc; see $run/player.log)"
    (( player_rc == 0 )) && player_rc=1
fi
out_json=${HOSTILE_JSON:-$run/hostile.json}
report_rc=0
ip netns exec "$ns_evil" "$py" "$attack" report --result "$run/attacks.json" --dummy-out "$run/dummy.log" --dummy-rc "$dummy_rc" \
    --player-err "$run/player.log" --player-rc "$player_rc" --mirror "$node_ip:$mirror_port" --mirror-pid "$mirror_pid" --json "$out_json" || report_rc=$?
log "total $(( $(date +%s) - start_time )) s; JSON: $out_json"
if (( report_rc != 0 )); then keep=1; fi
exit "$report_rc"
