#!/usr/bin/env python3
"""The he30 experiment's odds in PyTorch: how many seeds of each variant converge, beside GoodInit's.

`goodinit experiment he30 --seeds N` counts, per variant (plain30/plain22 × init), the seeds whose
final training loss ends below 2.0 (clearly off ln 10 ≈ 2.303). This script trains the PyTorch twin
of every variant over N seeds with the he30 preset's set-up and prints both counts side by side,
with a two-sided Fisher exact test per variant: do the fractions differ by more than N seeds can
resolve?

The set-up (He30.swift, Presets.swift, Setup.swift, TrainingLoop.swift): plain30 / plain22 (3×3
convs with bias at 16/32/64 channels, ReLU, 2×2 max pools, global average pool, linear) on 28×28
Fashion-MNIST normalized with the training set's per-channel mean and population std; weights
He-normal (fan_in, gain √2, the last linear too), Xavier-uniform (gain 1) or N(0, std²), biases 0;
SGD momentum 0.9, weight decay 5e-4 on weights only, batch 128 in a fresh random order each epoch
(the last partial batch dropped); the paper's lr 0.01 without warm-up, the gradient clipped at L2
norm 1 (torch.nn.utils.clip_grad_norm_, before the optimizer adds weight decay), 500 steps, plus
plain30 He without clipping (--quick: lr 0.01 unclipped, 80 steps, plain30 with He and Xavier only).
Each variant's lr, warm-up (lr × (step + 1) / warm-up over the first steps, as GoodInit's
Schedule.warmup) and clipping are read from GoodInit's results when given. GoodInit's `… chunk 128`
variant has no twin: PyTorch sums a batch's gradient in its own order, which is neither of
GoodInit's. Subnormals are flushed to zero on the main thread, as the preset's runs flush them
(torch.set_flush_denormal; for speed only).
The loss of the step's batch is logged every 5 steps and at the last; a run's
final loss is the mean of its last 3 logged losses; a run whose loss or gradients go NaN/Inf stops
there and counts as not converged.

The seeds are the same numbers (--seed, --seed + 1, …) but not the same random streams: PyTorch
draws its own weights and data order, so the runs are independent samples of the same odds, not
replays of GoodInit's runs (bench/pytorch_trajectory.py replays one).

  goodinit experiment he30 --seeds 5 --out runs/he30
  python3 bench/pytorch_he30_odds.py --goodinit-results runs/he30/results.json --json runs/he30-pytorch.json

With --goodinit-results the seeds, steps, preset (quick or full) and variants default to that run's;
explicit options override them. Without it, only the PyTorch columns are filled.
"""
import argparse, gzip, json, math, os, sys, time
import numpy as np

FASHION = "/usr/share/datasets/fashion-mnist"
CONVERGED_BELOW = 2.0   # Seeds.swift: converged = final loss below 2.0 and never NaN/Inf
LOG_EVERY, BATCH, MOMENTUM, WEIGHT_DECAY, FINAL_OF = 5, 128, 0.9, 5e-4, 3
INITS = ("he-normal", "xavier-uniform", "normal:STD")


def preset(quick):
    """He30.swift's defaults: (lr, clip norm, steps, models, inits)."""
    if quick: return 0.01, None, 80, ["plain30"], ["he-normal", "xavier-uniform"]
    return 0.01, 1.0, 500, ["plain30", "plain22"], ["he-normal", "xavier-uniform", "normal:0.01"]


def load_fashion(folder):
    """Training images (N, 1, 28, 28) normalized as GoodInit does, and labels."""
    def idx(name, offset):
        path = os.path.join(folder, name)
        raw = gzip.open(path + ".gz").read() if os.path.exists(path + ".gz") else open(path, "rb").read()
        return np.frombuffer(raw, np.uint8, offset=offset)
    x = idx("train-images-idx3-ubyte", 16).reshape(-1, 1, 28, 28).astype(np.float32) / 255
    y = idx("train-labels-idx1-ubyte", 8).astype(np.int64)
    mean, std = x.mean(dtype=np.float64), x.std(dtype=np.float64)  # one channel; population std
    return ((x - np.float32(mean)) / np.float32(std)).astype(np.float32), y


def initialize(net, init):
    import torch.nn as nn
    for m in net.modules():
        if not isinstance(m, (nn.Conv2d, nn.Linear)): continue
        if init == "he-normal": nn.init.kaiming_normal_(m.weight, mode="fan_in", nonlinearity="relu")
        elif init == "xavier-uniform": nn.init.xavier_uniform_(m.weight)
        elif init.startswith("normal:"): nn.init.normal_(m.weight, 0.0, float(init.split(":", 1)[1]))
        else: sys.exit(f"unknown init {init}; one of {', '.join(INITS)}")
        nn.init.zeros_(m.bias)


