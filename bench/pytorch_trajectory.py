"""Same weights, same data, same optimizer: does GoodInit's loss follow PyTorch's step by step?

GoodInit initializes the model and trains it full-batch on the first --samples Fashion-MNIST
training images; PyTorch loads GoodInit's initial weights (a checkpoint written after one step at
lr 1e-30, which leaves them unchanged), normalizes the same images the same way and takes the
same SGD steps (momentum, weight decay on weights only, as GoodInit). Prints both losses per step
and the relative difference; exits 1 if any step differs by more than --rtol.

  python3 bench/pytorch_trajectory.py --model plain30 --init he-normal --lr 0.002 --steps 40

Models of Conv2d/Linear/ReLU/Sigmoid/pooling layers only (no batch norm, dropout or PReLU): the
checkpoint's tensor names conv{i}/linear{i} map onto them in order. Needs torch and safetensors.
"""
import argparse, gzip, json, os, subprocess, sys, tempfile
import numpy as np

FASHION = "/usr/share/datasets/fashion-mnist/"


def goodinit(binary, out, a, steps, lr):
    cmd = [binary, "train", "--model", a.model, "--init", a.init, "--seed", str(a.seed),
           "--train-limit", str(a.samples), "--test-limit", str(a.samples), "--batch-size", str(a.samples),
           "--steps", str(steps), "--epochs", str(steps), "--lr", repr(lr), "--momentum", str(a.momentum),
           "--weight-decay", str(a.weight_decay), "--log-every", "1", "--threads", str(a.threads), "--out", out]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--model", default="plain30")
    p.add_argument("--init", default="he-normal")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--samples", type=int, default=128)
    p.add_argument("--steps", type=int, default=40)
    p.add_argument("--lr", type=float, default=0.002)
    p.add_argument("--momentum", type=float, default=0.9)
    p.add_argument("--weight-decay", type=float, default=5e-4)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--rtol", type=float, default=1e-4)
    p.add_argument("--goodinit", default=".build/release/goodinit")
    a = p.parse_args()

    import torch, torch.nn as nn
    from safetensors.numpy import load_file
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from pytorch_compare import build
    torch.set_num_threads(a.threads)

    tmp = tempfile.mkdtemp(prefix="goodinit-trajectory-")
    goodinit(a.goodinit, tmp + "/init", a, 1, 1e-30)
    goodinit(a.goodinit, tmp + "/run", a, a.steps, a.lr)
    weights = load_file(tmp + "/init/checkpoint.safetensors")
    rows = [json.loads(l) for l in open(tmp + "/run/metrics.jsonl")]
    ours = [r["loss"] for r in rows if r["type"] == "step"]

    def idx(path, offset): return np.frombuffer(gzip.open(path).read(), np.uint8, offset=offset)
    net, shape = build(a.model)
    if shape != (1, 28, 28): sys.exit(f"{a.model}: needs {shape} input; this check uses Fashion-MNIST")
    x = idx(FASHION + "train-images-idx3-ubyte.gz", 16).reshape(-1, 1, 28, 28)[:a.samples] / 255.0
    y = idx(FASHION + "train-labels-idx1-ubyte.gz", 8)[:a.samples].astype(np.int64)
    x = ((x - x.mean()) / x.std()).astype(np.float32)  # GoodInit: mean and population std of the used images
    X, Y = torch.from_numpy(x), torch.from_numpy(y)

    layers = [m for m in net.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    if any(isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d, nn.Dropout, nn.PReLU)) for m in net.modules()):
        sys.exit(f"{a.model}: batch norm, dropout and PReLU are not mapped by this check")
    counts = {nn.Conv2d: 0, nn.Linear: 0}
    with torch.no_grad():
        for m in layers:
            counts[type(m)] += 1
            name = f"{'conv' if isinstance(m, nn.Conv2d) else 'linear'}{counts[type(m)]}"
            m.weight.copy_(torch.from_numpy(weights[name + ".weight"]))
            if m.bias is not None: m.bias.copy_(torch.from_numpy(weights[name + ".bias"]))
    groups = [{"params": [m.weight for m in layers], "weight_decay": a.weight_decay},
              {"params": [m.bias for m in layers if m.bias is not None], "weight_decay": 0.0}]
    opt = torch.optim.SGD(groups, lr=a.lr, momentum=a.momentum)
    loss_fn, worst = nn.CrossEntropyLoss(), 0.0
    print(f"{a.model}, {a.init}, seed {a.seed}: {a.samples} images full-batch, SGD lr {a.lr} momentum {a.momentum}")
    print("| step | GoodInit loss | PyTorch loss | relative difference |\n|---|---|---|---|")
    for s in range(a.steps):
        loss = loss_fn(net(X), Y)
        opt.zero_grad(); loss.backward(); opt.step()
        rel = abs(loss.item() - ours[s]) / abs(loss.item())
        worst = max(worst, rel)
        print(f"| {s + 1} | {ours[s]:.6f} | {loss.item():.6f} | {rel:.1e} |")
    print(f"largest relative difference {worst:.1e} (tolerance {a.rtol:.0e})")
    sys.exit(0 if worst <= a.rtol else 1)


if __name__ == "__main__":
    main()
