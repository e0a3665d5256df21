#!/usr/bin/env bash
# A checkpoint on which the HDF5 library itself crashes (found by the
# checkpoint fuzzer; tests/fixtures/hdf5-crash/README.md) never takes
# photon-sim down: inspect --verify and eval end with one error line and
# exit 1, and --resume skips it for the previous checkpoint.  (The crash
# shows under AddressSanitizer; in other builds the file may read as merely
# damaged: either way photon-sim's own error is the last line.)
source "$(dirname "$0")/runtime_common.bash"
zcat "$PHOTON_SOURCE_DIR/tests/fixtures/hdf5-crash/dense-links.h5.gz" > "$tmp/bad.h5"
last_error() {   # NAME STATUS STDERR
    [ "$2" = 1 ] || fail "$1: exit status $2, expected 1"
    tail -n 1 "$3" | grep -q "^photon-sim: error: .*bad.h5: " || fail "$1: the last line is not photon-sim's error: $(tail -n 3 "$3")"
}
rc=0; "$PHOTON_SIM" inspect "$tmp/bad.h5" --verify > /dev/null 2> "$tmp/i.txt" || rc=$?
last_error "inspect --verify" $rc "$tmp/i.txt"
# eval needs a shard: a minimal llm.c one (magic 20240520, version 1, 64 tokens of 0)
{ printf '\x88\xd8\x34\x01\x01\x00\x00\x00\x40\x00\x00\x00'; head -c $((1024 - 12 + 128)) /dev/zero; } > "$tmp/s.bin"
rc=0; "$PHOTON_SIM" eval "$tmp/bad.h5" --data "$tmp/s.bin" > /dev/null 2> "$tmp/e.txt" || rc=$?
last_error "eval" $rc "$tmp/e.txt"

# --resume: the run the file comes from (tests/fuzz/corpus/checkpoint), its
# round-2 checkpoint replaced by the damaged one.
cat > "$tmp/s.ini" <<INI
[run]
name = seed
out_dir = $tmp/run
seed = 7
rounds = 2
backend = cpu
threads = 1
[model]
n_layer = 1
n_head = 2
d_model = 8
seq_len = 8
[data]
sources = $PHOTON_SOURCE_DIR/data/c4/c4-sample-train.json.gz
validation = $PHOTON_SOURCE_DIR/data/c4/c4-sample-validation.json.gz
tokenizer = train
tokenizer_vocab = 300
max_docs = 40
prepared_dir = $tmp/data
[clients]
count = 2
per_round = 2
actors = 1
local_steps = 1
batch_size = 2
optimizer_state = keep
[aggregator]
strategy = nesterov
server_lr = 0.7
momentum = 0.7
[eval]
every = 0
batches = 0
[checkpoint]
every = 1
keep = 0
INI
"$PHOTON_SIM" "$tmp/s.ini" > "$tmp/run.txt" 2>&1 || fail "run: $(tail -n 2 "$tmp/run.txt")"
cp "$tmp/bad.h5" "$tmp/run/checkpoints/ckpt-00000002.h5"
"$PHOTON_SIM" "$tmp/s.ini" --resume > "$tmp/r.txt" 2>&1 || fail "resume: $(tail -n 3 "$tmp/r.txt")"
grep -q "skipping checkpoint of round 2, it is unusable" "$tmp/r.txt" || fail "the damaged checkpoint was not skipped: $(cat "$tmp/r.txt")"
grep -q "resuming after round 1 " "$tmp/r.txt" || fail "did not resume after round 1: $(cat "$tmp/r.txt")"
echo "hdf5_crash: ok: $(tail -n 1 "$tmp/i.txt")"
