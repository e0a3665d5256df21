#!/usr/bin/env bash
# Issue 8 item 3: several actors sharing one GPU.  Runs K photon-sim bench
# processes at once on GPU 0, each with batch TOTAL/K, and compares their
# summed tokens/s with one process at batch TOTAL (same total batch).
#
#   bench/share_gpu.sh [TOTAL_BATCH [SEQ [K...]]]    (defaults 16 1024 "2 4")
# Environment: PHOTON_SIM, STEPS (default 30), MODEL (default 125m).
set -euo pipefail
TOTAL=${1:-16}
T=${2:-1024}
shift $(( $# > 2 ? 2 : $# )) || true
KS=${*:-2 4}
STEPS=${STEPS:-30}
MODEL=${MODEL:-125m}
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
sim=${PHOTON_SIM:-}
if [ -z "$sim" ]; then
    for c in "$root/build-gpu/photon-sim" "$root/build/photon-sim"; do [ -x "$c" ] && { sim=$c; break; }; done
fi
[ -x "${sim:-}" ] || { echo "share_gpu: no photon-sim binary (set PHOTON_SIM)" >&2; exit 2; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
tps() { python3 -c 'import json,sys; print(json.loads(open(sys.argv[1]).read().strip().splitlines()[-1])["tokens_per_s"])' "$1"; }

(cd "$root" && "$sim" bench --backend cuda --model "$MODEL" --batch "$TOTAL" --seq "$T" --steps "$STEPS" --json) > "$tmp/one.json"
one=$(tps "$tmp/one.json")
printf "1 actor  x batch %3d: %10.0f tokens/s\n" "$TOTAL" "$one"
status=0
for K in $KS; do
    b=$(( TOTAL / K ))
    [ "$b" -ge 1 ] || continue
    pids=()
    for i in $(seq 1 "$K"); do
        (cd "$root" && "$sim" bench --backend cuda --model "$MODEL" --batch "$b" --seq "$T" --steps "$STEPS" --json) > "$tmp/k$K.$i.json" &
        pids+=($!)
    done
    for p in "${pids[@]}"; do wait "$p" || status=1; done
    sum=0
    for i in $(seq 1 "$K"); do sum=$(python3 -c "print($sum + $(tps "$tmp/k$K.$i.json"))"); done
    python3 -c "import sys; s,o,k,b=float(sys.argv[1]),float(sys.argv[2]),sys.argv[3],int(sys.argv[4]); print('%s actors x batch %3d: %10.0f tokens/s aggregate = %.3f of one actor (%s)' % (k, b, s, s/o, 'within the 10%% budget' if s/o >= 0.9 else 'loses more than 10%%'))" "$sum" "$one" "$K" "$b"
done
exit $status
