#!/usr/bin/env bash
# The checkpoint commands on a checkpoint a real (tiny, 3-round) federated run
# wrote: inspect --verify lists it and checks its checksums; eval --tokens
# reproduces the loss the run itself logged for its final model on the same
# validation windows; sample finds the run's trained tokenizer and is reproducible for a
# seed; export-hf writes a Hugging Face GPT-2 that tests/hf_reference.py
# (PyTorch, parsing the files itself) evaluates to the same loss and decodes
# greedily to the same text as `sample --temperature 0` — and, where
# transformers is installed, GPT2LMHeadModel loads it with the same logits.
# The PyTorch part is skipped when Debian's python3-torch is missing.
source "$(dirname "$0")/runtime_common.bash"
write_tiny_ini "$tmp/x.ini"
"$PHOTON_SIM" "$tmp/x.ini" > "$tmp/run.txt" 2>&1 || { cat "$tmp/run.txt"; fail "run exited with $?"; }
ckpt=$tmp/run/checkpoints/ckpt-00000003.h5
[ -s "$ckpt" ] || fail "the run wrote no $ckpt"

"$PHOTON_SIM" inspect "$ckpt" --verify > "$tmp/inspect.txt" || fail "inspect --verify failed: $(cat "$tmp/inspect.txt")"
grep -q 'vocab_size 512' "$tmp/inspect.txt" || fail "inspect: no model shape"
grep -q 'transformer.h.0.attn.c_attn.weight *f32  (32, 96)' "$tmp/inspect.txt" || fail "inspect: no c_attn shape"
grep -q '^checksums    ok' "$tmp/inspect.txt" || fail "inspect: checksums not verified"

# eval --tokens = the run's own final eval: the same windows spread over
# val.bin ([eval] batches 2 x clients.batch_size 4 x seq_len 32 = 256 tokens).
"$PHOTON_SIM" eval "$ckpt" --data "$tmp/data/val.bin" --tokens 256 --batch 4 --threads 1 > "$tmp/eval.txt" 2>/dev/null ||
    fail "eval --tokens failed"
sloss=$(sed -n 's/^loss \([0-9.]*\) perplexity .*/\1/p' "$tmp/eval.txt")
[ -n "$sloss" ] || fail "eval --tokens printed: $(cat "$tmp/eval.txt")"
grep -q '^source c4-sample-validation loss [0-9.]* perplexity [0-9.]* windows 8$' "$tmp/eval.txt" ||
    fail "eval --tokens: no per-source line: $(cat "$tmp/eval.txt")"
run_loss=$(grep '"event":"eval"' "$tmp/run/metrics.jsonl" | tail -1 | sed 's/.*"loss":\([0-9.eE+-]*\).*/\1/')
awk -v a="$sloss" -v b="$run_loss" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(d <= 1e-5 * b) }' ||
    fail "eval --tokens loss $sloss differs from the run's final eval loss $run_loss"
# The first 2 x 4 windows (DESIGN §3), for the PyTorch reference below.
"$PHOTON_SIM" eval "$ckpt" --data "$tmp/data/val.bin" --batches 2 --batch 4 --threads 1 > "$tmp/eval.txt" 2>/dev/null ||
    fail "eval failed"
loss=$(sed -n 's/^loss \([0-9.]*\) perplexity .*/\1/p' "$tmp/eval.txt")
[ -n "$loss" ] || fail "eval printed: $(cat "$tmp/eval.txt")"

# sample: the run's trained tokenizer is found through the recorded config.
s1=$("$PHOTON_SIM" sample "$ckpt" --prompt "The " --tokens 16 --seed 3 --threads 1 2>/dev/null) || fail "sample failed"
s2=$("$PHOTON_SIM" sample "$ckpt" --prompt "The " --tokens 16 --seed 3 --threads 1 2>/dev/null) || fail "sample failed"
[ "$s1" = "$s2" ] || fail "sample is not reproducible for a seed"
case "$s1" in "The "*) ;; *) fail "sample output does not start with the prompt: $s1" ;; esac

"$PHOTON_SIM" export-hf "$ckpt" "$tmp/hf" > /dev/null || fail "export-hf failed"
for f in model.safetensors config.json vocab.json merges.txt; do
    [ -s "$tmp/hf/$f" ] || fail "export-hf wrote no $f"
done
find "$tmp/hf" -name '*.tmp.*' | grep -q . && fail "export-hf left temp files"

if [ -n "${PHOTON_PYTHON:-}" ]; then
    ids=$(printf 'The ' | "$PHOTON_SIM" encode --tokenizer "$tmp/data/tokenizer") || fail "encode failed"
    "$PHOTON_SIM" sample "$ckpt" --prompt "The " --tokens 12 --temperature 0 --threads 1 > "$tmp/greedy.txt" 2>/dev/null ||
        fail "greedy sample failed"
    # One PyTorch process (its import is the slow part): loss and greedy text.
    rc=0
    "$PHOTON_PYTHON" "$PHOTON_SOURCE_DIR/tests/hf_reference.py" "$tmp/hf" --shard "$tmp/data/val.bin" \
        --batches 2 --batch 4 --expect-loss "$loss" --prompt-ids "$ids" --generate 12 \
        --expect-text "$tmp/greedy.txt" || rc=$?
    [ "$rc" = 0 ] || [ "$rc" = 77 ] || fail "the PyTorch reference disagrees with eval or sample"
else
    echo "PHOTON_PYTHON not set: PyTorch reference checks skipped"
fi
echo ok
