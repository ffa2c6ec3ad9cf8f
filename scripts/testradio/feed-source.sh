#!/usr/bin/env bash
# Internal helper of scripts/test-radio.sh (not meant to be run by hand).
#
# Usage: feed-source.sh STATE_DIR
#
# Plays the tracks listed in STATE_DIR/tracks.txt (PATH<TAB>ARTIST<TAB>TITLE per line, or just
# PATH: then the file's tags) in a loop, forever, at real time pace (one `ffmpeg -re` per track)
# into the FIFO STATE_DIR/feed.fifo. A single long-lived source process (started by
# test-radio.sh) reads that FIFO and is the one Icecast source connection, so listeners stay
# connected across tracks. What goes into the FIFO, and how titles change, depend on FORMAT:
#   mp3, mp3-vbr  raw MP3 frames (ffmpeg -c copy), titles pushed with
#   aac           raw ADTS frames;      GET /admin/metadata?mount=M&mode=updinfo&song=ARTIST - TITLE
#                 (with &charset=UTF-8 if TITLE_CHARSET is UTF-8), which changes the ICY StreamTitle
#   vorbis        decoded PCM (s16le, 44.1 kHz, stereo) that the source encodes into ONE Ogg
#                 Vorbis stream; titles pushed with ...&mode=updinfo&artist=A&title=T&charset=UTF-8,
#                 which Icecast 2.4 turns into a new chain with those comments
#   vorbis-chained, opus, flac
#                 each track's own Ogg stream (ffmpeg -c copy, a new serial number per play), so
#                 every track is a new chain whose comment header carries its TITLE and ARTIST
# The current title ("ARTIST - TITLE") is written to STATE_DIR/now-playing.
# Reads ICECAST_URL, ADMIN_USER, ADMIN_PASSWORD, MOUNT, FORMAT (default mp3) and TITLE_CHARSET
# from STATE_DIR/radio.env.
set -uo pipefail

state=${1:?usage: feed-source.sh STATE_DIR}
# shellcheck source=/dev/null
source "$state/radio.env"
: "${ICECAST_URL:?}" "${ADMIN_USER:?}" "${ADMIN_PASSWORD:?}" "${MOUNT:?}"
FORMAT=${FORMAT:-mp3} TITLE_CHARSET=${TITLE_CHARSET:-}

mapfile -t tracks < "$state/tracks.txt"
(( ${#tracks[@]} > 0 )) || { echo "feed-source: no tracks" >&2; exit 1; }

child=
cleanup() {
    if [[ -n $child ]]; then
        kill "$child" 2>/dev/null
        wait "$child" 2>/dev/null   # our own child: returns as soon as it exits
    fi
    exit 0
}
trap cleanup TERM INT HUP

# Keep the FIFO open for writing for the whole lifetime of the loop, so the
# reading ffmpeg never sees EOF between two tracks.
exec 3>"$state/feed.fifo"

tag() {  # tag FILE KEY -> value of the tag KEY (container or stream tags; empty if none)
    ffprobe -v error -show_entries "format_tags=$2:stream_tags=$2" -of default=nw=1:nk=1 "$1" 2>/dev/null | head -n 1
}

now_playing() {  # now_playing SONG
    printf '%s\n' "$1" > "$state/now-playing.tmp" && mv -f "$state/now-playing.tmp" "$state/now-playing"
    echo "$(date '+%H:%M:%S') now playing: $1"
}

set_title() {  # set_title ARTIST TITLE; retries until the mount exists (bounded, ~15 s)
    local i out song=${1:+$1 - }$2 fields
    if [[ $FORMAT == vorbis ]]; then
        # Ogg Vorbis: artist and title become the ARTIST and TITLE comments of the new chain.
        fields=(--data-urlencode "artist=$1" --data-urlencode "title=$2" --data-urlencode "charset=UTF-8")
    else
        fields=(--data-urlencode "song=$song")
        [[ -n $TITLE_CHARSET ]] && fields+=(--data-urlencode "charset=$TITLE_CHARSET")
    fi
    for (( i = 0; i < 30; i++ )); do
        out=$(curl -s --max-time 3 -u "$ADMIN_USER:$ADMIN_PASSWORD" -G \
                --data-urlencode "mount=$MOUNT" --data-urlencode "mode=updinfo" \
                "${fields[@]}" "$ICECAST_URL/admin/metadata" 2>/dev/null)
        if [[ $out == *"<return>1</return>"* ]]; then
            now_playing "$song"
            return 0
        fi
        # The reading ffmpeg needs a few frames before it connects to Icecast.
        kill -0 "$child" 2>/dev/null || return 1
        sleep 0.5
    done
    echo "feed-source: could not set title '$song' (mount $MOUNT not available?)" >&2
    return 1
}

# wait_for_audio: until a listener of the mount gets Ogg pages (bounded, ~15 s). Icecast 2.4.4 can
# lose a Vorbis mount's headers ("refbuf_release next not null" in its log; new listeners then get
# nothing) when a metadata update arrives before the source's first audio pages.
wait_for_audio() {
    local i
    for (( i = 0; i < 30; i++ )); do
        [[ $(curl -s --max-time 2 "$ICECAST_URL$MOUNT" 2>/dev/null | head -c 4096 | wc -c) -ge 4096 ]] && return 0
        kill -0 "$child" 2>/dev/null || return 1
        sleep 0.5
    done
    return 1
}

plays=0
while :; do
    for line in "${tracks[@]}"; do
        IFS=$'\t' read -r f artist title <<< "$line"
        if [[ $line != *$'\t'* ]]; then
            artist=$(tag "$f" artist); title=$(tag "$f" title)
            [[ -n $title ]] || title=$(basename "$f" .mp3)
        fi
        plays=$(( plays + 1 ))
        case $FORMAT in
            # Raw MP3 frames only: no ID3 tag, no Xing/Info frame in the middle of the stream.
            mp3|mp3-vbr) out=(-map 0:a:0 -c copy -map_metadata -1 -id3v2_version 0 -write_xing 0 -f mp3) ;;
            aac)         out=(-map 0:a:0 -c copy -map_metadata -1 -f adts) ;;
            vorbis)      out=(-map 0:a:0 -map_metadata -1 -c:a pcm_s16le -ar 44100 -ac 2 -f s16le) ;;
            # The track's own Ogg stream, its comment header included; a new serial number per play.
            *)           out=(-map 0:a:0 -c copy -fflags +bitexact -serial_offset "$plays" -f ogg) ;;
        esac
        ffmpeg -nostdin -hide_banner -loglevel error -re -i "$f" "${out[@]}" pipe:3 &
        child=$!
        case $FORMAT in
            vorbis) (( plays > 1 )) || wait_for_audio; set_title "$artist" "$title" ;;
            mp3|mp3-vbr|aac) set_title "$artist" "$title" ;;
            *) now_playing "${artist:+$artist - }$title" ;;
        esac
        wait "$child"; rc=$?
        child=
        if (( rc != 0 )); then
            # Usually: the reader (Icecast source) is gone -> EPIPE.
            echo "feed-source: ffmpeg exited with status $rc on $f; stopping" >&2
            exit 1
        fi
    done
done
