#!/usr/bin/env python3
"""photon-sim import-hf and [run] init_from against Hugging Face's own
libraries (the test it_hf_import runs this; needs torch, transformers and
safetensors).  Models are made by transformers itself:

  * GPT2LMHeadModel saved in F32, F16 and BF16, sharded into several files
    with model.safetensors.index.json, a GPT2Model (names without
    "transformer."), and a file that keeps a tied lm_head.weight: each
    imports, exports back to the same tensors (bitwise: F32 as saved, F16 /
    BF16 as their exact float32 values), and `photon-sim eval` of the import
    equals transformers' loss on the same windows;
  * hostile directories (an untied lm_head, a wrong shape, a foreign tensor,
    a config photon-sim would compute differently, pickle weights only,
    damaged safetensors headers) each give one clear error line, exit 1;
  * a run with [run] init_from = the HF directory (and = the imported
    checkpoint) evaluates at round 0 exactly as the imported model does,
    records init_from in its resolved config, and a run with another
    n_head is refused (exit 2).

usage: hf_import_check.py PHOTON_SIM SOURCE_DIR"""
import json
import math
import os
import shutil
import struct
import subprocess
import sys
import tempfile

import torch
from safetensors.torch import load_file, save_file
from transformers import GPT2Config, GPT2LMHeadModel, GPT2Model

BIN, SRC = sys.argv[1], sys.argv[2]
V, C, L, H, T = 50257, 32, 2, 2, 64
failures = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what)
    if not cond:
        failures.append(what)


def run(*args, ok=True):
    p = subprocess.run([BIN, *args], capture_output=True, text=True)
    if ok and p.returncode != 0:
        raise SystemExit(f"FAIL: photon-sim {' '.join(args)}: exit {p.returncode}: {p.stderr}")
    return p


def model(seed=1, cls=GPT2LMHeadModel):
    torch.manual_seed(seed)
    cfg = GPT2Config(n_layer=L, n_head=H, n_embd=C, n_positions=T, vocab_size=V)
    m = cls(cfg).eval()
    with torch.no_grad():   # non-trivial LayerNorm and bias values too
        for name, p in m.named_parameters():
            if "ln" in name or "bias" in name:
                p.add_(torch.randn_like(p) * 0.1)
    return m


def shard_file(path, tokens):
    with open(path, "wb") as f:
        f.write(struct.pack("<256i", 20240520, 1, len(tokens), *([0] * 253)))
        f.write(struct.pack("<%dH" % len(tokens), *tokens))


def hf_loss(m, tokens, seq, nwin):
    """Mean cross-entropy over windows w = 0..nwin-1 of seq+1 tokens starting at w*seq."""
    total = 0.0
    with torch.no_grad():
        for w in range(nwin):
            x = torch.tensor([tokens[w * seq: w * seq + seq + 1]])
            logits = m(x[:, :-1]).logits.double()
            total += torch.nn.functional.cross_entropy(logits[0], x[0, 1:], reduction="sum").item()
    return total / (nwin * seq)


def eval_loss(ckpt, data, batches, batch):
    out = run("eval", ckpt, "--data", data, "--batches", str(batches), "--batch", str(batch), "--threads", "2").stdout
    return float(out.split()[1])


def exported_equal(export_dir, want):
    got = load_file(os.path.join(export_dir, "model.safetensors"))
    bad = [k for k, v in want.items() if k not in got or got[k].dtype != torch.float32 or not torch.equal(got[k], v.float())]
    bad += sorted(set(got) ^ set(want))
    return not bad, bad[:3]


