#!/usr/bin/python3
"""make_pt_fixtures.py — dev-time generator of the .pt fixtures in tests/data/pt/ (test_pt.c).

Run with Debian's python3-torch (torch 1.13):  /usr/bin/python3 scripts/make_pt_fixtures.py [GOLDEN_DIR]
GOLDEN_DIR defaults to /work/shared/golden. Writes:
  * copies of the golden tiny_mim_deepspeed_fp16.pt and teacher_clip_tiny.pt (+ .expected lists);
  * tiny_official_model_ema_deflated.pt: the 6.3 MB golden re-zipped with ZIP_DEFLATED, kept only
    if it ends under 5 MB (else a smaller "shared.pt" stands in for its layout);
  * odd layouts made by torch.save (views, strides, shared storages, nested dicts, protocols 4/5,
    every dtype, Namespace/sets/None/bytes/bigint beside the tensors, deflate, another stem);
  * hostile files written byte by byte (never by torch.save): forbidden globals, zip bombs,
    overlapping/outside entries, short storages, views past their storage, legacy format.
Each good file X.pt gets X.expected: one line per tensor
  name dtype ndim dims... sum_f64 n v0 .. v(n-1)     (values: first 3 + last, contiguous order)
"""
import argparse, collections, io, os, pickle, shutil, struct, sys, zipfile
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "tests", "data", "pt")
GOLDEN = sys.argv[1] if len(sys.argv) > 1 else "/work/shared/golden"
DT = {torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16", torch.float64: "F64", torch.int64: "I64",
      torch.int32: "I32", torch.int16: "I16", torch.int8: "I8", torch.uint8: "U8", torch.bool: "BOOL"}
MAX_FILE = 5 * 1024 * 1024


def walk(obj, prefix, out):
    """Same naming as pt_reader.c: dotted paths through dicts (str/int keys) and lists/tuples."""
    if isinstance(obj, torch.Tensor):
        out.append((prefix or "tensor", obj))
    elif isinstance(obj, dict):
        for k, v in obj.items():
            if isinstance(k, (str, int)) and not isinstance(k, bool):
                walk(v, f"{prefix}.{k}" if prefix else str(k), out)
    elif isinstance(obj, (list, tuple)):
        for i, v in enumerate(obj):
            walk(v, f"{prefix}.{i}" if prefix else str(i), out)


def write_expected(pt_path):
    obj = torch.load(pt_path)
    items = []
    walk(obj, "", items)
    seen = collections.OrderedDict()
    for name, t in items:   # later wins, like the reader
        seen.pop(name, None)
        seen[name] = t
    with open(pt_path[:-3] + ".expected", "w") as f:
        for name, t in seen.items():
            flat = t.detach().contiguous().reshape(-1).to(torch.float64)
            vals = flat.tolist()
            pick = vals[:3] + vals[-1:] if len(vals) > 3 else vals
            dims = " ".join(str(d) for d in t.shape)
            f.write(f"{name} {DT[t.dtype]} {t.dim()}{' ' + dims if dims else ''} {flat.sum().item()!r} {len(pick)}"
                    + "".join(f" {v!r}" for v in pick) + "\n")


def _put(z, name, data):
    """writestr with a fixed timestamp, so regenerated fixtures are byte-identical."""
    zi = zipfile.ZipInfo(name, date_time=(2024, 6, 1, 0, 0, 0))
    zi.compress_type = z.compression
    z.writestr(zi, data)


def rezip(src, dst, compression=zipfile.ZIP_STORED, rename_stem=None):
    with zipfile.ZipFile(src) as zi, zipfile.ZipFile(dst, "w", compression) as zo:
        for info in zi.infolist():
            name = info.filename
            if rename_stem:
                name = rename_stem + name[name.index("/"):]
            _put(zo, name, zi.read(info.filename))


