#!/usr/bin/env bash
# Corpora as the hubs ship them, through `photon-sim prepare`:
#  * a Pile-like corpus (.jsonl.zst with several zstd frames, .jsonl.gz with
#    several gzip members; meta.pile_set_name) named by one glob pattern,
#    partitioned by_field with assign by value: every client's shard holds
#    exactly its sets' documents, each once (tests/pile_corpus.py decodes
#    them), and the manifest counts them per set;
#  * text_key on another member; an llm.c .bin shard as a training source,
#    refused when its tokens do not fit the experiment's tokenizer;
#  * a prepare killed in the middle (SIGKILL at the second file's cache
#    write) and run again reuses the finished file and gives shards
#    byte-identical to an uninterrupted prepare;
#  * a FIFO, a Parquet file, a pattern that matches nothing: one clear line;
#  * a 150 MB JSON line (a gzip of a few hundred KB) stops prepare with the
#    [data] max_doc_mb error after reading about 64 MB, in bounded memory.
source "$(dirname "$0")/cli_common.bash"
TOK=$SRC/data/tokenizer/gpt2
PY=$(command -v python3) || exit 77
command -v zstd >/dev/null || { echo "zstd (the Debian package zstd) not installed: skipped"; exit 77; }

"$PY" "$SRC/tests/pile_corpus.py" make "$T"
head -30 pile-00.jsonl >a; tail -n +31 pile-00.jsonl >b
zstd -q -c a >pile-00.jsonl.zst && zstd -q -c b >>pile-00.jsonl.zst        # two frames
zstd -q -c pile-01.jsonl >pile-01.jsonl.zst
head -25 pile-02.jsonl | gzip -c >pile-02.jsonl.gz; tail -n +26 pile-02.jsonl | gzip -c >>pile-02.jsonl.gz   # two members
rm -f a b pile-0?.jsonl

ASSIGN="ArXiv=0, Github=1+2, PubMed Central=3, Wikipedia (en)=3"
cat >pile.ini <<INI
[run]
name = pile
out_dir = $T/run
[data]
sources = pile=$T/pile-*.jsonl.*
tokenizer = $TOK
partition = by_field
source_field = meta.pile_set_name
assign = $ASSIGN
[clients]
count = 4
INI
"$BIN" prepare pile.ini 2>err.txt || fail "prepare by_field: $(cat err.txt)"
grep -q "3 files tokenized, 0 from the cache" err.txt || fail "prepare: expected 3 files tokenized: $(cat err.txt)"
"$PY" "$SRC/tests/pile_corpus.py" check run/data "$TOK" "$ASSIGN" >check.txt || fail "by_field shards: $(cat check.txt)"
grep -q "^180 documents, each once" check.txt || fail "not all 180 documents: $(cat check.txt)"
"$PY" - run/data/manifest.json <<'EOF' || fail "manifest per-set counts"
import json, sys
m = json.load(open(sys.argv[1]))
assert m["partition"]["kind"] == "by_field" and m["partition"]["source_field"] == "meta.pile_set_name"
c = {x["id"]: x["source_docs"] for x in m["clients"]}
assert c[0]["ArXiv"] == 45 and c[0]["Github"] == 0, c[0]
assert c[1]["Github"] + c[2]["Github"] == 45 and c[1]["ArXiv"] == 0, c
assert c[3]["PubMed Central"] == 45 and c[3]["Wikipedia (en)"] == 45, c[3]
assert len(m["sources"]) == 3 and all(s["name"] == "pile" for s in m["sources"])
EOF
# by_field with an assign value no document has
"$BIN" prepare pile.ini --set "data.assign=ArXiv=0, Pile-CC=1" >/dev/null 2>err.txt; rc=$?
[ $rc = 1 ] && grep -q "no document has meta.pile_set_name = 'Pile-CC' (its values: " err.txt ||
    fail "unknown field value: exit $rc $(cat err.txt)"

# interrupted at the second cache write (kill -9 there), then run again:
# the first file is not tokenized again and the shards equal an uninterrupted run's
PHOTON_FAULT_WRITE=2 PHOTON_FAULT_KILL=1 "$BIN" prepare pile.ini --set data.prepared_dir=$T/resumed >/dev/null 2>&1; rc=$?
[ $rc = 137 ] || fail "the injected kill did not happen (exit $rc)"
[ -f resumed/manifest.json ] && fail "an interrupted prepare left a manifest"
"$BIN" prepare pile.ini --set data.prepared_dir=$T/resumed 2>err.txt || fail "resumed prepare: $(cat err.txt)"
grep -q "2 files tokenized, 1 from the cache" err.txt || fail "resumed prepare did not reuse the first file: $(cat err.txt)"
for k in 0 1 2 3; do
    cmp -s "run/data/client_000$k.bin" "resumed/client_000$k.bin" || fail "client $k differs after an interrupted prepare"
