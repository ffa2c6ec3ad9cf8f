#!/usr/bin/env bash
# CPU cost of relaying one 128 kbps stream to 0, 100 and 1000 players: casty-ingest next to
# Icecast 2 serving the same players directly (the peer).
#   Benchmarks/bench-ingest.sh [SECONDS=20]
#
# Starts the local test radio (scripts/test-radio.sh, Icecast 2 + ffmpeg) on a free port, raises
# its client limit, starts a release casty-ingest pulling it, waits until casty's /status.json
# says upstream "connected" with seq >= 3, then for N in 0 100 1000, for server in icecast casty,
# runs Benchmarks/bench/loadgen.py (N players, Icy-MetaData: 1) against that server and measures
# the server process over the loadgen's hold window (SECONDS, after the ramp and a 2 s settle):
# CPU seconds per wall second (utime+stime from /proc/PID/stat) and VmRSS at the end. N=0 is
# the idle cost of both over SECONDS. Casty's cost includes pulling the upstream; Icecast's
# includes receiving its source. CPU s/s is a fraction of ONE core (this machine: `nproc`).
# Also shown: the loadgen's own CPU over the window, per-player audio rate min/median (B/s, from
# each player's first to last receive in the window; 128 kbps = 16000), players still connected/
# failed/dropped, and the longest gap a player received nothing.
#
# Env: BENCH_CLIENTS (default "0 100 1000"), BENCH_JSON (default RUN/bench-ingest.json),
#      CASTY_INGEST (a prebuilt binary; default: build with --scratch-path .build-bench).
# Prints the table on stdout, the JSON path and the run dir (logs) on stderr. Stops everything
# it started on exit, error, Ctrl-C or TERM.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)

seconds=${1:-20}
[[ $seconds =~ ^[0-9]+$ ]] && (( seconds >= 1 && seconds <= 600 )) \
    || { echo "usage: $0 [SECONDS=20] (1..600)" >&2; exit 2; }
read -r -a counts <<< "${BENCH_CLIENTS:-0 100 1000}"
max_n=0
for n in "${counts[@]}"; do
    [[ $n =~ ^[0-9]+$ ]] && (( n <= 10000 )) || { echo "bench: bad BENCH_CLIENTS entry: $n" >&2; exit 2; }
    (( n > max_n )) && max_n=$n
done

log() { echo "bench: $*" >&2; }

# --- build --------------------------------------------------------------------------------------
if [[ -n ${CASTY_INGEST:-} ]]; then
    casty_bin=$CASTY_INGEST
else
    log "building casty-ingest (release, --scratch-path .build-bench)"
    swift build -c release --product casty-ingest --scratch-path .build-bench >&2
    casty_bin="$repo/.build-bench/release/casty-ingest"
fi
[[ -x $casty_bin ]] || { log "no casty-ingest binary at $casty_bin"; exit 1; }

# Enough descriptors for 1000 players, inherited by icecast2, casty-ingest and the loadgen.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

run=$(mktemp -d "${TMPDIR:-/tmp}/casty-bench-ingest.XXXXXX")
chmod 755 "$run"   # icecast2 (dropped to its own user as root) must traverse it
radio="$run/radio"
out_json=${BENCH_JSON:-$run/bench-ingest.json}
loadgen="$repo/Benchmarks/bench/loadgen.py"
clk_tck=$(getconf CLK_TCK)

radio_started=0
casty_pid=''
lg_pid=''
icecast_pid=''

