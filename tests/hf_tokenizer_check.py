#!/usr/bin/env python3
"""photon-sim's tokenizers against Hugging Face's `tokenizers` library, id for
id, on a varied multilingual corpus (the test it_hf_tokenizers runs this).

Builds, with the `tokenizers` library itself, one tokenizer of each family
photon-sim reads, in a temporary directory:
  gpt2        GPT-2's files from data/tokenizer/gpt2 as tokenizer.json
              (merges as ["a", "b"] pairs, as tokenizers >= 0.20 writes them)
  gpt2-str    the same with merges as "a b" strings (the older form)
  gpt2-files  vocab.json + merges.txt (compared with ByteLevelBPETokenizer)
  neox        GPT-NeoX's pipeline (NFC, ByteLevel without prefix space,
              <|endoftext|> and <|padding|> special, runs of spaces as normal
              added tokens): a small BPE trained with it, since the hub is
              not reachable from the tests
  llama3      Llama 3's Split regex + ByteLevel(use_regex=False),
              ignore_merges, special tokens, trained the same way
  mixed       NFKC, Digits, a Split with every delimiter behaviour, prefix
              space, added tokens with lstrip / rstrip / single_word /
              normalized, no <|endoftext|> (eos from tokenizer_config.json)
Then encodes the corpus with both (add_special_tokens=False: photon-sim
applies no post-processor) and compares.  Also checks that unsupported
models (WordPiece, Unigram, Metaspace) are refused with a clear message.

usage: hf_tokenizer_check.py PHOTON_SIM SOURCE_DIR [--docs N]"""
import json
import os
import random
import subprocess
import sys
import tempfile

from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers
from tokenizers.implementations import ByteLevelBPETokenizer

LLAMA3_PATTERN = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*"
                  r"|\s*[\r\n]+|\s+(?!\S)|\s+")

