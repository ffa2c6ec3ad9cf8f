#!/usr/bin/env bash
# Internal helper of scripts/test-radio.sh (not meant to be run by hand).
#
# Usage: feed-source.sh STATE_DIR
#
# Plays the tracks listed in STATE_DIR/tracks.txt in a loop, forever, at real
# time pace (one `ffmpeg -re -c copy` per track) into the FIFO STATE_DIR/feed.fifo.
# A single long-lived ffmpeg (started by test-radio.sh) reads that FIFO and is
# the one Icecast source connection, so listeners stay connected across tracks.
# When a track starts, its title is pushed to Icecast with
#   GET /admin/metadata?mount=M&mode=updinfo&song=ARTIST - TITLE
# which makes the ICY StreamTitle change at every track.
# The current title is written to STATE_DIR/now-playing.
# Reads ICECAST_URL, ADMIN_USER, ADMIN_PASSWORD, MOUNT from STATE_DIR/radio.env.
set -uo pipefail

state=${1:?usage: feed-source.sh STATE_DIR}
# shellcheck source=/dev/null
source "$state/radio.env"
: "${ICECAST_URL:?}" "${ADMIN_USER:?}" "${ADMIN_PASSWORD:?}" "${MOUNT:?}"

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

tag() {  # tag FILE KEY -> value of the ID3 tag KEY (empty if none)
    ffprobe -v error -show_entries "format_tags=$2" -of default=nw=1:nk=1 "$1" 2>/dev/null | head -n 1
}

set_title() {  # set_title TITLE; retries until the mount exists (bounded, ~15 s)
    local i out
    for (( i = 0; i < 30; i++ )); do
        out=$(curl -s --max-time 3 -u "$ADMIN_USER:$ADMIN_PASSWORD" -G \
                --data-urlencode "mount=$MOUNT" --data-urlencode "mode=updinfo" \
                --data-urlencode "song=$1" "$ICECAST_URL/admin/metadata" 2>/dev/null)
        if [[ $out == *"<return>1</return>"* ]]; then
            printf '%s\n' "$1" > "$state/now-playing.tmp" && mv -f "$state/now-playing.tmp" "$state/now-playing"
            echo "$(date '+%H:%M:%S') now playing: $1"
            return 0
        fi
        # The reading ffmpeg needs a few frames before it connects to Icecast.
        kill -0 "$child" 2>/dev/null || return 1
        sleep 0.5
    done
    echo "feed-source: could not set title '$1' (mount $MOUNT not available?)" >&2
    return 1
}

while :; do
    for f in "${tracks[@]}"; do
        artist=$(tag "$f" artist); title=$(tag "$f" title)
        [[ -n $title ]] || title=$(basename "$f" .mp3)
        song=${artist:+$artist - }$title
        # Raw MP3 frames only: no ID3 tag, no Xing/Info frame in the middle of the stream.
        ffmpeg -nostdin -hide_banner -loglevel error -re -i "$f" -map 0:a:0 -c copy \
            -map_metadata -1 -id3v2_version 0 -write_xing 0 -f mp3 pipe:3 &
        child=$!
        set_title "$song"
        wait "$child"; rc=$?
        child=
        if (( rc != 0 )); then
            # Usually: the reader (Icecast source ffmpeg) is gone -> EPIPE.
            echo "feed-source: ffmpeg exited with status $rc on $f; stopping" >&2
            exit 1
        fi
    done
done
