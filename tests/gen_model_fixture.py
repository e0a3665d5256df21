#!/usr/bin/python3
"""Generates tests/fixtures/gpt2_tiny.bin: a PyTorch reference for the C GPT-2.

The same GPT-2 as gpu/ (pre-LayerNorm blocks, learned positions, GELU tanh,
tied LM head over the true vocabulary only, biases everywhere, causal
softmax attention) is written here directly with torch.nn.functional, in
float64 so the fixture is the "true" answer the fp32 C code is compared to.
Weights are drawn from a fixed seed (not GPT-2's init: LayerNorm weights and
biases are random too, and the padded rows of wte are filled with garbage
that must never influence anything).  tests/unit/test_model_torch.c reads it.

Regenerate (Debian's python3-torch, any 1.12+ for gelu(approximate='tanh')):
    /usr/bin/python3 tests/gen_model_fixture.py tests/fixtures/gpt2_tiny.bin
The output is deterministic for a given torch version.

File format (little-endian):
    char[8]   magic "GPT2FIX1"
    int32[10] version (1), L, NH, C, maxT, V, Vp, B, T, steps
    float32[8] lr, min_ratio, warmup, total_steps, beta1, beta2, eps, weight_decay
    float32   grad_clip
    uint32    tokens[B][T+1]        windows: inputs [:, :T], targets [:, 1:]
    float32   params[P]             flat vector, layout of gpu/model.h
    float32   logits[B][T][V]       true vocabulary only
    float32   loss
    float32   grads[P]              d loss / d params, same layout
    float32   step_losses[steps]    loss before each AdamW step
    float32   final_params[P]       after `steps` steps
Training loop: zero grads, loss, backward, clip_grad_norm_(grad_clip), lr from
the schedule below (linear warmup then cosine to min_ratio * lr at
total_steps; same formula as lr_at in gpu/model.c), AdamW step with weight
decay only on wte, wpe and the four weight matrices of each block.
"""
import math
import struct
import sys

import torch
import torch.nn.functional as F

L, NH, C, MAXT, V, VP, B, T = 2, 2, 32, 16, 67, 72, 3, 16
STEPS = 10
LR, MIN_RATIO, WARMUP, TOTAL = 1e-2, 0.1, 3, 10
BETA1, BETA2, EPS, WD, CLIP = 0.9, 0.95, 1e-8, 0.1, 1.0

# (name, shape, decays) in the order of gpu/model.h's flat layout
LAYOUT = [
    ("wte", (VP, C), True), ("wpe", (MAXT, C), True),
    ("ln1w", (L, C), False), ("ln1b", (L, C), False),
    ("qkvw", (L, 3 * C, C), True), ("qkvb", (L, 3 * C), False),
    ("attprojw", (L, C, C), True), ("attprojb", (L, C), False),
    ("ln2w", (L, C), False), ("ln2b", (L, C), False),
    ("fcw", (L, 4 * C, C), True), ("fcb", (L, 4 * C), False),
    ("fcprojw", (L, C, 4 * C), True), ("fcprojb", (L, C), False),
    ("lnfw", (C,), False), ("lnfb", (C,), False),
]


def make_params(gen):
    p = {}
    for name, shape, _ in LAYOUT:
        r = torch.randn(shape, generator=gen, dtype=torch.float64)
        if name in ("ln1w", "ln2w", "lnfw"):
            t = 1.0 + 0.1 * r
        elif name.endswith("b"):
            t = 0.05 * r
        else:
            t = 0.15 * r
        p[name] = t.requires_grad_(True)
    return p


def lr_at(step):
    if step < WARMUP:
        return LR * (step + 1) / WARMUP
    ratio = min(1.0, (step - WARMUP) / (TOTAL - WARMUP))
    lo = MIN_RATIO * LR
    return lo + 0.5 * (1.0 + math.cos(math.pi * ratio)) * (LR - lo)