def write_zip64(src, dst):
    """Re-write a torch.save archive as ZIP64 (every size/offset through the ZIP64 extra fields and
    a ZIP64 end record), as archives > 4 GB are; small, so the C reader's ZIP64 path is tested."""
    import zlib
    with zipfile.ZipFile(src) as zi:
        items = [(i.filename.encode(), zi.read(i.filename)) for i in zi.infolist()]
    out, cd = bytearray(), bytearray()
    for name, data in items:
        crc, off = zlib.crc32(data) & 0xFFFFFFFF, len(out)
        extra = struct.pack("<HHQQ", 1, 16, len(data), len(data))
        out += struct.pack("<IHHHHHIIIHH", 0x04034b50, 45, 0, 0, 0, 0, crc, 0xFFFFFFFF, 0xFFFFFFFF, len(name), len(extra))
        out += name + extra + data
        cextra = struct.pack("<HHQQQ", 1, 24, len(data), len(data), off)
        cd += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014b50, 45, 45, 0, 0, 0, 0, crc, 0xFFFFFFFF, 0xFFFFFFFF, len(name),
                          len(cextra), 0, 0, 0, 0, 0xFFFFFFFF) + name + cextra
    cd_off = len(out)
    out += cd
    e64 = len(out)
    out += struct.pack("<IQHHIIQQQQ", 0x06064b50, 44, 45, 45, 0, 0, len(items), len(items), len(cd), cd_off)
    out += struct.pack("<IIQI", 0x07064b50, 0, e64, 1)
    out += struct.pack("<IHHHHIIH", 0x06054b50, 0, 0, 0xFFFF, 0xFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0)
    open(dst, "wb").write(out)


def odd_object():
    g = torch.Generator().manual_seed(7)
    base = torch.randn(6, 8, generator=g)
    t3 = torch.randn(2, 3, 4, generator=g)
    shared = torch.randn(5, generator=g)
    return {
        "base": base,
        "view_off": base[2:4],                  # offset 16, contiguous
        "transposed": base.t(),                 # strides (1, 8)
        "strided": base[:, ::2],                # strides (8, 2)
        "column": base[:, 3],                   # offset 3, stride 8
        "permuted": t3.permute(2, 0, 1),
        "expanded": torch.arange(3.0).expand(4, 3),   # stride 0
        "scalar": torch.tensor(3.5),
        "empty": torch.zeros(0, 5),
        "nested": {"a": {"b": torch.randn(3, generator=g)}, "same": shared},
        "again": shared,                         # same storage twice
        "list": [torch.ones(2), torch.full((2,), 2.0)],
        "int_keys": {0: torch.tensor([1, 2, 3])},
        "bf16": torch.randn(4, 3, generator=g).to(torch.bfloat16),
        "f16": torch.randn(7, generator=g).half(),
        "f64": torch.randn(3, 2, generator=g).double(),
        "i64": torch.arange(-3, 3),
        "i32": torch.arange(5, dtype=torch.int32),
        "i16": torch.arange(4, dtype=torch.int16) - 2,
        "i8": torch.tensor([-128, 0, 127], dtype=torch.int8),
        "u8": torch.tensor([0, 200, 255], dtype=torch.uint8),
        "bool": torch.tensor([True, False, True]),
        "args": argparse.Namespace(lr=0.1, model="eva_g", layers=[1, 2]),
        "tags": {"a", "b"},
        "frozen": frozenset([1]),
        "none": None,
        "text": "hello",
        "rate": 1.5,
        "flag": True,
        "blob": b"\x00\xffabc",
        "big": 2 ** 70,
        "pair": (1, "x"),
        "epoch": 9,
    }


def shared_object():
    """A small stand-in for tiny_official_model_ema.pt: model/model_ema sharing storages + epoch."""
    g = torch.Generator().manual_seed(3)
    model = collections.OrderedDict((k, torch.randn(*s, generator=g)) for k, s in
                                    [("cls_token", (1, 1, 8)), ("blocks.0.attn.qkv.weight", (24, 8)), ("head.weight", (4, 8)),
                                     ("head.bias", (4,))])
    ema = collections.OrderedDict(model)
    ema["head.weight"] = model["head.weight"] * 0.5
    ema["head.bias"] = model["head.bias"] + 1
    return {"model": model, "model_ema": ema, "epoch": 9}


# ------------------------------------------------------------------ hostile files (raw bytes)