done
ls resumed resumed/cache | grep -q "\.tmp\." && fail "temp files left after the resumed prepare"
# a damaged cache is not trusted: that file is tokenized again, the shards do not change
cache=$(ls resumed/cache/*.tok | head -1)
head -c 200 "$cache" >cut.tok && mv cut.tok "$cache"
"$BIN" prepare pile.ini --set data.prepared_dir=$T/resumed 2>err.txt || fail "prepare over a damaged cache: $(cat err.txt)"
grep -q "damaged token cache" err.txt && grep -q "1 file tokenized, 2 from the cache" err.txt ||
    fail "a damaged cache was not rebuilt: $(cat err.txt)"
for k in 0 1 2 3; do
    cmp -s "run/data/client_000$k.bin" "resumed/client_000$k.bin" || fail "client $k differs after a damaged cache"
done

# text_key: the document in another member
printf '{"content": "alpha beta", "title": 1}\n{"content": "gamma"}\n' | gzip -c >notes.jsonl.gz
cat >notes.ini <<INI
[run]
name = notes
out_dir = $T/notes
[data]
sources = $T/notes.jsonl.gz
tokenizer = $TOK
text_key = content
[clients]
count = 2
INI
"$BIN" prepare notes.ini 2>err.txt || fail "text_key = content: $(cat err.txt)"
expect "text member is missing" 1 "notes.jsonl.gz:1: JSON object has no \"text\" member" prepare notes.ini --set data.text_key=text

# an llm.c shard (client 0's GPT-2 tokens) as a source: its documents go to
# clients whole; with a tokenizer too small for its ids it is refused
cat >bin.ini <<INI
[run]
name = bin
out_dir = $T/bin
[data]
sources = tokens=$T/run/data/client_0000.bin, $T/notes.jsonl.gz
text_key = content
tokenizer = $TOK
[clients]
count = 2
INI
"$BIN" prepare bin.ini 2>err.txt || fail "a .bin source: $(cat err.txt)"
notes=$(( $(printf 'alpha beta' | "$BIN" encode --tokenizer "$TOK" | wc -w) + $(printf 'gamma' | "$BIN" encode --tokenizer "$TOK" | wc -w) + 2 ))
"$PY" - run/data/client_0000.bin bin/data "$notes" <<'EOF' || fail "the .bin source's tokens are not all in the shards"
import collections, os, struct, sys
def toks(p):
    with open(p, "rb") as f:
        h = struct.unpack("<256i", f.read(1024))
        return list(struct.unpack("<%dH" % h[2], f.read()))
src = toks(sys.argv[1])
out = toks(os.path.join(sys.argv[2], "client_0000.bin")) + toks(os.path.join(sys.argv[2], "client_0001.bin"))
assert len(out) == len(src) + int(sys.argv[3]), (len(src), len(out), sys.argv[3])
assert not collections.Counter(src) - collections.Counter(out)
EOF
"$BIN" prepare notes.ini --set data.tokenizer=train --set data.tokenizer_vocab=300 --set data.prepared_dir=$T/small >/dev/null 2>&1 ||
    fail "training a small tokenizer"
expect "a .bin of another tokenizer" 1 "client_0000.bin: byte offset [0-9]+: token id [0-9]+ is outside the vocabulary \(size [0-9]+\); this pre-tokenized shard was made with another tokenizer" \
    prepare bin.ini --set data.tokenizer=$T/small/tokenizer
expect "training on a .bin" 1 "client_0000.bin: a pre-tokenized shard cannot train a tokenizer" prepare bin.ini --set data.tokenizer=train

# inputs that are not text files
mkfifo pipe.jsonl
expect "a FIFO source" 2 "\[data\] sources: '.*pipe.jsonl' is a FIFO \(named pipe\), not a regular file" \
    prepare notes.ini --set "data.sources=$T/pipe.jsonl"
printf 'PAR1\x15\x04\x15\x10rest' >x.parquet
expect "a Parquet source" 1 "x.parquet: unsupported format: a Parquet file: convert it to JSON Lines first \(tools/parquet_to_jsonl.py" \
    prepare notes.ini --set "data.sources=$T/x.parquet"
expect "a pattern matching nothing" 2 "\[data\] sources: '.*/nothing-\*.jsonl' matches no file" \
    prepare notes.ini --set "data.sources=$T/nothing-*.jsonl"
# one 150 MB line: an error after ~64 MB, well under 300 MB of memory
"$PY" - huge.jsonl.gz <<'EOF'
import gzip, sys
with gzip.open(sys.argv[1], "wb", compresslevel=1) as f:
    f.write(b'{"text": "')
    chunk = b"x" * (1 << 20)
    for _ in range(150):
        f.write(chunk)
    f.write(b'"}\n')
EOF
if [ -x /usr/bin/time ]; then
    /usr/bin/time -f "%M" -o rss.txt "$BIN" prepare notes.ini --set "data.sources=$T/huge.jsonl.gz" >/dev/null 2>err.txt; rc=$?
    [ $rc = 1 ] && grep -q "huge.jsonl.gz:1: a line is longer than 64 MB (\[data\] max_doc_mb" err.txt ||
        fail "150 MB line: exit $rc $(cat err.txt)"
    rss=$(tail -1 rss.txt)
    limit=300000
    [ -n "${ASAN_OPTIONS:-}" ] && limit=600000   # AddressSanitizer's shadow memory and quarantine
    [ "$rss" -lt "$limit" ] || fail "150 MB line: peak memory ${rss} KB (expected < $((limit / 1000)) MB)"
    echo "ok   150 MB line refused, peak memory ${rss} KB"
fi
[ "$fails" = 0 ] || exit 1
echo "data sources ok"
