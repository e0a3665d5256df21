#!/usr/bin/env bash
# Odd inputs a new user tries, through the real binary: each is one clear
# line on stderr naming the file (and byte offset where there is one), exit 2
# for usage errors and 1 otherwise, and no temp files left behind.  Also: a
# model whose vocab_size is smaller than the tokenizer fails at prepare time,
# before any tokenizing, instead of in the first round.
source "$(dirname "$0")/cli_common.bash"
TOK=$SRC/data/tokenizer/gpt2

no_temps() {
    local left
    left=$(find "$T" -name '*.tmp.*')
    [ -z "$left" ] || fail "$1: temp files left: $left"
}

# encode: bad options are usage errors; a missing tokenizer names its file.
expect "encode --threads abc" 2 "encode: error: --threads 'abc': expected an integer" encode --tokenizer "$TOK" --threads abc
expect "encode stray argument" 2 "encode: error: unexpected argument 'extra'" encode --tokenizer "$TOK" extra
expect "encode --tokenizer without a value" 2 "option --tokenizer needs a value" encode --tokenizer
expect "encode missing tokenizer dir" 1 "nodir: cannot open the tokenizer directory" encode --tokenizer nodir
got=$("$BIN" encode --tokenizer "$TOK" </dev/null)
[ -z "$got" ] || fail "encode of an empty stdin printed '$got'"

cat >exp.ini <<INI
include = $SRC/configs/tiny.ini
[run]
name = odd
out_dir = $T/run
rounds = 1
backend = cpu
[data]
sources = wiki=$SRC/data/wikipedia/wiki-validation.json.gz
validation = $SRC/data/c4/c4-sample-validation.json.gz
tokenizer = $TOK
max_docs = 30
[clients]
count = 2
per_round = 2
actors = 1
local_steps = 1
batch_size = 2
[checkpoint]
every = 1
INI
# prepare takes the same arguments as a run, with the same usage errors.
expect "prepare --set without a value" 2 "error: --set needs section.key=value \(usage: photon-sim prepare" prepare exp.ini --set
expect "prepare without a file" 2 "error: no experiment file given \(usage: photon-sim prepare" prepare
expect "prepare with two files" 2 "more than one experiment file: b.ini" prepare exp.ini b.ini
expect "prepare unknown option" 2 "unknown option --bogus" prepare exp.ini --bogus
expect "prepare missing file" 2 "nothere.ini: cannot open" prepare nothere.ini

# tiny.ini says vocab_size = 1024; GPT-2's tokenizer has 50257 tokens.
expect "vocab_size below the tokenizer's (prepare)" 1 "vocab_size = 1024 is less than the 50257 tokens of the tokenizer" prepare exp.ini
[ ! -e run/data/client_0000.bin ] || fail "prepare with a too small vocab_size wrote shards"
expect "vocab_size below the tokenizer's (run)" 1 "vocab_size = 1024 is less than the 50257 tokens" exp.ini
no_temps "vocab_size"

# A missing data file is a configuration error (exit 2) naming where it was set.
expect "missing data file" 2 "--set data.sources: \[data\] sources: '.*/gone.jsonl' not found" exp.ini --set data.sources=gone.jsonl

# backend = cuda in a build without CUDA: one configuration error up front.
if "$BIN" --version | grep -q "CUDA backend: not built in"; then
    expect "backend = cuda without CUDA" 2 "\[run\] backend = cuda, but this photon-sim was built without CUDA" \
        exp.ini --set run.backend=cuda --set model.vocab_size=0
fi

