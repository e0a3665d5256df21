#!/usr/bin/env bash
# The documented route for Parquet corpora: tools/parquet_to_jsonl.py turns
# a Parquet file (written here with pyarrow, nested meta column included)
# into JSON Lines that prepare reads with text_key and by_field.  Skips (77)
# without the test venv's pyarrow.
source "$(dirname "$0")/cli_common.bash"
PY=${PHOTON_VENV_PYTHON:-$(bash "$SRC/tools/pyenv.sh" --no-install)} || exit 77
"$PY" -c "import pyarrow" 2>/dev/null || { echo "pyarrow not installed: skipped"; exit 77; }
"$PY" - <<'PY'
import pyarrow as pa, pyarrow.parquet as pq
rows = [{"text": f"document {i} of set {'AB'[i % 2]}", "meta": {"pile_set_name": "AB"[i % 2]}} for i in range(40)]
pq.write_table(pa.Table.from_pylist(rows), "in.parquet", row_group_size=7)
PY
"$PY" "$SRC/tools/parquet_to_jsonl.py" in.parquet out.jsonl.gz --batch 5 2>conv.txt || fail "convert: $(cat conv.txt)"
grep -q "40 rows from 1 file" conv.txt || fail "convert: $(cat conv.txt)"
cat >p.ini <<INI
[run]
name = pq
out_dir = $T/run
[data]
sources = $T/out.jsonl.gz
tokenizer = $SRC/data/tokenizer/gpt2
partition = by_field
source_field = meta.pile_set_name
assign = A=0, B=1
[clients]
count = 2
INI
"$BIN" prepare p.ini 2>err.txt || fail "prepare of the converted file: $(cat err.txt)"
grep -q '"source_docs": {"A": 20, "B": 0}' run/data/manifest.json || fail "client 0 should hold the 20 documents of A: $(cat run/data/manifest.json)"
[ "$fails" = 0 ] || exit 1
echo "parquet route ok"