def train(variant, seed, steps, X, Y, channels_last):
    """One run: {name, seed, steps, losses [[step, loss]], finalLoss (None if diverged), diverged, seconds}."""
    import torch, torch.nn.functional as F
    from pytorch_compare import build
    model, init, lr, warmup = variant["model"], variant["init"], variant["lr"], variant["warmup"]
    clip = variant.get("clip")   # GoodInit's --clip-grad-norm: the same call, before weight decay
    torch.manual_seed(seed)
    net, _ = build(model)
    initialize(net, init)
    if channels_last: net = net.to(memory_format=torch.channels_last)
    weights = [p for n, p in net.named_parameters() if n.endswith("weight")]
    biases = [p for n, p in net.named_parameters() if n.endswith("bias")]
    opt = torch.optim.SGD([{"params": weights, "weight_decay": WEIGHT_DECAY},
                           {"params": biases, "weight_decay": 0.0}], lr=lr, momentum=MOMENTUM)
    # GoodInit's Schedule.warmup: lr × (step + 1) / warmup for step = 0, 1, …, warmup − 1, then lr
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda k: (k + 1) / warmup if k < warmup else 1.0)
    order = torch.Generator().manual_seed(10_000 + seed)
    per_epoch, losses, diverged, step, start = len(Y) // BATCH, [], None, 0, time.perf_counter()
    while step < steps and diverged is None:
        perm = torch.randperm(len(Y), generator=order)
        for b in range(min(per_epoch, steps - step)):
            i = perm[b * BATCH:(b + 1) * BATCH]
            x = X[i].contiguous(memory_format=torch.channels_last) if channels_last else X[i]
            loss = F.cross_entropy(net(x), Y[i])
            if not torch.isfinite(loss):
                diverged = f"step {step + 1}, the loss"; break
            opt.zero_grad(); loss.backward()
            if not torch.stack([torch.isfinite(p.grad).all() for p in net.parameters()]).all():
                diverged = f"step {step + 1}, a gradient"; break
            if clip is not None: torch.nn.utils.clip_grad_norm_(net.parameters(), clip)
            opt.step(); sched.step()
            step += 1
            if step % LOG_EVERY == 0 or step == steps: losses.append([step, loss.item()])
    tail = [l for _, l in losses[-FINAL_OF:]]
    final = None if diverged or not tail else sum(tail) / len(tail)
    return {"name": variant["name"], "seed": seed, "steps": step, "losses": losses, "finalLoss": final,
            "diverged": diverged, "seconds": round(time.perf_counter() - start, 2)}


def converged(run):
    f = run.get("finalLoss")
    return run.get("diverged") is None and f is not None and math.isfinite(f) and f < CONVERGED_BELOW


def fisher_two_sided(a, n1, c, n2):
    """Two-sided Fisher exact p for a/n1 against c/n2: the probability, given the margins, of a table at
    most as likely as the observed one (hypergeometric; the sum of the tables' probabilities)."""
    k, n = a + c, n1 + n2
    def prob(x): return math.comb(n1, x) * math.comb(n2, k - x) / math.comb(n, k)
    observed = prob(a)
    return min(1.0, sum(prob(x) for x in range(max(0, k - n2), min(k, n1) + 1)
                        if prob(x) <= observed * (1 + 1e-9)))


def resolvable(n1, n2, alpha=0.05):
    """The smallest difference of converged fractions that reaches p < alpha, with its example table."""
    best = None
    for a in range(n1 + 1):
        for c in range(n2 + 1):
            p = fisher_two_sided(a, n1, c, n2)
            d = abs(a / n1 - c / n2)
            if p < alpha and (best is None or d < best[0]): best = (d, a, c, p)
    return best


