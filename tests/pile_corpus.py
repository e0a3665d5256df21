#!/usr/bin/env python3
"""A Pile-like corpus for the data tests, and the check of what prepare made
of it (used by tests/integration/data_sources.sh; standard library only).

  pile_corpus.py make DIR           writes DIR/pile-00.jsonl (+ -01, -02):
      JSON Lines {"text": ..., "meta": {"pile_set_name": ...}} in the
      layout of The Pile, documents of four sets interleaved; each text
      starts with "[SET]" so its source can be read back from the tokens
  pile_corpus.py check PREPARED TOKENIZER ASSIGN
      decodes every client shard of PREPARED with TOKENIZER (encoder.json)
      and checks that client k holds exactly the documents of the sets that
      ASSIGN ("ArXiv=0, Github=1+2, ...") gives it, each document once"""
import json
import os
import struct
import sys

SETS = ["ArXiv", "Github", "PubMed Central", "Wikipedia (en)"]


def bytes_to_unicode():
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, map(chr, cs)))


def make(d):
    words = "photon federated pre training clients rounds tokens shards silo model".split()
    k = 0
    for f in range(3):
        with open(os.path.join(d, f"pile-{f:02d}.jsonl"), "w", encoding="utf-8") as out:
            for i in range(60):
                s = SETS[(i * 7 + f) % len(SETS)]
                text = f"[{s}] document {k}: " + " ".join(words[(k + j) % len(words)] for j in range(5 + k % 17))
                out.write(json.dumps({"text": text, "meta": {"pile_set_name": s}}) + "\n")
                k += 1


def read_shard(path):
    with open(path, "rb") as f:
        h = struct.unpack("<256i", f.read(1024))
        width = 2 if h[0] == 20240520 else 4
        data = f.read()
    fmt = "<%d%s" % (h[2], "H" if width == 2 else "I")
    return list(struct.unpack(fmt, data))


def check(prepared, tokdir, assign):
    with open(os.path.join(tokdir, "encoder.json"), encoding="utf-8") as f:
        enc = json.load(f)
    dec = {v: k for k, v in enc.items()}
    b2u = {v: k for k, v in bytes_to_unicode().items()}
    eot = enc["<|endoftext|>"]
    want = {}
    for item in assign.split(","):
        name, clients = item.strip().rsplit("=", 1)
        for part in clients.split("+"):
            lo, _, hi = part.partition("-")
            for c in range(int(lo), int(hi or lo) + 1):
                want.setdefault(c, set()).add(name)
    seen = set()
    k = 0
    while os.path.exists(os.path.join(prepared, f"client_{k:04d}.bin")):
        toks = read_shard(os.path.join(prepared, f"client_{k:04d}.bin"))
        doc = []
        sets = set()
        for t in toks:
            if t != eot:
                doc.append(t)
                continue
            text = bytes(b2u[c] for tok in doc for c in dec[tok]).decode("utf-8")
            s = text[1:text.index("]")]
            if s not in want.get(k, set()):
                sys.exit(f"FAIL: client {k} holds a document of {s!r}, assigned {sorted(want.get(k, []))}: {text!r}")
            if text in seen:
                sys.exit(f"FAIL: document twice: {text!r}")
            seen.add(text)
            sets.add(s)
            doc = []
        if doc:
            sys.exit(f"FAIL: client {k}: the shard does not end with EOT")
        if sets != want.get(k, set()):
            sys.exit(f"FAIL: client {k} holds {sorted(sets)}, assigned {sorted(want.get(k, []))}")
        print(f"client {k}: {len(toks)} tokens, sets {sorted(sets)}")
        k += 1
    print(f"{len(seen)} documents, each once, each on a client of its set")


if __name__ == "__main__":
    if sys.argv[1] == "make":
        make(sys.argv[2])
    else:
        check(sys.argv[2], sys.argv[3], sys.argv[4])
