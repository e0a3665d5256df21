#!/usr/bin/env bash
# run_fuzz.sh TARGET SEEDS SECONDS [CORPUS_DIR]: runs a libFuzzer target for
# SECONDS from the committed seeds in SEEDS (new inputs go to a scratch
# corpus, or CORPUS_DIR, never into the source tree) and prints one line:
#   fuzz NAME: N executions in S s, corpus C inputs, findings: F in photon-sim, H inside libhdf5
# It runs in libFuzzer's fork mode and goes on after a crash, so one run
# finds every kind of failure; each failing input is then replayed and
# classified by its stack: a crash, sanitizer report, leak, hang or memory
# blow-up whose stack reaches libhdf5 before any photon-sim frame is the
# HDF5 library's own (1.10 is not robust against damaged files; photon-sim
# reads untrusted checkpoints in a child first: io/checkpoint_probe.c).
# Any other finding fails the run; its input and report are kept in a
# directory named in the output.
set -uo pipefail
target=$1 seeds=$2 seconds=$3 keep=${4:-}
src=$(cd "$(dirname "$0")/../.." && pwd)
name=$(basename "$target")
work=$(mktemp -d "${TMPDIR:-/tmp}/photon-$name.XXXXXX")
corpus=${keep:-$work/corpus}
mkdir -p "$corpus" "$work/found" "$work/tmp"
# The targets' scratch files (tests/fuzz/fuzz_util.c) go under $work: a job
# that libFuzzer ends with _Exit leaves them there, and they go with it.
export TMPDIR=$work/tmp
export ASAN_OPTIONS=${ASAN_OPTIONS:-halt_on_error=1:detect_leaks=1} UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
# -rss_limit_mb also bounds single allocations: an input that makes a
# parser allocate without bound is a finding.
opts=(-timeout=20 -rss_limit_mb=2560)
"$target" -fork=1 -ignore_crashes=1 -ignore_timeouts=1 -ignore_ooms=1 -max_total_time="$seconds" "${opts[@]}" \
    -artifact_prefix="$work/found/" "$corpus" "$seeds" > "$work/log" 2>&1
rc=$?
execs=$(grep -oE '^#[0-9]+:' "$work/log" | tail -n 1 | tr -d '#:')
units=$(find "$corpus" -type f | wc -l)
ours=0 hdf5=0
for a in "$work/found"/*; do
    [ -e "$a" ] || continue
    "$target" "${opts[@]}" "$a" > "$a.report" 2>&1
    # the stack of the report, down to the first frame in photon-sim's sources
    if awk -v src="$src" '
        /^ *#[0-9]+ / { if (index($0, src "/io/") || index($0, src "/gpu/") || index($0, src "/tests/")) exit
                        if ($0 ~ /libhdf5/) { h = 1; exit } }
        END { exit !h }' "$a.report"; then
        hdf5=$((hdf5 + 1))
    else
        ours=$((ours + 1))
        echo "finding in photon-sim: $a"
        grep -E 'ERROR|SUMMARY|runtime error|^ *#[0-9]+ ' "$a.report" | head -n 25
    fi
done
echo "fuzz $name: ${execs:-0} executions in $seconds s, corpus $units inputs, findings: $ours in photon-sim, $hdf5 inside libhdf5"
if [ $ours != 0 ] || { [ $rc != 0 ] && [ $hdf5 = 0 ]; }; then
    [ $ours != 0 ] || tail -n 30 "$work/log"
    echo "fuzz $name: FAILED (exit $rc); inputs, reports and the log are in $work"
    exit 1
fi
if [ $hdf5 != 0 ] && [ -n "${PHOTON_FUZZ_KEEP_HDF5:-}" ]; then
    mkdir -p "$PHOTON_FUZZ_KEEP_HDF5" && cp "$work/found"/* "$PHOTON_FUZZ_KEEP_HDF5"/ 2>/dev/null
fi
rm -rf "$work"