def median_text(runs):
    values = [r["finalLoss"] for r in runs if r.get("finalLoss") is not None and math.isfinite(r["finalLoss"])]
    if not values: return f"– ({len(runs)} NaN)"
    v, n = sorted(values), len(values)
    m = v[n // 2] if n % 2 else (v[n // 2 - 1] + v[n // 2]) / 2
    nan = f" ({len(runs) - n} NaN)" if n < len(runs) else ""
    return f"{m:.4f} [{v[0]:.4f}, {v[-1]:.4f}]{nan}"


def variants_from_results(goodinit, base_lr, quick):
    """GoodInit's variants with the lr, warm-up, clipping and chunk each run recorded. Runs from before the
    warm-up preset recorded none: their lr is in the name ('MODEL INIT lr X') or was 0.001, without
    warm-up. Returns (variants, names left out)."""
    out, skipped = [], []
    for name in dict.fromkeys(r["name"] for r in goodinit["runs"]):
        run = next(r for r in goodinit["runs"] if r["name"] == name)
        values, parts = run.get("values", {}), name.split()
        named_lr = float(parts[3]) if len(parts) >= 4 and parts[2] == "lr" else None
        if "lr" in values:
            lr, warmup = values["lr"], int(values.get("warmupSteps", 0))
            clip = values.get("clipGradNorm")
        else:
            lr, warmup, clip = named_lr or (base_lr if quick else 0.001), 0, None
        if values.get("chunk", 64) != 64:
            skipped.append(name); continue
        out.append({"name": name, "model": parts[0], "init": parts[1], "lr": lr, "warmup": warmup, "clip": clip})
    return out, skipped


def preset_variants(base_lr, base_clip, quick, models, inits):
    out = [{"name": f"{m} {i}", "model": m, "init": i, "lr": base_lr, "warmup": 0, "clip": base_clip}
           for m in models for i in inits]
    if not quick and "plain30" in models and "he-normal" in inits:
        out.insert(inits.index("he-normal") + 1, {"name": "plain30 he-normal no clipping", "model": "plain30",
                                                  "init": "he-normal", "lr": base_lr, "warmup": 0, "clip": None})
    return out


def compare(variants, gi_runs, runs, steps):
    """The side-by-side table and, with GoodInit's runs, whether the converged fractions differ."""
    print(f"\nhe30 odds: converged = final training loss (mean of the last {FINAL_OF} logged) below "
          f"{CONVERGED_BELOW}, {steps} steps\n")
    print("| variant | GoodInit converged | PyTorch converged | GoodInit final loss: median [min, max] "
          "| PyTorch final loss: median [min, max] | Fisher p (two-sided) |")
    print("|---|---|---|---|---|---|")
    tests = []
    for v in variants:
        g = [r for r in gi_runs if r["name"] == v["name"]]
        t = [r for r in runs if r["name"] == v["name"]]
        gk, tk = sum(map(converged, g)), sum(map(converged, t))
        pval = fisher_two_sided(gk, len(g), tk, len(t)) if g and t else None
        if pval is not None: tests.append((v["name"], pval, len(g), len(t)))
        print(f"| {v['name']} | {f'{gk}/{len(g)}' if g else '–'} | {tk}/{len(t)} | {median_text(g) if g else '–'} "
              f"| {median_text(t)} | {'–' if pval is None else f'{pval:.3f}'} |")
    if not tests:
        print("\n(pass --goodinit-results to compare with GoodInit's counts)")
        return
    # each variant is its own question (p < 0.05); Bonferroni over all of them would leave 5 seeds no power
    alpha = 0.05
    differ = [(n, pv) for n, pv, _, _ in tests if pv < alpha]
    for n1, n2 in sorted({(n1, n2) for *_, n1, n2 in tests}):
        r = resolvable(n1, n2, alpha)
        print(f"\nWith {n1} GoodInit and {n2} PyTorch seeds, Fisher's test tells fractions apart (p < {alpha}) "
              + (f"only when they differ by at least {r[0]:.0%} (e.g. {r[1]}/{n1} vs {r[2]}/{n2}: p = {r[3]:.3f})."
                 if r else "in no case: too few seeds to resolve any difference (5 and 5 tell 0/5 from 4/5)."))
    if differ:
        strict = [n for n, pv in differ if pv < alpha / len(tests)]
        print("The fractions DISAGREE for " + ", ".join(f"{n} (p = {pv:.3f})" for n, pv in differ)
              + f"; over {len(tests)} variants, {len(strict)} of them also below Bonferroni's "
              + f"{alpha / len(tests):.3g}. Look for the cause (init, bias, data order, summation order).")
    elif not any(resolvable(n1, n2, alpha) for *_, n1, n2 in tests):
        print("So this run cannot say whether the fractions agree.")
    else:
        print(f"The fractions agree within what the seeds resolve: no variant at p < {alpha} "
              f"(smallest p = {min(pv for _, pv, *_ in tests):.3f}).")


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--goodinit-results", help="GoodInit's he30 results.json (or its folder) to compare with")
    p.add_argument("--quick", action="store_true", default=None, help="he30's quick preset (lr 0.01, 80 steps)")
    p.add_argument("--seeds", type=int, help="seeds per variant (default: the results' count, else 5; --quick 2)")
    p.add_argument("--seed", type=int, help="first seed (default: the results', else 1)")
    p.add_argument("--steps", type=int, help="steps per run (default: the results', else the preset's)")
    p.add_argument("--lr", type=float, help="learning rate of every variant (default: each variant's own)")
    p.add_argument("--models", help="comma-separated: plain30, plain22 (default: the preset's)")
    p.add_argument("--inits", help="comma-separated: he-normal, xavier-uniform, normal:STD (default: the preset's)")
    p.add_argument("--variants", help="comma-separated variant names to run, e.g. 'plain30 he-normal' (default: all)")
    p.add_argument("--threads", type=int, default=os.cpu_count(), help="torch.set_num_threads (default: cores)")
    p.add_argument("--channels-last", action="store_true", help="run PyTorch in torch.channels_last (faster)")
    p.add_argument("--data-dir", default=FASHION)
    p.add_argument("--json", help="write the PyTorch runs here (rewritten after every run)")
    a = p.parse_args()

    goodinit, options = None, {}
    if a.goodinit_results:
        path = a.goodinit_results
        if os.path.isdir(path): path = os.path.join(path, "results.json")
        goodinit = json.load(open(path))
        if goodinit.get("experiment") != "he30": sys.exit(f"{path}: not an he30 experiment's results")
        options = goodinit["options"]
        if options.get("data", "fashion-mnist") != "fashion-mnist":
            sys.exit(f"{path}: trained on {options['data']}; this twin uses Fashion-MNIST")
    quick = a.quick if a.quick is not None else options.get("quick", False)
    base_lr, base_clip, preset_steps, preset_models, preset_inits = preset(quick)
    def pick(given, saved, default): return given if given is not None else saved if saved is not None else default
    steps = pick(a.steps, options.get("steps"), preset_steps)
    seeds, first = pick(a.seeds, options.get("seeds"), 2 if quick else 5), pick(a.seed, options.get("seed"), 1)
    models = a.models.split(",") if a.models else None
    inits = a.inits.split(",") if a.inits else None
    for m in models or []:
        if m not in ("plain30", "plain22"): sys.exit(f"--models: {m} is not plain30 or plain22")
    skipped = []
    if goodinit:
        variants, skipped = variants_from_results(goodinit, base_lr, quick)
    else:
        variants = preset_variants(base_lr, base_clip, quick, models or preset_models, inits or preset_inits)
    variants = [v for v in variants if (not models or v["model"] in models) and (not inits or v["init"] in inits)]
    if a.variants:
        wanted = [n.strip() for n in a.variants.split(",")]
        unknown = [n for n in wanted if n not in [v["name"] for v in variants]]
        if unknown: sys.exit(f"--variants: no variant named {', '.join(unknown)}")
        variants = [v for v in variants if v["name"] in wanted]
    if a.lr is not None:
        for v in variants: v["lr"] = a.lr
    if not variants: sys.exit("no variant left to run (check --models and --inits)")
    for v in variants:
        std = v["init"].split(":", 1)[1] if v["init"].startswith("normal:") else None
        if v["init"] not in INITS[:2] and not (std and std.replace(".", "", 1).replace("e-", "", 1).isdigit()):
            sys.exit(f"variant '{v['name']}': init {v['init']} is not one of {', '.join(INITS)}")

    import torch
    torch.set_num_threads(a.threads)
    torch.set_flush_denormal(True)
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    x, y = load_fashion(a.data_dir)
    X, Y = torch.from_numpy(x), torch.from_numpy(y)
    setup = {"quick": quick, "steps": steps, "seed": first, "seeds": seeds, "threads": a.threads,
             "channelsLast": a.channels_last, "torch": torch.__version__}
    print(f"PyTorch {torch.__version__}, {a.threads} threads: {len(variants)} variants × {seeds} seeds, "
          f"{steps} steps, batch {BATCH}, seeds {first}…{first + seeds - 1}"
          + (f"; GoodInit: {a.goodinit_results}" if goodinit else ""), file=sys.stderr, flush=True)
    if skipped:
        print(f"no PyTorch twin (PyTorch has no chunk size): {', '.join(skipped)}", file=sys.stderr, flush=True)
    runs = []
    for seed in range(first, first + seeds):   # seed-major, as GoodInit: a stopped run leaves whole seeds
        for v in variants:
            r = train(v, seed, steps, X, Y, a.channels_last)
            runs.append(r)
            status = f"diverged at {r['diverged']}" if r["diverged"] else f"final loss {r['finalLoss']:.4f}"
            print(f"  seed {seed} {v['name']} (lr {v['lr']}, warm-up {v['warmup']}, clip {v.get('clip')}): "
                  f"{status} ({r['seconds']:.1f} s)", file=sys.stderr, flush=True)
            if a.json:
                with open(a.json, "w") as f:
                    json.dump({"experiment": "he30", "framework": "pytorch", "options": setup, "runs": runs}, f,
                              indent=1)

    compare(variants, goodinit["runs"] if goodinit else [], runs, steps)

if __name__ == "__main__":
    main()
