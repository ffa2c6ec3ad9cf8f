#!/usr/bin/env bash
# Local test radio for Casty: Icecast 2 + a source client looping generated
# test tones in one of several formats, with the title changing at every track.
#
# Usage:
#   scripts/test-radio.sh start --port P [--dir D] [--mount /stream] [--count N]
#                               [--bind ADDR] [--max-clients N] [--format F]
#                               [--unicode-titles [--utf8-icy-titles]]
#   scripts/test-radio.sh stop --dir D
#
# start  Writes an Icecast config (random source/admin passwords) into D
#        (default: a fresh temp dir), generates N (default 3) test tracks into
#        D/mp3 (D/tracks for other formats; TRACK_SECONDS env var, default 20 s
#        per track, TRACK_NOISE=1 adds noise), starts icecast2 on ADDR:P
#        (default 127.0.0.1; at most N listeners, default 100) and the source
#        client, waits (<= ~15 s) until the mount serves audio (MP3 and AAC:
#        with a title in its first ICY metadata block), then prints on stdout:
#            url=http://ADDR:P/stream
#            dir=D
#        Files in D: icecast.xml, radio.env (URL + credentials), *.pid,
#        log/ (icecast error/access logs, source + feeder logs), now-playing.
#        --format F (content type listeners get; how the title changes):
#          mp3 (default)   MPEG-1 Layer III 128 kbps CBR (audio/mpeg; ICY title
#                          set through Icecast's admin metadata update)
#          mp3-vbr         MPEG-1 Layer III VBR (audio/mpeg; ICY, as mp3)
#          aac             ADTS AAC-LC 128 kbps (audio/aac; ICY, as mp3)
#          vorbis          ONE Ogg Vorbis stream encoded by the source
#                          (application/ogg; the admin metadata update makes
#                          Icecast start a new chain with ARTIST/TITLE comments)
#          vorbis-chained  Ogg Vorbis, each track its own chain with its
#                          TITLE/ARTIST comments (application/ogg)
#          opus            Ogg Opus, chained per track (audio/ogg)
#          flac            Ogg FLAC, chained per track (audio/ogg)
#        (No HE-AAC: Debian's ffmpeg has no HE-AAC encoder, libfdk_aac.)
#        --unicode-titles: non-ASCII titles ("Café del Mar - Déjà vu", ...),
#        pushed with charset=UTF-8, so MP3/AAC listeners get them in Latin-1
#        (Icecast 2.4 writes characters outside Latin-1 as "&#363;");
#        --utf8-icy-titles pushes them without a charset, and Icecast then
#        passes the UTF-8 bytes unchanged into the ICY metadata.
# stop   Kills exactly the processes recorded in D/*.pid and waits for them.
#
# Needs: icecast2, ffmpeg (ffprobe), curl. Works as root (Icecast drops
# privileges to the icecast2 user via <changeowner>) and as a normal user.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
testradio="$here/testradio"

die() { echo "test-radio: $*" >&2; exit 1; }
usage() { sed -n '2,43s/^# \{0,1\}//p' "${BASH_SOURCE[0]}" >&2; exit 2; }

# --- process helpers --------------------------------------------------------

# alive PID PATTERN: PID exists, is not a zombie, and its command line
# matches PATTERN (guards against PID reuse). Orphaned processes may stay
# zombies for a while if PID 1 reaps slowly (containers), hence the Z check.
alive() {
    local st args
    st=$(ps -o stat= -p "$1" 2>/dev/null) || return 1
    [[ $st == Z* ]] && return 1
    args=$(ps -o args= -p "$1" 2>/dev/null) || return 1
    [[ $args == *$2* ]]
}

# stop_pidfile FILE PATTERN: TERM the pid in FILE (if it is still ours),
# wait <= 5 s, then KILL and wait <= 2 s.
stop_pidfile() {
    local f=$1 pat=$2 pid i
    [[ -f $f ]] || return 0
    pid=$(<"$f")
    if [[ $pid =~ ^[0-9]+$ ]] && alive "$pid" "$pat"; then
        kill -TERM "$pid" 2>/dev/null || true
        for (( i = 0; i < 50; i++ )); do
            alive "$pid" "$pat" || break
            sleep 0.1
        done
        if alive "$pid" "$pat"; then
            kill -KILL "$pid" 2>/dev/null || true
            for (( i = 0; i < 20; i++ )); do
                alive "$pid" "$pat" || break
                sleep 0.1
            done
        fi
        alive "$pid" "$pat" && echo "test-radio: pid $pid ($f) did not exit" >&2
    fi
    rm -f "$f"
}

