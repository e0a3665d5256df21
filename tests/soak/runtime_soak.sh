#!/usr/bin/env bash
# Soak test (not in the default suite; minutes): a long tiny run with
# random actor kills (faults.kill_prob), stalls past the task timeout and
# corrupted updates, while the supervisor itself is SIGKILLed at random
# moments and restarted with --resume, over and over.  Checks that
#  - the run completes, and its final model is bitwise the one of the same
#    run never interrupted (every fault is a pure function of the seed and
#    the task's place in the run, so nothing is lost by the restarts);
#  - no actor process, /dev/shm segment or temp file is left behind.
# Usage: PHOTON_SIM=build/photon-sim tests/soak/runtime_soak.sh [ROUNDS] [KILL_PROB]
set -euo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
sim=${PHOTON_SIM:-$here/build/photon-sim}
rounds=${1:-200}
prob=${2:-0.2}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/photon-soak.XXXXXX")
sup=
trap '[ -n "$sup" ] && kill -9 $sup 2>/dev/null; rm -rf "$tmp"' EXIT
fail() { echo "SOAK FAIL: $*" >&2; exit 1; }
cat > "$tmp/soak.ini" <<INI
[run]
name = soak
seed = 5
rounds = $rounds
backend = cpu
threads = 1
[model]
n_layer = 1
n_head = 2
d_model = 32
seq_len = 32
[data]
sources = $here/data/c4/c4-sample-train.json.gz
validation = $here/data/c4/c4-sample-validation.json.gz
tokenizer = train
tokenizer_vocab = 512
max_docs = 200
prepared_dir = $tmp/data
[clients]
count = 6
per_round = 4
actors = 3
local_steps = 3
batch_size = 4
optimizer_state = keep
[aggregator]
strategy = nesterov
server_lr = 0.7
momentum = 0.7
min_clients = 1
max_retries = 50
round_timeout = 2
reject_norm = 0
[supervision]
restarts = 1000
run_restarts = 100000
window = 1
backoff = 0.01
[checkpoint]
every = 1
keep = 3
[eval]
every = 50
batches = 1
[faults]
kill_prob = $prob
stall_prob = 0.01
corrupt = nan
corrupt_prob = 0.02
INI
echo "soak: reference run ($rounds rounds, kill_prob $prob)"
"$sim" "$tmp/soak.ini" --set run.out_dir="$tmp/ref" > "$tmp/ref.log" 2>&1 || { tail "$tmp/ref.log"; fail "reference run"; }
want=$(grep model_hash "$tmp/ref/summary.json")
kills=$(grep -c '"type":"kill"' "$tmp/ref/metrics.jsonl" || true)
echo "soak: reference done, $kills actor kills injected"

restarts=0
pids=()
while :; do
    "$sim" "$tmp/soak.ini" --set run.out_dir="$tmp/run" --resume > "$tmp/run.log" 2>&1 &
    sup=$!
    pids+=($sup)
    # Longer than a stalled task's timeout, or a round with a stall could
    # never finish between two kills.
    sleep "$(awk -v r=$RANDOM 'BEGIN { printf "%.2f", 2.5 + r / 32768 * 5 }')"
    if kill -0 $sup 2>/dev/null; then
        kill -9 $sup 2>/dev/null || true
        wait $sup 2>/dev/null || true
        restarts=$((restarts + 1))
    else
        wait $sup || { tail "$tmp/run.log"; fail "run failed"; }
        sup=
        break
    fi
done
got=$(grep model_hash "$tmp/run/summary.json")
echo "soak: $restarts supervisor kills; final $got, reference $want"
[ "$got" = "$want" ] || fail "final model differs from the uninterrupted run"
sleep 1
for p in "${pids[@]}"; do
    if ls /dev/shm | grep -q "^photon-$p-"; then fail "shm segments of $p left"; fi
done
if pgrep -f "photon-sim actor --fd" > /dev/null; then
    for a in $(pgrep -f "photon-sim actor --fd"); do
        pp=$(ps -o ppid= -p "$a" | tr -d ' ')
        for p in "${pids[@]}"; do [ "$pp" = "$p" ] && fail "actor $a of $p left"; done
    done
fi
find "$tmp/run" -name '*.tmp.*' | grep -q . && fail "temp files left"
echo "soak: ok"
