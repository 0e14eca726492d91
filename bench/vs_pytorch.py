#!/usr/bin/env python3
"""vs_pytorch.py - exact float ResNet-20 or MobileNetV2 (batch 64) of evoapproxnas against PyTorch.

Runs bench/pytorch_resnet20.py (or pytorch_mobilenetv2.py) and `evoapproxnas bench --section
nets --nets resnet20_v1` (or mobilenetv2_cifar) in turns, `--rounds` times, and prints the median of each side's medians per thread count and the
ratios (PyTorch time / ours: above 1 means ours is faster). Turns, not one long run each, so
that a machine shared with other work loads both sides alike. Needs PyTorch for the system
python3 (Debian: apt-get install python3-torch); it is not part of the test suite.

Usage: python3 bench/vs_pytorch.py [--binary build/evoapproxnas] [--threads 2] [--rounds 3]
                                   [--model resnet20|mobilenetv2]
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
MODELS = {  # --model: (zoo name, PyTorch script, title)
    "resnet20": ("resnet20_v1", "pytorch_resnet20.py", "ResNet-20 v1"),
    "mobilenetv2": ("mobilenetv2_cifar", "pytorch_mobilenetv2.py", "MobileNetV2 (CIFAR)"),
}


def run_ours(binary, model, threads, path):
    subprocess.run([binary, "bench", "--section", "nets", "--nets", MODELS[model][0],
                    "--threads", str(threads), "--json", path],
                   check=True, stdout=subprocess.DEVNULL)
    with open(path) as f:
        return {r["threads"]: r for r in json.load(f)["networks"]}


def run_torch(python, model, threads, path):
    subprocess.run([python, os.path.join(HERE, MODELS[model][1]), "--threads",
                    ",".join(str(t) for t in range(1, threads + 1)), "--json", path],
                   check=True, stdout=subprocess.DEVNULL)
    with open(path) as f:
        data = json.load(f)
    return data["torch"], {r["threads"]: r for r in data["rows"]}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--binary", default=os.path.join(HERE, "..", "build", "evoapproxnas"))
    ap.add_argument("--python", default="/usr/bin/python3", help="a python3 with torch")
    ap.add_argument("--threads", type=int, default=2, help="measure 1..N threads")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--model", choices=sorted(MODELS), default="resnet20")
    args = ap.parse_args()
    ours = {t: {"infer": [], "train": []} for t in range(1, args.threads + 1)}
    torch = {t: {"infer": [], "train": []} for t in range(1, args.threads + 1)}
    version = "?"
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.rounds):
            print(f"round {r + 1}/{args.rounds} ...", file=sys.stderr)
            o = run_ours(args.binary, args.model, args.threads, os.path.join(tmp, "ours.json"))
            version, p = run_torch(args.python, args.model, args.threads,
                                   os.path.join(tmp, "torch.json"))
            for t in ours:
                ours[t]["infer"].append(o[t]["infer_float_ms"])
                ours[t]["train"].append(o[t]["train_float_ms"])
                torch[t]["infer"].append(p[t]["infer_ms"])
                torch[t]["train"].append(p[t]["train_ms"])
    med = statistics.median
    print(f"{MODELS[args.model][2]}, batch 64, exact float, ms per batch (median of {args.rounds} rounds "
          f"of medians); PyTorch {version}")
    print(f"{'thr':>3} {'train ours':>10} {'train torch':>11} {'torch/ours':>10} "
          f"{'infer ours':>10} {'infer torch':>11} {'torch/ours':>10}")
    for t in ours:
        to, tp = med(ours[t]["train"]), med(torch[t]["train"])
        io, ip = med(ours[t]["infer"]), med(torch[t]["infer"])
        print(f"{t:3d} {to:10.1f} {tp:11.1f} {tp / to:9.2f}x {io:10.1f} {ip:11.1f} {ip / io:9.2f}x")


if __name__ == "__main__":
    main()
