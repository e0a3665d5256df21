#!/usr/bin/env python3
"""Generates tests/fixtures/bpe_shakespeare_400.bpe: the merges an
independent, deliberately naive byte-level BPE trainer learns on the first
30,000 bytes of data/books/tinyshakespeare.txt for a 400-token vocabulary
(256 bytes + 143 merges + <|endoftext|>).  Words are split with GPT-2's
pattern (the `regex` module); each step merges the most frequent adjacent
pair, ties going to the smallest (left bytes, right bytes).  The C trainer
(io/bpe_train.c) must produce the same vocab.bpe byte for byte.
Run from the repository root:  python3 tests/gen_bpe_fixture.py"""
from collections import Counter

import regex

# GPT-2's split pattern and byte-to-unicode map, shared with the tokenizer fixture
from gen_tokenizer_fixture import GPT2_PAT as PAT, bytes_to_unicode  # noqa: E402

VOCAB = 400
NBYTES = 30000


def main():
    text = open("data/books/tinyshakespeare.txt", "rb").read()[:NBYTES].decode("utf-8")
    words = Counter(tuple(bytes([b]) for b in w.encode("utf-8")) for w in regex.findall(PAT, text))
    merges = []
    while 256 + len(merges) < VOCAB - 1:
        pairs = Counter()
        for w, c in words.items():
            for p in zip(w, w[1:]):
                pairs[p] += c
        if not pairs:
            break
        best = min(pairs, key=lambda p: (-pairs[p], p[0], p[1]))
        merges.append(best)
        new = Counter()
        for w, c in words.items():
            out, i = [], 0
            while i < len(w):
                if i + 1 < len(w) and (w[i], w[i + 1]) == best:
                    out.append(w[i] + w[i + 1])
                    i += 2
                else:
                    out.append(w[i])
                    i += 1
            new[tuple(out)] += c
        words = new
    bu = bytes_to_unicode()
    with open("tests/fixtures/bpe_shakespeare_400.bpe", "w", encoding="utf-8") as f:
        f.write("#version: 0.2\n")
        for a, b in merges:
            f.write("".join(bu[x] for x in a) + " " + "".join(bu[x] for x in b) + "\n")


if __name__ == "__main__":
    main()
