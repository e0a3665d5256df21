#!/usr/bin/env python3
"""Generates tests/fixtures/tokenizer_cases.jsonl: GPT-2 token ids for edge
cases and seeded random strings, from tiktoken (an independent Rust
implementation) built offline from data/tokenizer/gpt2/{encoder.json,vocab.bpe}
with GPT-2's split pattern.  Run from the repository root after
`pip install tiktoken`:
    python3 tests/gen_tokenizer_fixture.py
Each line: {"text": ..., "ids": [...]}; texts are valid Unicode strings."""
import json
import os
import random
import sys

GPT2_PAT = r"""'(?:[sdmt]|ll|ve|re)| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""
DIR = "data/tokenizer/gpt2"


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


def gpt2_encoding(tokenizer_dir=DIR):
    """A tiktoken Encoding for GPT-2 without network access."""
    import tiktoken
    dec = {v: k for k, v in bytes_to_unicode().items()}
    with open(os.path.join(tokenizer_dir, "encoder.json"), encoding="utf-8") as f:
        enc = json.load(f)
    ranks = {bytes(dec[c] for c in tok): i for tok, i in enc.items() if tok != "<|endoftext|>"}
    return tiktoken.Encoding("gpt2-offline", pat_str=GPT2_PAT, mergeable_ranks=ranks,
                             special_tokens={"<|endoftext|>": enc["<|endoftext|>"]})


HAND = [
    "", " ", "  ", "\n", "\n\n", "\r\n", "a\r\nb\r\n", "\t", "\t\tx", " \t \n ", "   ", "x   ", "   x",
    "a  b", "a\n\n\nb", "a \n b", "end with spaces   ", "end with newline\n",
    "DON'T", "don't", "I'M", "you'RE", "WE'LL", "she'D", "it's", "'s", "'", "''", "'''s", "x'", "'ll'll",
    " 's", "a's'", "rock'n'roll", "O'Neil", "\"quoted\"", "'re've'm'd't",
    "0", "12", "123", "1234567890123456789012345678901234567890", "9" * 300, "3.14159", "1,000,000",
    "٣٤٥ arabic-indic", "²³ ½ Ⅻ ⅷ", "१२३ devanagari",
    "café naïve résumé", "Ünïcödé", "ΑΒΓ αβγ", "Привет, мир!", "日本語のテキスト", "한국어 텍스트", "עברית", "مرحبا",
    "🙂", "🙂🙂🙂", " 🙂", "👩‍👩‍👧‍👦 family", "🇫🇷 flag", "e\u0301 combining", "\u200b zero width",
    "\u00a0nbsp\u00a0", "a\u3000b", "x\u2028y\u2029z", "\u001c\u001d\u001e\u001f", "a\u0085b", "\u000b\u000c",
    "$$$ %%% ^^^", "-->", "....", "!!!???", "~~~~~~~~~~", "=" * 200, "a=b+c", "<|endoftext|>",
    "<html><body>text</body></html>", "http://example.com/path?q=1&r=2", "foo@bar.com",
    "tab\tseparated\tvalues", "mixed 123abc abc123 a1b2c3", "CamelCaseWord", "snake_case_word",
    "The quick brown fox jumps over the lazy dog.", "  leading and trailing  ",
    "\u0000nul", "ümlaut über straße", "ǅ titlecase", "ʰ modifier", "ª º ordinal",
]

POOL = (list("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ") + list("0123456789") +
        [" "] * 12 + ["\n", "\r", "\t", "\r\n", "'", "'s", "'T", "'ll", "'RE"] +
        list(".,;:!?-_()[]{}<>/\\|@#$%^&*+=~`\"") +
        list("éüßçñøåæœ") + list("αβγδ") + list("жщы") + list("日本語中文") + list("🙂🚀👍") +
        ["\u00a0", "\u3000", "\u2028", "\u0085", "\u000b", "\u001c", "\u200b", "\u0301", "٣", "²", "½", "Ⅻ"])


def random_cases(n, seed=1234):
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        k = rng.randint(1, 60)
        out.append("".join(rng.choice(POOL) for _ in range(k)))
    return out


def main():
    enc = gpt2_encoding()
    cases = HAND + random_cases(400)
    path = "tests/fixtures/tokenizer_cases.jsonl"
    with open(path, "w", encoding="utf-8") as f:
        for text in cases:
            ids = enc.encode_ordinary(text)
            f.write(json.dumps({"text": text, "ids": ids}) + "\n")
    print(f"wrote {len(cases)} cases to {path}", file=sys.stderr)


if __name__ == "__main__":
    main()
