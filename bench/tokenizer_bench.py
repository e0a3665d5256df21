#!/usr/bin/env python3
"""Side-by-side tokenizer throughput: photon-sim's C tokenizers vs tiktoken
and Hugging Face tokenizers (both Rust), on the same documents, with the
same number of threads, in one run:
  gpt2       encoder.json + vocab.bpe: photon-sim vs tiktoken
  gpt2.json  the same vocabulary as a tokenizer.json: photon-sim vs tokenizers
  neox.json  GPT-NeoX's pipeline (NFC normalizer, runs of spaces as added
             tokens, <|endoftext|> and <|padding|>) on GPT-2's vocabulary:
             photon-sim vs tokenizers
The tokenizers are built offline from the repository's
data/tokenizer/gpt2/{encoder.json,vocab.bpe} (no download).  Only
tokenization is timed: every side reads and decompresses the source first.
Runs alternate and the best of --repeat runs of each is reported, which is
the fairest figure on a shared, noisy machine.  Also checks that both sides
of a pair produce the same number of tokens.

usage: python3 bench/tokenizer_bench.py [--bin build/photon-sim]
           [--source data/wikipedia/wiki-train.json.gz] [--threads 2] [--repeat 3] [--max-docs N]
Needs tiktoken and tokenizers (tools/pyenv.sh installs both into .venv);
without tokenizers only the first pair is measured."""
import argparse
import gzip
import json
import os
import subprocess
import sys
import tempfile
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


def hf_tokenizers(tokenizer_dir, out, threads):
    """GPT-2's vocabulary as tokenizer.json, plain and with NeoX's pipeline;
    returns {name: (directory, tokenizers.Tokenizer)} or {} without tokenizers."""
    os.environ["RAYON_NUM_THREADS"] = str(threads)   # before tokenizers starts its pool
    try:
        from tokenizers import AddedToken, Tokenizer, decoders, models, normalizers, pre_tokenizers
    except ImportError:
        return {}
    with open(os.path.join(tokenizer_dir, "encoder.json"), encoding="utf-8") as f:
        vocab = json.load(f)
    with open(os.path.join(tokenizer_dir, "vocab.bpe"), encoding="utf-8") as f:
        merges = [tuple(x.rstrip("\n").split(" ")) for x in f if x.strip() and not x.startswith("#version")]
    made = {}
    for name in ("gpt2.json", "neox.json"):
        t = Tokenizer(models.BPE(vocab=vocab, merges=merges))
        t.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        t.decoder = decoders.ByteLevel()
        t.add_special_tokens(["<|endoftext|>"])
        if name == "neox.json":
            t.normalizer = normalizers.NFC()
            t.add_special_tokens(["<|padding|>"])
            t.add_tokens([AddedToken(" " * k, normalized=True) for k in range(24, 1, -1)])
        d = os.path.join(out, name)
        os.makedirs(d)
        t.save(os.path.join(d, "tokenizer.json"))
        made[name] = (d, t)
    return made


def run_hf(tok, docs, nbytes):
    t0 = time.perf_counter()
    enc = tok.encode_batch(docs, add_special_tokens=False)
    dt = time.perf_counter() - t0
    return {"tokens": sum(len(e.ids) for e in enc), "seconds": dt, "mb_per_s": nbytes / 1e6 / dt}


def compare(label, other, run_a, run_b, repeat, nbytes):
    best_a = best_b = None
    for _ in range(repeat):
        a = run_a()
        b = run_b()
        if a.get("bytes", nbytes) != nbytes:
            sys.exit(f"byte counts differ: photon-sim {a['bytes']}, python {nbytes}")
        if a["tokens"] != b["tokens"]:
            sys.exit(f"{label}: token counts differ: photon-sim {a['tokens']}, {other} {b['tokens']}")
        best_a = a if best_a is None or a["mb_per_s"] > best_a["mb_per_s"] else best_a
        best_b = b if best_b is None or b["mb_per_s"] > best_b["mb_per_s"] else best_b
        print(f"  {label} run: photon-sim {a['mb_per_s']:7.1f} MB/s   {other} {b['mb_per_s']:7.1f} MB/s")
    return best_a, best_b


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
    with tempfile.TemporaryDirectory() as out:
        hf = hf_tokenizers(a.tokenizer, out, a.threads)
        best_c, best_t = compare("gpt2", "tiktoken", lambda: run_c(a.bin, a.tokenizer, a.source, a.threads, a.max_docs),
                                 lambda: run_tiktoken(enc, docs, nbytes, a.threads), a.repeat, nbytes)
        rows = []
        for name, (d, tok) in hf.items():
            c, h = compare(name, "tokenizers", lambda d=d: run_c(a.bin, d, a.source, a.threads, a.max_docs),
                           lambda tok=tok: run_hf(tok, docs, nbytes), a.repeat, nbytes)
            rows.append((name, c, h))
    print(f"tokens: {best_c['tokens']} (identical count)")
    print(f"photon-sim  {best_c['mb_per_s']:8.1f} MB/s")
    print(f"tiktoken    {best_t['mb_per_s']:8.1f} MB/s")
    print(f"ratio (photon-sim / tiktoken): {best_c['mb_per_s'] / best_t['mb_per_s']:.2f}x")
    for name, c, h in rows:
        print(f"{name}: tokens {c['tokens']} (identical count); photon-sim {c['mb_per_s']:.1f} MB/s, "
              f"tokenizers {h['mb_per_s']:.1f} MB/s")
        print(f"ratio {name} (photon-sim / tokenizers): {c['mb_per_s'] / h['mb_per_s']:.2f}x")

if __name__ == "__main__":
    main()
