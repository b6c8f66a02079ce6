#!/usr/bin/env python3
"""Export a handful of Fashion-MNIST test images as PNG (the bundled sample images of
`eva classify`). Dev-time only: Debian's python3-pil, /usr/share/datasets/fashion-mnist.
usage: /usr/bin/python3 scripts/export_fmnist_samples.py data/images/fmnist"""
import gzip, os, struct, sys
from PIL import Image

out = sys.argv[1]
names = ["tshirt", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag", "ankle_boot"]
root = "/usr/share/datasets/fashion-mnist"
img = gzip.open(f"{root}/t10k-images-idx3-ubyte.gz").read()
lab = gzip.open(f"{root}/t10k-labels-idx1-ubyte.gz").read()
n, h, w = struct.unpack(">III", img[4:16])
done = set()
for i in range(n):   # the first test image of every class
    y = lab[8 + i]
    if y in done:
        continue
    done.add(y)
    px = img[16 + i * h * w:16 + (i + 1) * h * w]
    Image.frombytes("L", (w, h), px).save(os.path.join(out, f"{y}_{names[y]}_test{i}.png"))
    if len(done) == 10:
        break
