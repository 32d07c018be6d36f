#!/usr/bin/env python3
"""Writes the seed corpus Fuzz/corpus/<target>/: a few small valid inputs per parser, so the
fuzzer starts past the magic numbers and headers. Deterministic; re-run after format changes."""
import gzip
import json
import os
import struct
import zlib

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")


def put(target, name, data):
    folder = os.path.join(ROOT, target)
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, name), "wb") as f:
        f.write(data)


def gz(data):
    return gzip.compress(data, compresslevel=6, mtime=0)   # mtime 0: the same bytes every run


def idx_file(dims, body):
    return struct.pack(">I", 0x800 | len(dims)) + b"".join(struct.pack(">I", d) for d in dims) + bytes(body)


def idx_pair(labels, images):
    # The fuzz target's layout: u16 little-endian length of the labels file, labels, images.
    return struct.pack("<H", len(labels)) + labels + images


# IDX: 3 images of 4×3 and their labels, plain, gzipped, and one 1×1 image.
pixels = [(i * 37 + 11) % 256 for i in range(36)]
labels = idx_file([3], [3, 0, 9])
images = idx_file([3, 4, 3], pixels)
put("idx", "plain", idx_pair(labels, images))
put("idx", "gzipped", idx_pair(gz(labels), gz(images)))
put("idx", "one-pixel", idx_pair(idx_file([1], [7]), idx_file([1, 1, 1], [200])))

# gzip: a text, two concatenated members, a zlib stream, an empty member, stored (level 0) data.
text = b"GoodInit fuzz seed: " + bytes(range(256)) * 2
put("gzip", "text.gz", gz(text))
put("gzip", "two-members.gz", gz(b"first member\n") + gz(b"second member\n"))
put("gzip", "zlib.z", zlib.compress(text))
put("gzip", "empty.gz", gz(b""))
put("gzip", "stored.gz", gzip.compress(b"stored, not deflated", compresslevel=0, mtime=0))

# CIFAR: one CIFAR-10 record (label, 3×32×32), two records, one CIFAR-100 record (coarse, fine).
image = bytes((i * 7) % 256 for i in range(3072))
put("cifar", "cifar10-one", bytes([6]) + image)
put("cifar", "cifar10-two", bytes([6]) + image + bytes([9]) + image[::-1])
put("cifar", "cifar100-one", bytes([4, 87]) + image)


def safetensors(tensors, metadata=None):
    header, data = {}, b""
    for name, shape, values in tensors:
        raw = struct.pack("<%df" % len(values), *values)
        header[name] = {"dtype": "F32", "shape": shape, "data_offsets": [len(data), len(data) + len(raw)]}
        data += raw
    if metadata is not None:
        header["__metadata__"] = metadata
    text = json.dumps(header, separators=(",", ":"), sort_keys=True).encode()
    text += b" " * (-len(text) % 8)
    return struct.pack("<Q", len(text)) + text + data


put("safetensors", "two-tensors", safetensors(
    [("conv1.weight", [2, 1, 2, 2], [0.5 * i - 1 for i in range(8)]), ("conv1.bias", [2], [0.25, -0.25])],
    {"step": "12", "format": "pt"}))
put("safetensors", "scalar-and-empty", safetensors([("lr", [], [0.1]), ("none", [0, 3], [])]))
put("safetensors", "metadata-only", safetensors([], {"epoch": "1"}))

