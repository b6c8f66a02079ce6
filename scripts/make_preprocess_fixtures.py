#!/usr/bin/python3
"""Generate the image decoding / preprocessing fixtures of tests/data/preprocess/gen/.

Dev-time only (needs python3-pil 9.4 + python3-numpy from Debian; run with /usr/bin/python3).
The expected values are computed with Pillow itself, i.e. what timm / EVA-01 do:

  decode:  np.asarray(Image.open(f).convert('RGB'))          -> SHA-256 of the HxWx3 bytes
  exif:    ImageOps.exif_transpose(Image.open(f)).convert('RGB')
  pre:     torchvision's Resize / CenterCrop on PIL images, re-implemented below line by line
           (torchvision is not packaged in Debian): Image.resize(BICUBIC), int(s*long/short),
           round-half-even crop offsets, zero padding when the crop is larger than the image;
           ToTensor + Normalize in float32 -> SHA-256 of crop_u8 and of the float32 input.

Writes manifest.txt (one case per line, parsed by tests/test_preprocess.c) and
npy_header_*.bin (the first 128 bytes of numpy.save output, for the .npy writer test).
"""
import hashlib
import io
import math
import os
import struct
import zlib

import numpy as np
from PIL import Image, ImageOps

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "data", "preprocess", "gen")
CLIP_MEAN, CLIP_STD = (0.48145466, 0.4578275, 0.40821073), (0.26862954, 0.26130258, 0.27577711)
IN_MEAN, IN_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
# name -> (size, crop_pct, squash, mean, std): must agree with src/pipelines/presets.c
PRESETS = {
    "t224": (224, 0.9, 0, CLIP_MEAN, CLIP_STD),
    "t336": (336, 1.0, 1, CLIP_MEAN, CLIP_STD),
    "t560": (560, 1.0, 1, IN_MEAN, IN_STD),
    "eva_21k_1k_336px_psz14_ema": (336, 1.0, 0, CLIP_MEAN, CLIP_STD),
    "eva_giant_patch14_clip_224.laion400m": (224, 0.9, 0, CLIP_MEAN, CLIP_STD),
}
rng = np.random.default_rng(20240601)
lines = []


def sha(b):
    return hashlib.sha256(b).hexdigest()


def rgb_of(im):
    return np.asarray(im.convert("RGB"), dtype=np.uint8)


def test_image(w, h, noise=40):
    """Smooth gradients + a little noise: realistic for resampling, compresses well."""
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    r = 127 + 120 * np.sin(x / max(w, 1) * 6.1 + y / max(h, 1) * 2.3)
    g = 127 + 120 * np.cos(y / max(h, 1) * 5.3 - x / max(w, 1))
    b = (x * 7 + y * 3) % 256
    a = np.stack([r, g, b], -1) + rng.normal(0, noise, (h, w, 3))
    return np.clip(a, 0, 255).astype(np.uint8)


# ---------------------------------------------------------------- torchvision on PIL, by hand
def resize_short(im, s):
    w, h = im.size
    short, long = (w, h) if w <= h else (h, w)
    if short == s:
        return im
    new_long = int(s * long / short)
    nw, nh = (s, new_long) if w <= h else (new_long, s)
    return im.resize((nw, nh), Image.BICUBIC)


def center_crop(im, c):
    w, h = im.size
    if c > w or c > h:
        pl, pt = (c - w) // 2 if c > w else 0, (c - h) // 2 if c > h else 0
        pr, pb = (c - w + 1) // 2 if c > w else 0, (c - h + 1) // 2 if c > h else 0
        canvas = Image.new("RGB", (w + pl + pr, h + pt + pb), (0, 0, 0))
        canvas.paste(im, (pl, pt))
        im = canvas
        w, h = im.size
        if w == c and h == c:
            return im
    top, left = int(round((h - c) / 2.0)), int(round((w - c) / 2.0))
    return im.crop((left, top, left + c, top + c))