def forward(p, idx):
    Bn, Tn = idx.shape
    hs = C // NH
    x = p["wte"][idx] + p["wpe"][:Tn]
    mask = torch.tril(torch.ones(Tn, Tn, dtype=torch.bool))
    for l in range(L):
        h = F.layer_norm(x, (C,), p["ln1w"][l], p["ln1b"][l], eps=1e-5)
        qkv = F.linear(h, p["qkvw"][l], p["qkvb"][l])
        q, k, v = qkv.split(C, dim=2)
        q = q.view(Bn, Tn, NH, hs).transpose(1, 2)
        k = k.view(Bn, Tn, NH, hs).transpose(1, 2)
        v = v.view(Bn, Tn, NH, hs).transpose(1, 2)
        att = (q @ k.transpose(-2, -1)) / math.sqrt(hs)
        att = att.masked_fill(~mask, float("-inf")).softmax(dim=-1)
        y = (att @ v).transpose(1, 2).reshape(Bn, Tn, C)
        x = x + F.linear(y, p["attprojw"][l], p["attprojb"][l])
        h = F.layer_norm(x, (C,), p["ln2w"][l], p["ln2b"][l], eps=1e-5)
        h = F.gelu(F.linear(h, p["fcw"][l], p["fcb"][l]), approximate="tanh")
        x = x + F.linear(h, p["fcprojw"][l], p["fcprojb"][l])
    x = F.layer_norm(x, (C,), p["lnfw"], p["lnfb"], eps=1e-5)
    return x @ p["wte"][:V].t()   # padded rows of wte are never predicted


def flat(tensors):
    return torch.cat([t.detach().reshape(-1) for t in tensors]).to(torch.float32)


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "tests/fixtures/gpt2_tiny.bin"
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(20240520)
    p = make_params(gen)
    tokens = torch.randint(0, V, (B, T + 1), generator=gen)
    tokens[0, 1] = V - 1   # exercise the last true row of wte
    names = [n for n, _, _ in LAYOUT]
    params0 = flat([p[n] for n in names])

    logits = forward(p, tokens[:, :T])
    loss = F.cross_entropy(logits.reshape(-1, V), tokens[:, 1:].reshape(-1))
    loss.backward()
    grads = flat([p[n].grad if p[n].grad is not None else torch.zeros_like(p[n]) for n in names])

    decay = [p[n] for n, _, d in LAYOUT if d]
    no_decay = [p[n] for n, _, d in LAYOUT if not d]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": WD},
                             {"params": no_decay, "weight_decay": 0.0}],
                            lr=LR, betas=(BETA1, BETA2), eps=EPS)
    step_losses = []
    for step in range(STEPS):
        opt.zero_grad(set_to_none=False)
        lo = F.cross_entropy(forward(p, tokens[:, :T]).reshape(-1, V), tokens[:, 1:].reshape(-1))
        lo.backward()
        norm = torch.nn.utils.clip_grad_norm_([p[n] for n in names], CLIP)
        for g in opt.param_groups:
            g["lr"] = lr_at(step)
        opt.step()
        step_losses.append(lo.item())
        print(f"step {step} loss {lo.item():.6f} grad norm {norm.item():.4f} lr {lr_at(step):.5f}")
    final = flat([p[n] for n in names])

    with open(out, "wb") as f:
        f.write(b"GPT2FIX1")
        f.write(struct.pack("<10i", 1, L, NH, C, MAXT, V, VP, B, T, STEPS))
        f.write(struct.pack("<8f", LR, MIN_RATIO, WARMUP, TOTAL, BETA1, BETA2, EPS, WD))
        f.write(struct.pack("<f", CLIP))
        f.write(tokens.to(torch.int64).numpy().astype("<u4").tobytes())
        f.write(params0.numpy().astype("<f4").tobytes())
        f.write(logits.detach().to(torch.float32).numpy().astype("<f4").tobytes())
        f.write(struct.pack("<f", loss.item()))
        f.write(grads.numpy().astype("<f4").tobytes())
        f.write(struct.pack(f"<{STEPS}f", *step_losses))
        f.write(final.numpy().astype("<f4").tobytes())
    print(f"wrote {out}: loss {loss.item():.6f}, {params0.numel()} params")


if __name__ == "__main__":
    main()
