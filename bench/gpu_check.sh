#!/usr/bin/env bash
# Everything the CUDA backend needs a GPU for, in one call (issues 7 and 8):
# build with CUDA into build-gpu/, run the GPU tests (kernels against the C
# references, the backend against the CPU backend), the throughput bench of
# GPT-2 125m (with and without the cuBLASLt epilogues), the PyTorch
# comparison and the shared-GPU test.  Prints everything; with $OUT set
# (the device runner), logs are copied there too.
#
#   bench/gpu_check.sh [build] [test] [bench] [compare] [share]   (default: all)
# All stages take ~8-10 minutes on an H100 box; under a 10-minute limit per
# command run them in two calls (build-gpu/ is kept between them):
#   bench/gpu_check.sh build test      then      bench/gpu_check.sh bench compare share
# Environment: JOBS (build parallelism, default nproc), BATCH (default 16),
#   PHOTON_PYTHON (python3 with CUDA PyTorch, default python3).
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
cd "$root"
stages=${*:-build test bench compare share}
BATCH=${BATCH:-16}
JOBS=${JOBS:-$(nproc)}
log=${OUT:-$root/build-gpu}/gpu_check.log
mkdir -p "$(dirname "$log")" build-gpu
exec > >(tee -a "$log") 2>&1
fail=0
run() { echo "+ $*"; "$@" || { echo "!! failed ($?): $*"; fail=1; }; }
has() { case " $stages " in *" $1 "*) return 0;; esac; return 1; }

echo "== gpu_check $(date -u +%FT%TZ) stages: $stages"
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm --format=csv
if has build; then
    run cmake -S . -B build-gpu -DCMAKE_BUILD_TYPE=Release -DPHOTON_CUDA=ON
    run cmake --build build-gpu -j "$JOBS"
fi
export PHOTON_SIM=$root/build-gpu/photon-sim
if has test; then
    echo "== GPU tests"
    # A GPU that nvidia-smi sees but the runtime does not (old driver) must not pass as "skipped".
    if command -v nvidia-smi >/dev/null && nvidia-smi -L | grep -q GPU; then
        build-gpu/tests/test_cuda_ref | grep -E 'GPU|runtime'
        if build-gpu/tests/test_cuda_ref | grep -q 'no usable GPU'; then echo "!! nvidia-smi lists a GPU but CUDA cannot use it"; fail=1; fi
    fi
    (cd build-gpu && ctest -L gpu --output-on-failure -V > ../build-gpu/ctest_gpu.log 2>&1) || { echo "!! GPU tests failed"; fail=1; }
    grep -vE '^[0-9]+: (Test command|Environment|Working)' build-gpu/ctest_gpu.log
    grep -q 'Skipped' build-gpu/ctest_gpu.log && { echo "!! GPU tests were skipped on a GPU machine"; fail=1; }
    (cd build-gpu && run ctest -R 'test_cuda|test_model' --output-on-failure)
    [ -n "${OUT:-}" ] && cp build-gpu/ctest_gpu.log "$OUT/" 2>/dev/null
fi
if has bench; then
    echo "== photon-sim bench, GPT-2 125m, seq 1024"
    for b in 8 "$BATCH" 32; do
        run "$PHOTON_SIM" bench --backend cuda --model 125m --batch "$b" --seq 1024 --steps 20
    done
    echo "== A/B: cuBLASLt epilogues off (bias + GELU as separate kernels)"
    PHOTON_CUDA_EPILOGUES=0 run "$PHOTON_SIM" bench --backend cuda --model 125m --batch "$BATCH" --seq 1024 --steps 20
    echo "== A/B: flash attention on"
    PHOTON_CUDA_ATTENTION=flash run "$PHOTON_SIM" bench --backend cuda --model 125m --batch "$BATCH" --seq 1024 --steps 20
fi
if has compare; then
    echo "== photon-sim vs PyTorch"
    run bash bench/compare_gpu.sh "$BATCH" 1024
    echo "== photon-sim (flash attention) vs PyTorch"
    PHOTON_CUDA_ATTENTION=flash run bash bench/compare_gpu.sh "$BATCH" 1024
fi
if has share; then
    echo "== actors sharing one GPU"
    run bash bench/share_gpu.sh "$BATCH" 1024 2 4
fi
echo "== gpu_check done: $([ $fail = 0 ] && echo all steps ok || echo SOME STEPS FAILED)"
exit $fail
