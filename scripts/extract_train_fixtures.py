#!/usr/bin/env python3
"""extract_train_fixtures.py — copy the small pieces of the training golden data that the
optimizer and masking tests need into tests/data/train/ (dev-time only; plain json + struct).

  optim_step.safetensors   for every MIM parameter <name> (official order):
      shape.<name>      I32 (ndim,)   the real parameter shape (ndim drives the wd policy)
      param.<name>      F16 (k,)      first k = min(numel, 4096) initial values, bytes as stored
      grad.<name>       F32 (k,)      first k elements of the stored gradient
      after.<name>      F32 (k,)      after one AdamW step, max norm 3.0 (stored prefix)
      after_clip.<name> F32 (k2,)     same with max norm 0.5, k2 = min(numel, 2048)
      grad_total_norm_f64 F64 ()      global gradient norm before clipping
    The update is element-wise given the global clip coefficient, so prefixes test every path.
  finetune_groups.json     per-parameter layer_id / lr_scale / weight_decay / shape of the
                           fine-tuning step (layer decay 0.75, depth 3)
  masking_stats.json       statistics of the official masking generator (copied as is)

usage: scripts/extract_train_fixtures.py [/work/shared/golden] [tests/data/train]
"""
import json
import os
import shutil
import struct
import sys

SIZES = {"F16": 2, "F32": 4, "F64": 8, "I32": 4, "U8": 1}


def read_st(path):
    with open(path, "rb") as f:
        data = f.read()
    n = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8:8 + n])
    header.pop("__metadata__", None)
    base = 8 + n
    out = {}
    for name, info in header.items():
        b, e = info["data_offsets"]
        out[name] = (info["dtype"], info["shape"], data[base + b:base + e])
    return out


def write_st(path, tensors):
    """tensors: list of (name, dtype, shape, raw bytes) in the order to store."""
    header, blobs, off = {}, [], 0
    for name, dtype, shape, raw in tensors:
        count = 1
        for s in shape:
            count *= s
        assert len(raw) == count * SIZES[dtype], name
        header[name] = {"dtype": dtype, "shape": list(shape), "data_offsets": [off, off + len(raw)]}
        blobs.append(raw)
        off += len(raw)
    hj = json.dumps(header, separators=(",", ":")).encode()
    hj += b" " * ((8 - len(hj) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(hj)))
        f.write(hj)
        for b in blobs:
            f.write(b)


def main():
    golden = sys.argv[1] if len(sys.argv) > 1 else "/work/shared/golden"
    dest = sys.argv[2] if len(sys.argv) > 2 else os.path.join(os.path.dirname(__file__), "..", "tests", "data", "train")
    os.makedirs(dest, exist_ok=True)
    mim = json.load(open(os.path.join(golden, "mim_step.json")))
    init = read_st(os.path.join(golden, "mim_student_init.safetensors"))
    step = read_st(os.path.join(golden, "mim_step.safetensors"))
    out = []
    for name in mim["param_order"]:
        dtype, shape, raw = init[name]
        assert dtype == "F16"
        numel = 1
        for s in shape:
            numel *= s
        k = min(numel, 4096)
        _, ashape, araw = step["after." + name]
        assert ashape == [k], (name, ashape)
        _, cshape, craw = step["after_clip." + name]
        gdt, gshape, graw = step["grad." + name]
        assert gdt == "F32" and gshape == shape
        out.append(("shape." + name, "I32", [len(shape)], struct.pack("<%di" % len(shape), *shape)))
        out.append(("param." + name, "F16", [k], raw[:2 * k]))
        out.append(("grad." + name, "F32", [k], graw[:4 * k]))
        out.append(("after." + name, "F32", [k], araw))
        out.append(("after_clip." + name, "F32", cshape, craw))
    dt, shape, raw = step["output.grad_total_norm_f64"]
    out.append(("grad_total_norm_f64", dt, shape, raw))
    write_st(os.path.join(dest, "optim_step.safetensors"), out)

    ft = json.load(open(os.path.join(golden, "finetune_step.json")))
    groups = {
        "depth": ft["config"]["depth"],
        "layer_decay": ft["hyper_parameters"]["layer_decay"],
        "weight_decay": ft["hyper_parameters"]["weight_decay"],
        "layer_decay_values": ft["layer_decay_values"],
        "lr_schedule": ft["lr_schedule"],
        "schedule": {"base_lr": ft["hyper_parameters"]["lr"], "min_lr": ft["hyper_parameters"]["min_lr"],
                     "epochs": ft["hyper_parameters"]["epochs"], "warmup_epochs": ft["hyper_parameters"]["warmup_epochs"],
                     "niter_per_ep": ft["hyper_parameters"]["niter_per_ep"]},
        "params": [{"name": n, "shape": ft["param_shapes"][n], "layer_id": ft["per_param"][n]["layer_id"],
                    "lr_scale": ft["per_param"][n]["lr_scale"], "weight_decay": ft["per_param"][n]["weight_decay"]}
                   for n in ft["param_order"]],
    }
    with open(os.path.join(dest, "finetune_groups.json"), "w") as f:
        json.dump(groups, f, indent=1)
    shutil.copyfile(os.path.join(golden, "masking_stats.json"), os.path.join(dest, "masking_stats.json"))


if __name__ == "__main__":
    main()
