#!/usr/bin/env bash
# Fuzzing: builds the libFuzzer targets of tests/fuzz (clang, ASan + UBSan,
# in build-fuzz/) and runs each for a chosen time from its committed seeds,
# printing per target the executions, the corpus reached and the findings
# (tests/fuzz/run_fuzz.sh: a finding in photon-sim fails; crashes inside
# HDF5 itself are counted apart).  docs/FUZZING.md says more.
#   tools/fuzz.sh [--seconds N] [--corpus DIR] [TARGET...]
#     --seconds N   per target (default 60)
#     --corpus DIR  keep each target's corpus in DIR/<target> (to go on later)
#     TARGET        config checkpoint runstate shard json textsrc tokenizer
#                   safetensors tcp_frame tcp_blob tcp_handshake actor_msg
#                   (default: all)
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.." || exit 1
seconds=60 corpus="" targets=()
while [ $# -gt 0 ]; do
    case $1 in
        --seconds) seconds=$2; shift 2 ;;
        --corpus) corpus=$2; shift 2 ;;
        -h|--help) sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        -*) echo "fuzz.sh: unknown option $1" >&2; exit 2 ;;
        *) targets+=("$1"); shift ;;
    esac
done
[[ $seconds =~ ^[0-9]+$ ]] || { echo "fuzz.sh: --seconds wants an integer, got '$seconds'" >&2; exit 2; }
command -v clang > /dev/null || { echo "fuzz.sh: clang not found (Debian: clang-14 libclang-rt-14-dev libomp-14-dev)" >&2; exit 2; }
[ ${#targets[@]} -gt 0 ] || targets=(config checkpoint runstate shard json textsrc tokenizer safetensors tcp_frame tcp_blob
                                    tcp_handshake actor_msg)
CC=clang cmake -S . -B build-fuzz -DPHOTON_FUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo > build-fuzz.log 2>&1 &&
    cmake --build build-fuzz --target fuzz -j "$(nproc 2>/dev/null || echo 2)" >> build-fuzz.log 2>&1 ||
    { tail -n 20 build-fuzz.log; echo "fuzz.sh: build failed (build-fuzz.log)" >&2; exit 1; }
rm -f build-fuzz.log
fail=0
for t in "${targets[@]}"; do
    bin=build-fuzz/tests/fuzz/fuzz_$t
    [ -x "$bin" ] || { echo "fuzz.sh: no target '$t'" >&2; fail=1; continue; }
    keep=()
    if [ -n "$corpus" ]; then mkdir -p "$corpus/$t"; keep=("$corpus/$t"); fi
    bash tests/fuzz/run_fuzz.sh "$bin" "tests/fuzz/corpus/$t" "$seconds" "${keep[@]}" || fail=1
done
exit $fail
