#!/usr/bin/env python3
"""pytorch_mobilenetv2.py - PyTorch CPU figure for `evoapproxnas bench --nets mobilenetv2_cifar`.

The zoo's MobileNetV2 for CIFAR (engine/zoo.c): width 1.0, 3x3 stem of stride 1, stage 2 kept
at 32x32, an expansion 1x1 conv in every block, a 1x1 conv + BN shortcut where a stride-1 block
changes width, 1280-channel head, dense classifier with bias; batch 64, fp32. Inference (eval
forward) and training step (forward, cross-entropy, backward, SGD with momentum) time per batch,
median of 7 timed iterations after 2 warm-ups, for each thread count. Needs torch (Debian's
python3-torch 1.13).

Usage: python3 bench/pytorch_mobilenetv2.py [--threads 1,2] [--batch 64] [--json FILE] [--profile]
--profile: instead, the self CPU time per PyTorch op of 3 training steps at the first thread
count (torch.autograd.profiler), the counterpart of `evoapproxnas bench --section profile`.
bench/vs_pytorch.py --model mobilenetv2 runs it and `evoapproxnas bench` in turns.
"""
import argparse
import json
import statistics
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


def conv_bn(cin, cout, k, stride, groups=1):
    return nn.Sequential(nn.Conv2d(cin, cout, k, stride, k // 2, groups=groups, bias=False),
                         nn.BatchNorm2d(cout))


class Block(nn.Module):
    def __init__(self, cin, cout, expansion, stride):
        super().__init__()
        hidden = cin * expansion
        self.body = nn.Sequential(conv_bn(cin, hidden, 1, 1), nn.ReLU6(),
                                  conv_bn(hidden, hidden, 3, stride, groups=hidden), nn.ReLU6(),
                                  conv_bn(hidden, cout, 1, 1))
        self.stride = stride
        self.shortcut = None
        if stride == 1 and cin != cout:
            self.shortcut = conv_bn(cin, cout, 1, 1)
        self.identity = stride == 1 and cin == cout

    def forward(self, x):
        y = self.body(x)
        if self.identity:
            return y + x
        if self.shortcut is not None:
            return y + self.shortcut(x)
        return y


class MobileNetV2Cifar(nn.Module):
    CFG = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1),
           (6, 160, 3, 2), (6, 320, 1, 1))

    def __init__(self, classes=10):
        super().__init__()
        layers = [conv_bn(3, 32, 3, 1), nn.ReLU6()]
        cin = 32
        for s, (t, c, n, stride) in enumerate(self.CFG):
            for b in range(n):
                st = stride if b == 0 and s != 1 else 1
                layers.append(Block(cin, c, t, st))
                cin = c
        layers += [conv_bn(cin, 1280, 1, 1), nn.ReLU6()]
        self.features = nn.Sequential(*layers)
        self.fc = nn.Linear(1280, classes)

    def forward(self, x):
        x = self.features(x)
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


def median_ms(fn, warmup=2, iters=7):
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
    ap.add_argument("--profile", action="store_true", help="time per op of 3 training steps")
    args = ap.parse_args()
    torch.manual_seed(1)
    net = MobileNetV2Cifar()
    params = sum(p.numel() for p in net.parameters())
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

    if args.profile:
        torch.set_num_threads(int(args.threads.split(",")[0]))
        train()
        with torch.autograd.profiler.profile() as prof:
            for _ in range(3):
                train()
        print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=16))
        return
    print(f"PyTorch {torch.__version__} MobileNetV2 (CIFAR, {params} parameters), batch "
          f"{args.batch}, ms per batch (median)")
    print(f"{'thr':>3} {'infer ms':>9} {'infer img/s':>11} {'train ms':>9} {'train img/s':>11}")
    rows = []
    for t in (int(v) for v in args.threads.split(",")):
        torch.set_num_threads(t)
        i, s = median_ms(infer), median_ms(train)
        print(f"{t:3d} {i:9.1f} {1e3 * args.batch / i:11.0f} {s:9.1f} {1e3 * args.batch / s:11.0f}")
        rows.append({"threads": t, "infer_ms": i, "train_ms": s})
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"torch": torch.__version__, "model": "mobilenetv2_cifar", "params": params,
                       "batch": args.batch, "rows": rows}, f, indent=1)


if __name__ == "__main__":
    main()
