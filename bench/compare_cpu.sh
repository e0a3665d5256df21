#!/bin/bash
# Trains the same GPT-2 with photon-sim's CPU backend and with PyTorch on
# this machine, side by side in one run, and prints both tokens/s and the
# ratio.  Default: the small CPU preset of issue 4 (4 layers, 4 heads,
# d_model 128, seq 256, vocabulary 8192, batch 8) on all cores.
#
#   bench/compare_cpu.sh [--threads N] [--steps S] [--rounds R]
#                        [--layers L --heads H --dim C --vocab V --batch B --seq T]
#
# The runs alternate (photon, torch, photon, torch, ...) for R rounds and
# the best of each is compared, since a shared machine is noisy.  Each also
# reports its CPU time per step (all threads): on a machine shared with
# others, wall time measures the scheduler as much as the code, and the
# CPU-time ratio is the steadier figure of the work each one does.  PyTorch
# (Debian's /usr/bin/python3) is run twice per round:
#   torch        as installed, in the caller's environment;
#   torch-same   with the OpenBLAS kernels and OpenMP wait policy that
#                photon-sim itself uses (OPENBLAS_CORETYPE, OMP_WAIT_POLICY),
#                so the ratio against it isolates the implementation.
# Needs a built photon-sim: $PHOTON_SIM, or build/photon-sim.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
sim=${PHOTON_SIM:-$here/../build/photon-sim}
py=${PHOTON_PYTHON:-/usr/bin/python3}
L=4 H=4 C=128 V=8192 B=8 T=256 N=$(nproc) S=10 R=2
while [ $# -gt 0 ]; do
  case "$1" in
    --layers) L=$2;; --heads) H=$2;; --dim) C=$2;; --vocab) V=$2;; --batch) B=$2;;
    --seq) T=$2;; --threads) N=$2;; --steps) S=$2;; --rounds) R=$2;;
    *) echo "compare_cpu.sh: unknown option '$1'" >&2; exit 2;;
  esac
  shift 2
done
[ -x "$sim" ] || { echo "compare_cpu.sh: no photon-sim at $sim (build it, or set PHOTON_SIM)" >&2; exit 1; }
"$py" -c 'import torch' 2>/dev/null || { echo "compare_cpu.sh: $py has no torch (apt-get install python3-torch)" >&2; exit 1; }

args=(--layers "$L" --heads "$H" --dim "$C" --vocab "$V" --batch "$B" --seq "$T" --threads "$N" --steps "$S")
# the OpenBLAS kernels photon-sim uses (it fixes the detection on unknown CPUs)
core=$("$sim" bench "${args[@]}" --steps 1 --warmup 0 --json | sed -n 's/.*"blas": *"\([A-Za-z0-9]*\)".*/\1/p')
policy=${OMP_WAIT_POLICY:-PASSIVE}
field() { sed -n "s/.*\"$1\": *\([0-9.]*\).*/\1/p" <<<"$2"; }
best() { awk -v a="$1" -v b="$2" 'BEGIN { print (a + 0 > b + 0) ? a : b }'; }
least() { awk -v a="$1" -v b="$2" 'BEGIN { print (a + 0 == 0 || b + 0 < a + 0) ? b : a }'; }
bp=0 bt=0 bs=0 cp=0 ct=0 cs=0
echo "model: $L layers, $H heads, d_model $C, vocab $V; batch $B x seq $T; $N threads; $S steps; $R rounds"
for r in $(seq 1 "$R"); do
  jp=$("$sim" bench "${args[@]}" --json)
  jt=$("$py" "$here/torch_cpu_bench.py" "${args[@]}")
  js=$(OPENBLAS_CORETYPE=${core:-${OPENBLAS_CORETYPE:-}} OMP_WAIT_POLICY=$policy "$py" "$here/torch_cpu_bench.py" "${args[@]}")
  p=$(field tokens_per_s "$jp") t=$(field tokens_per_s "$jt") s=$(field tokens_per_s "$js")
  echo "round $r: photon-sim $p tokens/s ($(field cpu_ms_per_step "$jp") CPU ms/step), torch $t ($(field cpu_ms_per_step "$jt")), torch-same $s ($(field cpu_ms_per_step "$js"))"
  bp=$(best "$bp" "$p"); bt=$(best "$bt" "$t"); bs=$(best "$bs" "$s")
  cp=$(least "$cp" "$(field cpu_ms_per_step "$jp")"); ct=$(least "$ct" "$(field cpu_ms_per_step "$jt")")
  cs=$(least "$cs" "$(field cpu_ms_per_step "$js")")
done
echo "best: photon-sim $bp tokens/s; torch $bt tokens/s; torch-same (OpenBLAS ${core:-auto}, OMP_WAIT_POLICY=$policy) $bs tokens/s"
awk -v p="$bp" -v t="$bt" -v s="$bs" 'BEGIN { printf "ratio tokens/s photon-sim / torch: %.2fx; photon-sim / torch-same: %.2fx\n", p / t, p / s }'
awk -v p="$cp" -v t="$ct" -v s="$cs" 'BEGIN { printf "ratio CPU time per step torch / photon-sim: %.2fx; torch-same / photon-sim: %.2fx\n", t / p, s / p }'

