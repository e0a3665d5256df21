#!/usr/bin/env bash
# photon-sim bench on a tiny model: text and --json output, flags overriding
# a preset file, and one-line usage errors with exit status 2.
set -u
BIN=${PHOTON_SIM:?PHOTON_SIM not set}
T=$(mktemp -d "${TMPDIR:-/tmp}/photon-it-XXXXXX")
trap 'rm -rf "$T"' EXIT
cd "$T"
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }

tiny=(--layers 2 --heads 2 --dim 32 --vocab 97 --batch 2 --seq 16 --threads 2 --steps 3 --warmup 1)
out=$("$BIN" bench "${tiny[@]}" --json) || fail "bench --json exited $?"
echo "$out"
echo "$out" | grep -qE '^\{.*"tokens_per_s": [0-9.]+.*\}$' || fail "--json lacks tokens_per_s: $out"
echo "$out" | grep -q '"n_layer": 2' || fail "--json lacks n_layer 2"
[ "$(echo "$out" | wc -l)" = 1 ] || fail "--json is not one line"

out=$("$BIN" bench "${tiny[@]}") || fail "bench exited $?"
echo "$out" | grep -qE '[0-9.]+ tokens/s +[0-9.]+ GFLOP/s' || fail "text output lacks tokens/s and GFLOP/s: $out"

# a preset file: [model] keys, with --layers overriding it
printf '[model]\nn_layer = 3\nn_head = 2\nd_model = 16\nseq_len = 32\nvocab_size = 50\npad_vocab = 8\n' >p.ini
out=$("$BIN" bench --model p.ini --layers 1 --batch 1 --seq 8 --steps 1 --json) || fail "bench --model exited $?"
echo "$out" | grep -q '"n_layer": 1, "n_head": 2, "d_model": 16, "vocab_size": 50, "padded_vocab": 56' || fail "preset not applied: $out"

expect_usage() {
    local name=$1; shift
    "$BIN" bench "$@" >/dev/null 2>err.txt
    local rc=$?
    [ "$rc" = 2 ] || fail "$name: exit $rc, expected 2"
    [ "$(wc -l <err.txt)" = 1 ] || fail "$name: stderr not one line: $(cat err.txt)"
    echo "ok   $name: $(cat err.txt)"
}
expect_usage "no model" --batch 2 --seq 8
expect_usage "bad number" --layers x --heads 2 --dim 8 --vocab 10 --batch 1 --seq 4
expect_usage "heads do not divide" --layers 1 --heads 3 --dim 8 --vocab 10 --batch 1 --seq 4
expect_usage "missing preset" --model no-such-preset --batch 1 --seq 4
expect_usage "unknown option" --frobnicate 3
[ "$fails" = 0 ] && echo "all ok"
exit $((fails > 0))
