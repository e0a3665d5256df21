#!/usr/bin/env python3
"""Splits a plain-text corpus with no document boundaries (such as
tinyshakespeare) into documents of about --chars characters, cutting only at
blank lines, and joins them with <|endoftext|> (the plain-text format of
DESIGN §5).  Without this, the whole book is one document and an iid
partition cannot spread it over clients.

    tools/split_text.py data/books/tinyshakespeare.txt data/books/tinyshakespeare-docs.txt
"""
import argparse

ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
ap.add_argument("src")
ap.add_argument("dst")
ap.add_argument("--chars", type=int, default=4000)
a = ap.parse_args()

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
with open(a.dst, "w", encoding="utf-8") as f:
    f.write("<|endoftext|>".join(d.strip("\n") for d in docs))
print(f"{a.dst}: {len(docs)} documents")