def transform(im, size, crop_pct, squash, mean, std):
    scale = math.floor(size / crop_pct)
    im = im.convert("RGB")
    if squash:
        im = im.resize((scale, scale), Image.BICUBIC) if im.size != (scale, scale) else im
    else:
        im = resize_short(im, scale)
    crop = np.asarray(center_crop(im, size), dtype=np.uint8)
    x = crop.astype(np.float32) / np.float32(255.0)
    x = (x - np.array(mean, np.float32)) / np.array(std, np.float32)
    return crop, np.ascontiguousarray(x.transpose(2, 0, 1).astype("<f4"))


def add_decode(name, data, exif=False):
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(data)
    im = Image.open(io.BytesIO(data))
    if exif:
        im = ImageOps.exif_transpose(im)
    a = rgb_of(im)
    lines.append(f"{'exif' if exif else 'decode'} {name} {a.shape[1]} {a.shape[0]} {sha(a.tobytes())}")
    return im


def add_pre(name, data, presets):
    im = Image.open(io.BytesIO(data))
    for p in presets:
        crop, x = transform(im, *PRESETS[p])
        lines.append(f"pre {name} {p} {sha(crop.tobytes())} {sha(x.tobytes())}")


def add_custom(name, data, size, crop_pct, squash):
    crop, x = transform(Image.open(io.BytesIO(data)), size, crop_pct, squash, CLIP_MEAN, CLIP_STD)
    lines.append(f"custom {name} {size} {crop_pct!r} {squash} {sha(crop.tobytes())} {sha(x.tobytes())}")


def save(im, fmt, **kw):
    b = io.BytesIO()
    im.save(b, fmt, **kw)
    return b.getvalue()


# ---------------------------------------------------------------- hand-made PNGs (modes PIL cannot write)
def png_chunk(t, d):
    return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xFFFFFFFF)


def png_raw(w, h, depth, ctype, rows, extra=b""):
    """rows: list of bytes per scanline (already packed); filter type 0."""
    ihdr = struct.pack(">IIBBBBB", w, h, depth, ctype, 0, 0, 0)
    raw = b"".join(b"\x00" + r for r in rows)
    return b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + extra + png_chunk(b"IDAT", zlib.compress(raw)) + png_chunk(b"IEND", b"")


def pack_bits(vals, depth):
    out, acc, n = bytearray(), 0, 0
    for v in vals:
        acc = (acc << depth) | int(v)
        n += depth
        if n == 8:
            out.append(acc)
            acc, n = 0, 0
    if n:
        out.append(acc << (8 - n))
    return bytes(out)


