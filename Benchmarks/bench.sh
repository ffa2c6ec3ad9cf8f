#!/usr/bin/env bash
# Casty side by side with Icecast 2, in one run on this machine (issue 6).
#   Benchmarks/bench.sh [--quick] [--hold S] [--casty-counts LIST] [--icecast-counts LIST] [--out DIR]
#                    [--skip LIST]
#
# Starts the local test radio (scripts/test-radio.sh), an Icecast 2 relaying its mount (a second
# icecast2 with a <relay>, what people deploy) and a Casty fleet (casty-ingest + 2 mirrors)
# relaying the same radio, then measures, with the release load generator casty-loadgen (C,
# epoll, one process per 5000 listeners, each on its own loopback source address):
#   idle      ingest, mirror and relay CPU with no listener (ingest cost of one stream)
#   probe     time to reply, first audio byte and 64 KiB for one new listener, idle
#   load      N listeners (Icy-MetaData: 1, reading continuously) on a Casty MIRROR and on the
#             Icecast relay, the load growing through the counts; per count: server CPU-seconds
#             per second and RSS over the hold window, per-listener audio rate, drops; probes
#             again under 10,000 listeners
#   storm     10,000 listeners connecting within 2 s: who got a reply and audio within 1 s
#   browser   headless Chromium: page with <audio src=…> until currentTime advances
#   hops      a chain fleet (fanout 1, 10 mirrors): segment arrival at depth 0..10, peer observers
#   failover  a 15-mirror tree, observers on the leaves: SIGKILL an inner node, later SIGSTOP
#             another; time until every leaf is whole again, segments lost or repeated
#   slow      200 listeners that never read: the mirror's RSS before, with them, and dropped
# Output in DIR (default: a new folder under /tmp): one JSON file per measurement, results.json,
# table.md (also printed) and bench.png. --quick: small counts and short holds (development).
# --skip LIST: comma-separated steps to leave out (the names above).
#
# Needs what scripts/install-deps.sh installs plus python3-matplotlib; builds casty-ingest,
# casty-mirror and casty-loadgen in release (--scratch-path .build-bench) unless
# CASTY_BENCH_BIN names a folder holding them. The binaries are copied into DIR first. Takes about
# 8 minutes. Stops every process it started on exit, error, Ctrl-C or TERM, and checks that none
# is left.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
py=/usr/bin/python3

usage() { sed -n '2,30s/^# \{0,1\}//p' "$0" >&2; exit 2; }
log() { echo "bench: $(date +%H:%M:%S) $*" >&2; }
die() { log "error: $*"; exit 1; }

# --- options ------------------------------------------------------------------------------------
hold=15
casty_counts=1000,5000,10000,19000
icecast_counts=1000,5000,10000,19000
storm_n=10000
out=''
skip=','
quick=0
while (( $# )); do
    case $1 in
        --quick) quick=1; shift ;;
        --hold) hold=${2:?}; shift 2 ;;
        --casty-counts) casty_counts=${2:?}; shift 2 ;;
        --icecast-counts) icecast_counts=${2:?}; shift 2 ;;
        --out) out=${2:?}; shift 2 ;;
        --skip) skip=",${2:?},"; shift 2 ;;
        -h|--help) usage ;;
        *) log "unknown option: $1"; usage ;;
    esac
done
if (( quick )); then
    hold=4; casty_counts=100,500; icecast_counts=100,500; storm_n=500
fi
[[ $hold =~ ^[0-9]+$ ]] && (( hold >= 1 && hold <= 120 )) || die "--hold must be 1..120"
for l in "$casty_counts" "$icecast_counts"; do
    [[ $l =~ ^[0-9]+(,[0-9]+)*$ ]] || die "counts must be comma-separated numbers: $l"
done
largest() { tr ',' '\n' <<< "$1" | sort -n | tail -n 1; }
max_n=$(largest "$casty_counts,$icecast_counts")
(( max_n <= 19500 )) || die "at most 19,500 listeners: one server process may hold 20,000 open files"
want() { [[ $skip != *",$1,"* ]]; }
probe_at=10000
(( quick )) && probe_at=500

# --- binaries and run folder --------------------------------------------------------------------
[[ -x $py ]] || die "$py not found (apt-get install python3)"
for t in icecast2 ffmpeg curl; do command -v "$t" >/dev/null || die "$t not found (scripts/install-deps.sh)"; done
if [[ -z ${CASTY_BENCH_BIN:-} ]]; then
    log "building casty-ingest, casty-mirror, casty-loadgen (release, .build-bench)"
    for p in casty-ingest casty-mirror casty-loadgen; do
        swift build -c release --scratch-path .build-bench --product "$p" >&2
    done
    CASTY_BENCH_BIN=$repo/.build-bench/release
