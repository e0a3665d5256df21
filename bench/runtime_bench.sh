#!/usr/bin/env bash
# The runtime's own cost per round, side by side on this machine:
#  1. photon-sim bench --link     dispatch round trip, model publish, actor
#                                 read/write, in-order consume of K updates,
#                                 outer step — next to memcpy (GB/s)
#  2. photon-sim bench --runtime  aggregation and the outer step alone
#  2b. photon-sim bench --link --tcp  one 125M-sized blob over loopback TCP,
#                                 clear frames and inside TLS, next to memcpy
#  3. a short real federated run (tiny model, 8 clients): the share of each
#     round's wall time the supervisor spent outside training
#     (summary.json round_overhead_fraction)
# Usage: bench/runtime_bench.sh [BUILD_DIR] [--sizes tiny,small,medium,125m] [--clients K]
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$here/build}
shift || true
sim=$build/photon-sim
[ -x "$sim" ] || { echo "runtime_bench: no photon-sim in $build (build it first)" >&2; exit 2; }
args=("$@")
[ ${#args[@]} -gt 0 ] || args=(--sizes tiny,small,medium,125m --clients 8)

echo "== photon-sim bench --link ${args[*]}"
"$sim" bench --link "${args[@]}"
echo
echo "== photon-sim bench --runtime ${args[*]}"
"$sim" bench --runtime "${args[@]}"
echo
echo "== photon-sim bench --link --tcp --sizes 125m"
"$sim" bench --link --tcp --sizes 125m
echo

tmp=$(mktemp -d "${TMPDIR:-/tmp}/photon-rtbench.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
cat > "$tmp/run.ini" <<INI
[run]
name = rtbench
out_dir = $tmp/run
rounds = 4
backend = cpu
[model]
n_layer = 2
n_head = 2
d_model = 64
seq_len = 64
[data]
sources = $here/data/c4/c4-sample-train.json.gz
validation = $here/data/c4/c4-sample-validation.json.gz
tokenizer = train
tokenizer_vocab = 512
max_docs = 400
[clients]
count = 8
per_round = 8
actors = 2
local_steps = 8
batch_size = 4
[eval]
every = 0
batches = 1
INI
echo "== a real run: 8 clients, tiny model, 4 rounds"
"$sim" "$tmp/run.ini" > "$tmp/log.txt" 2>&1 || { cat "$tmp/log.txt"; exit 1; }
grep -E '"(round_overhead_fraction|tokens_per_s|communication_reduction|bytes_moved|allreduce_bytes)"' "$tmp/run/summary.json"
