#!/usr/bin/env python3
"""lowp_compare.py — dev-time accuracy report for low-precision weights (not a runtime tool).

Compares `eva forward` outputs of a bf16 / q8 run against the fp32 run of the same model and
input: cosine similarity and max relative error (max|a-b| / max|b|) of pre_logits and logits,
and top-1 / top-5 agreement per image.

With --predictions, compares `eva eval --predictions` CSV files instead (index,label,top1..top5):
top-1 agreement, top-5 set agreement and each file's own top-1 / top-5 accuracy.

usage: lowp_compare.py REF_F32.safetensors OTHER.safetensors [...]
       lowp_compare.py --predictions REF_F32.csv OTHER.csv [...]
"""
import csv
import json
import struct
import sys

import numpy as np


def read(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        hdr = json.loads(f.read(n))
        data = f.read()
    out = {}
    for k, v in hdr.items():
        if k == "__metadata__":
            continue
        assert v["dtype"] == "F32", (k, v["dtype"])
        a, b = v["data_offsets"]
        out[k] = np.frombuffer(data[a:b], dtype=np.float32).reshape(v["shape"])
    return out


def read_predictions(path):
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    return {int(r[0]): (int(r[1]), [int(x) for x in r[2:]]) for r in rows[1:]}


def compare_predictions(paths):
    ref = read_predictions(paths[0])

    def accuracy(p):
        t1 = sum(top[0] == lab for lab, top in p.values())
        t5 = sum(lab in top for lab, top in p.values())
        return f"top-1 {100 * t1 / len(p):.2f} %, top-{len(next(iter(p.values()))[1])} {100 * t5 / len(p):.2f} %"

    print(f"{paths[0]}: {len(ref)} samples, {accuracy(ref)}")
    for path in paths[1:]:
        got = read_predictions(path)
        common = sorted(set(ref) & set(got))
        t1 = sum(ref[i][1][0] == got[i][1][0] for i in common)
        t5 = sum(set(ref[i][1]) == set(got[i][1]) for i in common)
        print(f"{path}: {accuracy(got)}")
        print(f"  vs {paths[0]}: top-1 agreement {t1}/{len(common)} ({100 * t1 / len(common):.2f} %), "
              f"top-5 set agreement {t5}/{len(common)} ({100 * t5 / len(common):.2f} %)")


def main():
    if sys.argv[1] == "--predictions":
        compare_predictions(sys.argv[2:])
        return
    ref = read(sys.argv[1])
    for path in sys.argv[2:]:
        got = read(path)
        print(path)
        for name in ("pre_logits", "logits"):
            if name not in ref or name not in got:
                continue
            r, g = ref[name].astype(np.float64), got[name].astype(np.float64)
            cos = [float(np.dot(r[i], g[i]) / (np.linalg.norm(r[i]) * np.linalg.norm(g[i]))) for i in range(r.shape[0])]
            rel = float(np.abs(r - g).max() / np.abs(r).max())
            print(f"  {name:10s} cos min {min(cos):.7f}  max rel err {rel:.3e}")
            if name == "logits":
                k = min(5, r.shape[1])
                t1 = sum(int(np.argmax(r[i]) == np.argmax(g[i])) for i in range(r.shape[0]))
                t5 = sum(int(set(np.argsort(-r[i])[:k]) == set(np.argsort(-g[i])[:k])) for i in range(r.shape[0]))
                print(f"  top-1 agreement {t1}/{r.shape[0]}, top-{k} set agreement {t5}/{r.shape[0]}")


if __name__ == "__main__":
    main()