# A real (tiny, one round) checkpoint for the checkpoint commands.
"$BIN" exp.ini --set model.vocab_size=0 >run.log 2>&1 || { cat run.log; fail "one-round run"; exit 1; }
# The same mismatch with prepared data that is current: still caught first,
# and the prepared data stays current.  (--resume: the run directory holds
# the run above's results, which a plain run would refuse to touch.)
expect "vocab_size below the tokenizer's (current data)" 1 "vocab_size = 1024 is less than the 50257 tokens" exp.ini --set run.rounds=2 --resume
[ -s run/data/manifest.json ] || fail "the vocab_size check removed the manifest of current data"
CK=run/checkpoints/ckpt-00000001.h5
[ -s "$CK" ] || { fail "no checkpoint written"; exit 1; }
head -c 2000 run/data/val.bin >trunc.bin
expect "eval on a truncated shard" 1 "trunc.bin: truncated token shard: header says [0-9]+ tokens" eval "$CK" --data trunc.bin
expect "eval with the shard and checkpoint swapped" 1 "ckpt-00000001.h5: byte offset 0: wrong magic" eval "$CK" --data "$CK"
expect "eval on a missing checkpoint" 1 "nothere.h5: cannot open checkpoint: No such file or directory" eval nothere.h5 --data trunc.bin
expect "inspect a text file" 1 "exp.ini: not an HDF5 file" inspect exp.ini
expect "inspect a directory" 1 "run: is a directory, expected a checkpoint file" inspect run
head -c 100000 "$CK" >trunc.h5
expect "eval on a truncated checkpoint" 1 "trunc.h5: cannot open HDF5 file \(truncated or corrupt\?\)" eval trunc.h5 --data run/data/val.bin
expect "inspect without a file" 2 "inspect: error: missing argument" inspect
touch afile
expect "export-hf into a file" 1 "afile: exists and is not a directory" export-hf "$CK" afile
expect "export-hf below a file" 1 "afile/sub: cannot create directory: Not a directory" export-hf "$CK" afile/sub
[ ! -s afile ] || fail "export-hf wrote into the file"
"$BIN" export-hf "$CK" hf >/dev/null 2>err.txt || fail "export-hf: $(cat err.txt)"
for f in model.safetensors config.json generation_config.json tokenizer.json tokenizer_config.json special_tokens_map.json vocab.json merges.txt; do
    [ -s "hf/$f" ] || fail "export-hf: hf/$f missing"
done
# A write that fails part-way (the Nth write of the fault seam) leaves no
# half export: a new DIR is removed, an earlier export stays as it was.
for n in 1 2 3 4 5 6 7 8; do
    PHOTON_FAULT_WRITE=$n "$BIN" export-hf "$CK" hf_new >/dev/null 2>err.txt && fail "export-hf with write $n failing exited 0"
    grep -q "injected I/O error" err.txt || fail "export-hf with write $n failing: $(cat err.txt)"
    [ ! -e hf_new ] || fail "a failed export-hf (write $n) left $(ls -A hf_new)"
done
before=$(cksum hf/* | sort)
PHOTON_FAULT_WRITE=2 "$BIN" export-hf "$CK" hf >/dev/null 2>&1 && fail "export-hf over hf with a failing write exited 0"
[ "$(cksum hf/* | sort)" = "$before" ] || fail "a failed export-hf changed the earlier export"
[ "$(ls -A hf | wc -l)" = 8 ] || fail "a failed export-hf left files in hf: $(ls -A hf)"
# The staging directory of an export that was killed (its pid is gone) is
# removed by the next export into the same DIR.
sh -c 'exit 0' & dead=$!
wait $dead
mkdir "hf/.export-hf.tmp.$dead" && touch "hf/.export-hf.tmp.$dead/model.safetensors.tmp.$dead"
"$BIN" export-hf "$CK" hf >/dev/null 2>err.txt || fail "export-hf over a stale staging dir: $(cat err.txt)"
[ ! -e "hf/.export-hf.tmp.$dead" ] || fail "export-hf left the staging dir of a dead export"
no_temps "checkpoint commands"

# Output that cannot be written (a full disk) is a failure with one line.
if [ -w /dev/full ]; then
    for args in "config-reference" "exp.ini --dry-run" "inspect $CK" "--help" "eval $CK --data run/data/val.bin --batches 1 --threads 1"; do
        # shellcheck disable=SC2086
        "$BIN" $args >/dev/full 2>err.txt </dev/null; rc=$?
        if [ $rc != 1 ] || ! tail -1 err.txt | grep -q "error: cannot write standard output: No space left on device"; then
            fail "photon-sim $args >/dev/full: exit $rc, stderr '$(cat err.txt)'"
        fi
    done
    printf 'hi' | "$BIN" encode --tokenizer "$TOK" >/dev/full 2>err.txt; rc=$?
    [ $rc = 1 ] && grep -q "cannot write standard output" err.txt || fail "encode >/dev/full: exit $rc $(cat err.txt)"
    echo "ok   writing to a full disk"
fi

[ $fails = 0 ] && echo "all odd-input checks passed"
exit $((fails > 0))
