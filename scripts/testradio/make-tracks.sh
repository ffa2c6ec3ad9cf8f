#!/usr/bin/env bash
# Generate short, deterministic test tracks (sine tones) in one of the test radio's formats.
#
# Usage: make-tracks.sh FORMAT DIR [COUNT]
#   FORMAT  mp3 | mp3-vbr | aac | vorbis | vorbis-chained | opus | flac
#   DIR     output directory (created if missing)
#   COUNT   number of tracks (default 3, max 99)
# Environment:
#   TRACK_SECONDS  duration of each track in seconds (default 20)
#   TRACK_NOISE    1: add quiet deterministic noise to every tone (see make-mp3s.sh)
#   TRACK_TITLES   ascii (default): track N is "Casty - Casty Test Tone N";
#                  unicode: non-ASCII artists and titles ("Café del Mar - Déjà vu", ...)
#
# Output: DIR/casty-test-tone-N-<S>s[-noise][-u].EXT, tone of 220 + 110*N Hz, 44.1 kHz stereo
# (Opus: 48 kHz), tagged with the track's title and artist (ID3v2.3 for MP3, Vorbis comments for
# Ogg; ADTS has no tags):
#   mp3             .mp3      MPEG-1 Layer III, 128 kbps CBR (ascii titles: make-mp3s.sh's files)
#   mp3-vbr         .vbr.mp3  MPEG-1 Layer III, VBR (LAME -q:a 4)
#   aac             .aac      ADTS, AAC-LC, 128 kbps
#   vorbis, vorbis-chained    .ogg  Ogg Vorbis, quality 4 (one logical stream per file)
#   opus            .opus     Ogg Opus, 96 kbps
#   flac            .oga      Ogg FLAC
# Existing files are kept (idempotent); output is byte-identical across runs of one ffmpeg build.
# Prints one line per track: PATH<TAB>ARTIST<TAB>TITLE.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
usage() { sed -n '2,26s/^# \{0,1\}//p' "${BASH_SOURCE[0]}" >&2; exit 2; }

[[ $# -ge 2 && $# -le 3 ]] || usage
format=$1 dir=$2 count=${3:-3}
seconds=${TRACK_SECONDS:-20}
noise=${TRACK_NOISE:-0}
titles=${TRACK_TITLES:-ascii}

if ! [[ $count =~ ^[0-9]{1,2}$ ]] || (( 10#$count < 1 )); then
    echo "make-tracks: COUNT must be 1..99" >&2; exit 2
fi
if ! [[ $seconds =~ ^[0-9]{1,3}$ ]] || (( 10#$seconds < 1 || 10#$seconds > 600 )); then
    echo "make-tracks: TRACK_SECONDS must be 1..600" >&2; exit 2
fi
[[ $noise == 0 || $noise == 1 ]] || { echo "make-tracks: TRACK_NOISE must be 0 or 1" >&2; exit 2; }
[[ $titles == ascii || $titles == unicode ]] || { echo "make-tracks: TRACK_TITLES must be ascii or unicode" >&2; exit 2; }
count=$(( 10#$count )); seconds=$(( 10#$seconds ))

# Encoder arguments and file ending per format.
rate=44100
case $format in
    mp3)     ext=mp3;     codec=(-c:a libmp3lame -b:a 128k -id3v2_version 3 -f mp3) ;;
    mp3-vbr) ext=vbr.mp3; codec=(-c:a libmp3lame -q:a 4 -id3v2_version 3 -f mp3) ;;
    aac)     ext=aac;     codec=(-c:a aac -profile:a aac_low -b:a 128k -f adts) ;;
    vorbis|vorbis-chained)
             ext=ogg;     codec=(-c:a libvorbis -q:a 4 -f ogg) ;;
    opus)    ext=opus;    codec=(-c:a libopus -b:a 96k -f ogg); rate=48000 ;;
    flac)    ext=oga;     codec=(-c:a flac -f ogg) ;;
    *) echo "make-tracks: unknown FORMAT '$format' (mp3, mp3-vbr, aac, vorbis, vorbis-chained, opus, flac)" >&2; exit 2 ;;
esac
command -v ffmpeg >/dev/null || { echo "make-tracks: ffmpeg not found (apt-get install ffmpeg)" >&2; exit 1; }

# Unicode titles: Latin-1 letters (which Icecast 2.4 sends to MP3/AAC listeners in Latin-1), then
# one letter outside Latin-1 (ū, which it sends as "&#363;"). Beyond the list, " N" is appended.
unicode_artists=("Café del Mar" "Motörhead" "Sigur Rós" "Björk" "Sakamoto Ryūichi")
unicode_titles=("Déjà vu" "Ace of Spädes" "Hoppípolla" "Jóga" "Merry Christmas Mr. Lawrence")

mkdir -p "$dir"
dir=$(cd "$dir" && pwd)

if [[ $format == mp3 && $titles == ascii ]]; then
    # Exactly the files the MP3 radio always played.
    while IFS= read -r path; do
        n=${path##*/casty-test-tone-}; n=${n%%-*}
        printf '%s\tCasty\tCasty Test Tone %s\n' "$path" "$n"
    done < <("$here/make-mp3s.sh" "$dir" "$count")
    exit 0
fi

for (( n = 1; n <= count; n++ )); do
    if [[ $titles == unicode ]]; then
        i=$(( (n - 1) % ${#unicode_artists[@]} ))
        artist=${unicode_artists[$i]} title=${unicode_titles[$i]}
        (( n > ${#unicode_artists[@]} )) && title="$title $n"
    else
        artist="Casty" title="Casty Test Tone $n"
    fi
    suffix=""; (( noise )) && suffix="-noise"
    [[ $titles == unicode ]] && suffix="$suffix-u"
    out="$dir/casty-test-tone-$n-${seconds}s$suffix.$ext"
    if [[ ! -s $out ]]; then
        freq=$(( 220 + 110 * n ))
        source="sine=frequency=$freq:sample_rate=44100:duration=$seconds"
        (( noise )) && source="aevalsrc=exprs=0.4*sin(2*PI*$freq*t)+0.02*(2*random(0)-1):s=44100:d=$seconds"
        tmp="$out.tmp.$$"
        # -bitexact keeps the encoder/version strings out of the file so the
        # output is byte-identical across runs (and Ogg serial numbers fixed).
        if ! ffmpeg -nostdin -hide_banner -loglevel error -y \
                -f lavfi -i "$source" \
                -ac 2 -ar "$rate" -fflags +bitexact -flags:a +bitexact \
                -metadata title="$title" -metadata artist="$artist" \
                -metadata album="Casty Test Radio" -metadata track="$n" \
                "${codec[@]}" "$tmp"; then
            rm -f "$tmp"
            echo "make-tracks: ffmpeg failed for $out" >&2
            exit 1
        fi
        mv -f "$tmp" "$out"
    fi
    printf '%s\t%s\t%s\n' "$out" "$artist" "$title"
done