# stop_pid PID: TERM, wait <= 5 s, then KILL (only our own children).
stop_pid() {
    local pid=$1 i
    [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null || return 0
    kill -TERM "$pid" 2>/dev/null || true
    for (( i = 0; i < 50; i++ )); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null || true
}

cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    set +e
    stop_pid "$lg_pid"
    stop_pid "$casty_pid"
    (( radio_started )) && "$repo/scripts/test-radio.sh" stop --dir "$radio" >&2
    [[ -n ${sleep_fd:-} ]] && exec {sleep_fd}>&-
    # Nothing of this run may survive (other icecast2/casty processes are not ours).
    local left
    left=$( { pgrep -a icecast2; pgrep -a casty-ingest; pgrep -af loadgen; } 2>/dev/null \
            | grep -F -e "$run" -e "--port ${casty_port:-none} " | grep -v -e pgrep -e grep )
    if [[ -n $left ]]; then log "LEFT BEHIND:"; echo "$left" >&2; rc=1; fi
    log "run dir (logs): $run"
    exit "$rc"
}
# On INT/TERM: exit at once, unless inside nap's `read -t` (exiting from a trap run inside
# `read -t` leaves its timer armed, and bash 5.2 then aborts with "longjmp causes uninitialized
# stack frame" during cleanup); nap exits right after read returns.
stop_rc=0
in_nap=0
on_signal() { stop_rc=$1; (( in_nap )) || exit "$1"; }
trap cleanup EXIT
trap 'on_signal 130' INT
trap 'on_signal 143' TERM

# A sleep that forks nothing (polling must not cost CPU next to what we measure). Keep each nap
# short: a signal is acted upon when the nap ends.
mkfifo "$run/.sleep"
exec {sleep_fd}<>"$run/.sleep"
nap() {
    in_nap=1
    read -r -t "$1" -u "$sleep_fd" _ || true
    in_nap=0
    (( stop_rc == 0 )) || exit "$stop_rc"
}

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# alive_pid PID: exists and is not a zombie (builtins only: it is polled during measurements).
alive_pid() {
    local l
    [[ -n $1 ]] || return 1
    read -r l 2>/dev/null < "/proc/$1/stat" || return 1
    l=${l##*) }
    [[ ${l:0:1} != Z ]]
}

# ticks PID: utime+stime of the whole process (all threads), in clock ticks.
ticks() {
    local line rest
    read -r line 2>/dev/null < "/proc/$1/stat" || { echo 0; return; }
    rest=${line##*) }
    # shellcheck disable=SC2086
    set -- $rest   # $1 is field 3 (state): utime = field 14 = $12, stime = field 15 = $13
    echo $(( ${12} + ${13} ))
}
rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }

# --- test radio ---------------------------------------------------------------------------------
load_start=$(cut -d' ' -f1-3 /proc/loadavg)
others=$(pgrep -af '(^|/)(casty-ingest|casty-mirror|swift-build|swift-frontend|icecast2|[A-Za-z]*PackageTests.xctest)( |$)' || true)
if [[ -n $others ]]; then
    log "warning: other casty/icecast2/swift processes are running, the figures will be noisy:"
    cut -c1-160 <<< "$others" >&2
fi
ice_port=$(free_port)
log "starting the test radio on 127.0.0.1:$ice_port"
radio_started=1
radio_out=$("$repo/scripts/test-radio.sh" start --port "$ice_port" --dir "$radio")
ice_url=$(sed -n 's/^url=//p' <<< "$radio_out")
icecast_pid=$(<"$radio/icecast.pid")
alive_pid "$icecast_pid" || { log "icecast2 is not running"; exit 1; }

# Icecast's generated config allows 100 clients (listeners + source + casty + probes).
need=$(( max_n + 100 ))
cur=$(sed -n 's:.*<clients>\([0-9]*\)</clients>.*:\1:p' "$radio/icecast.xml" | head -n 1)
if (( ${cur:-0} < need )); then
    log "raising Icecast <clients> from ${cur:-?} to $need (edit icecast.xml, SIGHUP)"
    sed -i "s:<clients>[0-9]*</clients>:<clients>$need</clients>:" "$radio/icecast.xml"
    if (( EUID == 0 )); then
        # icecast2 rereads the file after dropping privileges; test-radio.sh wrote it 0600 root.
        chgrp "$(id -gn icecast2)" "$radio/icecast.xml"
        chmod 640 "$radio/icecast.xml"
    fi
    before=$(grep -c 're-reading config' "$radio/log/error.log" || true)
    kill -HUP "$icecast_pid"
    for (( i = 0; i < 50; i++ )); do
        (( $(grep -c 're-reading config' "$radio/log/error.log" || true) > before )) && break
        nap 0.1
    done
    (( i < 50 )) || { log "icecast2 did not log a config reload after SIGHUP"; exit 1; }
    nap 0.5
    if (( max_n > 100 )); then
        probe=$(python3 "$loadgen" --url "$ice_url" --clients 120 --seconds 0.5 --settle 0 --ramp-timeout 8)
        ok=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["connected"])' "$probe")
        (( ok == 120 )) || { log "Icecast client limit not raised: $ok/120 players connected: $probe"; exit 1; }
        log "Icecast client limit raised: 120/120 probe players connected"
    fi
