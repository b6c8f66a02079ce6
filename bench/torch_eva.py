#!/usr/bin/env python3
"""torch_eva.py — a small PyTorch EVA-01 giant (timm `eva_giant_patch14_*`) for bench/compare only.

Same architecture and FLOPs as `eva bench --arch eva_giant_patch14_224 --synthetic`:
patch-embed conv (P 14), cls token, learned pos embed (cls position included), L pre-norm blocks
(LN eps 1e-6, qkv without bias + q/v bias and a zero k bias, softmax((q * d^-0.5) @ k^T) @ v,
proj, erf GELU MLP, no layer scale), mean of patch tokens -> fc_norm -> head (spec §1, golden
README §1). Weights: the golden formula (golden README §7.1), so eva.c and this model compute the
same function and their logits can be compared.

Run with Debian's torch (/usr/bin/python3, torch 1.13). Sub-commands:
  bench      --depth L --size S --batch B --threads T --dtype fp32|bf16|autocast --reps R --warmup W
             (bf16: model and input cast to bfloat16, run under bf16 autocast; autocast: fp32 model
             under torch.autocast('cpu', bfloat16), which casts weights per call)
             -> one JSON line {"ms_per_image", "times_ms", ...}; weights come from --weights FILE
             (a .pt cache written by `weights`) or are generated on the fly; --logits-out FILE.bin
             writes the logits of the last pass (raw f32)
  weights    --depth L --size S --out FILE.pt [--safetensors FILE.safetensors]
             -> the formula state dict (timm names) as a torch .pt cache and/or a safetensors file
             that `eva bench --model FILE --heads 16` loads (reduced-depth runs)
  input      --size S --batch B --out FILE.bin   -> the formula input 'input/giant/S/seed0', raw f32
  logits     --depth L --size S --batch B --threads T [--weights FILE.pt] --out FILE.bin
             -> fp32 logits [B,1000] on the formula input, raw f32 (for the agreement check)
  diff       A.bin B.bin (raw f32) or A.safetensors:TENSOR -> max abs diff, max |ref|
"""
import argparse, json, os, struct, sys, time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as Fn

D, F, HEADS, P, C = 1408, 6144, 16, 14, 1000
MASK = (1 << 64) - 1


# ---- golden formula (README §7.1) --------------------------------------------------------------

def fnv1a64(name):
    h = 0xCBF29CE484222325
    for b in name.encode():
        h = ((h ^ b) * 0x100000001B3) & MASK
    return h


def formula_u(name, k):
    """u_i in [-1, 1) for i in 0..k-1 (float64, exact), computed in chunks to bound memory."""
    s = fnv1a64(name)
    out = np.empty(k, dtype=np.float64)
    step = 1 << 22
    with np.errstate(over='ignore'):
        for a in range(0, k, step):
            n = min(step, k - a)
            z = np.arange(a, a + n, dtype=np.uint64) + np.uint64((s + 0x9E3779B97F4A7C15) & MASK)
            z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
            z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
            z = z ^ (z >> np.uint64(31))
            out[a:a + n] = (z >> np.uint64(40)).astype(np.float64) / 8388608.0 - 1.0
    return out


def formula_tensor(name, shape):
    if name.endswith(('norm1.weight', 'norm2.weight')) or name == 'fc_norm.weight':
        off, sc = 1.0, 2.0 ** -3
    elif name.endswith(('norm1.bias', 'norm2.bias')) or name == 'fc_norm.bias':
        off, sc = 0.0, 2.0 ** -3
    elif name in ('cls_token', 'pos_embed'):
        off, sc = 0.0, 2.0 ** -4
    elif name.endswith('weight'):
        off, sc = 0.0, 2.0 ** -5
    else:  # biases, q_bias, v_bias
        off, sc = 0.0, 2.0 ** -6
    k = int(np.prod(shape))
    return torch.from_numpy((off + sc * formula_u(name, k)).astype(np.float32).reshape(shape))


def formula_input(size, batch, tag=None):
    tag = tag or 'giant/%d/seed0' % size
    u = formula_u('input/' + tag, batch * 3 * size * size)
    return torch.from_numpy((2.0 * u).astype(np.float32).reshape(batch, 3, size, size))


# ---- model ---------------------------------------------------------------------------------------

