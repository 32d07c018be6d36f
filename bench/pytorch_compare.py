#!/usr/bin/env python3
"""Training throughput side by side: PyTorch (CPU) and GoodInit, same models, batch sizes, thread
counts and optimizer (SGD, momentum 0.9, weight decay 5e-4), in one run on one machine.

PyTorch runs at its fastest unless told otherwise: channels_last, in-place ReLU, and glibc's
allocator tuned so activations are not re-mapped every step (--allocator tuned: MALLOC_MMAP_MAX_=0,
MALLOC_TRIM_THRESHOLD_ and MALLOC_TOP_PAD_ large; or jemalloc through LD_PRELOAD, or default).
--precision bf16 runs PyTorch under torch.autocast("cpu", dtype=torch.bfloat16) and GoodInit with
--precision bf16. --rounds N alternates GoodInit and PyTorch N times and prints medians with the
range (min-max) of the rounds.

  pip install torch   # or: pip install /opt/wheels/torch-*.whl (CPU-only, smaller)
  swift build -c release
  python3 bench/pytorch_compare.py --models cnn-small,plain30,mlp-sigmoid --threads 1,2 --batch 128

Prints a markdown table with images/s of both and the ratio GoodInit / PyTorch (medians of
--steps timed training steps after warm-up). At T > 1 threads GoodInit runs twice, as one worker
of T threads and as T data-parallel workers of one thread (each batch split into T chunks); the
ratio takes the faster, as a user choosing the W×T layout for their model would. PyTorch runs in a
subprocess per thread count so torch.set_num_threads takes effect cleanly.

PyTorch's memory layout: torch.channels_last by default (model and input converted once, before
timing; PyTorch's fastest CPU setting); --layouts nchw,channels_last measures both in one run, one
column each. Models without convolutions (the MLPs) have no channels_last figure: the layout does
not change them.

  python3 bench/pytorch_compare.py --models plain30 --threads 1 --layouts nchw,channels_last
"""
import argparse, json, subprocess, sys, time

MODELS = {}

def build(name):
    import torch.nn as nn
    def conv(i, o, bn):
        return [nn.Conv2d(i, o, 3, padding=1, bias=not bn)] + ([nn.BatchNorm2d(o)] if bn else []) + [nn.ReLU(True)]
    def mlp(widths, act, bn=False):
        l, prev = [nn.Flatten()], 784
        for w in widths:
            l += [nn.Linear(prev, w, bias=not bn)] + ([nn.BatchNorm1d(w)] if bn else []) + [act()]
            prev = w
        return nn.Sequential(*l, nn.Linear(prev, 10)), (1, 28, 28)
    if name == "mlp-sigmoid": return mlp([100] * 3, nn.Sigmoid)
    if name == "mlp-bn-sigmoid": return mlp([100] * 3, nn.Sigmoid, True)
    relu = lambda: nn.ReLU(True)
    if name == "mlp-xavier": return mlp([256] * 2, relu)
    if name == "mlp-deep": return mlp([512] * 4, relu)
    if name == "cnn-small":
        l = (conv(1, 32, True) + conv(32, 32, True) + [nn.MaxPool2d(2)]
             + conv(32, 64, True) + conv(64, 64, True) + [nn.MaxPool2d(2)])
        return nn.Sequential(*l, nn.Flatten(), nn.Linear(3136, 256), relu(), nn.Linear(256, 10)), (1, 28, 28)
    if name in ("plain30", "plain22"):
        per = [10, 10, 9] if name == "plain30" else [7, 7, 7]
        l, c = [], 1
        for s, n in enumerate(per):
            if s: l.append(nn.MaxPool2d(2))
            for _ in range(n):
                l += conv(c, 16 << s, False); c = 16 << s
        return nn.Sequential(*l, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(c, 10)), (1, 28, 28)
    if name == "vggish":
        l, c = [], 3
        for i, o in enumerate([64, 64, 128, 128, 256, 256]):
            l += conv(c, o, True); c = o
            if i % 2: l.append(nn.MaxPool2d(2))
        return nn.Sequential(*l, nn.Flatten(), nn.Linear(4096, 10)), (3, 32, 32)
    raise SystemExit(f"unknown model {name}")

LAYOUTS = {"nchw": "NCHW", "channels_last": "channels_last"}
ALLOCATORS = ("tuned", "jemalloc", "default")

def allocator_env(name):
    import os
    env = dict(os.environ)
    if name == "tuned":
        env.update(MALLOC_MMAP_MAX_="0", MALLOC_TRIM_THRESHOLD_=str(1 << 40), MALLOC_TOP_PAD_=str(256 << 20))
    elif name == "jemalloc":
        import glob
        libs = glob.glob("/usr/lib/*/libjemalloc.so.2")
        if not libs:
            raise SystemExit("--allocator jemalloc: libjemalloc.so.2 not found (apt-get install libjemalloc2)")
        env["LD_PRELOAD"] = libs[0]
    return env