# Model files: the documented layout, every layer kind, JSON (anchors and aliases are refused by
# the reader; the dictionary still offers & and * to the fuzzer).
put("modelfile", "small.yaml", b"""name: mynet
input: [1, 28, 28]
layers:
  - conv: {out: 8, kernel: 3, stride: 1, padding: 1, bias: false}
  - batchnorm
  - relu
  - maxpool: {window: 2}
  - residual: [ {conv: {out: 8}}, batchnorm, relu ]
  - flatten
  - linear: {out: 10}
""")
put("modelfile", "all-kinds.yaml", b"""name: kinds
input: [3, 8, 8]
layers:
  - conv: {out: 4}
  - leaky_relu: {slope: 0.2}
  - prelu: {shared: true}
  - maxout: {pieces: 2}
  - avgpool: {window: 2, stride: 1}
  - bn
  - tanh
  - sigmoid
  - dropout: {p: 0.25}
  - global_avgpool
  - gmp
  - linear: {out: 3, bias: true}
""")
put("modelfile", "mlp.json", b'{"name": "mlp", "input": [784], "layers": ["flatten", {"linear": {"out": 10}}]}\n')


# .npz data sets: np.savez's four members (stored and deflated), uint8 N×H×W and float32 NCHW.
def npy(arr_descr, shape, body):
    dims = ", ".join(str(d) for d in shape) + ("," if len(shape) == 1 else "")
    header = "{'descr': '%s', 'fortran_order': False, 'shape': (%s), }" % (arr_descr, dims)
    header += " " * ((64 - (10 + len(header) + 1) % 64) % 64) + "\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode() + body


def npz(members, method):
    import io
    import zipfile
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=method) as z:
        for name, data in members:
            info = zipfile.ZipInfo(name + ".npy", date_time=(1980, 1, 1, 0, 0, 0))  # fixed time: same bytes
            info.compress_type = method
            z.writestr(info, data)
    return buf.getvalue()


u8 = [("x_train", npy("|u1", (2, 2, 3), bytes(range(12)))), ("y_train", npy("<i8", (2,), struct.pack("<2q", 0, 1))),
      ("x_test", npy("|u1", (1, 2, 3), bytes(6))), ("y_test", npy("|u1", (1,), b"\x01"))]
f32 = [("x_train", npy("<f4", (1, 3, 2, 2), struct.pack("<12f", *range(12)))),
       ("y_train", npy("<i4", (1,), struct.pack("<i", 0))),
       ("x_test", npy("<f4", (1, 3, 2, 2), struct.pack("<12f", *([0.5] * 12)))),
       ("y_test", npy("<i4", (1,), struct.pack("<i", 0)))]
put("npz", "uint8-stored.npz", npz(u8, 0))
put("npz", "float32-deflated.npz", npz(f32, 8))


# Images: 8-bit PNG (grey, RGB, grey+alpha, palette) written with zlib alone, and a JPEG if PIL is there.
def png(width, height, color_type, rows, extra=b""):
    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, color_type, 0, 0, 0)
    raw = b"".join(b"\x00" + r for r in rows)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + extra + chunk(b"IDAT", zlib.compress(raw))
            + chunk(b"IEND", b""))


put("image", "grey.png", png(4, 3, 0, [bytes([y * 40 + x for x in range(4)]) for y in range(3)]))
put("image", "rgb.png", png(3, 2, 2, [bytes(range(y * 9, y * 9 + 9)) for y in range(2)]))
put("image", "grey-alpha.png", png(2, 2, 4, [bytes([10, 255, 20, 0]), bytes([30, 128, 40, 64])]))
palette = struct.pack(">I", 6) + b"PLTE" + bytes([255, 0, 0, 0, 0, 255])
palette += struct.pack(">I", zlib.crc32(b"PLTE" + bytes([255, 0, 0, 0, 0, 255])))
put("image", "palette.png", png(2, 2, 3, [bytes([0, 1]), bytes([1, 0])], extra=palette))
try:
    import io
    from PIL import Image
    for mode, name in (("L", "grey.jpg"), ("RGB", "rgb.jpg")):
        out = io.BytesIO()
        Image.new(mode, (8, 8), 128 if mode == "L" else (200, 30, 90)).save(out, "JPEG", quality=90)
        put("image", name, out.getvalue())
except ImportError:
    print("note: no PIL, so no JPEG seeds")