class Block(nn.Module):
    def __init__(s):
        super().__init__()
        s.norm1 = nn.LayerNorm(D, eps=1e-6)
        s.attn = nn.Module()
        s.attn.qkv = nn.Linear(D, 3 * D, bias=False)
        s.attn.q_bias = nn.Parameter(torch.zeros(D))
        s.attn.v_bias = nn.Parameter(torch.zeros(D))
        s.attn.register_buffer('k_bias', torch.zeros(D), persistent=False)
        s.attn.proj = nn.Linear(D, D)
        s.norm2 = nn.LayerNorm(D, eps=1e-6)
        s.mlp = nn.Module()
        s.mlp.fc1 = nn.Linear(D, F)
        s.mlp.fc2 = nn.Linear(F, D)

    def forward(s, x):
        B, N, _ = x.shape
        a = s.attn
        bias = torch.cat([a.q_bias, a.k_bias.to(a.q_bias.dtype), a.v_bias])
        qkv = Fn.linear(s.norm1(x), a.qkv.weight, bias).reshape(B, N, 3, HEADS, D // HEADS).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0] * (D // HEADS) ** -0.5, qkv[1], qkv[2]
        att = (q @ k.transpose(-2, -1)).softmax(-1)
        x = x + a.proj((att @ v).transpose(1, 2).reshape(B, N, D))
        return x + s.mlp.fc2(Fn.gelu(s.mlp.fc1(s.norm2(x))))  # exact erf GELU


class EvaG(nn.Module):
    def __init__(s, depth=40, size=224):
        super().__init__()
        G = size // P
        s.cls_token = nn.Parameter(torch.zeros(1, 1, D))
        s.pos_embed = nn.Parameter(torch.zeros(1, G * G + 1, D))
        s.patch_embed = nn.Module()
        s.patch_embed.proj = nn.Conv2d(3, D, P, P)
        s.blocks = nn.ModuleList([Block() for _ in range(depth)])
        s.fc_norm = nn.LayerNorm(D, eps=1e-6)
        s.head = nn.Linear(D, C)

    def forward(s, img):
        x = s.patch_embed.proj(img).flatten(2).transpose(1, 2)
        x = torch.cat([s.cls_token.expand(x.shape[0], -1, -1), x], 1) + s.pos_embed
        for b in s.blocks:
            x = b(x)
        return s.head(s.fc_norm(x[:, 1:].mean(1)))


def build(depth, size, weights=None):
    """The model with formula weights (or those of a .pt cache written by `weights`). The module is created
    on the meta device and every parameter is then assigned, not copied, so the peak memory is one copy of
    the weights (4 GB for the full model) and no time goes into a random init that would be overwritten."""
    with torch.device('meta') if hasattr(torch, 'device') and hasattr(torch.device, '__enter__') else _meta():
        m = EvaG(depth, size)
    sd = torch.load(weights) if weights and os.path.exists(weights) else None
    names = [n for n, _ in m.named_parameters()]
    for name in names:
        mod = m
        *path, leaf = name.split('.')
        for part in path:
            mod = getattr(mod, part)
        shape = tuple(getattr(mod, leaf).shape)
        t = sd.pop(name) if sd is not None else formula_tensor(name, shape)
        assert tuple(t.shape) == shape, name
        setattr(mod, leaf, nn.Parameter(t.float(), requires_grad=False))
    for b in m.blocks:
        b.attn.k_bias = torch.zeros(D)
    return m.eval()


class _meta:
    """torch 1.13 has no `with torch.device(...)`: route parameter/buffer creation of nn.Module to meta."""
    def __enter__(self):
        self.reg = nn.Module.register_parameter
        self.buf = nn.Module.register_buffer

        def reg(mod, name, p):
            self.reg(mod, name, None if p is None else nn.Parameter(torch.empty(p.shape, device='meta')))

        def buf(mod, name, t, persistent=True):
            self.buf(mod, name, None if t is None else torch.empty(t.shape, device='meta'), persistent)
        nn.Module.register_parameter = reg
        nn.Module.register_buffer = buf
        return self

    def __exit__(self, *exc):
        nn.Module.register_parameter = self.reg
        nn.Module.register_buffer = self.buf


def model_flops(depth, size, batch=1):
    """2 x MACs of spec §1.4."""
    G = size // P
    N = G * G + 1
    return 2.0 * batch * (depth * (N * (4 * D * D + 2 * D * F) + 2 * N * N * D) + G * G * 3 * P * P * D + D * C)


def peak_rss_mb():
    import resource
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


# ---- safetensors (tiny writer/reader: header length, JSON header, raw data) ------------------

def write_safetensors(path, tensors):
    hdr, off, blobs = {}, 0, []
    for name, t in tensors.items():
        a = t.detach().contiguous().float().numpy()
        hdr[name] = {'dtype': 'F32', 'shape': list(a.shape), 'data_offsets': [off, off + a.nbytes]}
        off += a.nbytes
        blobs.append(a)
    hdr['__metadata__'] = {'heads': str(HEADS), 'source': 'bench/torch_eva.py golden formula weights'}
    h = json.dumps(hdr).encode()
    h += b' ' * ((8 - len(h) % 8) % 8)
    tmp = path + '.tmp'
    with open(tmp, 'wb') as f:
        f.write(struct.pack('<Q', len(h)))
        f.write(h)
        for a in blobs:
            a.tofile(f)
    os.replace(tmp, path)


def read_safetensors_tensor(path, name):
    with open(path, 'rb') as f:
        n = struct.unpack('<Q', f.read(8))[0]
        hdr = json.loads(f.read(n))
        e = hdr[name]
        assert e['dtype'] == 'F32'
        f.seek(8 + n + e['data_offsets'][0])
        return np.frombuffer(f.read(e['data_offsets'][1] - e['data_offsets'][0]), dtype=np.float32).reshape(e['shape'])


def load_any(spec):
    if ':' in spec and spec.split(':')[0].endswith('.safetensors'):
        path, name = spec.split(':', 1)
        return read_safetensors_tensor(path, name)
    return np.fromfile(spec, dtype=np.float32)


def atomic_tofile(arr, path):
    tmp = path + '.tmp'
    np.ascontiguousarray(arr, dtype=np.float32).tofile(tmp)
    os.replace(tmp, path)


# ---- sub-commands --------------------------------------------------------------------------------

def cmd_bench(a):
    torch.set_num_threads(a.threads)
    t0 = time.perf_counter()
    m = build(a.depth, a.size, a.weights)
    x = formula_input(a.size, a.batch)
    if a.dtype == 'bf16':
        m = m.to(torch.bfloat16)
        x = x.to(torch.bfloat16)
    load_s = time.perf_counter() - t0
    times = []
    with torch.inference_mode():
        ctx = (torch.autocast('cpu', dtype=torch.bfloat16) if a.dtype in ('bf16', 'autocast')
               else torch.autocast('cpu', enabled=False))
        with ctx:
            for r in range(a.warmup + a.reps):
                t = time.perf_counter()
                y = m(x)
                dt = time.perf_counter() - t
                if r >= a.warmup:
                    times.append(dt)
    med = sorted(times)[len(times) // 2]
    if a.logits_out:
        atomic_tofile(y.float().numpy(), a.logits_out)
    print(json.dumps({'peer': 'torch', 'dtype': a.dtype, 'torch': torch.__version__, 'threads': a.threads,
                      'depth': a.depth, 'size': a.size, 'batch': a.batch, 'ms_per_image': med * 1e3 / a.batch,
                      'times_ms': [t * 1e3 for t in times], 'gflops': model_flops(a.depth, a.size, a.batch) / med / 1e9,
                      'peak_rss_mb': peak_rss_mb(), 'load_s': load_s,
                      'logits_first': float(y.float()[0, 0])}))


def cmd_weights(a):
    m = build(a.depth, a.size)
    sd = m.state_dict()
    if a.out:
        tmp = a.out + '.tmp'
        torch.save(sd, tmp)
        os.replace(tmp, a.out)
    if a.safetensors:
        write_safetensors(a.safetensors, sd)


def cmd_input(a):
    atomic_tofile(formula_input(a.size, a.batch).numpy(), a.out)


def cmd_logits(a):
    torch.set_num_threads(a.threads)
    m = build(a.depth, a.size, a.weights)
    with torch.inference_mode():
        y = m(formula_input(a.size, a.batch))
    atomic_tofile(y.numpy(), a.out)


def cmd_diff(a):
    x, ref = load_any(a.a).ravel(), load_any(a.b).ravel()
    if x.size != ref.size:
        print(json.dumps({'error': 'size mismatch %d vs %d' % (x.size, ref.size)}))
        sys.exit(1)
    d = np.abs(x.astype(np.float64) - ref.astype(np.float64))
    print(json.dumps({'max_abs_diff': float(d.max()), 'max_abs_ref': float(np.abs(ref).max()),
                      'argmax_equal': bool(np.argmax(x) == np.argmax(ref)), 'n': int(x.size)}))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest='cmd', required=True)

    def common(p, threads=True):
        p.add_argument('--depth', type=int, default=40)
        p.add_argument('--size', type=int, default=224)
        p.add_argument('--batch', type=int, default=1)
        if threads:
            p.add_argument('--threads', type=int, default=2)

    p = sub.add_parser('bench'); common(p)
    p.add_argument('--dtype', choices=['fp32', 'bf16', 'autocast'], default='fp32')
    p.add_argument('--reps', type=int, default=1)
    p.add_argument('--warmup', type=int, default=1)
    p.add_argument('--weights')
    p.add_argument('--logits-out')
    p.set_defaults(fn=cmd_bench)
    p = sub.add_parser('weights'); common(p, threads=False)
    p.add_argument('--out'); p.add_argument('--safetensors'); p.set_defaults(fn=cmd_weights)
    p = sub.add_parser('input'); common(p, threads=False)
    p.add_argument('--out', required=True); p.set_defaults(fn=cmd_input)
    p = sub.add_parser('logits'); common(p)
    p.add_argument('--weights'); p.add_argument('--out', required=True); p.set_defaults(fn=cmd_logits)
    p = sub.add_parser('diff')
    p.add_argument('a'); p.add_argument('b'); p.set_defaults(fn=cmd_diff)
    a = ap.parse_args()
    a.fn(a)


if __name__ == '__main__':
    main()
