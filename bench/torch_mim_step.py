#!/usr/bin/env python3
"""torch_mim_step.py — the same EVA-01 MIM training step as bench/mim_step_bench.c in PyTorch fp32
(forward with mask tokens, final norm, lm_head on masked tokens, -mean cosine loss, backward,
clip_grad_norm_(3.0), torch.optim.AdamW), ViT-B-sized student with random weights, for the
speed comparison only. Run with Debian's torch: OMP_WAIT_POLICY=passive /usr/bin/python3
bench/torch_mim_step.py [threads] [batch] [patch] [steps]
(steps 0: time the first step alone; Debian's torch 1.13 has BLAS_INFO=generic, i.e. ~1 GFLOP/s
matmuls, so a full B=8 step takes ~15 minutes on 2 cores)"""
import sys, time, math
import torch, torch.nn as nn, torch.nn.functional as Fn

threads = int(sys.argv[1]) if len(sys.argv) > 1 else 2
B = int(sys.argv[2]) if len(sys.argv) > 2 else 8
P = int(sys.argv[3]) if len(sys.argv) > 3 else 16
steps = int(sys.argv[4]) if len(sys.argv) > 4 else 3
torch.set_num_threads(threads)
torch.manual_seed(0)
D, L, H, F, S, Dt = 768, 12, 12, 3072, 224, 768
G = S // P; Np = G * G

class Block(nn.Module):
    def __init__(s):
        super().__init__()
        s.norm1 = nn.LayerNorm(D, eps=1e-6); s.norm2 = nn.LayerNorm(D, eps=1e-6)
        s.qkv = nn.Linear(D, 3 * D, bias=False)
        s.q_bias = nn.Parameter(torch.zeros(D)); s.v_bias = nn.Parameter(torch.zeros(D))
        s.proj = nn.Linear(D, D); s.fc1 = nn.Linear(D, F); s.fc2 = nn.Linear(F, D)
    def forward(s, x):
        Bn, N, _ = x.shape
        bias = torch.cat([s.q_bias, torch.zeros_like(s.v_bias), s.v_bias])
        qkv = Fn.linear(s.norm1(x), s.qkv.weight, bias).reshape(Bn, N, 3, H, D // H).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0] * (D // H) ** -0.5, qkv[1], qkv[2]
        a = (q @ k.transpose(-2, -1)).softmax(-1)
        x = x + s.proj((a @ v).transpose(1, 2).reshape(Bn, N, D))
        return x + s.fc2(Fn.gelu(s.fc1(s.norm2(x))))

class Student(nn.Module):
    def __init__(s):
        super().__init__()
        s.patch = nn.Conv2d(3, D, P, P)
        s.cls_token = nn.Parameter(torch.randn(1, 1, D) * .02); s.mask_token = nn.Parameter(torch.randn(1, 1, D) * .02)
        s.pos_embed = nn.Parameter(torch.randn(1, Np + 1, D) * .02)
        s.blocks = nn.ModuleList([Block() for _ in range(L)])
        s.norm = nn.LayerNorm(D, eps=1e-6); s.lm_head = nn.Linear(D, Dt)
    def forward(s, img, mask):
        x = s.patch(img).flatten(2).transpose(1, 2)
        w = mask.unsqueeze(-1).type_as(x)
        x = x * (1 - w) + s.mask_token * w
        x = torch.cat([s.cls_token.expand(x.shape[0], -1, -1), x], 1) + s.pos_embed
        for b in s.blocks: x = b(x)
        x = s.norm(x)
        return s.lm_head(x[:, 1:][mask])

m = Student()
img = torch.randn(B, 3, S, S); teacher = torch.randn(B, Np, Dt)
mask = torch.zeros(B, Np, dtype=torch.bool)
nm = int(0.4 * Np + 0.5)
for b in range(B): mask[b, torch.randperm(Np)[:nm]] = True
decay = [p for n, p in m.named_parameters() if p.ndim > 1 and n not in ('pos_embed', 'cls_token')]
no_decay = [p for n, p in m.named_parameters() if not (p.ndim > 1 and n not in ('pos_embed', 'cls_token'))]
opt = torch.optim.AdamW([{'params': decay, 'weight_decay': 0.05}, {'params': no_decay, 'weight_decay': 0.0}],
                        lr=1e-3, betas=(0.9, 0.98), eps=1e-6)
times = []; cpus = []
for s in range(steps + 1):  # step 0 is warm-up and not timed, unless steps == 0
    t0 = time.perf_counter(); c0 = time.process_time()
    pred = m(img, mask)
    loss = -Fn.cosine_similarity(pred.float(), teacher[mask].float(), dim=-1).mean()
    opt.zero_grad(); loss.backward()
    torch.nn.utils.clip_grad_norm_(m.parameters(), 3.0)
    opt.step()
    dt = time.perf_counter() - t0; dc = time.process_time() - c0
    print(f'step {s}: {dt*1e3:.1f} ms wall, {dc*1e3:.1f} ms CPU, loss {loss.item():.6f}', file=sys.stderr)
    if s > 0 or steps == 0: times.append(dt); cpus.append(dc)
N = Np + 1; M = int(mask.sum())
per_block = 2.0 * N * (4 * D * D + 2 * D * F) + 4.0 * N * N * D
flops = 3 * (B * (2.0 * Np * 3 * P * P * D + L * per_block) + 2.0 * M * D * Dt)
print(f'torch {torch.__version__} MIM step ViT-B/{P} B={B} M={M} threads={threads}: mean {sum(times)/len(times)*1e3:.1f} ms, '
      f'best {min(times)*1e3:.1f} ms, {flops/1e9:.1f} GFLOP/step, {flops/min(times)/1e9:.1f} GFLOP/s (best)')
print(f'  CPU time of the best step {min(cpus)*1e3:.1f} ms (all threads): {flops/min(cpus)/1e9:.2f} GFLOP/s per CPU-second; '
      f'wall estimate on {threads} idle cores {min(cpus)/threads*1e3:.1f} ms')
