#!/usr/bin/env bash
# bench/tokenizer_bench.py runs end to end on a slice of Wikipedia: each pair
# of tokenizers (photon-sim vs tiktoken, photon-sim vs Hugging Face tokenizers
# on GPT-2 and NeoX-style tokenizer.json) gives the same number of tokens and
# the ratio lines are printed.  Skips (77) without the test venv's tiktoken.
set -u
BIN=${PHOTON_SIM:?PHOTON_SIM not set}
SRC=${PHOTON_SOURCE_DIR:?PHOTON_SOURCE_DIR not set}
export PYTHONDONTWRITEBYTECODE=1   # leave the source tree untouched
PY=${PHOTON_VENV_PYTHON:-$(bash "$SRC/tools/pyenv.sh" --no-install)} || exit 77
"$PY" -c "import tiktoken, tokenizers" 2>/dev/null || { echo "tiktoken or tokenizers not installed: skipped"; exit 77; }
T=$(mktemp -d "${TMPDIR:-/tmp}/photon-it-XXXXXX")
trap 'rm -rf "$T"' EXIT
"$PY" "$SRC/bench/tokenizer_bench.py" --bin "$BIN" --max-docs 300 --repeat 1 --threads 2 >"$T/out.txt" 2>&1
rc=$?
cat "$T/out.txt"
[ $rc = 0 ] || { echo "FAIL: bench exited $rc"; exit 1; }
grep -q "(identical count)" "$T/out.txt" || { echo "FAIL: token counts not compared"; exit 1; }
grep -qE "^ratio \(photon-sim / tiktoken\): [0-9.]+x$" "$T/out.txt" || { echo "FAIL: no ratio line"; exit 1; }
for t in gpt2.json neox.json; do
    grep -qE "^ratio $t \(photon-sim / tokenizers\): [0-9.]+x$" "$T/out.txt" || { echo "FAIL: no $t ratio line"; exit 1; }
done
echo "tokenizer bench ran"
