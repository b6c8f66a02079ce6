#!/usr/bin/env python3
"""Write the small bad-input fixtures of tests/cli_teacher.sh into tests/data/teacher/
(dev-time only; the files are committed). Plain Python, no numpy."""
import json
import os
import struct

OUT = os.path.join(os.path.dirname(__file__), "..", "tests", "data", "teacher")


def write(name, tensors):
    header, blobs, off = {}, [], 0
    for tname, (dtype, shape, data) in tensors.items():
        header[tname] = {"dtype": dtype, "shape": shape, "data_offsets": [off, off + len(data)]}
        blobs.append(data)
        off += len(data)
    h = json.dumps(header).encode()
    h += b" " * (-len(h) % 8)
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))


def zeros_f32(n):
    return struct.pack("<%df" % n, *([0.0] * n))


# 57 px: not a multiple of the patch (14)
write("bad_size.safetensors", {"input.images": ("F32", [1, 3, 57, 57], zeros_f32(3 * 57 * 57))})
# right size, wrong name
write("bad_name.safetensors", {"input.pixels": ("F32", [1, 3, 56, 56], zeros_f32(3 * 56 * 56))})
# not [B, 3, S, S]
write("bad_rank.safetensors", {"input.images": ("F32", [3, 56, 56], zeros_f32(3 * 56 * 56))})
# integer pixels
write("bad_dtype.safetensors", {"input.images": ("I32", [1, 3, 56, 56], struct.pack("<%di" % (3 * 56 * 56), *([0] * (3 * 56 * 56))))})
