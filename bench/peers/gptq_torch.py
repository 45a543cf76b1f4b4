#!/usr/bin/env python3
"""GPTQ in PyTorch on the CPU, written from test/fixtures/gptq/README.md section 3 (the IST-DASLab algorithm:
f32, blocks of 128, damp 0.01, group 128, sym 4-bit), to time the reference formulation on the machine that
runs kquant's bench (same layer shape and token count as bench/gptq.ts). It is a peer for timing only; the
goldens, not this script, pin down kquant's numbers.

usage: python3 bench/peers/gptq_torch.py [rows cols tokens threads]  -> one JSON line
"""
import json
import sys
import time

import torch


def hessian(x):
    n = x.shape[0]
    inp = (2.0 / n) ** 0.5 * x.t().float()
    return inp.matmul(inp.t())


def solve(w, h, bits=4, group=128, block=128, percdamp=0.01):
    w = w.clone().float()
    cols = w.shape[1]
    maxq = 2 ** bits - 1
    dead = torch.diag(h) == 0
    h[dead, dead] = 1
    w[:, dead] = 0
    damp = percdamp * torch.mean(torch.diag(h))
    idx = torch.arange(cols)
    h[idx, idx] += damp
    hinv = torch.linalg.cholesky(torch.cholesky_inverse(torch.linalg.cholesky(h)), upper=True)
    q = torch.zeros_like(w)
    scale = zero = None
    for i1 in range(0, cols, block):
        i2 = min(i1 + block, cols)
        w1 = w[:, i1:i2].clone()
        err1 = torch.zeros_like(w1)
        hinv1 = hinv[i1:i2, i1:i2]
        for i in range(i2 - i1):
            if (i1 + i) % group == 0:
                g = w[:, i1 + i:i1 + i + group]
                xmax = torch.maximum(g.min(1)[0].abs(), g.max(1)[0]).clamp(min=1e-12)
                scale = (2 * xmax / maxq).unsqueeze(1)
                zero = torch.full_like(scale, (maxq + 1) / 2)
            col = w1[:, i].unsqueeze(1)
            qc = scale * (torch.clamp(torch.round(col / scale) + zero, 0, maxq) - zero)
            q[:, i1 + i] = qc.flatten()
            e = (col.flatten() - qc.flatten()) / hinv1[i, i]
            w1[:, i:] -= e.unsqueeze(1).matmul(hinv1[i, i:].unsqueeze(0))
            err1[:, i] = e
        w[:, i2:] -= err1.matmul(hinv[i1:i2, i2:])
    return q


def main():
    rows, cols, tokens, threads = (int(a) for a in (sys.argv[1:5] if len(sys.argv) >= 5 else (4096, 4096, 2048, 2)))
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    x = torch.randn(tokens, cols)
    w = 0.02 * torch.randn(rows, cols)
    t0 = time.perf_counter()
    h = hessian(x)
    t1 = time.perf_counter()
    solve(w, h)
    t2 = time.perf_counter()
    print(json.dumps({"peer": "torch " + torch.__version__, "threads": threads, "rows": rows, "cols": cols,
                      "tokens": tokens, "hessianSeconds": t1 - t0, "solveSeconds": t2 - t1}))


if __name__ == "__main__":
    main()
