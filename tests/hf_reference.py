#!/usr/bin/env python3
"""Independent check of `photon-sim export-hf` and `photon-sim eval`.

Reads DIR/model.safetensors by parsing the format itself (8-byte little-endian
header length, JSON header, raw data) and DIR/config.json, checks both against
what Hugging Face's GPT2LMHeadModel expects, rebuilds GPT-2 from those tensors
in PyTorch (float64, written here from the GPT-2 definition: pre-LayerNorm
blocks, Conv1D weights x @ W + b, causal attention, GELU tanh, tied LM head),
and computes the mean cross-entropy over the first batches x batch eval
windows of an llm.c token shard (window w starts at token w*seq_len, holds
seq_len+1 tokens).  That loss must match the one `photon-sim eval` printed.
With --generate, it decodes greedily from the given prompt ids with the same
PyTorch model, turns the ids into text with DIR/vocab.json (GPT-2 byte-level
decoding written here) and compares with `photon-sim sample --temperature 0`.
When Hugging Face transformers is installed, GPT2LMHeadModel.from_pretrained
must load DIR and give the same logits (and the same greedy text).

usage: hf_reference.py DIR [--shard SHARD.bin --batches N --batch B --expect-loss X]
                           [--prompt-ids "ID ..." --generate N --expect-text FILE]
Exit 0 on agreement, 1 on a mismatch, 77 when torch is not installed.
Run it with Debian's python3 (/usr/bin/python3, python3-torch).
"""
import argparse
import json
import math
import struct
import sys

try:
    import numpy as np
    import torch
except ImportError:
    print("hf_reference: torch/numpy not installed, skipping")
    sys.exit(77)


def fail(msg):
    print("hf_reference: FAIL: " + msg)
    sys.exit(1)


def load_safetensors(path):
    with open(path, "rb") as f:
        raw = f.read()
    (hlen,) = struct.unpack("<Q", raw[:8])
    if (8 + hlen) % 8:
        fail("data section not 8-byte aligned (header length %d)" % hlen)
    header = json.loads(raw[8:8 + hlen].decode("utf-8"))
    meta = header.pop("__metadata__", None)
    if meta != {"format": "pt"}:
        fail("__metadata__ is %r, expected {'format': 'pt'}" % (meta,))
    data = raw[8 + hlen:]
    tensors, end = {}, 0
    for name, info in sorted(header.items(), key=lambda kv: kv[1]["data_offsets"][0]):
        if info["dtype"] != "F32":
            fail("%s has dtype %s" % (name, info["dtype"]))
        a, b = info["data_offsets"]
        if a != end:
            fail("%s starts at %d, previous tensor ended at %d" % (name, a, end))
        n = int(np.prod(info["shape"])) if info["shape"] else 1
        if b - a != 4 * n:
            fail("%s: %d bytes for shape %s" % (name, b - a, info["shape"]))
        tensors[name] = np.frombuffer(data[a:b], dtype="<f4").reshape(info["shape"])
        end = b
    if end != len(data):
        fail("%d trailing bytes after the last tensor" % (len(data) - end))
    return tensors


def expected_shapes(cfg):
    V, T, C, L = cfg["vocab_size"], cfg["n_positions"], cfg["n_embd"], cfg["n_layer"]
    s = {"transformer.wte.weight": [V, C], "transformer.wpe.weight": [T, C],
         "transformer.ln_f.weight": [C], "transformer.ln_f.bias": [C]}
    for i in range(L):
        p = "transformer.h.%d." % i
        s.update({p + "ln_1.weight": [C], p + "ln_1.bias": [C],
                  p + "attn.c_attn.weight": [C, 3 * C], p + "attn.c_attn.bias": [3 * C],
                  p + "attn.c_proj.weight": [C, C], p + "attn.c_proj.bias": [C],
                  p + "ln_2.weight": [C], p + "ln_2.bias": [C],
                  p + "mlp.c_fc.weight": [C, 4 * C], p + "mlp.c_fc.bias": [4 * C],
                  p + "mlp.c_proj.weight": [4 * C, C], p + "mlp.c_proj.bias": [C]})
    return s


