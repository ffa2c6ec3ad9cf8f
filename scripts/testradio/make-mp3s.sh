#!/usr/bin/env bash
# Generate short, deterministic test MP3 tracks (sine tones) for the local test radio.
#
# Usage: make-mp3s.sh DIR [COUNT]
#   DIR    output directory (created if missing)
#   COUNT  number of tracks (default 3, max 99)
# Environment:
#   TRACK_SECONDS  duration of each track in seconds (default 20)
#   TRACK_NOISE    1: add quiet deterministic noise to every tone, so that no two MP3 frames
#                  of a track are alike (the fault harness aligns recordings byte by byte)
#
# Output: DIR/casty-test-tone-N-<S>s[-noise].mp3 (N = 1..COUNT, S = TRACK_SECONDS),
# MPEG-1 Layer III, 128 kbps CBR, 44.1 kHz, stereo, ID3v2.3 tags
# title "Casty Test Tone N", artist "Casty", album "Casty Test Radio".
# Track N is a sine tone of 220 + 110*N Hz. Existing files are kept (idempotent).
# Prints the absolute path of every track (existing or generated), one per line.
set -euo pipefail

usage() { sed -n '2,15s/^# \{0,1\}//p' "$0" >&2; exit 2; }

[[ $# -ge 1 && $# -le 2 ]] || usage
dir=$1
count=${2:-3}
seconds=${TRACK_SECONDS:-20}
noise=${TRACK_NOISE:-0}

if ! [[ $count =~ ^[0-9]{1,2}$ ]] || (( 10#$count < 1 )); then
    echo "make-mp3s: COUNT must be 1..99" >&2; exit 2
fi
if ! [[ $seconds =~ ^[0-9]{1,3}$ ]] || (( 10#$seconds < 1 || 10#$seconds > 600 )); then
    echo "make-mp3s: TRACK_SECONDS must be 1..600" >&2; exit 2
fi
[[ $noise == 0 || $noise == 1 ]] || { echo "make-mp3s: TRACK_NOISE must be 0 or 1" >&2; exit 2; }
count=$(( 10#$count )); seconds=$(( 10#$seconds ))
command -v ffmpeg >/dev/null || { echo "make-mp3s: ffmpeg not found (apt-get install ffmpeg)" >&2; exit 1; }

mkdir -p "$dir"
dir=$(cd "$dir" && pwd)

for (( n = 1; n <= count; n++ )); do
    suffix=""; (( noise )) && suffix="-noise"
    out="$dir/casty-test-tone-$n-${seconds}s$suffix.mp3"
    if [[ ! -s $out ]]; then
        freq=$(( 220 + 110 * n ))
        source="sine=frequency=$freq:sample_rate=44100:duration=$seconds"
        (( noise )) && source="aevalsrc=exprs=0.4*sin(2*PI*$freq*t)+0.02*(2*random(0)-1):s=44100:d=$seconds"
        tmp="$out.tmp.$$.mp3"
        # -bitexact keeps the encoder/version strings out of the file so the
        # output is byte-identical across runs of the same ffmpeg build.
        if ! ffmpeg -nostdin -hide_banner -loglevel error -y \
                -f lavfi -i "$source" \
                -ac 2 -ar 44100 -c:a libmp3lame -b:a 128k \
                -fflags +bitexact -flags:a +bitexact \
                -id3v2_version 3 \
                -metadata title="Casty Test Tone $n" \
                -metadata artist="Casty" \
                -metadata album="Casty Test Radio" \
                -metadata track="$n" \
                -f mp3 "$tmp"; then
            rm -f "$tmp"
            echo "make-mp3s: ffmpeg failed for $out" >&2
            exit 1
        fi
        mv -f "$tmp" "$out"
    fi
    printf '%s\n' "$out"
done
