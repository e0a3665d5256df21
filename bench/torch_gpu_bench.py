#!/usr/bin/env python3
"""The PyTorch side of bench/compare_gpu.sh (issue 8): one GPT-2 124M training
step as a user of the PyTorch stack would write it on one GPU -- bf16
autocast, torch.compile, scaled_dot_product_attention (flash), fused AdamW,
TF32 allowed -- on the same batch shape and the same step as
`photon-sim bench` (zero_grad, forward + backward, clip_grad_norm_(1.0),
AdamW with weight decay on matrices and embeddings only).  The vocabulary is
padded to 50304 (nanoGPT's choice, and photon-sim's padded_vocab), so both
do the same matrix products.  Prints one JSON object with tokens_per_s,
ms_per_step and peak_gpu_mem_bytes, like `photon-sim bench --json`.

    python3 bench/torch_gpu_bench.py --batch 16 --seq 1024 [--steps 20] [--no-compile]

Exit 77 when torch or a CUDA device is missing (so scripts can skip)."""
import argparse
import json
import math
import sys
import time

try:
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
except ImportError:
    print("torch_gpu_bench: PyTorch is not installed for %s" % sys.executable, file=sys.stderr)
    sys.exit(77)


class Block(nn.Module):
    def __init__(self, C, NH):
        super().__init__()
        self.nh = NH
        self.ln_1 = nn.LayerNorm(C)
        self.c_attn = nn.Linear(C, 3 * C)
        self.c_proj = nn.Linear(C, C)
        self.ln_2 = nn.LayerNorm(C)
        self.c_fc = nn.Linear(C, 4 * C)
        self.mlp_proj = nn.Linear(4 * C, C)

    def forward(self, x):
        B, T, C = x.shape
        q, k, v = self.c_attn(self.ln_1(x)).split(C, dim=2)
        q = q.view(B, T, self.nh, C // self.nh).transpose(1, 2)
        k = k.view(B, T, self.nh, C // self.nh).transpose(1, 2)
        v = v.view(B, T, self.nh, C // self.nh).transpose(1, 2)
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        y = y.transpose(1, 2).contiguous().view(B, T, C)
        x = x + self.c_proj(y)
        return x + self.mlp_proj(F.gelu(self.c_fc(self.ln_2(x)), approximate="tanh"))


class GPT(nn.Module):
    def __init__(self, L, NH, C, T, V):
        super().__init__()
        self.wte = nn.Embedding(V, C)
        self.wpe = nn.Embedding(T, C)
        self.h = nn.ModuleList([Block(C, NH) for _ in range(L)])
        self.ln_f = nn.LayerNorm(C)
        for p in self.parameters():
            if p.dim() >= 2:
                nn.init.normal_(p, std=0.02)

    def forward(self, idx, targets):
        T = idx.size(1)
        x = self.wte(idx) + self.wpe(torch.arange(T, device=idx.device))
        for blk in self.h:
            x = blk(x)
        logits = self.ln_f(x) @ self.wte.weight.t()   # tied LM head
        return F.cross_entropy(logits.float().view(-1, logits.size(-1)), targets.view(-1))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--layers", type=int, default=12)
    ap.add_argument("--heads", type=int, default=12)
    ap.add_argument("--dim", type=int, default=768)
    ap.add_argument("--vocab", type=int, default=50304)
    ap.add_argument("--batch", type=int, required=True)
    ap.add_argument("--seq", type=int, default=1024)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--no-compile", action="store_true")
    a = ap.parse_args()
    if not torch.cuda.is_available():
        print("torch_gpu_bench: torch %s sees no CUDA device" % torch.__version__, file=sys.stderr)
        sys.exit(77)
    dev = "cuda"
    torch.manual_seed(1)
    torch.backends.cuda.matmul.allow_tf32 = True
    torch.backends.cudnn.allow_tf32 = True
    model = GPT(a.layers, a.heads, a.dim, a.seq, a.vocab).to(dev)
    decay = [p for p in model.parameters() if p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    groups = [{"params": decay, "weight_decay": 0.1}, {"params": no_decay, "weight_decay": 0.0}]
    try:
        opt = torch.optim.AdamW(groups, lr=3e-4, betas=(0.9, 0.95), eps=1e-8, fused=True)
        fused = True
    except (TypeError, RuntimeError):
        opt = torch.optim.AdamW(groups, lr=3e-4, betas=(0.9, 0.95), eps=1e-8)
        fused = False
    compiled = False
    if not a.no_compile and hasattr(torch, "compile"):
        model = torch.compile(model)
        compiled = True
    g = torch.Generator(device="cpu").manual_seed(1)
    tok = torch.randint(0, 50257, (a.batch, a.seq + 1), generator=g).to(dev)
    x, y = tok[:, :-1].contiguous(), tok[:, 1:].contiguous()

    def step():
        opt.zero_grad(set_to_none=True)
        with torch.autocast(device_type="cuda", dtype=torch.bfloat16):
            loss = model(x, y)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        return loss

    t_compile = time.time()
    for _ in range(a.warmup):
        loss = step()
    torch.cuda.synchronize()
    t_compile = time.time() - t_compile
    torch.cuda.reset_peak_memory_stats()
    t0 = time.time()
    for _ in range(a.steps):
        loss = step()
    torch.cuda.synchronize()
    dt = time.time() - t0
    nparams = sum(p.numel() for p in model.parameters())
    print(json.dumps({
        "backend": "torch", "torch": torch.__version__, "gpu": torch.cuda.get_device_name(0),
        "compiled": compiled, "fused_adamw": fused, "n_layer": a.layers, "n_head": a.heads,
        "d_model": a.dim, "padded_vocab": a.vocab, "batch": a.batch, "seq": a.seq, "params": nparams,
        "steps": a.steps, "warmup_s": round(t_compile, 1), "ms_per_step": round(1e3 * dt / a.steps, 3),
        "tokens_per_s": round(a.batch * a.seq * a.steps / dt, 1),
        "peak_gpu_mem_bytes": torch.cuda.max_memory_allocated(), "loss": round(float(loss), 6)}))


if __name__ == "__main__":
    main()