def main():
    out = tempfile.mkdtemp(prefix="photon-hfimport-")
    try:
        tokens = [(i * 7919 + 13) % V for i in range(4 * T + 1)]
        data = os.path.join(out, "tokens.bin")
        shard_file(data, tokens)
        base = model()
        ref = {k: v.clone() for k, v in base.state_dict().items() if not k.endswith(".attn.bias") and not k.endswith(".attn.masked_bias") and k != "lm_head.weight"}
        cases = {}
        for dtype in ("float32", "float16", "bfloat16"):
            d = os.path.join(out, "hf-" + dtype)
            m = model().to(getattr(torch, dtype))
            m.save_pretrained(d, safe_serialization=True)
            cases[dtype] = (d, m)
        d = os.path.join(out, "hf-sharded")
        base.save_pretrained(d, safe_serialization=True, max_shard_size="100KB")
        check(os.path.exists(os.path.join(d, "model.safetensors.index.json")) and
              len([f for f in os.listdir(d) if f.endswith(".safetensors")]) > 2, "transformers wrote a sharded model")
        cases["sharded"] = (d, base)
        d = os.path.join(out, "hf-bare")
        bare = model(cls=GPT2Model)
        bare.save_pretrained(d, safe_serialization=True)
        cases["GPT2Model"] = (d, bare)
        d = os.path.join(out, "hf-tied-head")
        shutil.copytree(cases["float32"][0], d)
        sd = {k: v.clone().contiguous() for k, v in base.state_dict().items() if not k.endswith(".attn.bias") and not k.endswith(".attn.masked_bias")}
        sd["lm_head.weight"] = sd["transformer.wte.weight"].clone()
        save_file(sd, os.path.join(d, "model.safetensors"), metadata={"format": "pt"})
        cases["tied lm_head"] = (d, base)

        for name, (d, m) in cases.items():
            ckpt = os.path.join(out, name.replace(" ", "_") + ".h5")
            run("import-hf", d, ckpt)
            exp = os.path.join(out, "export-" + name.replace(" ", "_"))
            run("export-hf", ckpt, exp)
            if name == "GPT2Model":
                want = {"transformer." + k: v for k, v in m.state_dict().items() if not k.endswith(".attn.bias") and not k.endswith(".attn.masked_bias")}
            else:
                want = {k: v for k, v in m.state_dict().items() if not k.endswith(".attn.bias") and not k.endswith(".attn.masked_bias") and k != "lm_head.weight"}
            same, bad = exported_equal(exp, want)
            check(same, f"{name}: import-hf then export-hf gives back the same tensors {bad if bad else ''}")
            lm = GPT2LMHeadModel(GPT2Config(n_layer=L, n_head=H, n_embd=C, n_positions=T, vocab_size=V)).eval()
            lm.load_state_dict({k: v.float() for k, v in want.items()}, strict=False)
            lm.tie_weights()
            a, b = eval_loss(ckpt, data, 2, 2), hf_loss(lm, tokens, T, 4)
            check(abs(a - b) <= 2e-5 * b, f"{name}: photon-sim eval {a:.7f} = transformers {b:.7f}")
        check(load_file(os.path.join(cases["float16"][0], "model.safetensors"))["transformer.h.0.mlp.c_fc.weight"].dtype == torch.float16,
              "the F16 directory really holds F16 tensors")

        hostile(out, cases["float32"][0])
        init_from(out, cases["float32"][0])
    finally:
        shutil.rmtree(out, ignore_errors=True)
    if failures:
        raise SystemExit(f"FAIL: {len(failures)} check(s) failed")
    print("import-hf and init_from agree with transformers")


def expect_error(args, pattern, status=1):
    """Exit status, and one error line (after any progress lines) with pattern."""
    p = run(*args, ok=False)
    lines = [x for x in p.stderr.strip().split("\n") if "error" in x]
    good = p.returncode == status and len(lines) == 1 and pattern in lines[0] and p.stderr.strip().endswith(lines[0])
    check(good, f"error '{pattern}'" + ("" if good else f": exit {p.returncode}, stderr {p.stderr!r}"))


