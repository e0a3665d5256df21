#!/usr/bin/env bash
# The centralized baseline's own recipe ([centralized]; docs/ROUNDS.md):
#  - defaults inherit [clients]: a run that sets every key to the value it
#    inherits ends bitwise where the default run does (summary.json
#    model_hash), so experiment files without the section train as before;
#  - each key takes effect, shown by equivalence: [centralized] lr / warmup /
#    schedule / min_lr_ratio = v ends bitwise where [clients] K = v does
#    (and elsewhere than the default); batch_size 8 (of per_round 4 x batch
#    4 = 16) is per_round 2, with half the tokens per round; grad_accum 2
#    splits the global batch of 16 into 2 micro-batches of 8, which is what
#    clients.batch_size 8 with per_round 2 gives;
#  - federated runs ignore the section; a global batch that does not split
#    into whole micro-batches is a configuration error naming the key.
source "$(dirname "$0")/runtime_common.bash"
write_tiny_ini "$tmp/x.ini"
base=(--set run.mode=centralized --set run.rounds=2 --set eval.batches=1 --set clients.warmup=2
      --set clients.grad_accum=2)
run() { local name=$1; shift; "$PHOTON_SIM" "$tmp/x.ini" "${base[@]}" --set run.out_dir="$tmp/$name" "$@" \
            > "$tmp/$name.txt" 2>&1 || { cat "$tmp/$name.txt"; fail "run $name exited with $?"; }; }
hash_of() { grep -o '"model_hash":"[0-9a-f]*"' "$tmp/$1/summary.json"; }
same() { [ "$(hash_of "$1")" = "$(hash_of "$2")" ] || fail "$1 and $2 differ: $(hash_of "$1") $(hash_of "$2")"; }
differ() { [ "$(hash_of "$1")" != "$(hash_of "$2")" ] || fail "$1 ends where $2 does: the key had no effect"; }
round_tokens() { grep '"event":"round"' "$tmp/$1/metrics.jsonl" | head -n 1 | sed 's/.*"tokens":\([0-9]*\).*/\1/'; }

run default
run inherit --set centralized.batch_size=16 --set centralized.grad_accum=8 --set centralized.lr=3e-3 \
    --set centralized.min_lr_ratio=0.1 --set centralized.warmup=2 --set centralized.schedule=cosine
same default inherit

for kv in lr=1e-2 warmup=0 schedule=linear min_lr_ratio=0.6; do
    k=${kv%%=*}
    run "c_$k" --set "centralized.$kv"
    run "k_$k" --set "clients.$kv"
    same "c_$k" "k_$k"
    differ "c_$k" default
done

# 4 local steps x global batch x seq_len 32 tokens per round
[ "$(round_tokens default)" = $((4 * 16 * 32)) ] || fail "default: $(round_tokens default) tokens per round"
run c_batch --set centralized.batch_size=8
run k_batch --set clients.per_round=2
same c_batch k_batch
differ c_batch default
[ "$(round_tokens c_batch)" = $((4 * 8 * 32)) ] || fail "batch_size 8: $(round_tokens c_batch) tokens per round"

run c_accum --set centralized.grad_accum=2
run k_accum --set clients.batch_size=8 --set clients.per_round=2 --set clients.grad_accum=1
same c_accum k_accum
differ c_accum default
[ "$(round_tokens c_accum)" = $((4 * 16 * 32)) ] || fail "grad_accum 2: $(round_tokens c_accum) tokens per round"

# Federated runs do not read the section.
run fed --set run.mode=federated
run fed_c --set run.mode=federated --set centralized.lr=1 --set centralized.batch_size=7
same fed fed_c

expect_usage() {
    local what=$1 msg=$2; shift 2
    local rc=0
    "$PHOTON_SIM" "$tmp/x.ini" "${base[@]}" --set run.out_dir="$tmp/bad" "$@" > "$tmp/bad.txt" 2>&1 || rc=$?
    [ $rc = 2 ] && grep -q -- "$msg" "$tmp/bad.txt" || { cat "$tmp/bad.txt"; fail "$what: exit $rc"; }
}
expect_usage "grad_accum not dividing" "--set centralized.grad_accum: \[centralized\] grad_accum = 3 does not divide the global batch of 16" \
    --set centralized.grad_accum=3
expect_usage "batch not whole micro-batches" "\[centralized\] batch_size = 7 is not a multiple of the clients' micro-batch of 2" \
    --set centralized.batch_size=7
expect_usage "min_lr_ratio" "expected -1 (inherit) or a value in \[0, 1\]" --set centralized.min_lr_ratio=-0.5
echo ok