def torch_worker(model, batch, threads, steps, layout, precision):
    import contextlib, torch
    torch.set_num_threads(threads)
    net, shape = build(model)
    x = torch.randn(batch, *shape); y = torch.randint(0, 10, (batch,))
    if layout == "channels_last":
        if not any(isinstance(m, torch.nn.Conv2d) for m in net.modules()):
            return {"skipped": "no convolutions"}
        net = net.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)
    opt = torch.optim.SGD(net.parameters(), lr=1e-4, momentum=0.9, weight_decay=5e-4)
    lossf = torch.nn.CrossEntropyLoss()
    cast = (lambda: torch.autocast("cpu", dtype=torch.bfloat16)) if precision == "bf16" else contextlib.nullcontext
    def step():
        opt.zero_grad(set_to_none=False)
        with cast():
            loss = lossf(net(x), y)
        loss.backward(); opt.step()
    for _ in range(2): step()
    t = []
    for _ in range(steps):
        s = time.perf_counter(); step(); t.append(time.perf_counter() - s)
    t.sort()
    import resource
    peak_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"img_per_s": batch / t[len(t) // 2], "peak_rss_mb": peak_rss_mb}

def main():
    p = argparse.ArgumentParser()
    p.add_argument("--models", default="mlp-sigmoid,mlp-deep,cnn-small,plain30,vggish")
    p.add_argument("--threads", default="1,2")
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--steps", type=int, default=5)
    p.add_argument("--goodinit", default=".build/release/goodinit")
    p.add_argument("--channels-last", action="store_true",
                   help="PyTorch in torch.channels_last (convolutional models); same as --layouts channels_last")
    p.add_argument("--layouts", help="PyTorch layouts to measure, comma-separated: nchw, channels_last "
                   "(default channels_last, PyTorch's fastest on CPU)")
    p.add_argument("--precision", choices=("fp32", "bf16"), default="fp32")
    p.add_argument("--allocator", choices=ALLOCATORS, default="tuned")
    p.add_argument("--rounds", type=int, default=1, help="alternating rounds; medians and ranges are printed")
    p.add_argument("--worker", nargs=5)  # internal: model threads batch layout precision
    a = p.parse_args()
    if a.worker:
        m, t, b, layout, precision = a.worker
        print(json.dumps(torch_worker(m, int(b), int(t), a.steps, layout, precision))); return
    if a.channels_last and a.layouts not in (None, "channels_last"):
        p.error("--channels-last is --layouts channels_last; pass one of them")
    layouts = (a.layouts or "channels_last").split(",")
    unknown = [l for l in layouts if l not in LAYOUTS]
    if unknown or len(set(layouts)) != len(layouts):
        p.error(f"--layouts: each of {', '.join(LAYOUTS)} at most once, got {a.layouts}")
    def goodinit(m, t, w):
        # w workers of t/w threads; w > 1 splits each batch into w chunks (data parallel)
        cmd = [a.goodinit, "bench", "train", "--model", m, "--batch-size", str(a.batch), "--threads", str(t // w),
               "--workers", str(w), "--chunk", str(a.batch // w), "--steps", str(a.steps), "--json",
               "--precision", a.precision]
        out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
        # the last line is the machine record; the point is the line before it
        lines = [json.loads(l) for l in out.strip().splitlines()]
        return [l for l in lines if "img_per_s" in l][-1]
    def torch_point(m, t, layout):
        cmd = [sys.executable, __file__, "--steps", str(a.steps), "--worker", m, str(t), str(a.batch), layout,
               a.precision]
        out = subprocess.run(cmd, check=True, capture_output=True, text=True, env=allocator_env(a.allocator)).stdout
        return json.loads(out.strip().splitlines()[-1])
    def median_point(pts):
        if "skipped" in pts[0]: return pts[0]
        v = sorted(p["img_per_s"] for p in pts)
        return {"img_per_s": v[len(v) // 2], "min": v[0], "max": v[-1],
                "peak_rss_mb": max(p["peak_rss_mb"] for p in pts)}
    rows = []
    for m in a.models.split(","):
        for t in map(int, a.threads.split(",")):
            gs, gws, ptss = [], [], [[] for _ in layouts]
            for _ in range(max(1, a.rounds)):  # alternating: a drift in the machine's speed hits both
                gs.append(goodinit(m, t, 1))
                if t > 1: gws.append(goodinit(m, t, t))
                for i, layout in enumerate(layouts): ptss[i].append(torch_point(m, t, layout))
            rows.append((m, t, median_point(gs), median_point(gws) if gws else None, [median_point(p) for p in ptss]))
    names = [LAYOUTS[l] for l in layouts]
    print(f"precision {a.precision}, PyTorch allocator {a.allocator}, in-place ReLU, {max(1, a.rounds)} round(s)"
          + (" (medians; min-max)" if a.rounds > 1 else "") + "\n")
    print("| model | threads | GoodInit img/s (1 worker × T threads) | GoodInit img/s (T workers × 1 thread) | "
          + "".join(f"PyTorch {n} img/s | " for n in names)
          + "".join(f"ratio (best GoodInit / PyTorch {n}) | " for n in names)
          + "GoodInit RSS MB | " + "".join(f"PyTorch {n} RSS MB | " for n in names).rstrip())
    print("|---|---|---|---|" + "---|" * (3 * len(layouts) + 1))
    for m, t, g, gw, pts in rows:
        best = max(g["img_per_s"], gw["img_per_s"] if gw else 0)
        rss = gw["peak_rss_mb"] if gw and gw["img_per_s"] > g["img_per_s"] else g["peak_rss_mb"]
        def fig(p):
            return f"{p['img_per_s']:.1f}" + (f" ({p['min']:.0f}-{p['max']:.0f})" if a.rounds > 1 else "")
        wcol = fig(gw) if gw else "–"
        def cols(f): return "".join(("– | " if "skipped" in pt else f(pt) + " | ") for pt in pts)
        print(f"| {m} | {t} | {fig(g)} | {wcol} | " + cols(fig)
              + cols(lambda pt: f"{best / pt['img_per_s']:.2f}") + f"{rss:.0f} | "
              + cols(lambda pt: f"{pt['peak_rss_mb']:.0f}").rstrip())
    if any("skipped" in pt for *_, pts in rows for pt in pts):
        print("\n– : no convolutions, so channels_last does not apply (the NCHW figure holds for both).")

if __name__ == "__main__":
    main()
