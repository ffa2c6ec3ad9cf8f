#!/usr/bin/env bash
# Fuzzes every parser that reads bytes from the network with libFuzzer (Fuzz/, see Fuzz/README.md),
# one target after the other, for a bounded time each.
#
#   scripts/fuzz.sh [SECONDS_PER_TARGET=60] [TARGET...]
#
# For each target: runs the fuzzer on Fuzz/Corpus/<Target>/ (new inputs go to a temporary folder),
# then merges a minimized set of old and new inputs back into Fuzz/Corpus/<Target>/ (files named
# seed-* are always kept; the rest is capped at FUZZ_MAX_FILES files and FUZZ_MAX_BYTES bytes,
# inputs that cover every edge first, then the smallest). A crash, timeout or out-of-memory input is copied to Fuzz/Crashes/<Target>/ and
# the script exits with status 1 after the summary. Logs stay in .build-fuzz-logs/.
#
# Environment:
#   FUZZ_OPT=O        optimization of the fuzz build: O (default, ~15x more executions per second;
#                     `precondition`, bounds and overflow checks stay, `assert` goes) or Onone
#   FUZZ_MAX_FILES=200, FUZZ_MAX_BYTES=512000   cap of the kept corpus per target
#   FUZZ_MAX_LEN=4096 longest input libFuzzer makes
#   FUZZ_NO_MERGE=1   leave Fuzz/Corpus alone (run only)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

seconds=${1:-60}
shift || true
all_targets=(FuzzICYRequest FuzzICYResponse FuzzICYResponseHead FuzzICYSegment FuzzICYMetadata FuzzPeerFrames FuzzJoinRequest FuzzOgg FuzzStreamFormat)
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=("${all_targets[@]}")
opt=${FUZZ_OPT:-O}
max_files=${FUZZ_MAX_FILES:-200}
max_bytes=${FUZZ_MAX_BYTES:-512000}
max_len=${FUZZ_MAX_LEN:-4096}

dictionary() {
  case $1 in
    FuzzPeerFrames | FuzzJoinRequest) echo "$root/Fuzz/Dictionaries/peer.dict" ;;
    FuzzOgg | FuzzStreamFormat) echo "$root/Fuzz/Dictionaries/ogg.dict" ;;
    *) echo "$root/Fuzz/Dictionaries/icy.dict" ;;
  esac
}

# 1. Build. libFuzzer and ASan come with the toolchain's clang runtime; without ASan if that fails.
scratch=$root/.build-fuzz-$opt
flags=(-c debug -Xswiftc -parse-as-library)
[ "$opt" = Onone ] || flags+=(-Xswiftc "-$opt")
build() { swift build --package-path Fuzz --scratch-path "$scratch" "${flags[@]}" -Xswiftc "-sanitize=$1" 2>&1 | grep -v "Cannot export local symbol" | tail -n 20; }
echo "fuzz: building (${flags[*]} -sanitize=fuzzer,address) in $scratch"
sanitizers=fuzzer,address
if ! build fuzzer,address; then
  echo "fuzz: the build with -sanitize=fuzzer,address failed (above); building with -sanitize=fuzzer alone" >&2
  scratch=$root/.build-fuzz-$opt-noasan
  sanitizers=fuzzer
  build fuzzer
fi
bin=$(swift build --package-path Fuzz --scratch-path "$scratch" "${flags[@]}" --show-bin-path)