# Hand-written lines in many scripts, with the cases tokenizers get wrong:
# contractions in both cases, composed and decomposed accents (NFC), combining
# marks, Hangul syllables and jamo, emoji ZWJ sequences, full-width and
# compatibility characters (NFKC), digits of several scripts, every kind of
# white space, and the special tokens' texts inside ordinary text.
LINES = [
    "Hello world! It's a test, isn't it? I'LL SEE YOU'RE FINE, we'd've gone.",
    "  Leading spaces, trailing spaces   \n\n\ttabs\tand\r\nnewlines\u00a0nbsp\u2003em-space\u3000ideographic ",
    "Caf\u00e9 vs Cafe\u0301, na\u00efve vs nai\u0308ve, \u00c5ngstr\u00f6m vs A\u030angstro\u0308m, \u212b (angstrom sign)",
    "Gr\u00fc\u00dfe aus M\u00fcnchen! Stra\u00dfe, \u00e4\u00f6\u00fc \u00c4\u00d6\u00dc, \u1e9e.",
    "\u00bfD\u00f3nde est\u00e1 la biblioteca? \u00a1Ma\u00f1ana! Ni\u00f1o, a\u00f1o, se\u00f1or.",
    "\u041f\u0440\u0438\u0432\u0435\u0442, \u043c\u0438\u0440! \u042d\u0442\u043e \u0442\u0435\u0441\u0442 \u0451\u0436\u0438\u043a\u0430 \u0438 \u0439\u043e\u0433\u0443\u0440\u0442\u0430.",
    "\u039a\u03b1\u03bb\u03b7\u03bc\u03ad\u03c1\u03b1 \u03ba\u03cc\u03c3\u03bc\u03b5! \u1f08\u03c1\u03b9\u03c3\u03c4\u03bf\u03c4\u03ad\u03bb\u03b7\u03c2, \u03b1\u0313\u0301",
    "\u0645\u0631\u062d\u0628\u0627 \u0628\u0627\u0644\u0639\u0627\u0644\u0645! \u0627\u0644\u0639\u064e\u0631\u064e\u0628\u0650\u064a\u0651\u064e\u0629 \u0661\u0662\u0663 \ufefb",
    "\u05e9\u05dc\u05d5\u05dd \u05e2\u05d5\u05dc\u05dd! \u05d1\u05bc\u05b0\u05e8\u05b5\u05d0\u05e9\u05c1\u05b4\u05d9\u05ea",
    "\u0928\u092e\u0938\u094d\u0924\u0947 \u0926\u0941\u0928\u093f\u092f\u093e! \u0915\u094d\u0937\u0924\u094d\u0930\u093f\u092f \u0966\u0967\u0968 \u0915\u093c",
    "\u0e2a\u0e27\u0e31\u0e2a\u0e14\u0e35\u0e0a\u0e32\u0e27\u0e42\u0e25\u0e01 \u0e20\u0e32\u0e29\u0e32\u0e44\u0e17\u0e22\u0e44\u0e21\u0e48\u0e21\u0e35\u0e0a\u0e48\u0e2d\u0e07\u0e27\u0e48\u0e32\u0e07",
    "\u4f60\u597d\uff0c\u4e16\u754c\uff01\u6211\u4eec\u5728\u5317\u4eac\u5b66\u4e60\u81ea\u7136\u8bed\u8a00\u5904\u7406\u3002\u7e41\u9ad4\u4e2d\u6587\u3082\u3002",
    "\u3053\u3093\u306b\u3061\u306f\u4e16\u754c\uff01\u30ab\u30bf\u30ab\u30ca\u3068\uff76\uff80\uff76\uff85\u3001\u30ac\u3068\u30ab\u3099\u3002",
    "\uc548\ub155\ud558\uc138\uc694 \uc138\uacc4! \u1100\u1161\u11a8 (jamo) vs \uac01, \ud55c\uad6d\uc5b4 \ud14c\uc2a4\ud2b8",
    "Emoji: \U0001f44d\U0001f3fd \U0001f468\u200d\U0001f469\u200d\U0001f467 \U0001f1eb\U0001f1f7 \u2764\ufe0f \U0001f600\U0001f600\U0001f600",
    "def f(x):\n    return {'a': [1, 2, 3], \"b\": x ** 2}  # comment\n\n\tif x != 0:\n\t\tpass\n",
    "Numbers: 1234567890 3.14159 -42 1,000,000 \u00bd \u00b2 \u2163 \u0663\u0664 \uff11\uff12\uff13 1st 2nd 3rd 99th",
    "Special tokens in text: <|endoftext|> and <|padding|> and <|begin_of_text|> <mask> <mask>x x<mask>",
    "Full\uff37\uff49\uff44\uff54\uff48 \ufb01\ufb02 ligatures \u2126 \u2160 \u33a1 \u2460 \u00aa\u00ba",
    "a" * 300 + " " + "=" * 150 + " " + "1" * 120 + " " + "\u00e9" * 80,
    "Mixed: Photon\u2019s loss \u2013 3.2 \u2192 2.9 \u2014 \u201cquoted\u201d \u00abguillemets\u00bb \u2026",
    "    \n   \n\n\n      word      word\t\t\tword \u2028 \u2029 \x0b\x0c end",
    "\u1000\u103c\u1014\u103a\u1019\u102c \u10e5\u10d0\u10e0\u10d7\u10e3\u10da\u10d8 \u0540\u0561\u0575\u0565\u0580\u0565\u0576 \u12a0\u121b\u122d\u129b",
    "Tiếng Việt có dấu: Hà Nội, Thành phố Hồ Chí Minh, người, được, những",
    "x<mask>y <mask> z <mask>\n<mask>\t<mask>",
    "indented code:" + " " * 30 + "x = 1\n" + " " * 57 + "y\n" + " " * 24 + "z" + " " * 3 + "w  v",
]


EXERCISED = {
    "gpt2": ["<|endoftext|>"],
    "neox": ["<|endoftext|>", "<|padding|>", " " * 24, " " * 3, " " * 2],
    "llama3": ["<|begin_of_text|>"],
    "mixed": ["<mask>", "Ｗidth", "world", "biblioteca"],
}


def random_text(rng, n):
    """Printable text from a mix of code point ranges (valid, no surrogates)."""
    ranges = [(0x20, 0x7E), (0xA0, 0x24F), (0x300, 0x36F), (0x370, 0x3FF), (0x400, 0x4FF), (0x590, 0x6FF),
              (0x900, 0x97F), (0xE00, 0xE7F), (0x1100, 0x11FF), (0x2000, 0x206F), (0x3040, 0x30FF),
              (0x4E00, 0x4FFF), (0xAC00, 0xAD00), (0xFF00, 0xFFEF), (0x1F300, 0x1F64F), (0x10000, 0x1007F)]
    out = []
    for _ in range(n):
        r = rng.random()
        if r < 0.15:
            out.append(rng.choice([" ", "  ", "\n", "\t", "   ", " \n "]))
        elif r < 0.55:
            out.append(chr(rng.randint(0x61, 0x7A)))
        else:
            a, b = rng.choice(ranges)
            out.append(chr(rng.randint(a, b)))
    return "".join(out)