def zip_with_pickle(path, pkl, extra=None, stem="archive"):
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as z:
        _put(z, f"{stem}/data.pkl", pkl)
        _put(z, f"{stem}/version", "3\n")
        for k, v in (extra or {}).items():
            _put(z, f"{stem}/data/{k}", v)


def find_cd(buf, name):
    """Offset of the central directory record for `name`."""
    pos = 0
    nb = name.encode()
    while True:
        pos = buf.index(b"PK\x01\x02", pos)
        nlen = struct.unpack_from("<H", buf, pos + 28)[0]
        if buf[pos + 46:pos + 46 + nlen] == nb:
            return pos
        pos += 4


def patch_sizes(buf, name, csize=None, usize=None, hoff=None):
    cd = find_cd(buf, name)
    lh = struct.unpack_from("<I", buf, cd + 42)[0]
    if csize is not None:
        struct.pack_into("<I", buf, cd + 20, csize)
        struct.pack_into("<I", buf, lh + 18, csize)
    if usize is not None:
        struct.pack_into("<I", buf, cd + 24, usize)
        struct.pack_into("<I", buf, lh + 22, usize)
    if hoff is not None:
        struct.pack_into("<I", buf, cd + 42, hoff)


class _Storage:
    def __init__(self, key, numel, cls="FloatStorage"):
        self.key, self.numel, self.cls = key, numel, cls


class _Tensor:
    """Pickles as _rebuild_tensor_v2(storage, offset, size, stride, False, OrderedDict())."""
    def __init__(self, st, offset, size, stride):
        self.args = (st, offset, size, stride, False, collections.OrderedDict())

    def __reduce__(self):
        return (torch._utils._rebuild_tensor_v2, self.args)


class _Pickler(pickle.Pickler):
    def persistent_id(self, obj):
        if isinstance(obj, _Storage):
            return ("storage", getattr(torch, obj.cls), obj.key, "cpu", obj.numel)
        return None


def handmade_pickle(obj, protocol=2):
    f = io.BytesIO()
    _Pickler(f, protocol=protocol).dump(obj)
    return f.getvalue()


def hostile(out):
    ev = lambda n: os.path.join(out, "evil_" + n + ".pt")
    # forbidden globals, GLOBAL and STACK_GLOBAL spellings
    zip_with_pickle(ev("os_system"), b"\x80\x02cos\nsystem\nq\x00X\x02\x00\x00\x00lsq\x01\x85q\x02Rq\x03.")
    zip_with_pickle(ev("posix_system"), b"\x80\x02cposix\nsystem\nX\x02\x00\x00\x00ls\x85R.")
    zip_with_pickle(ev("exec_stack_global"), b"\x80\x04\x95\x20\x00\x00\x00\x00\x00\x00\x00\x8c\x08builtins\x94\x8c\x04exec\x94\x93\x94"
                    b"\x8c\x01x\x85R.")
    zip_with_pickle(ev("subprocess_memo"), b"\x80\x04\x8c\nsubprocess\x94\x8c\x05Popen\x94h\x00h\x01\x93.")
    zip_with_pickle(ev("load_from_bytes"), b"\x80\x02ctorch.storage\n_load_from_bytes\nC\x01x\x85R.")
    # a dict with one good tensor whose storage entry is too short, and one whose view runs past its storage
    good = torch.arange(8, dtype=torch.float32).numpy().tobytes()
    zip_with_pickle(ev("storage_short"), handmade_pickle({"w": _Tensor(_Storage("0", 8), 0, (8,), (1,))}), {"0": good[:20]})
    zip_with_pickle(ev("view_extent"), handmade_pickle({"w": _Tensor(_Storage("0", 8), 4, (2, 3), (3, 1))}), {"0": good})
    zip_with_pickle(ev("huge_numel"), handmade_pickle({"w": _Tensor(_Storage("0", 2 ** 62), 0, (2 ** 31, 2 ** 31), (2 ** 31, 1))}),
                    {"0": good})
    zip_with_pickle(ev("missing_storage"), handmade_pickle({"w": _Tensor(_Storage("7", 8), 0, (8,), (1,))}), {"0": good})
    # a good handmade file (the control for the ones above) — with protocol 4 too
    zip_with_pickle(os.path.join(out, "handmade_ok.pt"), handmade_pickle({"w": _Tensor(_Storage("0", 8), 2, (2, 3), (3, 1))}),
                    {"0": good})
    # zip-level lies, made by patching a valid archive
    zip_with_pickle(ev("tmp"), handmade_pickle({"w": _Tensor(_Storage("0", 8), 0, (8,), (1,))}), {"0": good})
    base = bytearray(open(ev("tmp"), "rb").read())
    b = bytearray(base); patch_sizes(b, "archive/data.pkl", csize=200, usize=200)   # data.pkl runs into the next entry
    open(ev("overlap"), "wb").write(b)
    b = bytearray(base); patch_sizes(b, "archive/data/0", hoff=len(base) + 1000)    # local header past EOF
    open(ev("outside"), "wb").write(b)
    b = bytearray(base); patch_sizes(b, "archive/data/0", csize=10 ** 9, usize=10 ** 9)   # data past EOF
    open(ev("past_eof"), "wb").write(b)
    os.remove(ev("tmp"))
    # zip bombs: 8 MB of zeros deflate to ~8 KB
    bomb = bytes(8 << 20)
    with zipfile.ZipFile(ev("bomb_small_decl"), "w", zipfile.ZIP_DEFLATED) as z:
        _put(z, "archive/data.pkl", handmade_pickle({"w": _Tensor(_Storage("0", 8), 0, (8,), (1,))}))
        _put(z, "archive/data/0", bomb)
    b = bytearray(open(ev("bomb_small_decl"), "rb").read())
    patch_sizes(b, "archive/data/0", usize=32)      # declares 32 bytes, inflates to 8 MB
    open(ev("bomb_small_decl"), "wb").write(b)
    b2 = bytearray(b)
    patch_sizes(b2, "archive/data/0", usize=0xFFFFFFF0)   # declares ~4 GB from ~8 KB
    open(ev("bomb_huge_decl"), "wb").write(b2)
    # pre-1.6 torch.save
    torch.save({"w": torch.ones(2)}, os.path.join(out, "legacy.pt"), _use_new_zipfile_serialization=False)