fi
run=${out:-$(mktemp -d "${TMPDIR:-/tmp}/casty-bench.XXXXXX")}
mkdir -p "$run/bin"
run=$(cd "$run" && pwd)
chmod 755 "$run"   # icecast2 (dropped to its own user) must traverse it
for p in casty-ingest casty-mirror casty-loadgen; do
    cp "$CASTY_BENCH_BIN/$p" "$run/bin/$p" || die "no $p in $CASTY_BENCH_BIN"
done
bin=$run/bin
ulimit -n "$(ulimit -Hn)"
(( $(ulimit -n) >= 20000 || quick )) || log "warning: open-file limit $(ulimit -n) < 20000"

# --- process bookkeeping and cleanup ------------------------------------------------------------
started=()          # PIDs of every long-lived process we started (servers)
radio_started=0
frozen=''
cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    set +e
    [[ -n $frozen ]] && kill -CONT "$frozen" 2>/dev/null
    local pid i
    for pid in "${started[@]}"; do kill -TERM "$pid" 2>/dev/null; done
    for (( i = 0; i < 50; i++ )); do
        local alive=0
        for pid in "${started[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
        (( alive )) || break
        sleep 0.1
    done
    for pid in "${started[@]}"; do kill -KILL "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; done
    (( radio_started )) && "$repo/scripts/test-radio.sh" stop --dir "$run/radio" >&2
    local left
    left=$(pgrep -af "$run/" | grep -v -e pgrep -e 'Benchmarks/bench.sh' || true)
    if [[ -n $left ]]; then log "LEFT BEHIND:"; echo "$left" >&2; rc=1; fi
    log "run dir: $run"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