def corpus(source_dir, ndocs):
    docs = list(LINES)
    import gzip
    for path in ("data/wikipedia/wiki-validation.json.gz", "data/c4/c4-sample-validation.json.gz"):
        with gzip.open(os.path.join(source_dir, path), "rt", encoding="utf-8") as f:
            for i, line in enumerate(f):
                if i >= ndocs:
                    break
                docs.append(json.loads(line)["text"])
    rng = random.Random(1234)
    docs += [random_text(rng, rng.randint(1, 400)) for _ in range(150)]
    return docs


def train(tok, docs, vocab, special):
    trainer = trainers.BpeTrainer(vocab_size=vocab, special_tokens=special, show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(docs, trainer=trainer)
    return tok


def build(out, source_dir, train_docs):
    made = {}
    gpt2_dir = os.path.join(source_dir, "data", "tokenizer", "gpt2")
    with open(os.path.join(gpt2_dir, "encoder.json"), encoding="utf-8") as f:
        vocab = json.load(f)
    with open(os.path.join(gpt2_dir, "vocab.bpe"), encoding="utf-8") as f:
        merges = [tuple(line.rstrip("\n").split(" ")) for line in f if line.strip() and not line.startswith("#version")]

    t = Tokenizer(models.BPE(vocab=vocab, merges=merges))
    t.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    t.decoder = decoders.ByteLevel()
    t.add_special_tokens(["<|endoftext|>"])
    made["gpt2"] = t

    t = Tokenizer(models.BPE())
    t.normalizer = normalizers.NFC()
    t.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    t.decoder = decoders.ByteLevel()
    train(t, train_docs, 3000, ["<|endoftext|>", "<|padding|>"])
    t.add_tokens([AddedToken(" " * k, normalized=True) for k in range(24, 1, -1)])
    made["neox"] = t

    t = Tokenizer(models.BPE(ignore_merges=True))
    t.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(LLAMA3_PATTERN), behavior="isolated"),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])
    t.decoder = decoders.ByteLevel()
    train(t, train_docs, 3000, ["<|begin_of_text|>", "<|end_of_text|>"])
    made["llama3"] = t

    t = Tokenizer(models.BPE())
    t.normalizer = normalizers.Sequence([normalizers.NFKC()])
    t.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Digits(individual_digits=True),
        pre_tokenizers.Split(Regex(r"\s+"), behavior="merged_with_next"),
        pre_tokenizers.Split(",", behavior="merged_with_previous"),
        pre_tokenizers.Split(Regex(r"[!?]+"), behavior="contiguous"),
        pre_tokenizers.Split(Regex(r"[\u200b\x0b]"), behavior="removed"),
        pre_tokenizers.Split(Regex(r"\p{Han}+"), behavior="merged_with_next", invert=True),
        pre_tokenizers.Split(Regex(r"ab|"), behavior="isolated"),
        pre_tokenizers.ByteLevel(add_prefix_space=True, use_regex=True)])
    t.decoder = decoders.ByteLevel()
    train(t, train_docs, 2500, ["</s>"])
    t.add_tokens([AddedToken("<mask>", lstrip=True, rstrip=True, single_word=True, normalized=False),
                  AddedToken("Ｗidth", normalized=True),
                  AddedToken("biblioteca", single_word=True, normalized=True),
                  AddedToken("world", lstrip=True, normalized=True)])
    made["mixed"] = t

    dirs = {}
    for name, t in made.items():
        d = os.path.join(out, name)
        os.makedirs(d)
        t.save(os.path.join(d, "tokenizer.json"))
        dirs[name] = (d, t)
    with open(os.path.join(dirs["mixed"][0], "tokenizer_config.json"), "w") as f:
        json.dump({"eos_token": {"content": "</s>"}}, f)

    # the same GPT-2 tokenizer with merges as "a b" strings
    d = os.path.join(out, "gpt2-str")
    os.makedirs(d)
    with open(os.path.join(dirs["gpt2"][0], "tokenizer.json"), encoding="utf-8") as f:
        j = json.load(f)
    assert isinstance(j["model"]["merges"][0], list), "this tokenizers writes merges as pairs"
    j["model"]["merges"] = [" ".join(m) for m in j["model"]["merges"]]
    with open(os.path.join(d, "tokenizer.json"), "w", encoding="utf-8") as f:
        json.dump(j, f, ensure_ascii=False)
    dirs["gpt2-str"] = (d, Tokenizer.from_file(os.path.join(d, "tokenizer.json")))

    # vocab.json + merges.txt, the files Hugging Face's GPT2Tokenizer saves
    d = os.path.join(out, "gpt2-files")
    os.makedirs(d)
    for a, b in (("encoder.json", "vocab.json"), ("vocab.bpe", "merges.txt")):
        with open(os.path.join(gpt2_dir, a), "rb") as f, open(os.path.join(d, b), "wb") as g:
            g.write(f.read())
    bl = ByteLevelBPETokenizer(os.path.join(d, "vocab.json"), os.path.join(d, "merges.txt"))
    bl.add_special_tokens(["<|endoftext|>"])
    dirs["gpt2-files"] = (d, bl)
    return dirs


