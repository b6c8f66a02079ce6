#!/usr/bin/python3
"""gen_randaugment_golden.py — golden vectors for tests/test_randaugment.c: every RandAugment op of
timm 0.5.4 (auto_augment.py) applied with Pillow itself to one fixed 16x16 RGB image.
Run with Debian's python3-pil (/usr/bin/python3); writes tests/data/randaugment/:
  input.rgb        16*16*3 bytes, HWC
  cases.txt        one line per case: "<op index> <argument>" (op order as eva_ra_op)
  expected.rgb     the expected outputs, 16*16*3 bytes (HWC) per case, in the order of cases.txt
The op bodies mirror timm's (ImageOps / ImageEnhance / Image.transform AFFINE with fillcolor and
resample=BICUBIC, Image.rotate) so the C port is checked against Pillow, not against itself."""
import os
import random
import sys

from PIL import Image, ImageEnhance, ImageOps

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "data", "randaugment")
W = H = 16
FILL = (123, 117, 104)          # round(255 * CLIP mean)
BICUBIC = Image.BICUBIC


def make_input():
    rng = random.Random(1234)
    px = []
    for y in range(H):
        for x in range(W):
            # a gradient plus noise, each channel in its own sub-range (so autocontrast has work)
            r = 30 + (x * 9 + rng.randrange(40))
            g = 60 + (y * 7 + rng.randrange(50))
            b = 20 + ((x + y) * 5 + rng.randrange(60))
            px += [min(r, 230), min(g, 240), min(b, 200)]
    return Image.frombytes("RGB", (W, H), bytes(px))


def solarize_add(img, add, thresh=128):
    lut = [min(255, i + add) if i < thresh else i for i in range(256)]
    return img.point(lut * 3)


def affine(img, m):
    return img.transform(img.size, Image.AFFINE, m, resample=BICUBIC, fillcolor=FILL)


OPS = {   # eva_ra_op index -> function(img, arg)
    0: lambda im, a: ImageOps.autocontrast(im),
    1: lambda im, a: ImageOps.equalize(im),
    2: lambda im, a: ImageOps.invert(im),
    3: lambda im, a: im.rotate(a, resample=BICUBIC, fillcolor=FILL),
    4: lambda im, a: im if a >= 8 else ImageOps.posterize(im, int(a)),
    5: lambda im, a: ImageOps.solarize(im, a),
    6: lambda im, a: solarize_add(im, int(a)),
    7: lambda im, a: ImageEnhance.Color(im).enhance(a),
    8: lambda im, a: ImageEnhance.Contrast(im).enhance(a),
    9: lambda im, a: ImageEnhance.Brightness(im).enhance(a),
    10: lambda im, a: ImageEnhance.Sharpness(im).enhance(a),
    11: lambda im, a: affine(im, (1, a, 0, 0, 1, 0)),
    12: lambda im, a: affine(im, (1, 0, 0, a, 1, 0)),
    13: lambda im, a: affine(im, (1, 0, a * im.size[0], 0, 1, 0)),
    14: lambda im, a: affine(im, (1, 0, 0, 0, 1, a * im.size[1])),
}

CASES = [
    (0, 0), (1, 0), (2, 0),
    (3, 27.0), (3, -13.5), (3, 180.0), (3, 0.0), (3, 8.1),
    (4, 1), (4, 2), (4, 0), (4, 4),
    (5, 26), (5, 128),
    (6, 99), (6, 30),
    (7, 0.19), (7, 1.81), (7, 0.0),
    (8, 0.19), (8, 1.81), (8, 0.5),
    (9, 0.19), (9, 1.81), (9, 0.0),
    (10, 0.19), (10, 1.81), (10, 1.5),
    (11, 0.27), (11, -0.3),
    (12, 0.2), (12, -0.081),
    (13, 0.405), (13, -0.25),
    (14, 0.3), (14, -0.1625),
]


def main():
    os.makedirs(OUT, exist_ok=True)
    img = make_input()
    with open(os.path.join(OUT, "input.rgb"), "wb") as f:
        f.write(img.tobytes())
    lines = []
    expected = b""
    for op, arg in CASES:
        out = OPS[op](img, arg)
        assert out.mode == "RGB" and out.size == (W, H)
        expected += out.tobytes()
        lines.append("%d %r" % (op, float(arg)))
    with open(os.path.join(OUT, "expected.rgb"), "wb") as f:
        f.write(expected)
    with open(os.path.join(OUT, "cases.txt"), "w") as f:
        f.write("\n".join(lines) + "\n")
    print("wrote %d cases to %s (Pillow %s)" % (len(CASES), OUT, Image.__version__ if hasattr(Image, "__version__") else "?"),
          file=sys.stderr)


if __name__ == "__main__":
    main()