def check_config(cfg):
    want = {"model_type": "gpt2", "architectures": ["GPT2LMHeadModel"], "n_inner": None,
            "activation_function": "gelu_new", "layer_norm_epsilon": 1e-5,
            "tie_word_embeddings": True}
    for k, v in want.items():
        if cfg.get(k, "<missing>") != v:
            fail("config.json %s = %r, expected %r" % (k, cfg.get(k, "<missing>"), v))


def gpt2_logits(w, cfg, idx):
    """idx: (B, T) long tensor -> logits (B, T, V), float64."""
    C, NH, L = cfg["n_embd"], cfg["n_head"], cfg["n_layer"]
    eps = cfg["layer_norm_epsilon"]
    B, T = idx.shape
    x = w["transformer.wte.weight"][idx] + w["transformer.wpe.weight"][:T]
    mask = torch.tril(torch.ones(T, T, dtype=torch.bool))
    for i in range(L):
        p = "transformer.h.%d." % i
        h = torch.nn.functional.layer_norm(x, (C,), w[p + "ln_1.weight"], w[p + "ln_1.bias"], eps)
        qkv = h @ w[p + "attn.c_attn.weight"] + w[p + "attn.c_attn.bias"]
        q, k, v = qkv.split(C, dim=2)
        q, k, v = [t.view(B, T, NH, C // NH).transpose(1, 2) for t in (q, k, v)]
        att = (q @ k.transpose(-2, -1)) / math.sqrt(C // NH)
        att = att.masked_fill(~mask, float("-inf")).softmax(dim=-1)
        y = (att @ v).transpose(1, 2).reshape(B, T, C)
        x = x + y @ w[p + "attn.c_proj.weight"] + w[p + "attn.c_proj.bias"]
        h = torch.nn.functional.layer_norm(x, (C,), w[p + "ln_2.weight"], w[p + "ln_2.bias"], eps)
        h = h @ w[p + "mlp.c_fc.weight"] + w[p + "mlp.c_fc.bias"]
        h = 0.5 * h * (1 + torch.tanh(math.sqrt(2 / math.pi) * (h + 0.044715 * h ** 3)))
        x = x + h @ w[p + "mlp.c_proj.weight"] + w[p + "mlp.c_proj.bias"]
    x = torch.nn.functional.layer_norm(x, (C,), w["transformer.ln_f.weight"], w["transformer.ln_f.bias"], eps)
    return x @ w["transformer.wte.weight"].T


def read_shard(path):
    with open(path, "rb") as f:
        head = np.frombuffer(f.read(256 * 4), dtype="<i4")
        magic, version, n = int(head[0]), int(head[1]), int(head[2])
        if magic == 20240520 and version == 1:
            dt = "<u2"
        elif magic == 20240801 and version == 7:
            dt = "<u4"
        else:
            fail("%s: not an llm.c shard (magic %d version %d)" % (path, magic, version))
        return np.frombuffer(f.read(), dtype=dt)[:n].astype(np.int64)


def bytes_to_unicode():
    """GPT-2's reversible map from bytes to printable unicode characters."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("\xa1"), ord("\xac") + 1)) + \
        list(range(ord("\xae"), ord("\xff") + 1))
    cs, n = bs[:], 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, [chr(c) for c in cs]))


def decode(vocab_json, ids):
    inv = {v: k for k, v in vocab_json.items()}
    byte_of = {c: b for b, c in bytes_to_unicode().items()}
    return bytes(byte_of[ch] for i in ids for ch in inv[i])


def check_loss(w, cfg, a):
    T = cfg["n_positions"]
    tokens = read_shard(a.shard)
    nwin = a.batches * a.batch
    if nwin * T + 1 > len(tokens):
        fail("shard too short for %d windows" % nwin)
    losses = []
    with torch.no_grad():
        for b in range(a.batches):
            win = np.stack([tokens[(b * a.batch + j) * T:(b * a.batch + j) * T + T + 1] for j in range(a.batch)])
            win = torch.from_numpy(win)
            logits = gpt2_logits(w, cfg, win[:, :-1])
            losses.append(torch.nn.functional.cross_entropy(
                logits.reshape(-1, logits.shape[-1]), win[:, 1:].reshape(-1)).item())
    loss = sum(losses) / len(losses)
    rel = abs(loss - a.expect_loss) / abs(loss)
    print("torch loss %.7f photon-sim loss %.7f relative difference %.2e" % (loss, a.expect_loss, rel))
    if not rel <= a.tol:
        fail("eval loss differs from the PyTorch reference by %.2e (tolerance %g)" % (rel, a.tol))
    return tokens[:T]


def greedy(w, cfg, ids, n):
    T = cfg["n_positions"]
    ids = list(ids)
    with torch.no_grad():
        for _ in range(n):
            ctx = torch.tensor([ids[-T:]], dtype=torch.long)
            ids.append(int(gpt2_logits(w, cfg, ctx)[0, -1].argmax()))
    return ids


def check_generate(w, cfg, a):
    with open(a.dir + "/vocab.json", encoding="utf-8") as f:
        vocab = json.load(f)
    prompt = [int(x) for x in a.prompt_ids.split()]
    ids = greedy(w, cfg, prompt, a.generate)
    text = decode(vocab, ids)
    with open(a.expect_text, "rb") as f:
        want = f.read()
    if want.endswith(b"\n"):
        want = want[:-1]
    print("torch greedy text %r" % text.decode("utf-8", "replace"))
    if text != want:
        fail("greedy text differs: photon-sim sample printed %r" % want.decode("utf-8", "replace"))
    return prompt, ids


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dir")
    ap.add_argument("--shard")
    ap.add_argument("--batches", type=int)
    ap.add_argument("--batch", type=int)
    ap.add_argument("--expect-loss", type=float)
    ap.add_argument("--tol", type=float, default=1e-4, help="relative tolerance on the loss")
    ap.add_argument("--prompt-ids")
    ap.add_argument("--generate", type=int, default=0)
    ap.add_argument("--expect-text")
    a = ap.parse_args()

    with open(a.dir + "/config.json") as f:
        cfg = json.load(f)
    check_config(cfg)
    st = load_safetensors(a.dir + "/model.safetensors")
    want = expected_shapes(cfg)
    if set(st) != set(want):
        fail("tensor names differ: missing %s, unexpected %s" %
             (sorted(set(want) - set(st)), sorted(set(st) - set(want))))
    for k, shape in want.items():
        if list(st[k].shape) != shape:
            fail("%s has shape %s, expected %s" % (k, list(st[k].shape), shape))
    w = {k: torch.from_numpy(v.astype(np.float64)) for k, v in st.items()}

    probe = None
    if a.shard:
        probe = check_loss(w, cfg, a)
    gen = check_generate(w, cfg, a) if a.generate else None
    if probe is None:
        probe = np.arange(min(cfg["n_positions"], cfg["vocab_size"]), dtype=np.int64)

    try:
        from transformers import GPT2LMHeadModel
    except ImportError:
        print("hf_reference: transformers not installed; checked the safetensors/config layout by hand")
        return 0
    model = GPT2LMHeadModel.from_pretrained(a.dir).eval()
    with torch.no_grad():
        idx = torch.from_numpy(probe.reshape(1, -1))
        hf = model(idx).logits.double()
        ref = gpt2_logits(w, cfg, idx)
    diff = (hf - ref).abs().max().item()
    print("transformers GPT2LMHeadModel logits max abs difference %.2e" % diff)
    if diff > 1e-3:
        fail("transformers logits differ from the reference by %.2e" % diff)
    if gen and len(gen[1]) > cfg["n_positions"]:
        print("transformers greedy generation skipped: longer than n_positions (photon-sim slides the window)")
    elif gen:
        prompt, ids = gen
        out = model.generate(torch.tensor([prompt]), max_new_tokens=a.generate, do_sample=False,
                             pad_token_id=0, attention_mask=torch.ones(1, len(prompt), dtype=torch.long))
        if out[0].tolist() != ids:
            fail("transformers greedy ids %s differ from the reference %s" % (out[0].tolist(), ids))
        print("transformers greedy generation agrees")
    return 0


if __name__ == "__main__":
    sys.exit(main())