def photon_encode(binary, tokdir, docs_path):
    p = subprocess.run([binary, "encode", "--tokenizer", tokdir, "--jsonl"], stdin=open(docs_path, "rb"),
                       capture_output=True)
    if p.returncode != 0:
        raise SystemExit(f"FAIL: photon-sim encode --tokenizer {tokdir}: exit {p.returncode}: {p.stderr.decode()}")
    return [[int(x) for x in line.split()] for line in p.stdout.decode().split("\n")[:-1]]


def check_unsupported(binary, out):
    """WordPiece, Unigram and Metaspace tokenizers: a clear error naming what is unsupported."""
    cases = {
        "wordpiece": (Tokenizer(models.WordPiece({"[UNK]": 0, "a": 1}, unk_token="[UNK]")), "model type WordPiece is not supported"),
        "unigram": (Tokenizer(models.Unigram([("a", -1.0), ("b", -2.0)])), "model type Unigram is not supported"),
    }
    meta = Tokenizer(models.BPE(vocab={"a": 0, "\u2581": 1}, merges=[]))
    meta.pre_tokenizer = pre_tokenizers.Metaspace()
    cases["metaspace"] = (meta, "pre_tokenizer Metaspace is not supported")
    lower = Tokenizer(models.BPE(vocab={"a": 0}, merges=[]))
    lower.normalizer = normalizers.Lowercase()
    lower.pre_tokenizer = pre_tokenizers.ByteLevel()
    cases["lowercase"] = (lower, "normalizer Lowercase is not supported")
    for name, (t, want) in cases.items():
        d = os.path.join(out, "bad-" + name)
        os.makedirs(d)
        t.save(os.path.join(d, "tokenizer.json"))
        p = subprocess.run([binary, "encode", "--tokenizer", d], input=b"abc", capture_output=True)
        err = p.stderr.decode()
        if p.returncode != 1 or want not in err or err.count("\n") != 1:
            raise SystemExit(f"FAIL: {name}: expected exit 1 and one line with '{want}', got exit {p.returncode}: {err!r}")
        print(f"unsupported {name}: {err.strip()}")


def main():
    binary, source_dir = sys.argv[1], sys.argv[2]
    ndocs = int(sys.argv[sys.argv.index("--docs") + 1]) if "--docs" in sys.argv else 200
    docs = corpus(source_dir, ndocs)
    failures = 0
    with tempfile.TemporaryDirectory() as out:
        dirs = build(out, source_dir, docs[: len(LINES) + ndocs])
        docs_path = os.path.join(out, "docs.jsonl")
        with open(docs_path, "w", encoding="utf-8") as f:
            for d in docs:
                f.write(json.dumps({"text": d}) + "\n")
        for name, (d, t) in dirs.items():
            want = [e.ids for e in t.encode_batch(docs, add_special_tokens=False)]
            used = {i for w in want for i in w}
            for tok in EXERCISED.get(name, []):   # the corpus reaches what the tokenizer is about
                if t.token_to_id(tok) not in used:
                    raise SystemExit(f"FAIL: {name}: the corpus never produces {tok!r}: the check would prove nothing")
            got = photon_encode(binary, d, docs_path)
            bad = [i for i in range(len(docs)) if i >= len(got) or got[i] != want[i]]
            ntok = sum(len(w) for w in want)
            if bad:
                failures += 1
                i = bad[0]
                g = got[i] if i < len(got) else []
                j = next((k for k in range(min(len(g), len(want[i]))) if g[k] != want[i][k]), min(len(g), len(want[i])))
                print(f"FAIL {name}: {len(bad)} of {len(docs)} documents differ; first: document {i} {docs[i][:80]!r} "
                      f"at id {j}: photon-sim {g[max(0, j - 3):j + 5]} tokenizers {want[i][max(0, j - 3):j + 5]}")
            else:
                print(f"ok {name}: {len(docs)} documents, {ntok} tokens identical")
        check_unsupported(binary, out)
    if failures:
        raise SystemExit(f"FAIL: {failures} tokenizer(s) differ from Hugging Face tokenizers")
    print("all tokenizers agree with Hugging Face tokenizers")


if __name__ == "__main__":
    main()
