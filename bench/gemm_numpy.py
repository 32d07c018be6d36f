#!/usr/bin/env python3
"""SGEMM GFLOP/s of numpy (OpenBLAS) at the same shapes as `goodinit bench gemm`, and the ratio.

Usage: python3 bench/gemm_numpy.py [--threads 1] [--shapes 1024,32x784x288,...]
Runs `goodinit bench gemm --json` and numpy in the same process session, one after the other per
shape, and prints GoodInit / numpy. Thread count for numpy via OPENBLAS_NUM_THREADS (set before
numpy is imported).
"""
import argparse, json, os, subprocess, sys, time

p = argparse.ArgumentParser()
p.add_argument("--threads", type=int, default=1)
p.add_argument("--shapes", default="1024,32x784x288,64x196x576,128x49x1152,64x784x576,32x25088x9")
p.add_argument("--repeats", type=int, default=7)
p.add_argument("--goodinit", default=".build/release/goodinit")
a = p.parse_args()
os.environ["OPENBLAS_NUM_THREADS"] = os.environ["OMP_NUM_THREADS"] = os.environ["MKL_NUM_THREADS"] = str(a.threads)
import numpy as np  # after the thread variables

def shapes():
    for s in a.shapes.split(","):
        d = [int(x) for x in s.split("x")]
        yield (d[0], d[0], d[0]) if len(d) == 1 else tuple(d)

def numpy_gflops(m, n, k):
    rng = np.random.default_rng(1)
    A = rng.uniform(-1, 1, (m, k)).astype(np.float32)
    B = rng.uniform(-1, 1, (k, n)).astype(np.float32)
    C = np.empty((m, n), np.float32)
    np.matmul(A, B, out=C)
    reps = max(a.repeats, min(50, int(2e10 / (2 * m * n * k))))
    t = []
    for _ in range(reps):
        s = time.perf_counter(); np.matmul(A, B, out=C); t.append(time.perf_counter() - s)
    t.sort()
    return 2 * m * n * k / t[len(t) // 2] / 1e9

print(f"threads {a.threads}, numpy {np.__version__}")
print(f"{'M':>6} {'N':>7} {'K':>6}  {'GoodInit':>9} {'numpy':>9}  ratio")
for m, n, k in shapes():
    cmd = [a.goodinit, "bench", "gemm", "--sizes", f"{m}x{n}x{k}", "--threads", str(a.threads),
           "--json", "--repeats", str(a.repeats)]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    g = json.loads(out.strip().splitlines()[-1])["gflops"]
    npg = numpy_gflops(m, n, k)
    print(f"{m:>6} {n:>7} {k:>6}  {g:>9.1f} {npg:>9.1f}  {g / npg:5.2f}")