stop_all() {  # feeder first (it owns the per-track ffmpeg), then source, then icecast
    local d=$1 source=ffmpeg
    stop_pidfile "$d/feeder.pid" "feed-source.sh"
    # The source is ffmpeg, or curl for the chained Ogg formats.
    [[ -f $d/source.pid ]] && alive "$(<"$d/source.pid")" curl && source=curl
    stop_pidfile "$d/source.pid" "$source"
    stop_pidfile "$d/icecast.pid" "icecast2"
}

# remove_icecast_logdir D: the folder under /tmp that Icecast logged to when D was not reachable
# by its user; its logs are copied into D/log first.
remove_icecast_logdir() {
    local d=$1 logdir
    [[ -f $d/icecast-logdir ]] || return 0
    logdir=$(<"$d/icecast-logdir")
    if [[ $logdir == /tmp/casty-icecast-log.* && -d $logdir ]]; then
        rm -f "$d/log/icecast"
        mkdir -p "$d/log/icecast"
        cp -p "$logdir"/* "$d/log/icecast/" 2>/dev/null || true
        rm -rf "$logdir"
    fi
    rm -f "$d/icecast-logdir"
}

xml_escape() { local s=$1; s=${s//&/&amp;}; s=${s//</&lt;}; s=${s//>/&gt;}; printf '%s' "$s"; }

randpw() { od -An -tx1 -N12 /dev/urandom | tr -d ' \n'; }

# --- start ------------------------------------------------------------------

cmd_start() {
    local port='' dir='' mount=/stream count=3 bind=127.0.0.1 max_clients=100 format=mp3 titles=ascii utf8_icy=0
    while (( $# )); do
        case $1 in
            --port)  port=${2:?}; shift 2 ;;
            --dir)   dir=${2:?}; shift 2 ;;
            --mount) mount=${2:?}; shift 2 ;;
            --count) count=${2:?}; shift 2 ;;
            --bind)  bind=${2:?}; shift 2 ;;
            --max-clients) max_clients=${2:?}; shift 2 ;;
            --format) format=${2:?}; shift 2 ;;
            --unicode-titles) titles=unicode; shift ;;
            --utf8-icy-titles) utf8_icy=1; shift ;;
            -h|--help) usage ;;
            *) die "unknown option: $1" ;;
        esac
    done
    case $format in
        mp3|mp3-vbr|aac|vorbis|vorbis-chained|opus|flac) ;;
        he-aac) die "--format he-aac: this ffmpeg has no HE-AAC encoder (it needs libfdk_aac, which Debian's ffmpeg lacks)" ;;
        *) die "--format must be mp3, mp3-vbr, aac, vorbis, vorbis-chained, opus or flac, not '$format'" ;;
    esac
    (( ! utf8_icy )) || [[ $titles == unicode ]] || die "--utf8-icy-titles needs --unicode-titles"
    if ! [[ $port =~ ^[0-9]{1,5}$ ]] || (( port < 1 || port > 65535 )); then
        die "--port P (1..65535) is required"
    fi
    [[ $mount =~ ^/[A-Za-z0-9._/-]*$ ]] || die "--mount must look like /stream"
    [[ $bind =~ ^[0-9]{1,3}(\.[0-9]{1,3}){3}$ ]] || die "--bind must be an IPv4 address such as 127.0.0.1"
    [[ $max_clients =~ ^[0-9]{1,6}$ ]] && (( max_clients >= 1 )) || die "--max-clients must be a number from 1 to 999999"
    local tool
    for tool in icecast2 ffmpeg ffprobe curl; do
        command -v "$tool" >/dev/null || die "$tool not found (apt-get install icecast2 ffmpeg curl)"
    done

    if [[ -z $dir ]]; then
        dir=$(mktemp -d "${TMPDIR:-/tmp}/casty-test-radio.XXXXXX")
    else
        mkdir -p "$dir"
    fi
    dir=$(cd "$dir" && pwd)
    [[ ! -e $dir/icecast.pid && ! -e $dir/source.pid && ! -e $dir/feeder.pid ]] \
        || die "$dir already has PID files; run: $0 stop --dir $dir"

    # From here on, any failure tears down what was started. (Global, not
    # local: the EXIT trap may run after this function's scope is gone.)
    CLEANUP_DIR=$dir
    trap 'rc=$?; if (( rc != 0 )); then echo "test-radio: start failed, cleaning up (logs in $CLEANUP_DIR/log)" >&2; stop_all "$CLEANUP_DIR"; remove_icecast_logdir "$CLEANUP_DIR"; fi' EXIT
    trap 'exit 130' INT TERM

    local tracks_dir=$dir/mp3
    [[ $format == mp3 ]] || tracks_dir=$dir/tracks
    mkdir -p "$dir/log" "$tracks_dir"
    local url="http://$bind:$port"
    local source_pw admin_pw
    source_pw=$(randpw); admin_pw=$(randpw)

    # Tracks (generated, idempotent).
    TRACK_TITLES=$titles "$testradio/make-tracks.sh" "$format" "$tracks_dir" "$count" > "$dir/tracks.txt"

    # Per format: the content type the source sends (Icecast hands it on to listeners), the
    # nominal bitrate announced, and the sample rate.
    local content_type=audio/mpeg bitrate=128 samplerate=44100 title_charset=
    case $format in
        aac) content_type=audio/aac ;;
        vorbis|vorbis-chained) content_type=application/ogg ;;
        opus) content_type=audio/ogg bitrate=96 samplerate=48000 ;;
        flac) content_type=audio/ogg bitrate=1411 ;;
    esac
    [[ $titles == unicode && $utf8_icy == 0 ]] && title_charset=UTF-8

    # Icecast refuses to run as root: let it drop privileges to its own user.
    local security="<security><chroot>0</chroot></security>" ice_log_dir="$dir/log"
    if (( EUID == 0 )); then
        local ice_user=icecast2 ice_group
        id -u "$ice_user" >/dev/null 2>&1 || die "user $ice_user does not exist (is the icecast2 package installed?)"
        ice_group=$(id -gn "$ice_user")
        security="<security><chroot>0</chroot><changeowner><user>$ice_user</user><group>$ice_group</group></changeowner></security>"
        # Icecast opens its logs after dropping privileges, so its log folder must be reachable
        # by that user. D may sit below folders it cannot traverse (mktemp -d makes 0700 folders,
        # TMPDIR may be under /root): then its logs go to a folder of its own under /tmp, which
        # D/log/icecast links to and `stop` removes.
        chown "$ice_user:$ice_group" "$dir/log"
        if ! runuser -u "$ice_user" -- test -w "$dir/log" 2>/dev/null; then
            ice_log_dir=$(mktemp -d /tmp/casty-icecast-log.XXXXXX)
            chown "$ice_user:$ice_group" "$ice_log_dir"
            chmod 0750 "$ice_log_dir"
            ln -sfn "$ice_log_dir" "$dir/log/icecast"
            printf '%s\n' "$ice_log_dir" > "$dir/icecast-logdir"
            runuser -u "$ice_user" -- test -w "$ice_log_dir" \
                || die "$ice_log_dir is not writable by $ice_user"
        fi
    fi

    local xlogdir; xlogdir=$(xml_escape "$ice_log_dir")
    umask 077
    cat > "$dir/icecast.xml" <<XML
<icecast>
    <location>Casty test radio</location>
    <admin>casty@localhost</admin>
    <hostname>$bind</hostname>
    <limits>
        <clients>$max_clients</clients>
        <sources>4</sources>
        <queue-size>524288</queue-size>
        <client-timeout>30</client-timeout>
        <header-timeout>15</header-timeout>
        <source-timeout>10</source-timeout>
        <burst-on-connect>1</burst-on-connect>
    </limits>
    <authentication>
        <source-password>$source_pw</source-password>
        <relay-password>$source_pw</relay-password>
        <admin-user>admin</admin-user>
        <admin-password>$admin_pw</admin-password>
    </authentication>
    <listen-socket>
        <port>$port</port>
        <bind-address>$bind</bind-address>
    </listen-socket>
    <mount type="normal">
        <mount-name>$mount</mount-name>
        <stream-name>Casty Test Radio</stream-name>
        <stream-description>Generated test tones for Casty</stream-description>
        <genre>Test</genre>
        <bitrate>$bitrate</bitrate>
        <type>$content_type</type>
        <public>0</public>
    </mount>
    <fileserve>1</fileserve>
    <paths>
        <basedir>/usr/share/icecast2</basedir>
        <logdir>$xlogdir</logdir>
        <webroot>/usr/share/icecast2/web</webroot>
        <adminroot>/usr/share/icecast2/admin</adminroot>
    </paths>
    <logging>
        <accesslog>access.log</accesslog>
        <errorlog>error.log</errorlog>
        <loglevel>3</loglevel>
        <logsize>10000</logsize>
    </logging>
    $security
</icecast>
XML
    cat > "$dir/radio.env" <<ENV
ICECAST_URL=$url
MOUNT=$mount
STREAM_URL=$url$mount
SOURCE_USER=source
SOURCE_PASSWORD=$source_pw
ADMIN_USER=admin
ADMIN_PASSWORD=$admin_pw
FORMAT=$format
TITLE_CHARSET=$title_charset
ENV
    umask 022

    rm -f "$dir/feed.fifo" "$dir/now-playing"
    mkfifo -m 600 "$dir/feed.fifo"

    # All background processes: own session (setsid execs in place, so $! is
    # the real pid), stdin from /dev/null, output to log files (never to our
    # stdout, or "$(test-radio.sh start ...)" would hang).
    # Wait for the listen socket (bounded ~5 s a try). Icecast 2.4.4 now and then dies of a
    # segmentation fault just after "stats thread started", before it serves anything: it is
    # started again, up to 3 times in all; one that keeps dying (its port in use, say) ends the start.
    local i try started=0
    for (( try = 1; try <= 3 && !started; try++ )); do
        setsid icecast2 -c "$dir/icecast.xml" </dev/null >"$dir/log/icecast.out" 2>&1 &
        echo $! > "$dir/icecast.pid"
        for (( i = 0; i < 50; i++ )); do
            if ! alive "$(<"$dir/icecast.pid")" icecast2; then
                cat "$dir/log/icecast.out" >&2
                echo "test-radio: icecast2 exited at start (try $try of 3)" >&2
                break
            fi
            curl -s -o /dev/null --max-time 1 "$url/status-json.xsl" && { started=1; break; }
            sleep 0.1
        done
        (( started || i < 50 )) || die "icecast2 did not open port $port"
    done
    (( started )) || die "icecast2 exited 3 times at start (port $port in use?)"

    # The one long-lived source connection, reading the FIFO. Plain HTTP PUT (what ffmpeg's
    # icecast:// protocol does internally) rather than icecast://, because icecast:// cannot
    # send Ice-Bitrate, and Icecast 2.4 only announces icy-br to listeners if the source sends it.
    local ice_headers="Ice-Name: Casty Test Radio"$'\r\n'"Ice-Description: Generated test tones for Casty"$'\r\n'"Ice-Genre: Test"$'\r\n'"Ice-Bitrate: $bitrate"$'\r\n'"Ice-Audio-Info: ice-samplerate=$samplerate;ice-channels=2"$'\r\n'"Ice-Public: 0"$'\r\n'
    local put=(-method PUT -auth_type basic -chunked_post 0 -content_type "$content_type" -headers "$ice_headers"
               "http://source:$source_pw@$bind:$port$mount")
    case $format in
        mp3|mp3-vbr)  # raw MP3 frames, copied
            setsid ffmpeg -nostdin -hide_banner -loglevel warning \
                -f mp3 -i "$dir/feed.fifo" -map 0:a:0 -c copy \
                -map_metadata -1 -id3v2_version 0 -write_xing 0 \
                -f mp3 "${put[@]}" \
                </dev/null >"$dir/log/source.log" 2>&1 & ;;
        aac)  # raw ADTS frames, copied
            setsid ffmpeg -nostdin -hide_banner -loglevel warning \
                -f aac -i "$dir/feed.fifo" -map 0:a:0 -c copy -map_metadata -1 \
                -f adts "${put[@]}" \
                </dev/null >"$dir/log/source.log" 2>&1 & ;;
        vorbis)  # PCM, encoded here into one continuous Ogg Vorbis stream
            setsid ffmpeg -nostdin -hide_banner -loglevel warning \
                -f s16le -ar 44100 -ac 2 -i "$dir/feed.fifo" -map 0:a:0 -map_metadata -1 \
                -c:a libvorbis -q:a 4 -fflags +bitexact -flags:a +bitexact \
                -f ogg "${put[@]}" \
                </dev/null >"$dir/log/source.log" 2>&1 & ;;
        *)  # chained Ogg: the bytes as they come, so every track's chain reaches Icecast intact
            # (ffmpeg -c copy would merge the chains into one). No chunked encoding (Icecast 2.4
            # reads the request body raw), no Expect: 100-continue.
            local curl_headers=(-H "Content-Type: $content_type" -H 'Transfer-Encoding:' -H 'Expect:')
            local line
            while IFS= read -r line; do
                [[ -n $line ]] && curl_headers+=(-H "$line")
            done <<< "${ice_headers//$'\r'/}"
            setsid curl -sS -T - "${curl_headers[@]}" -u "source:$source_pw" \
                "http://$bind:$port$mount" \
                <"$dir/feed.fifo" >"$dir/log/source.log" 2>&1 & ;;
    esac
    echo $! > "$dir/source.pid"

    setsid "$testradio/feed-source.sh" "$dir" </dev/null >"$dir/log/feeder.log" 2>&1 &
    echo $! > "$dir/feeder.pid"

    # Wait (bounded, ~15 s) until a new listener gets audio and (MP3, AAC) its
    # first ICY metadata block already carries a title. Icecast bursts ~64 KiB
    # (~4 s) of past audio to new listeners; that audio predates the first title
    # update (the mount only exists once the source is connected), so right
    # after the source connects listeners would first see StreamTitle=''.
    # Ogg has no ICY metadata: there a new listener must get Ogg pages.
    local ok=0 f metaint k block deadline=$(( SECONDS + 15 )) source_pat=ffmpeg
    case $format in vorbis-chained|opus|flac) source_pat=curl ;; esac
    while (( SECONDS < deadline )); do
        for f in icecast2:icecast "$source_pat:source" feed-source.sh:feeder; do
            alive "$(<"$dir/${f#*:}.pid")" "${f%%:*}" || { tail -n 20 "$dir/log/"*.log "$dir/log/"*.out >&2 2>/dev/null; die "${f#*:} process exited"; }
        done
        if [[ -s $dir/now-playing && $content_type == *ogg ]]; then
            rm -f "$dir/probe.bin"
            { curl -s -f --max-time 3 "$url$mount" || true; } | head -c 20000 > "$dir/probe.bin" || true
            if [[ $(head -c 4 "$dir/probe.bin") == OggS ]] && (( $(wc -c < "$dir/probe.bin") >= 4096 )); then ok=1; break; fi
        elif [[ -s $dir/now-playing ]]; then
            rm -f "$dir/probe.bin" "$dir/probe.hdr"
            { curl -s -f --max-time 3 -H 'Icy-MetaData: 1' -D "$dir/probe.hdr" "$url$mount" || true; } \
                | head -c 20000 > "$dir/probe.bin" || true
            metaint=$(tr -d '\r' < "$dir/probe.hdr" 2>/dev/null | sed -n 's/^icy-metaint: *\([0-9][0-9]*\)$/\1/Ip' | head -n 1)
            if [[ -n $metaint ]] && (( $(wc -c < "$dir/probe.bin") > metaint )); then
                k=$(od -An -tu1 -j "$metaint" -N 1 "$dir/probe.bin" | tr -d ' ')
                block=$(tail -c +$(( metaint + 2 )) "$dir/probe.bin" | head -c $(( k * 16 )) | tr -d '\0')
                if [[ $block == "StreamTitle='"?* && $block != "StreamTitle='';"* ]]; then ok=1; break; fi
            fi
        fi
        sleep 0.5
    done
    rm -f "$dir/probe.bin" "$dir/probe.hdr"
    local want="audio with a title"; [[ $content_type == *ogg ]] && want="Ogg pages"
    (( ok )) || { tail -n 20 "$dir/log/"*.log >&2 2>/dev/null; die "mount $mount not serving $want after ~15 s"; }

    trap - EXIT INT TERM
    echo "url=$url$mount"
    echo "dir=$dir"
}

# --- stop -------------------------------------------------------------------

cmd_stop() {
    local dir=
    while (( $# )); do
        case $1 in
            --dir) dir=${2:?}; shift 2 ;;
            -h|--help) usage ;;
            *) die "unknown option: $1" ;;
        esac
    done
    [[ -n $dir ]] || die "--dir D is required"
    [[ -d $dir ]] || die "no such directory: $dir"
    stop_all "$dir"
    rm -f "$dir/feed.fifo"
    remove_icecast_logdir "$dir"
}

case ${1:-} in
    start) shift; cmd_start "$@" ;;
    stop)  shift; cmd_stop "$@" ;;
    *) usage ;;
esac
