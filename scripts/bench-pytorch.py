#!/usr/bin/env python3
"""The same model and training step as `longctx bench`, written in plain PyTorch, as a baseline.

Reference model `small` (hidden 512, intermediate 1376, 8 layers, 8 heads, vocab 32000, untied head, batch 1):
RMSNorm, RoPE (rotate_half), causal attention, SwiGLU MLP; one step = forward, next-token cross-entropy, backward,
global-norm clipping at 1.0, AdamW (0.9, 0.95). Attention is torch's scaled_dot_product_attention when this torch has
it (2.0+), else matmul + mask + softmax. With --compile the model runs under torch.compile (inductor; the first
warm-up step compiles forward and backward). Prints one JSON object per (length, checkpointing) on stdout.

    python3 scripts/bench-pytorch.py --lengths 512,2048 --threads 2 [--compile]
"""
import argparse
import json
import math
import resource
import statistics
import time

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.checkpoint import checkpoint

CONFIGS = {
    "small": dict(hidden=512, intermediate=1376, layers=8, heads=8, vocab=32000),
    "tiny": dict(hidden=128, intermediate=344, layers=4, heads=4, vocab=512),
}
HAS_SDPA = hasattr(F, "scaled_dot_product_attention")


class RMSNorm(nn.Module):
    def __init__(self, dim, eps=1e-6):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


def rotate_half(x):
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


class Block(nn.Module):
    def __init__(self, c, attention):
        super().__init__()
        h, i = c["hidden"], c["intermediate"]
        self.heads = c["heads"]
        self.attention = attention
        self.input_norm = RMSNorm(h)
        self.q, self.k, self.v, self.o = (nn.Linear(h, h, bias=False) for _ in range(4))
        self.post_norm = RMSNorm(h)
        self.gate, self.up = nn.Linear(h, i, bias=False), nn.Linear(h, i, bias=False)
        self.down = nn.Linear(i, h, bias=False)

    def forward(self, x, cos, sin):
        b, t, h = x.shape
        hd = h // self.heads
        y = self.input_norm(x)
        q = self.q(y).view(b, t, self.heads, hd).transpose(1, 2)
        k = self.k(y).view(b, t, self.heads, hd).transpose(1, 2)
        v = self.v(y).view(b, t, self.heads, hd).transpose(1, 2)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        if self.attention == "sdpa":
            a = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        else:
            scores = q @ k.transpose(-1, -2) / math.sqrt(hd)
            mask = torch.ones(t, t, dtype=torch.bool).tril()
            a = scores.masked_fill(~mask, float("-inf")).softmax(-1) @ v
        x = x + self.o(a.transpose(1, 2).reshape(b, t, h))
        y = self.post_norm(x)
        return x + self.down(F.silu(self.gate(y)) * self.up(y))


class Model(nn.Module):
    def __init__(self, c, attention):
        super().__init__()
        self.c = c
        self.embed = nn.Embedding(c["vocab"], c["hidden"])
        self.blocks = nn.ModuleList(Block(c, attention) for _ in range(c["layers"]))
        self.norm = RMSNorm(c["hidden"])
        self.head = nn.Linear(c["hidden"], c["vocab"], bias=False)

    def forward(self, ids, checkpointing):
        t = ids.shape[1]
        hd = self.c["hidden"] // self.c["heads"]
        inv = 1.0 / (10000 ** (torch.arange(0, hd, 2).float() / hd))
        freqs = torch.outer(torch.arange(t).float(), inv)
        emb = torch.cat((freqs, freqs), dim=-1)
        cos, sin = emb.cos(), emb.sin()
        x = self.embed(ids)
        for block in self.blocks:
            if checkpointing:
                x = checkpoint(block, x, cos, sin, use_reentrant=False)
            else:
                x = block(x, cos, sin)
        return self.head(self.norm(x))


def peak_rss_mib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024


def run(config, length, checkpointing, attention, steps, warmup, compiled):
    torch.manual_seed(0)
    c = CONFIGS[config]
    model = Model(c, attention)
    for p in model.parameters():
        if p.dim() > 1:
            nn.init.normal_(p, std=0.02)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4, betas=(0.9, 0.95), eps=1e-8, weight_decay=0.0)
    forward = torch.compile(model) if compiled else model
    times = []
    for i in range(warmup + steps):
        ids = torch.randint(0, c["vocab"], (1, length))
        start = time.perf_counter()
        logits = forward(ids, checkpointing)
        loss = F.cross_entropy(logits[:, :-1].reshape(-1, c["vocab"]), ids[:, 1:].reshape(-1))
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        if i >= warmup:
            times.append(time.perf_counter() - start)
    return dict(impl="pytorch", torch=torch.__version__, compiled=compiled, config=config, length=length,
                checkpointing=checkpointing,
                attention=attention, step_s=statistics.median(times), step_times_s=times,
                tokens_per_s=length / statistics.median(times), peak_rss_mib=peak_rss_mib(),
                threads=torch.get_num_threads())


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--config", default="small", choices=sorted(CONFIGS))
    parser.add_argument("--lengths", default="512,2048")
    parser.add_argument("--checkpointing", default="off,on")
    parser.add_argument("--attention", default="auto", choices=["auto", "sdpa", "plain"])
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--compile", action="store_true", help="run the model under torch.compile (2.0+)")
    args = parser.parse_args()
    if args.compile and not hasattr(torch, "compile"):
        parser.error("torch %s has no torch.compile" % torch.__version__)
    torch.set_num_threads(args.threads)
    attention = ("sdpa" if HAS_SDPA else "plain") if args.attention == "auto" else args.attention
    if attention == "sdpa" and not HAS_SDPA:
        parser.error("torch %s has no scaled_dot_product_attention" % torch.__version__)
    for length in (int(x) for x in args.lengths.split(",")):
        for setting in args.checkpointing.split(","):
            print(json.dumps(run(args.config, length, setting == "on", attention, args.steps, args.warmup,
                                 args.compile)), flush=True)


if __name__ == "__main__":
    main()