def hostile(out, good):
    def variant(name, edit_cfg=None, edit_sd=None, keep_safetensors=True):
        d = os.path.join(out, "bad-" + name)
        shutil.copytree(good, d)
        if edit_cfg:
            with open(os.path.join(d, "config.json")) as f:
                c = json.load(f)
            edit_cfg(c)
            with open(os.path.join(d, "config.json"), "w") as f:
                json.dump(c, f)
        if edit_sd:
            sd = load_file(os.path.join(d, "model.safetensors"))
            edit_sd(sd)
            save_file(sd, os.path.join(d, "model.safetensors"), metadata={"format": "pt"})
        if not keep_safetensors:
            os.remove(os.path.join(d, "model.safetensors"))
            open(os.path.join(d, "pytorch_model.bin"), "wb").close()
        return d

    def untied(sd):
        sd["lm_head.weight"] = sd["transformer.wte.weight"] + 1
    cases = [
        (variant("untied", edit_sd=untied), "an untied LM head is not supported"),
        (variant("shape", edit_sd=lambda sd: sd.update({"transformer.h.1.mlp.c_fc.bias": torch.zeros(3)})),
         "tensor 'transformer.h.1.mlp.c_fc.bias' has shape (3), config.json says (128)"),
        (variant("foreign", edit_sd=lambda sd: sd.update({"score.weight": torch.zeros(2, C)})),
         "tensor 'score.weight' is not part of a GPT-2 language model"),
        (variant("missing", edit_sd=lambda sd: sd.pop("transformer.ln_f.bias")), "no tensor 'transformer.ln_f.bias'"),
        (variant("gelu", edit_cfg=lambda c: c.update({"activation_function": "gelu"})), "activation_function 'gelu'"),
        (variant("inner", edit_cfg=lambda c: c.update({"n_inner": 2 * C})), "n_inner must be null or 4 x n_embd"),
        (variant("llama", edit_cfg=lambda c: c.update({"model_type": "llama"})), "model_type 'llama': only GPT-2"),
        (variant("pickle", keep_safetensors=False), "only safetensors weights are read"),
    ]
    for d, pattern in cases:
        expect_error(["import-hf", d, os.path.join(out, "bad.h5")], pattern)
        check(not os.path.exists(os.path.join(out, "bad.h5")), "nothing written after an error")
    # damaged safetensors headers
    raw = open(os.path.join(good, "model.safetensors"), "rb").read()
    n = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8:8 + n])
    def with_header(name, hdr_bytes, claim=None):
        d = variant("st-" + name)
        with open(os.path.join(d, "model.safetensors"), "wb") as f:
            f.write(struct.pack("<Q", claim or len(hdr_bytes)) + hdr_bytes + raw[8 + n:])
        return d
    def hdr(edit):
        h = json.loads(json.dumps(header))
        edit(h)
        return json.dumps(h).encode()
    first = min((k for k in header if k != "__metadata__"), key=lambda k: header[k]["data_offsets"][0])
    second = sorted((k for k in header if k != "__metadata__"), key=lambda k: header[k]["data_offsets"][0])[1]
    st_cases = [
        (with_header("len", raw[8:8 + n], claim=len(raw)), "runs past the end of the file"),
        (with_header("overlap", hdr(lambda h: h[second].update({"data_offsets": [0, h[second]["data_offsets"][1] - h[second]["data_offsets"][0]]}))), "overlap"),
        (with_header("pastend", hdr(lambda h: h[first].update({"data_offsets": [0, 10 ** 15]}))), "do not hold its"),
        (with_header("dtype", hdr(lambda h: h[first].update({"dtype": "F99"}))), "unknown dtype"),
        (with_header("shape", hdr(lambda h: h[first].update({"shape": [2 ** 40, 2 ** 40, 2 ** 40]}))), "overflows"),
        (with_header("json", b'{"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]'), "header byte offset"),
        (with_header("i64", hdr(lambda h: h[first].update({"dtype": "I64"}))), "do not hold its I64 shape"),
    ]
    for d, pattern in st_cases:
        expect_error(["import-hf", d, os.path.join(out, "bad.h5")], pattern)
    # a huge header length claim is refused before anything is allocated
    d = variant("st-huge")
    with open(os.path.join(d, "model.safetensors"), "wb") as f:
        f.write(struct.pack("<Q", 2 ** 62) + b"{}")
    expect_error(["import-hf", d, os.path.join(out, "bad.h5")], "more than the 100000000 bytes safetensors allows")


