#!/usr/bin/env python3
"""Parameter counts of GoodInit's ResNet and VGG presets, from PyTorch twins built the way
torchvision builds them (BasicBlock: conv3x3-BN-ReLU-conv3x3-BN, add, ReLU; vgg11_bn's features).

  pip install torch   # or: pip install /opt/wheels/torch-*.whl (CPU-only, smaller)
  python3 bench/pytorch_param_counts.py            # prints the counts
  python3 bench/pytorch_param_counts.py --write    # and rewrites bench/pytorch_param_counts.json

The JSON file is committed: Tests/GoodInitTests/ResNetPresetTests.swift compares GoodInit's counts
with it, so the test runs without torch. Option A shortcuts have no parameters; the twins build
them as a parameter-free subsample-and-pad, as the paper's CIFAR nets.
"""
import argparse, json, os, sys

def build(name):
    import torch.nn as nn
    import torch.nn.functional as F

    class PadShortcut(nn.Module):  # option A: x[:, :, ::s, ::s], channels zero-padded both sides
        def __init__(self, stride, pad):
            super().__init__(); self.stride, self.pad = stride, pad
        def forward(self, x):
            return F.pad(x[:, :, ::self.stride, ::self.stride], (0, 0, 0, 0, self.pad, self.pad))

    class BasicBlock(nn.Module):
        def __init__(self, inp, out, stride, shortcut):
            super().__init__()
            self.conv1 = nn.Conv2d(inp, out, 3, stride, 1, bias=False); self.bn1 = nn.BatchNorm2d(out)
            self.conv2 = nn.Conv2d(out, out, 3, 1, 1, bias=False); self.bn2 = nn.BatchNorm2d(out)
            self.shortcut = nn.Identity()
            if stride != 1 or inp != out:
                self.shortcut = PadShortcut(stride, (out - inp) // 2) if shortcut == "pad" else nn.Sequential(
                    nn.Conv2d(inp, out, 1, stride, bias=False), nn.BatchNorm2d(out))
        def forward(self, x):
            y = F.relu(self.bn1(self.conv1(x)))
            return F.relu(self.bn2(self.conv2(y)) + self.shortcut(x))

    class CifarResNet(nn.Module):
        def __init__(self, n, channels, shortcut="pad"):
            super().__init__()
            self.conv1 = nn.Conv2d(channels, 16, 3, 1, 1, bias=False); self.bn1 = nn.BatchNorm2d(16)
            blocks, inp = [], 16
            for stage, out in enumerate([16, 32, 64]):
                for b in range(n):
                    blocks.append(BasicBlock(inp, out, 2 if stage > 0 and b == 0 else 1, shortcut)); inp = out
            self.blocks = nn.Sequential(*blocks)
            self.fc = nn.Linear(64, 10)
        def forward(self, x):
            x = self.blocks(F.relu(self.bn1(self.conv1(x))))
            return self.fc(F.adaptive_avg_pool2d(x, 1).flatten(1))

    def vgg11_bn():
        layers, inp = [], 3
        for v in [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"]:
            if v == "M": layers.append(nn.MaxPool2d(2, 2)); continue
            layers += [nn.Conv2d(inp, v, 3, padding=1, bias=False), nn.BatchNorm2d(v), nn.ReLU()]; inp = v
        return nn.Sequential(*layers, nn.Flatten(), nn.Linear(512, 10))

    return {
        "resnet20": lambda: (CifarResNet(3, 3), (3, 32, 32)),
        "resnet56": lambda: (CifarResNet(9, 3), (3, 32, 32)),
        "resnet20-mnist": lambda: (CifarResNet(3, 1), (1, 28, 28)),
        "resnet20-projection": lambda: (CifarResNet(3, 3, "projection"), (3, 32, 32)),
        "vgg11-bn": lambda: (vgg11_bn(), (3, 32, 32)),
    }[name]()

NAMES = ["resnet20", "resnet56", "resnet20-mnist", "resnet20-projection", "vgg11-bn"]

def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--write", action="store_true", help="rewrite bench/pytorch_param_counts.json")
    args = ap.parse_args()
    import torch
    counts = {}
    for name in NAMES:
        net, shape = build(name)
        out = net(torch.zeros(2, *shape))  # the twin runs on its input: the shapes fit
        assert out.shape == (2, 10), (name, out.shape)
        counts[name] = sum(p.numel() for p in net.parameters())
        print(f"{name:22s} {counts[name]:>10,d}")
    if args.write:
        path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "pytorch_param_counts.json")
        with open(path, "w") as f:
            json.dump({"torch": torch.__version__, "counts": counts}, f, indent=2, sort_keys=True)
            f.write("\n")
        print(f"wrote {path}", file=sys.stderr)

if __name__ == "__main__":
    main()
