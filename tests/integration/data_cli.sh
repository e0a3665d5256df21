#!/usr/bin/env bash
# The data pipeline through the real binary: `encode` gives GPT-2's ids
# (and --eot), usage errors exit 2; `prepare` writes shards + manifest for a
# by_source split, --if-stale keeps current data, and a bad source or a
# missing file is one clear stderr line naming the file (and line), exit 1,
# with no manifest and no temp files left.
source "$(dirname "$0")/cli_common.bash"
TOK=$SRC/data/tokenizer/gpt2

got=$(printf 'Hello world' | "$BIN" encode --tokenizer "$TOK")
[ "$got" = "15496 995" ] || fail "encode: got '$got'"
got=$(printf "I'll we've DON'T" | "$BIN" encode --tokenizer "$TOK")
[ "$got" = "40 1183 356 1053 23917 6 51" ] || fail "encode contractions: got '$got'"
got=$(printf 'a<|endoftext|>b' | "$BIN" encode --tokenizer "$TOK" --eot)
[ "$got" = "64 50256 65" ] || fail "encode --eot: got '$got'"
got=$(printf '' | "$BIN" encode --tokenizer "$TOK")
[ -z "$got" ] || fail "encode empty: got '$got'"
"$BIN" encode </dev/null >/dev/null 2>err.txt; rc=$?
[ $rc = 2 ] && grep -q "tokenizer DIR is required" err.txt || fail "encode without --tokenizer: exit $rc $(cat err.txt)"
"$BIN" encode --tokenizer "$T" </dev/null >/dev/null 2>err.txt; rc=$?
[ $rc = 1 ] && grep -q "no tokenizer in this directory (expected tokenizer.json, vocab.json + merges.txt, or encoder.json + vocab.bpe)" err.txt || fail "encode with a bad dir: exit $rc $(cat err.txt)"

cat >exp.ini <<INI
[run]
name = it
out_dir = $T/run
seed = 3
[data]
sources = wiki=$SRC/data/wikipedia/wiki-validation.json.gz, c4=$SRC/data/c4/c4-sample-validation.json.gz
tokenizer = $TOK
partition = by_source
assign = wiki=0-1, c4=2
validation = $SRC/data/c4/c4-sample-validation.json.gz
max_docs = 30
[clients]
count = 3
INI
"$BIN" prepare exp.ini 2>err.txt || fail "prepare: $(cat err.txt)"
for f in client_0000.bin client_0001.bin client_0002.bin val.bin manifest.json; do
    [ -s "run/data/$f" ] || fail "prepare: run/data/$f missing"
done
grep -q '"source_docs": {"wiki": 0, "c4": 30}' run/data/manifest.json || fail "manifest: client 2 should hold the 30 c4 docs"
before=$(stat -c %Y run/data/client_0000.bin)
sleep 1
"$BIN" prepare exp.ini --if-stale 2>err.txt || fail "prepare --if-stale: $(cat err.txt)"
grep -q "is current" err.txt || fail "prepare --if-stale did not find the data current: $(cat err.txt)"
[ "$(stat -c %Y run/data/client_0000.bin)" = "$before" ] || fail "prepare --if-stale rewrote current data"

# A trained tokenizer that cannot reach tokenizer_vocab (too little text) is
# a warning naming the key, not silence.
printf 'ab ab ab<|endoftext|>cd' >tiny.txt
"$BIN" prepare exp.ini --set data.sources=tiny.txt --set data.partition=iid --set data.assign= --set data.tokenizer=train \
    --set data.tokenizer_vocab=4096 --set data.validation= --set clients.count=2 --set run.out_dir="$T/small" 2>err.txt || fail "prepare tiny.txt: $(cat err.txt)"
grep -q "warning: \[data\] tokenizer_vocab = 4096, but the training text only has pairs for 260 tokens" err.txt ||
    fail "no warning for a short tokenizer: $(cat err.txt)"

# A damaged shard makes the data stale: --if-stale rebuilds it.
size=$(stat -c %s run/data/client_0001.bin)
truncate -s 2000 run/data/client_0001.bin
"$BIN" prepare exp.ini --if-stale 2>err.txt || fail "prepare --if-stale over a truncated shard: $(cat err.txt)"
grep -q "client_0001.bin: truncated token shard.*preparing the data again" err.txt || fail "no warning for the truncated shard: $(cat err.txt)"
[ "$(stat -c %s run/data/client_0001.bin)" = "$size" ] || fail "prepare --if-stale did not rebuild the truncated shard"

# Temp files of a prepare that was killed while writing (its pid is gone,
# or now runs another program: this shell) are removed by the next
# prepare; one of a live photon-sim process (an encode waiting for input)
# is not touched.
sh -c 'exit 0' & dead=$!
wait $dead
mkfifo in.fifo
"$BIN" encode --tokenizer "$TOK" < in.fifo > /dev/null 2>&1 & live=$!
exec 7> in.fifo
for _ in $(seq 400); do [ "$(cat /proc/$live/comm 2>/dev/null)" = photon-sim ] && break; sleep 0.05; done
touch "run/data/client_0001.bin.tmp.$dead" "run/data/train.bin.tmp.$$" "run/data/val.bin.tmp.$live"
"$BIN" prepare exp.ini 2>err.txt || fail "prepare over stale temps: $(cat err.txt)"
exec 7>&-
wait $live
[ ! -e "run/data/client_0001.bin.tmp.$dead" ] || fail "prepare left the temp file of a dead process"
[ ! -e "run/data/train.bin.tmp.$$" ] || fail "prepare left the temp file of a pid that runs another program"
[ -e "run/data/val.bin.tmp.$live" ] || fail "prepare removed the temp file of a live photon-sim"
rm -f "run/data/val.bin.tmp.$live" in.fifo

printf '{"text": "fine"}\n{"text": "broken\n' >bad.jsonl
"$BIN" prepare exp.ini --set "data.sources=wiki=$T/bad.jsonl" --set data.assign=wiki=0-2 >out.txt 2>err.txt; rc=$?
[ $rc = 1 ] || fail "prepare with a bad source: exit $rc"
grep -q "bad.jsonl:2: invalid JSON" err.txt || fail "prepare bad source message: $(cat err.txt)"
[ ! -e run/data/manifest.json ] || fail "a failed prepare left a manifest"
ls run/data | grep -q '\.tmp\.' && fail "a failed prepare left temp files: $(ls run/data)"

"$BIN" prepare nothere.ini >/dev/null 2>err.txt; rc=$?
[ $rc = 2 ] && grep -q "nothere.ini" err.txt || fail "prepare with a missing file: exit $rc $(cat err.txt)"

[ $fails = 0 ] && echo "all data CLI checks passed"
exit $((fails > 0))