def init_from(out, hf_dir):
    """Runs started from given weights: round 0 scores the given model; a
    shorter seq_len and a padded vocabulary take wpe's first rows and zero
    rows; a run killed and resumed continues from its own checkpoint."""
    ckpt = os.path.join(out, "init.h5")
    run("import-hf", hf_dir, ckpt)

    def ini(name, src, heads=H, seq=T, pad=1, lr="3e-3", rounds=1, extra=""):
        p = os.path.join(out, name + ".ini")
        with open(p, "w") as f:
            f.write(f"""[run]
name = {name}
out_dir = {out}/{name}
rounds = {rounds}
backend = cpu
threads = 2
seed = 3
init_from = {src}
[model]
n_layer = {L}
n_head = {heads}
d_model = {C}
seq_len = {seq}
pad_vocab = {pad}
[data]
sources = {SRC}/data/c4/c4-sample-validation.json.gz
validation = {SRC}/data/wikipedia/wiki-validation.json.gz
tokenizer = {SRC}/data/tokenizer/gpt2
max_docs = 40
prepared_dir = {out}/data-{seq}
[clients]
count = 2
actors = 1
local_steps = 2
batch_size = 2
lr = {lr}
[eval]
batches = 2
{extra}""")
        return p

    def first_eval(name):
        with open(os.path.join(out, name, "metrics.jsonl")) as f:
            return [json.loads(x) for x in f if '"event":"eval"' in x][0]

    def eval_tokens(ck, seq, n):
        got = run("eval", ck, "--data", os.path.join(out, f"data-{seq}", "val.bin"), "--tokens", str(n), "--threads", "2").stdout
        return float(got.split("\n")[0].split()[1])

    # same shape: round 0 is the imported checkpoint, to the last digit
    r = run(ini("from-ckpt", ckpt), ok=False)
    check(r.returncode == 0, f"run with init_from = a checkpoint: exit {r.returncode} {r.stderr[-300:]}")
    if r.returncode == 0:
        ev = first_eval("from-ckpt")
        want = eval_tokens(ckpt, T, ev["eval_tokens"])
        check(ev["round"] == 0 and abs(ev["loss"] - want) <= 1e-6 * want,   # eval prints 6 decimals
              f"from a checkpoint: round-0 loss {ev['loss']!r} = the import's {want!r}")
        with open(os.path.join(out, "from-ckpt", "config.ini")) as f:
            check(f"init_from = {os.path.realpath(ckpt)}" in f.read(), "the resolved config records init_from")

    # from the HF directory into seq_len 32 and a vocabulary padded to 64: with
    # a learning rate too small to move a weight, the run's last checkpoint is
    # the starting point itself
    r = run(ini("from-hf", hf_dir, seq=32, pad=64, lr="1e-30"), ok=False)
    check(r.returncode == 0, f"run with init_from = the HF directory: exit {r.returncode} {r.stderr[-300:]}")
    if r.returncode == 0:
        last = sorted(f for f in os.listdir(os.path.join(out, "from-hf", "checkpoints")) if f.endswith(".h5"))[-1]
        last = os.path.join(out, "from-hf", "checkpoints", last)
        exp = os.path.join(out, "export-from-hf")
        run("export-hf", last, exp)
        got = load_file(os.path.join(exp, "model.safetensors"))
        ref = load_file(os.path.join(hf_dir, "model.safetensors"))
        ref["transformer.wpe.weight"] = ref["transformer.wpe.weight"][:32]
        # (a learning rate of 1e-30 still moves a weight of 1e-30: allow that much)
        bad = [k for k in ref if got[k].shape != ref[k].shape or (got[k] - ref[k]).abs().max().item() > 1e-20]
        check(not bad, f"from HF into seq_len 32 / pad_vocab 64: the run starts from wte, wpe[:32] and the rest as given {bad[:3]}")
        ev = first_eval("from-hf")
        want = eval_tokens(last, 32, ev["eval_tokens"])
        check(ev["round"] == 0 and abs(ev["loss"] - want) <= 1e-6 * want,
              f"from HF: round-0 loss {ev['loss']!r} = the starting model's {want!r}")

    # killed after round 1 and resumed: the same model as a run that never stopped
    full = ini("resume-full", ckpt, rounds=3, extra="[checkpoint]\nevery = 1\n")
    run(full)
    cut = ini("resume-cut", ckpt, rounds=3, extra="[checkpoint]\nevery = 1\n[faults]\nkill_supervisor_round = 2\n")
    r = run(cut, ok=False)
    check(r.returncode in (137, -9), f"the run killed itself at round 2 (exit {r.returncode})")
    text = open(cut).read().replace("kill_supervisor_round = 2", "kill_supervisor_round = 0")
    open(cut, "w").write(text)
    r = run(cut, "--resume", ok=False)
    check(r.returncode == 0 and "resuming after round" in r.stderr, f"resumed: exit {r.returncode} {r.stderr[-300:]}")
    h = [json.load(open(os.path.join(out, n, "summary.json")))["model_hash"] for n in ("resume-full", "resume-cut")]
    check(h[0] == h[1], f"a resumed init_from run ends as the uninterrupted one ({h[0]} vs {h[1]})")

    expect_error([ini("bad-heads", hf_dir, heads=4)], "the model has n_head = 2, but [model] n_head is 4", status=2)
    expect_error([ini("bad-seq", hf_dir, seq=128)], "the model has 64 positions, fewer than [model] seq_len = 128", status=2)


if __name__ == "__main__":
    main()
