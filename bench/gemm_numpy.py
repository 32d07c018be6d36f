#!/usr/bin/env python3
"""SGEMM GFLOP/s of numpy (OpenBLAS) at the same shapes as `goodinit bench gemm`, and the ratio.

Usage: python3 bench/gemm_numpy.py [--threads 1] [--shapes 1024,32x784x288,...] [--coretypes auto]
Per shape, runs `goodinit bench gemm --json` and then numpy once per OpenBLAS core type, and prints
GoodInit / the fastest numpy. OpenBLAS's DYNAMIC_ARCH picks its kernel from the CPU id unless
OPENBLAS_CORETYPE names one, and an environment can pin an AVX2 kernel on an AVX-512 CPU (one of
our machines exports OPENBLAS_CORETYPE=Haswell: half the peak); a tuned user would not keep that, so
the peer is numpy at the fastest core type the CPU's flags allow ("default": the variable unset).
Each numpy measurement runs in a child process (OPENBLAS_CORETYPE and the thread count are read at
import).
"""
import argparse, json, os, subprocess, sys, time

p = argparse.ArgumentParser()
p.add_argument("--threads", type=int, default=1)
p.add_argument("--shapes", default="1024,32x784x288,64x196x576,128x49x1152,64x784x576,32x25088x9")
p.add_argument("--repeats", type=int, default=7)
p.add_argument("--goodinit", default=".build/release/goodinit")
p.add_argument("--coretypes", default="auto",
               help="comma-separated OPENBLAS_CORETYPE values ('default' = OpenBLAS's own choice); "
                    "auto: default plus those the CPU's flags allow")
p.add_argument("--child", help=argparse.SUPPRESS)   # MxNxK: measure numpy only, print GFLOP/s
a = p.parse_args()

def numpy_gflops(m, n, k):
    import numpy as np
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

if a.child:
    m, n, k = (int(x) for x in a.child.split("x"))
    print(numpy_gflops(m, n, k))
    sys.exit(0)

def coretypes():
    if a.coretypes != "auto":
        return a.coretypes.split(",")
    flags = set()
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("flags"):
                flags = set(line.split(":", 1)[1].split()); break
    types = ["default"]
    if "avx2" in flags: types.append("Haswell")
    if "avx512f" in flags: types.append("SkylakeX")
    if "avx512_bf16" in flags: types.append("Cooperlake")
    if "amx_tile" in flags: types.append("SapphireRapids")
    return types

def numpy_child(m, n, k, coretype):
    env = dict(os.environ)
    env["OPENBLAS_NUM_THREADS"] = env["OMP_NUM_THREADS"] = env["MKL_NUM_THREADS"] = str(a.threads)
    env.pop("OPENBLAS_CORETYPE", None)
    if coretype != "default":
        env["OPENBLAS_CORETYPE"] = coretype
    cmd = [sys.executable, __file__, "--child", f"{m}x{n}x{k}", "--threads", str(a.threads),
           "--repeats", str(a.repeats)]
    return float(subprocess.run(cmd, check=True, capture_output=True, text=True, env=env).stdout.strip())

def shapes():
    for s in a.shapes.split(","):
        d = [int(x) for x in s.split("x")]
        yield (d[0], d[0], d[0]) if len(d) == 1 else tuple(d)

import numpy as np
types = coretypes()
inherited = os.environ.get("OPENBLAS_CORETYPE")
print(f"threads {a.threads}, numpy {np.__version__}, OpenBLAS core types tried: {', '.join(types)}"
      + (f" (the environment sets OPENBLAS_CORETYPE={inherited})" if inherited else ""))
print(f"{'M':>6} {'N':>7} {'K':>6}  {'GoodInit':>9} {'numpy':>9}  ratio  numpy by core type")
for m, n, k in shapes():
    cmd = [a.goodinit, "bench", "gemm", "--sizes", f"{m}x{n}x{k}", "--threads", str(a.threads),
           "--json", "--repeats", str(a.repeats)]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    g = json.loads(out.strip().splitlines()[-1])["gflops"]
    by_type = {t: numpy_child(m, n, k, t) for t in types}
    best = max(by_type.values())
    detail = ", ".join(f"{t} {v:.1f}" for t, v in by_type.items())
    print(f"{m:>6} {n:>7} {k:>6}  {g:>9.1f} {best:>9.1f}  {g / best:5.2f}  {detail}")