fi

# --- casty-ingest -------------------------------------------------------------------------------
casty_port=$(free_port)
casty_url="http://127.0.0.1:$casty_port/"
log "starting casty-ingest on 127.0.0.1:$casty_port (stderr: $run/casty-ingest.log)"
"$casty_bin" "$ice_url" --port "$casty_port" --host 127.0.0.1 </dev/null >"$run/casty-ingest.log" 2>&1 &
casty_pid=$!

status() { curl -s --max-time 2 "${casty_url}status.json" 2>/dev/null || true; }
jget() { python3 -c 'import json,sys
try: d=json.loads(sys.argv[1])
except Exception: sys.exit(0)
for k in sys.argv[2].split("."): d=(d or {}).get(k) if isinstance(d,dict) else None
print("" if d is None else d)' "$1" "$2"; }

ready=0
for (( i = 0; i < 60; i++ )); do
    alive_pid "$casty_pid" || { log "casty-ingest exited:"; tail -n 30 "$run/casty-ingest.log" >&2; exit 1; }
    st=$(status)
    if [[ $(jget "$st" upstream.state) == connected ]] && (( $(jget "$st" seq || echo 0) + 0 >= 3 )) 2>/dev/null; then
        ready=1; break
    fi
    nap 0.5
done
(( ready )) || { log "casty-ingest not connected with seq >= 3 after 30 s: $st"; tail -n 30 "$run/casty-ingest.log" >&2; exit 1; }
log "casty-ingest relaying (seq $(jget "$st" seq), title: $(jget "$st" title))"

# listeners_now SERVER: current listener count.
listeners_now() {
    if [[ $1 == casty ]]; then
        jget "$(status)" listeners
    else
        python3 - "$ice_url" <<'PY' 2>/dev/null || echo ''
import json, sys, urllib.request, urllib.parse
u = urllib.parse.urlsplit(sys.argv[1])
d = json.load(urllib.request.urlopen(f"{u.scheme}://{u.netloc}/status-json.xsl", timeout=2))
src = d.get("icestats", {}).get("source", [])
src = src if isinstance(src, list) else [src]
print(sum(s.get("listeners", 0) for s in src if s.get("listenurl", "").endswith(u.path)))
PY
    fi
}

# settle SERVER BASE: wait (<= 15 s) until the previous players are gone (casty keeps 1 listener
# on Icecast).
settle() {
    local i n
    for (( i = 0; i < 30; i++ )); do
        n=$(listeners_now "$1")
        [[ $n =~ ^[0-9]+$ ]] && (( n <= $2 )) && return 0
        nap 0.5
    done
    log "warning: $1 still reports ${n:-?} listeners before the next run"
}

results="$run/results.tsv"
: > "$results"

# --- N = 0: idle cost of both, same window ------------------------------------------------------
# measure_idle: both servers over SECONDS.
measure_idle() {
    local t0 t1 i0 i1 c0 c1
    t0=$EPOCHREALTIME; i0=$(ticks "$icecast_pid"); c0=$(ticks "$casty_pid")
    local i
    for (( i = 0; i < seconds * 10; i++ )); do nap 0.1; done
    t1=$EPOCHREALTIME; i1=$(ticks "$icecast_pid"); c1=$(ticks "$casty_pid")
    printf 'icecast\t0\t%s\t%s\t%s\t%s\t%s\t\t%s\n' "$t0" "$t1" "$i0" "$i1" "$(rss_kb "$icecast_pid")" "$icecast_pid" >> "$results"
    printf 'casty\t0\t%s\t%s\t%s\t%s\t%s\t\t%s\n' "$t0" "$t1" "$c0" "$c1" "$(rss_kb "$casty_pid")" "$casty_pid" >> "$results"
}

# measure SERVER PID URL N: loadgen with N players; server and loadgen over the hold window.
measure() {
    local server=$1 pid=$2 url=$3 n=$4 tag="$1-$4" i t0 t1 s0 s1 rss
    local ready="$run/$tag.ready" done="$run/$tag.done" out="$run/loadgen-$tag.json"
    rm -f "$ready" "$done"
    python3 "$loadgen" --url "$url" --clients "$n" --seconds "$seconds" --metadata \
        --ramp-timeout 20 --head-timeout 16 \
        --ready-file "$ready" --done-file "$done" >"$out" 2>"$run/loadgen-$tag.log" &
    lg_pid=$!
    # ramp (<= 20 s: Icecast's listen backlog is 5, overflowing SYNs are retried after 1, 3, 7,
    # 15 s) + settle (2 s) + slack
    for (( i = 0; i < 2500; i++ )); do
        [[ -e $ready ]] && break
        alive_pid "$lg_pid" || break
        nap 0.01
    done
    t0=$EPOCHREALTIME; s0=$(ticks "$pid")
    [[ -e $ready ]] || log "warning: loadgen ($tag) never started its hold window"
    for (( i = 0; i < (seconds + 10) * 100; i++ )); do
        [[ -e $done ]] && break
        alive_pid "$lg_pid" || break
        nap 0.01
    done
    t1=$EPOCHREALTIME; s1=$(ticks "$pid"); rss=$(rss_kb "$pid")
    [[ -e $done ]] || log "warning: loadgen ($tag) did not finish its hold window in time"
    for (( i = 0; i < 100; i++ )); do
        alive_pid "$lg_pid" || break
        nap 0.1
    done
    stop_pid "$lg_pid"
    wait "$lg_pid" 2>/dev/null || true
    lg_pid=''
    alive_pid "$pid" || { log "$server (pid $pid) DIED during the N=$n run"; }
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$server" "$n" "$t0" "$t1" "$s0" "$s1" "$rss" "$out" "$pid" >> "$results"
}

for n in "${counts[@]}"; do
    if (( n == 0 )); then
        log "N=0: idle, ${seconds} s"
        measure_idle
        continue
    fi
    for server in icecast casty; do
        if [[ $server == icecast ]]; then pid=$icecast_pid url=$ice_url base=1; else pid=$casty_pid url=$casty_url base=0; fi
        settle "$server" "$base"
        alive_pid "$pid" || { log "$server is not running"; tail -n 30 "$run/casty-ingest.log" >&2; exit 1; }
        log "N=$n: $server, ramp + 2 s settle + ${seconds} s"
        measure "$server" "$pid" "$url" "$n"
    done
done
curl -s --max-time 2 "${casty_url}status.json" > "$run/casty-status-end.json" || true

# --- report -------------------------------------------------------------------------------------
machine="$(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(uname -r), loadavg at start: $load_start, at end: $(cut -d' ' -f1-3 /proc/loadavg)"
versions="icecast2 $(dpkg-query -W -f '${Version}' icecast2 2>/dev/null || echo '?'), $("$casty_bin" --version 2>/dev/null || echo '?') (tree $(git -C "$repo" describe --always --dirty 2>/dev/null || echo '?')), $(python3 --version)"
python3 - "$results" "$out_json" "$clk_tck" "$seconds" "$machine" "$versions" "$run/casty-status-end.json" <<'PY'
import json, sys
results, out_json, clk, seconds, machine, versions, status_path = sys.argv[1:8]
clk = float(clk)
rows = {}
for line in open(results):
    f = line.rstrip("\n").split("\t")
    server, n = f[0], int(f[1])
    t0, t1, s0, s1, rss, lg, pid = float(f[2]), float(f[3]), int(f[4]), int(f[5]), int(f[6] or 0), f[7], f[8]
    wall = t1 - t0
    if s1 < s0 or not rss:  # /proc/PID was gone at the end: the server died
        r = {"pid": int(pid), "window_s": round(wall, 3), "died": True, "cpu_per_s": None, "rss_mb": None}
    else:
        r = {"pid": int(pid), "window_s": round(wall, 3), "cpu_ticks": s1 - s0, "cpu_s": round((s1 - s0) / clk, 3),
             "cpu_per_s": round((s1 - s0) / clk / wall, 4), "rss_mb": round(rss / 1024, 1)}
    if lg:
        try:
            r["loadgen"] = json.loads(open(lg).read().strip().splitlines()[-1])
            r["loadgen_cpu_per_s"] = r["loadgen"].get("loadgen_hold_cpu_per_s")
        except Exception as e:
            r["loadgen"] = {"error": f"no loadgen output ({e})"}
    rows.setdefault(n, {})[server] = r
try:
    status = json.load(open(status_path))
except Exception:
    status = None

def fmt(x, spec):
    return "-" if x is None else format(x, spec)

hdr = ["N", "icecast cpu s/s", "casty cpu s/s", "ratio casty/icecast", "icecast RSS MB", "casty RSS MB",
       "loadgen cpu s/s (ice / casty)", "min/median client rate B/s (ice / casty)",
       "players ok/failed/dropped (ice / casty)", "max gap s (ice / casty)"]
table = []
out = {"machine": machine, "versions": versions, "seconds": int(seconds),
       "cpu_unit": "CPU seconds per wall second of the server process (1.0 = one core busy)",
       "rate_unit": "audio bytes/s per player, first to last receive in the hold window (128 kbps = 16000)",
       "casty_status_end": status, "rows": []}
for n in sorted(rows):
    ice, cas = rows[n].get("icecast", {}), rows[n].get("casty", {})
    ic, cc = ice.get("cpu_per_s"), cas.get("cpu_per_s")
    ratio = (cc / ic) if (ic and cc is not None) else None
    def lgc(r):
        return fmt(r.get("loadgen_cpu_per_s"), ".3f") if "loadgen" in r else "-"
    def rate(r):
        lg = r.get("loadgen")
        if not lg or "rate_Bps" not in lg or lg["rate_Bps"]["min"] is None:
            return "-"
        return f'{lg["rate_Bps"]["min"]:.0f}/{lg["rate_Bps"]["median"]:.0f}'
    def ok(r):
        lg = r.get("loadgen")
        if not lg or "connected" not in lg:
            return "-"
        return f'{lg["alive_at_end"]}/{lg["failed"]}/{lg["dropped"]}'
    def gap(r):
        lg = r.get("loadgen")
        if not lg or "max_gap_s" not in lg or lg["max_gap_s"]["max"] is None:
            return "-"
        return f'{lg["max_gap_s"]["max"]:.2f}'
    table.append([str(n), fmt(ic, ".4f"), fmt(cc, ".4f"), fmt(ratio, ".2f"), fmt(ice.get("rss_mb"), ".1f"),
                  fmt(cas.get("rss_mb"), ".1f"), f"{lgc(ice)} / {lgc(cas)}", f"{rate(ice)} / {rate(cas)}",
                  f"{ok(ice)} / {ok(cas)}", f"{gap(ice)} / {gap(cas)}"])
    out["rows"].append({"n": n, "icecast": ice, "casty": cas, "ratio_casty_icecast": None if ratio is None else round(ratio, 3)})

print(f"machine: {machine}")
print(f"versions: {versions}")
print(f"window: {seconds} s per measurement (after ramp + 2 s settle); CPU s/s = fraction of one core, "
      f"resolution 1 tick = {1/clk:g} s = {1/clk/float(seconds):.4f} s/s; loadgen cpu = its own getrusage over the window")
print("| " + " | ".join(hdr) + " |")
print("| " + " | ".join("---" for _ in hdr) + " |")
for row in table:
    print("| " + " | ".join(row) + " |")
if status:
    print(f"casty status at end: listeners={status.get('listeners')} "
          f"dropped_slow_listeners={status.get('dropped_slow_listeners')} upstream={status.get('upstream', {}).get('state')} seq={status.get('seq')}")
with open(out_json, "w") as fh:
    json.dump(out, fh, indent=2)
    fh.write("\n")
print(f"json: {out_json}", file=sys.stderr)
PY
