#!/usr/bin/env python3
"""export_onnx.py — torch.onnx export of bench/torch_eva.py's EVA-g (formula weights) for the ONNX Runtime
peer of bench/compare. Fixed shape [B,3,S,S] -> logits [B,1000], opset 14, float32.

usage: /usr/bin/python3 bench/export_onnx.py --depth L --size S --batch B --out FILE.onnx [--weights FILE.pt]

A model above 2 GB (protobuf's limit: the full 40-block EVA-g is 4.05 GB of fp32 weights) is written in
ONNX's external-data format: torch 1.13 does that by itself when the graph is too large, putting one file
per initializer next to FILE.onnx, so we export into a directory of its own (FILE.onnx's directory) and
ONNX Runtime finds the data there. Export of the full model peaks at roughly 3x the weights in RAM; when
that does not fit, bench/compare uses a reduced depth and scales linearly per layer (it says so).
"""
import argparse, os, sys, time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch_eva  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--depth', type=int, default=40)
    ap.add_argument('--size', type=int, default=224)
    ap.add_argument('--batch', type=int, default=1)
    ap.add_argument('--weights')
    ap.add_argument('--out', required=True)
    a = ap.parse_args()
    t0 = time.perf_counter()
    m = torch_eva.build(a.depth, a.size, a.weights)
    x = torch_eva.formula_input(a.size, a.batch)
    os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
    tmp = a.out + '.tmp.onnx'
    with torch.no_grad():
        torch.onnx.export(m, x, tmp, opset_version=14, input_names=['input'], output_names=['logits'],
                          do_constant_folding=True)
    os.replace(tmp, a.out)  # external data files (if any) are referenced by name, not by the .onnx path
    print('exported depth %d size %d batch %d to %s in %.1f s' % (a.depth, a.size, a.batch, a.out,
                                                                   time.perf_counter() - t0))


if __name__ == '__main__':
    main()
