#!/usr/bin/env python3
"""A model of GoodInit's step time over P MPI ranks, from figures measured on one machine.

Input: the JSON lines of `goodinit bench ranks --json` run with one process (P = 1), which give per
model the step time at the global batch, the SGD update's time (every rank repeats it), the
parameter count, and the machine's compute rate. Output: a Markdown table of the modelled step time
and parallel efficiency at P = 8 … 64 ranks over 10, 25 and 100 Gb/s networks, at a fixed global
batch (strong scaling), and the largest P that keeps efficiency at or above 50 %.

The model, per step on P ranks (P a power of two):
  compute   = (step(P=1) - update) * (B / B1) / (P * cores)  per rank: its share of the batch,
              at the measured per-core rate times --cores-per-rank (linear in cores: measured 2.0x
              at 2 threads for plain30, not measured beyond)
  update    = the measured SGD update (every rank updates all weights: not divided by P)
  gradient  = 2 * log2(P) * alpha + 2 * (1 - 1/P) * 4 * n / bandwidth
              (TreeAllReduce: recursive halving, then an all-gather; the same bytes as a ring)
  small     = (3 * batchnorms + 2) * log2(P) * alpha
              (batch-norm rows: 2 forward + 1 backward exchanges per BN op; losses; the stop flag)
  step(P)   = compute + update + gradient + small         (no overlap of communication and compute)
alpha (per message latency): 30 us at 10 Gb/s (TCP), 15 us at 25 Gb/s, 3 us at 100 Gb/s (RDMA).

  goodinit bench ranks --json > runs/ranks-p1.json
  python3 bench/mpi_scaling_model.py runs/ranks-p1.json --batch 1024 --cores-per-rank 16
"""
import argparse, json, math, sys

MIN_CHUNK = 16   # smaller chunks starve the kernels; the model does not count that
NETWORKS = [("10 Gb/s", 10e9, 30e-6), ("25 Gb/s", 25e9, 15e-6), ("100 Gb/s", 100e9, 3e-6)]


def model_step(m, p, batch, cores, bandwidth, alpha, batchnorms):
    """Modelled seconds per step and its parts on p ranks."""
    n = m["params"]
    update = m.get("update_s", 0.0)
    compute = (m["step_s"] - update) * (batch / m["batch"]) / (p * cores)
    levels = math.log2(p)
    gradient = 2 * levels * alpha + 2 * (1 - 1 / p) * 4 * n * 8 / bandwidth
    small = (3 * batchnorms + 2) * levels * alpha
    return compute + update + gradient + small, compute, gradient + small


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("p1_json", help="goodinit bench ranks --json output of a one-process run")
    ap.add_argument("--batch", type=int, default=1024, help="global batch (default 1024)")
    ap.add_argument("--cores-per-rank", type=int, default=16, help="cores each rank's OpenMP threads use")
    ap.add_argument("--ranks", default="8,16,32,64")
    a = ap.parse_args()
    rows = [json.loads(l) for l in open(a.p1_json) if l.strip().startswith("{")]
    rows = [r for r in rows if r.get("ranks") == 1]
    if not rows:
        sys.exit(f"{a.p1_json}: no one-process lines (\"ranks\":1) from goodinit bench ranks --json")
    ranks = [int(x) for x in a.ranks.split(",")]
    print(f"Global batch {a.batch}, {a.cores_per_rank} cores per rank at the measured per-core rate "
          f"(from {a.p1_json}, batch {rows[0]['batch']}, {rows[0]['threads']} thread). "
          "Cells: modelled ms per step (parallel efficiency).\n")
    print("| model | network | " + " | ".join(f"P = {p}" for p in ranks) + " | largest P at ≥ 50 % |")
    print("|---|---|" + "---|" * len(ranks) + "---|")
    for m in rows:
        bn = m.get("batchnorms", 0)
        one, _, _ = model_step(m, 1, a.batch, a.cores_per_rank, 1e12, 0, bn)
        cap = max(1, a.batch // MIN_CHUNK)  # P ranks need P chunks of the batch
        for name, bw, alpha in NETWORKS:
            cells, best = [], 1
            p = 1
            while p <= cap:
                t, _, _ = model_step(m, p, a.batch, a.cores_per_rank, bw, alpha, bn)
                if one / (p * t) >= 0.5:
                    best = p
                p *= 2
            for p in ranks:
                t, _, _ = model_step(m, p, a.batch, a.cores_per_rank, bw, alpha, bn)
                cells.append(f"{t * 1e3:.1f} ({100 * one / (p * t):.0f} %)")
            most = f"≥ {best} (chunks of {MIN_CHUNK})" if best == cap else f"{best}"
            print(f"| {m['model']} | {name} | " + " | ".join(cells) + f" | {most} |")


if __name__ == "__main__":
    main()
