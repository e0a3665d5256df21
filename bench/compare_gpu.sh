#!/usr/bin/env bash
# Issue 8's comparison, in one call on one GPU: photon-sim's CUDA backend and
# the PyTorch stack (bench/torch_gpu_bench.py: bf16 autocast, torch.compile,
# SDPA flash attention, fused AdamW) train GPT-2 124M at the same batch and
# sequence length; prints both figures and the ratio photon-sim / PyTorch.
#
#   bench/compare_gpu.sh [BATCH [SEQ]]        (defaults 16 1024)
# Environment: PHOTON_SIM (default build-gpu/photon-sim, then build/photon-sim),
#   PHOTON_PYTHON (a python3 with CUDA PyTorch; default python3),
#   STEPS (default 20), TORCH_ARGS (e.g. --no-compile).
set -euo pipefail
B=${1:-16}
T=${2:-1024}
STEPS=${STEPS:-20}
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
sim=${PHOTON_SIM:-}
if [ -z "$sim" ]; then
    for c in "$root/build-gpu/photon-sim" "$root/build/photon-sim"; do [ -x "$c" ] && { sim=$c; break; }; done
fi
[ -x "${sim:-}" ] || { echo "compare_gpu: no photon-sim binary (build first, or set PHOTON_SIM)" >&2; exit 2; }
py=${PHOTON_PYTHON:-python3}

field() { # field JSON KEY
    "$py" -c 'import json,sys; d=json.loads(sys.argv[1]); v=d.get(sys.argv[2]); print("" if v is None else v)' "$1" "$2" 2>/dev/null ||
        python3 -c 'import json,sys; d=json.loads(sys.argv[1]); v=d.get(sys.argv[2]); print("" if v is None else v)' "$1" "$2"
}

echo "== photon-sim (cuda, bf16): GPT-2 125m, batch $B x seq $T"
(cd "$root" && "$sim" bench --backend cuda --model 125m --batch "$B" --seq "$T" --steps "$STEPS" --json) > /tmp/photon_bench.$$ || {
    echo "compare_gpu: photon-sim bench failed" >&2; rm -f /tmp/photon_bench.$$; exit 1; }
pj=$(tail -n 1 /tmp/photon_bench.$$)
rm -f /tmp/photon_bench.$$
echo "$pj"

echo "== PyTorch: GPT-2 124M, batch $B x seq $T"
set +e
tj=$("$py" "$here/torch_gpu_bench.py" --batch "$B" --seq "$T" --steps "$STEPS" ${TORCH_ARGS:-} | tail -n 1)
rc=$?
set -e
if [ $rc -ne 0 ]; then
    echo "compare_gpu: the PyTorch side did not run (exit $rc): no ratio" >&2
    exit $rc
fi
echo "$tj"

ptps=$(field "$pj" tokens_per_s)
ttps=$(field "$tj" tokens_per_s)
echo "== summary (same GPU, same call)"
printf "photon-sim  %12.0f tokens/s  MFU %s  peak GPU memory %s bytes\n" "$ptps" "$(field "$pj" mfu)" "$(field "$pj" peak_gpu_mem_bytes)"
printf "PyTorch     %12.0f tokens/s  compiled %s  peak GPU memory %s bytes\n" "$ttps" "$(field "$tj" compiled)" "$(field "$tj" peak_gpu_mem_bytes)"
python3 -c "import sys; r=float(sys.argv[1])/float(sys.argv[2]); print('ratio photon-sim / PyTorch = %.3f (%s)' % (r, 'target >= 1.0 met' if r >= 1.0 else 'below the 1.0 target'))" "$ptps" "$ttps"