free_port() { $py -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
ticks() { local l; read -r l < "/proc/$1/stat" || { echo 0; return; }; l=${l##*) }; set -- $l; echo $(( ${12} + ${13} )); }
rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
jget() { $py -c 'import json,sys
d=json.load(open(sys.argv[1]))
for k in sys.argv[2].split("."): d=d[int(k)] if isinstance(d,list) else d.get(k)
print(d)' "$1" "$2"; }

# wait_audio URL SECONDS: until URL serves audio (bounded).
wait_audio() {
    local i
    for (( i = 0; i < $2 * 2; i++ )); do
        (( $(curl -s --max-time 1 "$1" 2>/dev/null | head -c 4096 | wc -c) >= 4096 )) && return 0
        sleep 0.5
    done
    return 1
}

# --- machine ------------------------------------------------------------------------------------
load_start=$(cut -d' ' -f1-3 /proc/loadavg)
log "uptime at start: $(uptime)"
$py - "$run/machine.json" "$load_start" "$*" <<'PY'
import json, os, platform, subprocess, sys
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
mem = next((int(l.split()[1]) for l in open("/proc/meminfo") if l.startswith("MemTotal")), 0)
ice = subprocess.run(["dpkg-query", "-W", "-f=${Version}", "icecast2"], capture_output=True, text=True).stdout
json.dump({"cpu": cpu, "cores": os.cpu_count(), "mem_gib": round(mem / 2**20, 1), "kernel": platform.release(),
           "icecast2": ice, "loadavg_at_start": sys.argv[2], "args": sys.argv[3],
           "date": subprocess.run(["date", "-u", "+%Y-%m-%d %H:%M UTC"], capture_output=True, text=True).stdout.strip()},
          open(sys.argv[1], "w"))
PY
t_begin=$SECONDS

# --- the test radio, the Icecast relay, the Casty fleet ------------------------------------------
radio_port=$(free_port)
log "test radio on 127.0.0.1:$radio_port"
radio_started=1
radio_url=$("$repo/scripts/test-radio.sh" start --port "$radio_port" --dir "$run/radio" --max-clients 100 | sed -n 's/^url=//p')

relay_port=$(free_port)
mkdir -p "$run/relay/log"
if (( EUID == 0 )); then
    chown icecast2:"$(id -gn icecast2)" "$run/relay/log"
    owner="<changeowner><user>icecast2</user><group>$(id -gn icecast2)</group></changeowner>"
else
    owner=''
fi
cat > "$run/relay/icecast.xml" <<XML
<icecast>
    <location>Casty bench relay</location><admin>bench@localhost</admin><hostname>127.0.0.1</hostname>
    <limits>
        <clients>25000</clients><sources>4</sources><queue-size>524288</queue-size>
        <client-timeout>30</client-timeout><header-timeout>15</header-timeout>
        <source-timeout>10</source-timeout><burst-on-connect>1</burst-on-connect>
    </limits>
    <authentication>
        <source-password>bench-$RANDOM$RANDOM</source-password><admin-user>admin</admin-user>
        <admin-password>bench-$RANDOM$RANDOM</admin-password>
    </authentication>
    <listen-socket><port>$relay_port</port><bind-address>127.0.0.1</bind-address></listen-socket>
    <relay>
        <server>127.0.0.1</server><port>$radio_port</port><mount>/stream</mount>
        <local-mount>/stream</local-mount><on-demand>0</on-demand>
        <relay-shoutcast-metadata>1</relay-shoutcast-metadata>
    </relay>
    <fileserve>1</fileserve>
    <paths>
        <basedir>/usr/share/icecast2</basedir><logdir>$run/relay/log</logdir>
        <webroot>/usr/share/icecast2/web</webroot><adminroot>/usr/share/icecast2/admin</adminroot>
    </paths>
    <logging><accesslog>access.log</accesslog><errorlog>error.log</errorlog><loglevel>2</loglevel></logging>
    <security><chroot>0</chroot>$owner</security>
</icecast>
XML
chmod 644 "$run/relay/icecast.xml"
setsid icecast2 -c "$run/relay/icecast.xml" </dev/null >"$run/relay/log/icecast.out" 2>&1 &
relay_pid=$!
started+=("$relay_pid")
relay_url="http://127.0.0.1:$relay_port/stream"
log "Icecast relay on $relay_url (pid $relay_pid)"

# make_fleet FILE MIRRORS FANOUT: a fleet file on free loopback ports relaying the radio.
make_fleet() {
    $py - "$1" "$2" "$3" "$radio_url" <<'PY'
import json, socket, sys
path, mirrors, fanout, upstream = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
socks = [socket.socket() for _ in range(mirrors + 1)]
for s in socks:
    s.bind(("127.0.0.1", 0))
ports = [s.getsockname()[1] for s in socks]
for s in socks:
    s.close()
json.dump({"upstream": upstream, "fanout": fanout, "secret": "bench-" + socket.gethostname(),
           "ingest": {"name": "root", "host": "127.0.0.1", "port": ports[0]},
           "mirrors": [{"name": f"m{i}", "host": "127.0.0.1", "port": ports[i]} for i in range(1, mirrors + 1)]},
          open(path, "w"), indent=1)
PY
}
# start_fleet DIR: the ingest and every mirror of DIR/fleet.json; PIDs in DIR/NAME.pid. The nodes
# are disowned (the failover step SIGKILLs one, and bash would print "Killed" for it); stop_fleet
# and cleanup stop them by PID.
start_fleet() {
    local dir=$1 name port i
    "$bin/casty-ingest" --fleet "$dir/fleet.json" --log-level warning </dev/null >"$dir/root.log" 2>&1 &
    echo $! > "$dir/root.pid"; started+=("$!"); disown "$!"
    port=$(jget "$dir/fleet.json" ingest.port)
    for (( i = 0; i < 50; i++ )); do curl -s --max-time 1 "http://127.0.0.1:$port/status.json" >/dev/null && break; sleep 0.1; done
    while read -r name; do
        "$bin/casty-mirror" --fleet "$dir/fleet.json" --name "$name" --log-level warning </dev/null >"$dir/$name.log" 2>&1 &
        echo $! > "$dir/$name.pid"; started+=("$!"); disown "$!"
    done < <($py -c 'import json,sys; [print(m["name"]) for m in json.load(open(sys.argv[1]))["mirrors"]]' "$dir/fleet.json")
}
# stop_fleet DIR
stop_fleet() {
    local f pid i
    for f in "$1"/*.pid; do kill -TERM "$(<"$f")" 2>/dev/null || true; done
    for f in "$1"/*.pid; do
        pid=$(<"$f")
        for (( i = 0; i < 50; i++ )); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
}
# fleet_ready DIR N: until the root's /status.json lists N mirrors (bounded 20 s).
fleet_ready() {
    local port i
    port=$(jget "$1/fleet.json" ingest.port)
    for (( i = 0; i < 80; i++ )); do
        $py - "http://127.0.0.1:$port/status.json" "$2" <<'PY' && return 0
import json, sys, urllib.request
try:
    d = json.load(urllib.request.urlopen(sys.argv[1], timeout=1))
except Exception:
    sys.exit(1)
nodes = d.get("nodes")
n = len(nodes) if isinstance(nodes, list) else len(d.get("tree") or {}) + 1
sys.exit(0 if d.get("seq", 0) >= 2 and n >= int(sys.argv[2]) + 1 else 1)
PY
        sleep 0.25
    done
    return 1
}

mkdir -p "$run/fleet"
make_fleet "$run/fleet/fleet.json" 2 2
start_fleet "$run/fleet"
fleet_ready "$run/fleet" 2 || die "Casty fleet not ready (logs in $run/fleet)"
ingest_pid=$(<"$run/fleet/root.pid")
ingest_url="http://127.0.0.1:$(jget "$run/fleet/fleet.json" ingest.port)/"
mirror_pid=$(<"$run/fleet/m1.pid")
mirror_url="http://127.0.0.1:$(jget "$run/fleet/fleet.json" mirrors.0.port)/"
wait_audio "$mirror_url" 15 || die "Casty mirror m1 serves no audio"
wait_audio "$relay_url" 15 || die "the Icecast relay serves no audio (log: $run/relay/log/error.log)"
log "Casty fleet up: ingest pid $ingest_pid, mirror m1 $mirror_url (pid $mirror_pid)"

lg=("$bin/casty-loadgen")

# --- idle: ingest cost of one stream -------------------------------------------------------------
if want idle; then
    log "idle: 10 s, no listeners"
    i0=$(ticks "$ingest_pid"); m0=$(ticks "$mirror_pid"); r0=$(ticks "$relay_pid"); t0=$EPOCHREALTIME
    sleep 10
    i1=$(ticks "$ingest_pid"); m1=$(ticks "$mirror_pid"); r1=$(ticks "$relay_pid"); t1=$EPOCHREALTIME
    $py - "$run/idle.json" "$(getconf CLK_TCK)" "$t0" "$t1" "$i0" "$i1" "$m0" "$m1" "$r0" "$r1" \
        "$(rss_kb "$ingest_pid")" "$(rss_kb "$mirror_pid")" "$(rss_kb "$relay_pid")" <<'PY'
import json, sys
a = sys.argv
hz, t0, t1 = int(a[2]), float(a[3]), float(a[4])
c = lambda x, y: (int(y) - int(x)) / hz / (t1 - t0)
json.dump({"seconds": round(t1 - t0, 3), "ingest_cpu_s_per_s": c(a[5], a[6]), "mirror_cpu_s_per_s": c(a[7], a[8]),
           "icecast_relay_cpu_s_per_s": c(a[9], a[10]), "ingest_rss_kb": int(a[11]), "mirror_rss_kb": int(a[12]),
           "icecast_relay_rss_kb": int(a[13])}, open(a[1], "w"))
PY
fi

# --- probes on idle nodes ------------------------------------------------------------------------
if want probe; then
    log "probe: one new listener at a time, idle nodes"
    "${lg[@]}" --url "$mirror_url" --probe 300 --probe-seconds 6 > "$run/probe-idle-casty.json"
    "${lg[@]}" --url "$relay_url" --probe 300 --probe-seconds 8 > "$run/probe-idle-icecast.json"
fi

# --- load ----------------------------------------------------------------------------------------
# load NAME URL PID COUNTS RATE RAMP_TIMEOUT REFERENCE: RATE new listeners per second at most (0: as
# fast as 1024 pending allow; Icecast needs pacing: its listen backlog is 5, and a SYN dropped there
# costs the listener 1, 3, 7 … s). Real time is the rate of one listener of REFERENCE, the loaded
# node's own upstream (Casty's ingest, Icecast's master), over the same hold window: the same
# stream with the same chunking, so that only what the load does to delivery shows.
load() {
    log "load: $1 with $4 listeners (hold ${hold} s each)"
    local pa=()
    [[ ,$4, == *,$probe_at,* ]] && pa=(--probe 300 --probe-seconds 8 --probe-at "$probe_at")
    "${lg[@]}" --url "$2" --clients "$4" --server-pid "$3" --hold "$hold" --settle 3 --reference-url "$7" \
        --max-pending 1024 --rate "$5" --ramp-timeout "$6" --head-timeout 20 --procs "$(( ($(largest "$4") + 4999) / 5000 ))" \
        "${pa[@]}" > "$run/load-$1.json" 2> "$run/load-$1.log" || log "warning: loadgen for $1 exited $?"
}
# until_listeners_gone URL PID: wait (<= 20 s) until the server's open sockets drop back.
until_quiet() {
    local i n
    for (( i = 0; i < 40; i++ )); do
        n=$(ls "/proc/$1/fd" 2>/dev/null | wc -l)
        (( n < 200 )) && return 0
        sleep 0.5
    done
    log "warning: pid $1 still has $n open files"
}
if want load; then
    load casty "$mirror_url" "$mirror_pid" "$casty_counts" 0 60 "$ingest_url"
    until_quiet "$mirror_pid"
    load icecast "$relay_url" "$relay_pid" "$icecast_counts" 300 60 "$radio_url"
    until_quiet "$relay_pid"
fi

# --- storm ---------------------------------------------------------------------------------------
if want storm; then
    log "storm: $storm_n listeners within 2 s, Casty mirror"
    "${lg[@]}" --url "$mirror_url" --clients "$storm_n" --ramp-seconds 2 --max-pending 20000 --settle 1 --hold 2 \
        --head-timeout 20 --ramp-timeout 25 --server-pid "$mirror_pid" > "$run/storm-casty.json" 2>"$run/storm-casty.log" || true
    until_quiet "$mirror_pid"
    log "storm: $storm_n listeners within 2 s, Icecast relay (gives up after 20 s)"
    "${lg[@]}" --url "$relay_url" --clients "$storm_n" --ramp-seconds 2 --max-pending 20000 --settle 1 --hold 2 \
        --head-timeout 20 --ramp-timeout 25 --server-pid "$relay_pid" > "$run/storm-icecast.json" 2>"$run/storm-icecast.log" || true
    until_quiet "$relay_pid"
fi

# --- browser -------------------------------------------------------------------------------------
if want browser; then
    log "browser: headless Chromium, <audio> until currentTime advances"
    $py "$repo/Benchmarks/bench/browser_start.py" --timeout 25 casty="$mirror_url" icecast="$relay_url" \
        > "$run/browser.json" 2> "$run/browser.log" || log "warning: browser measurement failed (see $run/browser.log)"
fi

# --- slow listeners ------------------------------------------------------------------------------
if want slow; then
    log "slow: 200 listeners that never read, 12 s, on each server"
    $py "$repo/Benchmarks/bench/slow_listeners.py" --url "$mirror_url" --pid "$mirror_pid" --clients 200 --seconds 12 \
        > "$run/slow-casty.json" 2> "$run/slow-casty.log" || log "warning: slow-listener measurement failed (Casty)"
    $py "$repo/Benchmarks/bench/slow_listeners.py" --url "$relay_url" --pid "$relay_pid" --clients 200 --seconds 12 \
        > "$run/slow-icecast.json" 2> "$run/slow-icecast.log" || log "warning: slow-listener measurement failed (Icecast)"
fi

stop_fleet "$run/fleet"

# --- hop latency: a chain ------------------------------------------------------------------------
if want hops; then
    log "hops: chain of 10 mirrors, observers at depth 0..10"
    mkdir -p "$run/chain"
    make_fleet "$run/chain/fleet.json" 10 1
    start_fleet "$run/chain"
    fleet_ready "$run/chain" 10 || log "warning: chain not complete after 20 s"
    $py "$repo/Benchmarks/bench/observers.py" hops --fleet "$run/chain/fleet.json" --seconds 12 \
        > "$run/hops.json" 2> "$run/hops.log" || log "warning: hop measurement failed (see $run/hops.log)"
    stop_fleet "$run/chain"
fi

# --- failover: a 15-mirror tree ------------------------------------------------------------------
if want failover; then
    log "failover: 15-mirror tree, kill one inner node, freeze another"
    mkdir -p "$run/tree"
    make_fleet "$run/tree/fleet.json" 15 2
    start_fleet "$run/tree"
    fleet_ready "$run/tree" 15 || log "warning: tree not complete after 20 s"
    $py "$repo/Benchmarks/bench/observers.py" failover --fleet "$run/tree/fleet.json" --pids-dir "$run/tree" \
        --seconds 6 > "$run/failover.json" 2> "$run/failover.log" || log "warning: failover measurement failed (see $run/failover.log)"
    stop_fleet "$run/tree"
fi

# --- report --------------------------------------------------------------------------------------
elapsed=$(( SECONDS - t_begin ))
log "measurements done in ${elapsed} s; writing the report"
$py "$repo/Benchmarks/bench/report.py" "$run" --elapsed "$elapsed" || log "warning: report failed"