# 2. Fuzz, one target at a time (each fuzzer uses one core).
work=$(mktemp -d /tmp/casty-fuzz.XXXXXX)
trap 'rm -rf "$work"' EXIT
logs=$root/.build-fuzz-logs
mkdir -p "$logs"
summary=()
crashed=0
for target in "${targets[@]}"; do
  corpus=$root/Fuzz/Corpus/$target
  new=$work/$target-new
  artifacts=$work/$target-artifacts
  mkdir -p "$corpus" "$new" "$artifacts"
  before_files=$(find "$corpus" -type f | wc -l)
  echo "fuzz: $target for ${seconds}s on $before_files corpus files"
  status=0
  (cd "$work" && timeout --kill-after=30 $((seconds + 300)) "$bin/$target" \
    -max_total_time="$seconds" -timeout=5 -rss_limit_mb=2048 -max_len="$max_len" \
    -dict="$(dictionary "$target")" -print_final_stats=1 -artifact_prefix="$artifacts/" \
    "$new" "$corpus") >"$logs/$target.log" 2>&1 || status=$?
  done_line=$(grep -E '^#[0-9]+[[:space:]]+(DONE|pulse|NEW|REDUCE|INITED)' "$logs/$target.log" | tail -n 1 || true)
  executions=$(sed -n 's/^stat::number_of_executed_units: *//p' "$logs/$target.log" | tail -n 1)
  cov=$(echo "$done_line" | sed -n 's/.*cov: \([0-9]*\).*/\1/p')
  ft=$(echo "$done_line" | sed -n 's/.*ft: \([0-9]*\).*/\1/p')
  rss=$(sed -n 's/^stat::peak_rss_mb: *//p' "$logs/$target.log" | tail -n 1)

  found=$(find "$artifacts" -type f | wc -l)
  if [ "$found" -gt 0 ] || [ $status -ne 0 ]; then
    crashed=1
    mkdir -p "$root/Fuzz/Crashes/$target"
    cp "$artifacts"/* "$root/Fuzz/Crashes/$target/" 2>/dev/null || true
    cp "$logs/$target.log" "$root/Fuzz/Crashes/$target/$(date +%Y%m%d-%H%M%S).log"
    echo "fuzz: $target FAILED (exit $status, $found artifacts in Fuzz/Crashes/$target/); see $logs/$target.log" >&2
    grep -E 'ERROR|fuzz invariant|Fatal error|SUMMARY|deadly signal|Test unit written' "$logs/$target.log" | head -n 8 >&2 || true
  fi

  # 4. Merge: a minimized set of the old corpus and the new inputs, seeds always kept. When that set
  #    is over the cap, the inputs that cover every edge (a merge on edges alone, -use_counters=0)
  #    come first, then the rest of the minimized set, smallest first, as long as the cap allows.
  if [ "${FUZZ_NO_MERGE:-0}" != 1 ]; then
    merge() { # output-folder extra-flags...
      local out=$1
      shift
      mkdir -p "$out"
      (cd "$work" && timeout 600 "$bin/$target" -merge=1 -timeout=5 -rss_limit_mb=2048 -max_len="$max_len" "$@" \
        -artifact_prefix="$artifacts/" "$out" "$corpus" "$new") >>"$logs/$target.merge.log" 2>&1
    }
    keep=$work/$target-keep
    mkdir -p "$keep"
    files=0 bytes=0
    add() { # folder: copies its files, smallest first, not yet kept, while the cap allows
      while read -r size path; do
        [ -n "$path" ] && [ ! -e "$keep/$(basename "$path")" ] || continue
        if [ "$files" -ge "$max_files" ] || [ $((bytes + size)) -gt "$max_bytes" ]; then return; fi
        cp "$path" "$keep/$(basename "$path")"
        files=$((files + 1)) bytes=$((bytes + size))
      done < <(find "$1" -type f -printf '%s %p\n' | sort -n)
    }
    : >"$logs/$target.merge.log"
    if merge "$work/$target-merged"; then
      for f in "$corpus"/seed-*; do
        [ -e "$f" ] || continue
        cp "$f" "$keep/"
        # libFuzzer names its files by the SHA-1 of their bytes: a copy of a seed is not kept twice.
        touch "$keep/$(sha1sum <"$f" | cut -d' ' -f1)"
        files=$((files + 1)) bytes=$((bytes + $(stat -c %s "$f")))
      done
      merged_files=$(find "$work/$target-merged" -type f | wc -l)
      merged_bytes=$(find "$work/$target-merged" -type f -printf '%s\n' | awk '{s+=$1} END {print s+0}')
      if [ $((files + merged_files)) -gt "$max_files" ] || [ $((bytes + merged_bytes)) -gt "$max_bytes" ]; then
        merge "$work/$target-edges" -use_counters=0 && add "$work/$target-edges"
      fi
      add "$work/$target-merged"
      find "$keep" -type f -empty -delete
      find "$corpus" -type f -delete
      cp "$keep"/* "$corpus/"
    else
      echo "fuzz: merging $target failed (see $logs/$target.merge.log); corpus left as it was" >&2
    fi
  fi
  after_files=$(find "$corpus" -type f | wc -l)
  after_bytes=$(find "$corpus" -type f -printf '%s\n' | awk '{s+=$1} END {print s+0}')
  summary+=("$(printf '%-20s %6ss %10s %8s %8s %9s %7s %10s %8s' "$target" "$seconds" "${executions:-?}" "${cov:-?}" "${ft:-?}" \
    "$before_files->$after_files" "$after_bytes" "${rss:-?}MB" "$found")")
done

echo
echo "sanitizers: $sanitizers, -$opt, ${seconds}s per target, max_len $max_len"
printf '%-20s %7s %10s %8s %8s %9s %7s %10s %8s\n' target time execs cov features corpus bytes peak-rss crashes
printf '%s\n' "${summary[@]}"
if [ $crashed -ne 0 ]; then
  echo "fuzz: crashes found; inputs in Fuzz/Crashes/ (replay one: $bin/<Target> <file>)" >&2
  exit 1
fi
