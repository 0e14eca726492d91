#!/usr/bin/env python3
"""front_quality.py - compares search archives on one scale: the hypervolume of each run's
(validation error, multiplier energy) front, the largest multiplier-energy saving among
front networks within one point of the run's best exact-multiplier network, and the best
validation accuracy of the run's exact-multiplier and of all its feasible networks.

The energy axis is divided by one constant for every archive given (the largest all-8x8 exact
multiplier energy of any archived network), so that runs with different multiplier sets are
measured alike; the reference point is (1.0, 1.1). Savings are against exact 8x8 multipliers
(mul_energy_exact8_pj), which is what a narrower multiplier saves as well.

Usage: bench/front_quality.py [--markdown] [--column NAME] LABEL=DB [LABEL=DB ...]
Archives with the same LABEL (e.g. several seeds) are summarised together (mean, min-max);
--column names the label column of the markdown table ("multiplier set" by default).
"""
import sqlite3
import statistics
import sys


def front(points):
    """Non-dominated (error, energy) points, sorted by error."""
    pts = sorted(set(points))
    out, best = [], float("inf")
    for e, m in pts:
        if m < best:
            out.append((e, m))
            best = m
    return out


def hypervolume(points, ref):
    hv, prev_m = 0.0, ref[1]
    for e, m in front(points):
        if e >= ref[0] or m >= ref[1]:
            continue
        hv += (ref[0] - e) * (prev_m - m)
        prev_m = m
    return hv


def load(path):
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    rows = db.execute("SELECT error, mul_energy_pj, mul_energy_exact8_pj, exact FROM archived "
                      "WHERE violation = 0").fetchall()
    db.close()
    return rows


def main(argv):
    markdown = "--markdown" in argv
    args = [a for a in argv if a != "--markdown"]
    column = "multiplier set"
    if "--column" in args:
        i = args.index("--column")
        if i + 1 >= len(args):
            print("--column needs a NAME", file=sys.stderr)
            return 2
        column = args[i + 1]
        del args[i:i + 2]
    if not args or any("=" not in a for a in args):
        print(__doc__.strip().splitlines()[-3], file=sys.stderr)
        return 2
    runs = [(a.split("=", 1)[0], a.split("=", 1)[1]) for a in args]
    data = {path: load(path) for _, path in runs}
    scale = max(r[2] for rows in data.values() for r in rows if r[2])
    results = {}
    for label, path in runs:
        rows = data[path]
        hv = hypervolume([(r[0], r[1] / scale) for r in rows], (1.0, 1.1))
        best_exact = min((r[0] for r in rows if r[3]), default=None)
        saving = 0.0
        if best_exact is not None:
            pts = front([(r[0], r[1]) for r in rows])
            for r in rows:
                if (r[0], r[1]) in pts and r[0] <= best_exact + 0.01 and r[2]:
                    saving = max(saving, 100.0 * (1 - r[1] / r[2]))
        best = min(r[0] for r in rows)
        results.setdefault(label, []).append((hv, saving, best_exact, path, best))
    if markdown:
        print(f"| {column} | runs | hypervolume, mean (min-max) | "
              "largest saving within 1 point, mean (min-max) | best exact accuracy, mean | "
              "best accuracy, mean |")
        print("| --- | --- | --- | --- | --- | --- |")
    for label, rs in results.items():
        hvs, savs = [r[0] for r in rs], [r[1] for r in rs]
        exacts = [1 - r[2] for r in rs if r[2] is not None]
        exact_acc = f"{100 * statistics.mean(exacts):.1f} %" if exacts else "-"
        best_acc = 100 * statistics.mean(1 - r[4] for r in rs)
        if markdown:
            print(f"| {label} | {len(rs)} | {statistics.mean(hvs):.4f} ({min(hvs):.4f}-"
                  f"{max(hvs):.4f}) | {statistics.mean(savs):.1f} % ({min(savs):.1f}-"
                  f"{max(savs):.1f} %) | {exact_acc} | {best_acc:.1f} % |")
        else:
            for hv, sav, be, path, _ in rs:
                print(f"{label:12s} {path}: hypervolume {hv:.4f}, best exact error "
                      f"{be if be is None else round(be, 4)}, largest multiplier-energy saving "
                      f"within 1 point {sav:.1f} %")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
