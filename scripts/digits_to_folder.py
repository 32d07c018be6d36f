#!/usr/bin/env python3
"""Writes scikit-learn's 1,797 handwritten 8×8 digits (sklearn.datasets.load_digits, shipped with
the package: no download) as data GoodInit reads with --data:
  OUT/digits/train/<0-9>/NNNN.png and OUT/digits/test/<0-9>/NNNN.png   (folder:OUT/digits)
  OUT/digits.npz with x_train, y_train, x_test, y_test (uint8 N×8×8)    (npz:OUT/digits.npz)
The test set is every fifth digit (360 of 1,797); pixels 0-16 are scaled to 0-255. The PNGs are
written with zlib alone, so the script needs scikit-learn and numpy but no imaging package.
  python3 scripts/digits_to_folder.py [OUT]   (default: data)"""
import os
import struct
import sys
import zlib

import numpy as np
from sklearn.datasets import load_digits


def png(gray):
    """An 8-bit greyscale PNG of a 2-D uint8 array."""
    h, w = gray.shape
    raw = b"".join(b"\x00" + gray[y].tobytes() for y in range(h))  # filter 0 (none) on every row

    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0)  # 8-bit, greyscale, no interlace
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")


def main():
    if len(sys.argv) == 2 and sys.argv[1] in ("-h", "--help"):
        print(__doc__.strip())
        sys.exit(0)
    if len(sys.argv) > 2 or (len(sys.argv) == 2 and sys.argv[1].startswith("-")):
        sys.exit("usage: digits_to_folder.py [OUT_DIR]")
    out = sys.argv[1] if len(sys.argv) > 1 else "data"
    digits = load_digits()
    images = np.clip(np.rint(digits.images * (255.0 / 16.0)), 0, 255).astype(np.uint8)
    labels = digits.target.astype(np.int64)
    test = np.arange(len(labels)) % 5 == 0
    for split, mask in (("train", ~test), ("test", test)):
        for i in np.flatnonzero(mask):
            folder = os.path.join(out, "digits", split, str(labels[i]))
            os.makedirs(folder, exist_ok=True)
            with open(os.path.join(folder, "%04d.png" % i), "wb") as f:
                f.write(png(images[i]))
    np.savez(os.path.join(out, "digits.npz"), x_train=images[~test], y_train=labels[~test],
             x_test=images[test], y_test=labels[test])
    print("wrote %s/digits/{train,test}/<0-9>/*.png (%d train, %d test) and %s/digits.npz"
          % (out, (~test).sum(), test.sum(), out))


if __name__ == "__main__":
    main()