def main():
    os.makedirs(OUT, exist_ok=True)
    # 1. Shapes: PNG RGB, every preset (resize both ways, 1xN, exact sizes, padding-free crops).
    shapes = [(1, 1), (1, 37), (53, 1), (2, 2), (7, 300), (300, 7), (31, 17), (17, 31), (64, 64), (100, 75),
              (75, 100), (224, 224), (248, 300), (336, 336), (250, 248), (249, 248), (3, 5), (600, 12), (45, 46),
              (560, 400)]
    for w, h in shapes:
        name = f"rgb_{w}x{h}.png"
        data = save(Image.fromarray(test_image(w, h, noise=8 if w * h > 50000 else 40)), "PNG", optimize=True)
        add_decode(name, data)
        add_pre(name, data, PRESETS.keys() if w * h <= 100000 else ["t224", "t336"])
    # custom params: crop larger than the resized image (zero padding), odd crop_pct, squash upsample
    data = open(os.path.join(OUT, "rgb_31x17.png"), "rb").read()
    add_custom("rgb_31x17.png", data, 64, 1.5, 0)
    add_custom("rgb_31x17.png", data, 40, 0.875, 1)
    add_custom("rgb_31x17.png", data, 33, 1.25, 1)
    data = open(os.path.join(OUT, "rgb_100x75.png"), "rb").read()
    add_custom("rgb_100x75.png", data, 97, 0.95, 0)
    add_custom("rgb_100x75.png", data, 120, 1.1, 0)

    # 2. PNG modes written by PIL.
    base = Image.fromarray(test_image(41, 29))
    add_decode("mode_L.png", save(base.convert("L"), "PNG"))
    add_decode("mode_LA.png", save(base.convert("LA"), "PNG"))
    rgba = base.convert("RGBA")
    rgba.putalpha(Image.fromarray((test_image(41, 29)[:, :, 0])))
    add_decode("mode_RGBA.png", save(rgba, "PNG"))
    pal = base.convert("P", palette=Image.ADAPTIVE, colors=200)
    add_decode("mode_P.png", save(pal, "PNG"))
    pal_t = pal.copy()
    pal_t.info["transparency"] = 3
    add_decode("mode_P_trns.png", save(pal_t, "PNG", transparency=3))
    pal16 = base.convert("P", palette=Image.ADAPTIVE, colors=16)
    add_decode("mode_P4.png", save(pal16, "PNG", bits=4))
    add_decode("mode_1.png", save(base.convert("1"), "PNG"))
    g16 = (test_image(41, 29)[:, :, 0].astype(np.uint16) * 3)  # many values <= 255, some above
    add_decode("mode_I16.png", save(Image.fromarray(g16, "I;16"), "PNG"))
    add_decode("mode_L_trns.png", save(base.convert("L"), "PNG", transparency=17))

    # 3. PNG modes by hand: 16-bit RGB / RGBA / LA, 2- and 4-bit grey, grey 16 big values.
    w, h = 23, 11
    a16 = (rng.integers(0, 65536, (h, w, 4))).astype(">u2")
    add_decode("rgb16.png", png_raw(w, h, 16, 2, [a16[y, :, :3].tobytes() for y in range(h)]))
    add_decode("rgba16.png", png_raw(w, h, 16, 6, [a16[y].tobytes() for y in range(h)]))
    add_decode("la16.png", png_raw(w, h, 16, 4, [a16[y, :, :2].tobytes() for y in range(h)]))
    add_decode("grey16_full.png", png_raw(w, h, 16, 0, [a16[y, :, 0].tobytes() for y in range(h)]))
    for d in (2, 4):
        v = rng.integers(0, 1 << d, (h, w))
        add_decode(f"grey{d}.png", png_raw(w, h, d, 0, [pack_bits(v[y], d) for y in range(h)]))
    gamma = png_chunk(b"gAMA", struct.pack(">I", 100000))
    add_decode("rgb_gamma.png", png_raw(w, h, 8, 2, [np.asarray(a16[y, :, :3] >> 8, np.uint8).tobytes() for y in range(h)], gamma))

    # 4. JPEGs: chroma subsampling, progressive, grey, CMYK, odd sizes, optimised tables.
    img = Image.fromarray(test_image(77, 53, noise=25))
    for tag, kw in [("420", dict(subsampling=2)), ("422", dict(subsampling=1)), ("444", dict(subsampling=0)),
                    ("prog", dict(progressive=True)), ("opt", dict(optimize=True, quality=60)),
                    ("q100", dict(quality=100, subsampling=0))]:
        data = save(img, "JPEG", quality=kw.pop("quality", 90), **kw)
        add_decode(f"jpeg_{tag}.jpg", data)
        add_pre(f"jpeg_{tag}.jpg", data, ["t224", "t560"])
    add_decode("jpeg_grey.jpg", save(img.convert("L"), "JPEG", quality=85))
    add_decode("jpeg_cmyk.jpg", save(img.convert("CMYK"), "JPEG", quality=90))
    cmyk = Image.fromarray(rng.integers(0, 256, (19, 27, 4), dtype=np.uint8), "CMYK")
    add_decode("jpeg_cmyk_rand.jpg", save(cmyk, "JPEG", quality=95))
    add_decode("jpeg_odd_420.jpg", save(Image.fromarray(test_image(37, 23)), "JPEG", subsampling=2))
    add_decode("jpeg_1x1.jpg", save(Image.fromarray(test_image(1, 1)), "JPEG"))

    # 5. EXIF orientation (only applied with --exif-rotate / exif_rotate).
    small = Image.fromarray(test_image(13, 7))
    for o in range(1, 9):
        ex = Image.Exif()
        ex[0x0112] = o
        data = save(small, "JPEG", quality=95, exif=ex.tobytes())
        add_decode(f"exif_{o}.jpg", data)
        add_decode(f"exif_{o}.jpg", data, exif=True)

    # 6. WebP (when built with libwebp): lossless, lossy, with alpha.
    add_decode("webp_lossless.webp", save(base, "WEBP", lossless=True))
    add_decode("webp_lossy.webp", save(base, "WEBP", quality=80))
    add_decode("webp_alpha.webp", save(rgba, "WEBP", lossless=True))
    add_decode("webp_alpha_lossy.webp", save(rgba, "WEBP", quality=70))

    # 7. Bad inputs (expected error class in the manifest: FORMAT / UNSUPPORTED).
    good = open(os.path.join(OUT, "jpeg_420.jpg"), "rb").read()
    bad = {
        "bad_empty.jpg": (b"", "FORMAT"),
        "bad_text.jpg": (b"this is not an image, just text named .jpg\n", "FORMAT"),
        "bad_trunc.jpg": (good[: len(good) // 2], "FORMAT"),
        "bad_trunc_header.jpg": (good[:40], "FORMAT"),
        "bad_garbage.jpg": (good[:20] + bytes(rng.integers(0, 256, 300, dtype=np.uint8)), "FORMAT"),
        "bad_trunc.png": (open(os.path.join(OUT, "mode_L.png"), "rb").read()[:300], "FORMAT"),
        "bad_sig_only.png": (b"\x89PNG\r\n\x1a\n", "FORMAT"),
        "bad_huge.png": (b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", struct.pack(">IIBBBBB", 100000, 100000, 8, 2, 0, 0, 0))
                         + png_chunk(b"IDAT", zlib.compress(b"\x00" * 100)) + png_chunk(b"IEND", b""), "UNSUPPORTED"),
        "bad_bomb.png": (b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", struct.pack(">IIBBBBB", 60000, 60000, 8, 0, 0, 0, 0))
                         + png_chunk(b"IDAT", zlib.compress(b"\x00" * 100)) + png_chunk(b"IEND", b""), "UNSUPPORTED"),
        "bad_gif.gif": (b"GIF89a\x01\x00\x01\x00\x00\x00\x00;", "UNSUPPORTED"),
    }
    # A JPEG whose SOF claims 65500 x 65500 (over the pixel limit).
    j = bytearray(good)
    i = 2
    while i < len(j):
        mlen = (j[i + 2] << 8) | j[i + 3]
        if j[i + 1] in (0xC0, 0xC1, 0xC2):
            j[i + 5:i + 9] = struct.pack(">HH", 65500, 65500)
            break
        i += 2 + mlen
    bad["bad_bomb.jpg"] = (bytes(j), "UNSUPPORTED")
    for n, (d, kind) in bad.items():
        with open(os.path.join(OUT, n), "wb") as f:
            f.write(d)
        lines.append(f"bad {n} {kind}")

    with open(os.path.join(OUT, "manifest.txt"), "w") as f:
        f.write("# generated by scripts/make_preprocess_fixtures.py with Pillow %s, numpy %s\n"
                % (Image.__version__, np.__version__))
        f.write("\n".join(lines) + "\n")

    # 8. .npy headers exactly as numpy.save writes them.
    for r, c in [(0, 1024), (3, 4), (12345, 768), (1, 1)]:
        b = io.BytesIO()
        np.save(b, np.arange(r * c, dtype=np.float32).reshape(r, c))
        with open(os.path.join(OUT, f"npy_{r}x{c}.npy"), "wb") as f:
            f.write(b.getvalue() if r * c <= 64 else b.getvalue()[:128])
    print(f"{len(lines)} cases in {OUT}")


if __name__ == "__main__":
    main()