def main():
    os.makedirs(OUT, exist_ok=True)
    for src in ["tiny/weights/tiny_mim_deepspeed_fp16.pt", "teacher_clip_tiny.pt"]:
        dst = os.path.join(OUT, os.path.basename(src))
        shutil.copyfile(os.path.join(GOLDEN, src), dst)
        write_expected(dst)
    ema = os.path.join(OUT, "tiny_official_model_ema_deflated.pt")
    rezip(os.path.join(GOLDEN, "tiny/weights/tiny_official_model_ema.pt"), ema, zipfile.ZIP_DEFLATED)
    if os.path.getsize(ema) < MAX_FILE:
        write_expected(ema)
    else:
        print(f"note: {ema} is {os.path.getsize(ema)} bytes (>= 5 MB): not kept; shared.pt stands in")
        os.remove(ema)
    obj = odd_object()
    for proto in (2, 4, 5):
        p = os.path.join(OUT, f"odd_p{proto}.pt")
        torch.save(obj, p, pickle_protocol=proto)
        write_expected(p)
    rezip(os.path.join(OUT, "odd_p2.pt"), os.path.join(OUT, "odd_deflated.pt"), zipfile.ZIP_DEFLATED)
    write_expected(os.path.join(OUT, "odd_deflated.pt"))
    rezip(os.path.join(OUT, "odd_p2.pt"), os.path.join(OUT, "odd_stem.pt"), rename_stem="my.model-v2 (copy)")
    write_expected(os.path.join(OUT, "odd_stem.pt"))
    write_zip64(os.path.join(OUT, "odd_p2.pt"), os.path.join(OUT, "odd_zip64.pt"))
    write_expected(os.path.join(OUT, "odd_zip64.pt"))   # torch.load reads it too
    p = os.path.join(OUT, "shared.pt")
    torch.save(shared_object(), p)
    write_expected(p)
    hostile(OUT)
    for f in sorted(os.listdir(OUT)):
        print(f"{os.path.getsize(os.path.join(OUT, f)):>9} {f}")


if __name__ == "__main__":
    main()
