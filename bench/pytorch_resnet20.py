#!/usr/bin/env python3
"""pytorch_resnet20.py - the PyTorch CPU figure that `evoapproxnas bench` is compared with.

ResNet-20 v1 for CIFAR (He et al. 2016, option-A shortcuts, 269,722 parameters), batch 64,
fp32: inference (eval forward) and training step (forward, cross-entropy, backward, SGD with
momentum) time per batch, median of 15 timed iterations after 5 warm-ups, for each thread count.
Optional: needs torch (Debian's python3-torch 1.13 was the reference in perf/peers.md).

Usage: python3 bench/pytorch_resnet20.py [--threads 1,2] [--batch 64] [--json FILE]
bench/vs_pytorch.py runs it and `evoapproxnas bench` in turns and prints the ratios.
"""
import argparse
import json
import statistics
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class Block(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.pad = cout - cin
        self.stride = stride

    def forward(self, x):
        y = F.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        s = x
        if self.stride != 1 or self.pad:  # option A: subsample, zero channels
            s = F.pad(x[:, :, ::2, ::2], (0, 0, 0, 0, self.pad // 2, self.pad // 2))
        return F.relu(y + s)


class ResNet20(nn.Module):
    def __init__(self, classes=10):
        super().__init__()
        self.conv = nn.Conv2d(3, 16, 3, 1, 1, bias=False)
        self.bn = nn.BatchNorm2d(16)
        layers, cin = [], 16
        for cout, stride in ((16, 1), (32, 2), (64, 2)):
            for i in range(3):
                layers.append(Block(cin, cout, stride if i == 0 else 1))
                cin = cout
        self.layers = nn.Sequential(*layers)
        self.fc = nn.Linear(64, classes)

    def forward(self, x):
        x = self.layers(F.relu(self.bn(self.conv(x))))
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


def median_ms(fn, warmup=5, iters=15):
    for _ in range(warmup):
        fn()
    t = []
    for _ in range(iters):
        t0 = time.perf_counter()
        fn()
        t.append(1e3 * (time.perf_counter() - t0))
    return statistics.median(t)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--json", help="also write the results as JSON to this file")
    args = ap.parse_args()
    torch.manual_seed(1)
    net = ResNet20()
    assert sum(p.numel() for p in net.parameters()) == 269722
    x = torch.rand(args.batch, 3, 32, 32) * 2 - 1
    labels = torch.arange(args.batch) % 10
    opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)

    def infer():
        net.eval()
        with torch.no_grad():
            net(x)

    def train():
        net.train()
        opt.zero_grad()
        F.cross_entropy(net(x), labels).backward()
        opt.step()

    print(f"PyTorch {torch.__version__} ResNet-20 v1, batch {args.batch}, ms per batch (median)")
    print(f"{'thr':>3} {'infer ms':>9} {'infer img/s':>11} {'train ms':>9} {'train img/s':>11}")
    rows = []
    for t in (int(v) for v in args.threads.split(",")):
        torch.set_num_threads(t)
        i, s = median_ms(infer), median_ms(train)
        print(f"{t:3d} {i:9.1f} {1e3 * args.batch / i:11.0f} {s:9.1f} {1e3 * args.batch / s:11.0f}")
        rows.append({"threads": t, "infer_ms": i, "train_ms": s})
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"torch": torch.__version__, "model": "resnet20_v1", "batch": args.batch,
                       "rows": rows}, f, indent=1)


if __name__ == "__main__":
    main()
