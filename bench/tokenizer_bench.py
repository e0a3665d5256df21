#!/usr/bin/env python3
"""Side-by-side tokenizer throughput: photon-sim's C GPT-2 tokenizer vs
tiktoken (Rust), on the same documents, with the same number of threads,
in one run.  tiktoken is built offline from the repository's
data/tokenizer/gpt2/{encoder.json,vocab.bpe} with GPT-2's split pattern
(no download).  Only tokenization is timed: both sides read and decompress
the source first.  Runs alternate (C, tiktoken, C, ...) and the best of
--repeat runs of each is reported, which is the fairest figure on a shared,
noisy machine.  Also checks both produce the same number of tokens.

usage: python3 bench/tokenizer_bench.py [--bin build/photon-sim]
           [--source data/wikipedia/wiki-train.json.gz] [--threads 2] [--repeat 3] [--max-docs N]
Needs: pip install tiktoken"""
import argparse
import gzip
import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "tests"))
from gen_tokenizer_fixture import gpt2_encoding  # noqa: E402


def read_docs(path, max_docs=0):
    opener = gzip.open if path.endswith(".gz") else open
    docs = []
    with opener(path, "rt", encoding="utf-8") as f:
        for line in f:
            if max_docs and len(docs) >= max_docs:
                break
            if line.strip():
                t = json.loads(line)["text"]
                if t:
                    docs.append(t)
    return docs


def run_c(binary, tok_dir, source, threads, max_docs):
    out = subprocess.run([binary, "encode", "--tokenizer", tok_dir, "--bench", source, "--threads", str(threads),
                          "--max-docs", str(max_docs)], check=True, capture_output=True, text=True).stdout
    return json.loads(out)


def run_tiktoken(enc, docs, nbytes, threads):
    t0 = time.perf_counter()
    ids = enc.encode_ordinary_batch(docs, num_threads=threads)
    dt = time.perf_counter() - t0
    return {"tokens": sum(len(x) for x in ids), "seconds": dt, "mb_per_s": nbytes / 1e6 / dt}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bin", default=os.path.join(ROOT, "build", "photon-sim"))
    ap.add_argument("--source", default=os.path.join(ROOT, "data", "wikipedia", "wiki-train.json.gz"))
    ap.add_argument("--tokenizer", default=os.path.join(ROOT, "data", "tokenizer", "gpt2"))
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--max-docs", type=int, default=0, help="only the first N documents (0 = all)")
    a = ap.parse_args()

    enc = gpt2_encoding(a.tokenizer)
    docs = read_docs(a.source, a.max_docs)
    nbytes = sum(len(d.encode("utf-8")) for d in docs)
    print(f"source {a.source}: {len(docs)} documents, {nbytes / 1e6:.1f} MB; {a.threads} thread(s)")
    best_c = best_t = None
    for _ in range(a.repeat):
        c = run_c(a.bin, a.tokenizer, a.source, a.threads, a.max_docs)
        t = run_tiktoken(enc, docs, nbytes, a.threads)
        if c["bytes"] != nbytes:
            sys.exit(f"byte counts differ: photon-sim {c['bytes']}, python {nbytes}")
        if c["tokens"] != t["tokens"]:
            sys.exit(f"token counts differ: photon-sim {c['tokens']}, tiktoken {t['tokens']}")
        best_c = c if best_c is None or c["mb_per_s"] > best_c["mb_per_s"] else best_c
        best_t = t if best_t is None or t["mb_per_s"] > best_t["mb_per_s"] else best_t
        print(f"  run: photon-sim {c['mb_per_s']:7.1f} MB/s   tiktoken {t['mb_per_s']:7.1f} MB/s")
    print(f"tokens: {best_c['tokens']} (identical count)")
    print(f"photon-sim  {best_c['mb_per_s']:8.1f} MB/s")
    print(f"tiktoken    {best_t['mb_per_s']:8.1f} MB/s")
    print(f"ratio (photon-sim / tiktoken): {best_c['mb_per_s'] / best_t['mb_per_s']:.2f}x")


if __name__ == "__main__":
    main()
