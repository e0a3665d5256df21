#!/usr/bin/env python3
"""Splits a plain-text corpus with no document boundaries (such as
tinyshakespeare) into documents of about --chars characters, cutting only at
blank lines, and joins them with <|endoftext|> (the plain-text format of
DESIGN §5).  Without this, the whole book is one document and an iid
partition cannot spread it over clients.

    tools/split_text.py data/books/tinyshakespeare.txt data/books/tinyshakespeare-docs.txt

With --holdout F, the last fraction F of the documents goes to a second
file instead (a validation split with no overlap, e.g. for per-source
perplexity of the books source):

    tools/split_text.py data/books/tinyshakespeare.txt \
        data/books/tinyshakespeare-train-docs.txt \
        --holdout 0.1 --holdout-dst data/books/tinyshakespeare-val-docs.txt
"""
import argparse

ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
ap.add_argument("src")
ap.add_argument("dst")
ap.add_argument("--chars", type=int, default=4000)
ap.add_argument("--holdout", type=float, default=0.0, help="fraction of documents (the last ones) held out")
ap.add_argument("--holdout-dst", help="where the held-out documents go")
a = ap.parse_args()
if (a.holdout > 0) != bool(a.holdout_dst) or not 0 <= a.holdout < 1:
    ap.error("--holdout F (0 < F < 1) and --holdout-dst go together")

text = open(a.src, encoding="utf-8").read()
paragraphs = text.split("\n\n")
docs, cur = [], []
size = 0
for p in paragraphs:
    cur.append(p)
    size += len(p) + 2
    if size >= a.chars:
        docs.append("\n\n".join(cur))
        cur, size = [], 0
if cur:
    docs.append("\n\n".join(cur))
held = round(len(docs) * a.holdout)
parts = [(a.dst, docs[:len(docs) - held])] + ([(a.holdout_dst, docs[len(docs) - held:])] if held else [])
for dst, ds in parts:
    with open(dst, "w", encoding="utf-8") as f:
        f.write("<|endoftext|>".join(d.strip("\n") for d in ds))
    print(f"{dst}: {len(ds)} documents")
