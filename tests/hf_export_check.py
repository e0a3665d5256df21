#!/usr/bin/env python3
"""export-hf writes a directory transformers loads whole (the test
it_hf_export runs this; needs torch, transformers and tokenizers): for a
checkpoint with GPT-2's tokenizer files and for one with a NeoX-style
tokenizer.json (imported with its model by import-hf),
  * AutoTokenizer.from_pretrained(DIR) loads, ids equal photon-sim's and the
    source tokenizer's on a multilingual corpus, decoding gives the text back,
    and bos/eos are the end-of-text token, as generation_config.json says;
  * pipeline("text-generation", DIR) greedy-generates the text
    `photon-sim sample --temperature 0` prints.

usage: hf_export_check.py PHOTON_SIM SOURCE_DIR"""
import json
import os
import shutil
import subprocess
import sys
import tempfile

import torch
from tokenizers import AddedToken, Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers
from tokenizers.implementations import ByteLevelBPETokenizer
from transformers import AutoTokenizer, GenerationConfig, GPT2Config, GPT2LMHeadModel, pipeline

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from hf_tokenizer_check import LINES  # noqa: E402

BIN, SRC = sys.argv[1], sys.argv[2]
failures = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what)
    if not cond:
        failures.append(what)


def run(*args, stdin=None):
    p = subprocess.run([BIN, *args], capture_output=True, text=True, input=stdin)
    if p.returncode != 0:
        raise SystemExit(f"FAIL: photon-sim {' '.join(args)}: exit {p.returncode}: {p.stderr}")
    return p.stdout


def hf_model(d, vocab):
    torch.manual_seed(5)
    m = GPT2LMHeadModel(GPT2Config(n_layer=2, n_head=2, n_embd=32, n_positions=64, vocab_size=vocab))
    m.save_pretrained(d, safe_serialization=True)


def neox_tokenizer(d):
    t = Tokenizer(models.BPE())
    t.normalizer = normalizers.NFC()
    t.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    t.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=1500, special_tokens=["<|endoftext|>", "<|padding|>"], show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    t.train_from_iterator(LINES * 5, trainer=trainer)
    t.add_tokens([AddedToken(" " * k, normalized=True) for k in range(24, 1, -1)])
    t.save(os.path.join(d, "tokenizer.json"))
    return t


def check_export(name, exp, ckpt, reference, eot):
    tok = AutoTokenizer.from_pretrained(exp)
    check(tok.eos_token == "<|endoftext|>" and tok.eos_token_id == eot and tok.bos_token_id == eot,
          f"{name}: AutoTokenizer loads {type(tok).__name__} with eos/bos <|endoftext|> = {eot}")
    check(GenerationConfig.from_pretrained(exp).eos_token_id == eot, f"{name}: generation_config.json eos_token_id = {eot}")
    docs = LINES + ["<|endoftext|> between<|endoftext|>documents"]
    with open(os.path.join(exp, "docs.jsonl"), "w", encoding="utf-8") as f:
        for d in docs:
            f.write(json.dumps({"text": d}) + "\n")
    ours = [[int(x) for x in line.split()] for line in run("encode", "--tokenizer", exp, "--jsonl",
                                                           stdin=open(os.path.join(exp, "docs.jsonl")).read()).split("\n")[:-1]]
    auto = [tok(d, add_special_tokens=False)["input_ids"] for d in docs]
    ref = [reference.encode(d).ids for d in docs]
    bad = [i for i in range(len(docs)) if not (ours[i] == auto[i] == ref[i])]
    check(not bad, f"{name}: AutoTokenizer = photon-sim = the source tokenizer on {len(docs)} documents"
          + (f" (first difference: document {bad[0]})" if bad else ""))
    back = [tok.decode(a) for a in auto]
    nfc = name == "neox"   # NeoX normalizes to NFC: its decoding gives the NFC text
    import unicodedata
    want = [unicodedata.normalize("NFC", d) if nfc else d for d in docs]
    check(back == want, f"{name}: decoding gives the text back" + ("" if back == want else
          f" (first difference: {next(i for i in range(len(docs)) if back[i] != want[i])})"))
    prompt = "Hello world, the"
    ours = run("sample", ckpt, "--prompt", prompt, "--tokens", "8", "--temperature", "0", "--threads", "1",
               "--tokenizer", exp)
    gen = pipeline("text-generation", model=exp, tokenizer=exp, device=-1)
    theirs = gen(prompt, max_new_tokens=8, do_sample=False)[0]["generated_text"]
    ours = ours.rstrip("\n")
    same = theirs == ours or (theirs.endswith("<|endoftext|>") and ours.startswith(theirs))
    check(same, f"{name}: pipeline('text-generation') {theirs!r} = photon-sim sample {ours!r}")


def main():
    out = tempfile.mkdtemp(prefix="photon-hfexport-")
    try:
        # GPT-2's files, given to export-hf
        hf = os.path.join(out, "gpt2-model")
        hf_model(hf, 50257)
        ckpt = os.path.join(out, "gpt2.h5")
        run("import-hf", hf, ckpt)
        exp = os.path.join(out, "gpt2-export")
        tokdir = os.path.join(SRC, "data", "tokenizer", "gpt2")
        run("export-hf", ckpt, exp, "--tokenizer", tokdir)
        for f in ("model.safetensors", "config.json", "generation_config.json", "tokenizer.json", "tokenizer_config.json",
                  "special_tokens_map.json", "vocab.json", "merges.txt"):
            check(os.path.getsize(os.path.join(exp, f)) > 0, f"gpt2: export-hf wrote {f}")
        ref = ByteLevelBPETokenizer(os.path.join(tokdir, "encoder.json"), os.path.join(tokdir, "vocab.bpe"))
        ref.add_special_tokens(["<|endoftext|>"])
        check_export("gpt2", exp, ckpt, ref, 50256)

        # a NeoX-style tokenizer.json, imported with its model and found through the checkpoint
        hf = os.path.join(out, "neox-model")
        os.makedirs(hf)
        ref = neox_tokenizer(hf)
        hf_model(hf, ref.get_vocab_size())
        ckpt = os.path.join(out, "neox.h5")
        run("import-hf", hf, ckpt)
        exp = os.path.join(out, "neox-export")
        run("export-hf", ckpt, exp)
        check_export("neox", exp, ckpt, ref, ref.token_to_id("<|endoftext|>"))
    finally:
        shutil.rmtree(out, ignore_errors=True)
    if failures:
        raise SystemExit(f"FAIL: {len(failures)} check(s) failed")
    print("exported directories load in transformers and agree with photon-sim")


if __name__ == "__main__":
    main()
