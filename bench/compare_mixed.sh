#!/usr/bin/env bash
# compare_mixed.sh - the quick-start search with 8x8 multipliers only (configs/quickstart.yaml)
# against the same search with a mixed 8x8/8x6/8x4 set (configs/mixed-8xN.yaml), same budget,
# seeds 1..S; prints bench/front_quality.py's table (hypervolume, largest saving within 1 point).
# Usage: bench/compare_mixed.sh [SEEDS (3)] [THREADS (2)]     archives go to results/compare/
set -euo pipefail
cd "$(dirname "$0")/.."
seeds=${1:-3}
threads=${2:-2}
out=results/compare
mkdir -p "$out"
args=()
for cfg in quickstart mixed-8xN; do
  for s in $(seq 1 "$seeds"); do
    y=$out/$cfg-s$s.yaml
    sed -e "s/^seed: .*/seed: $s/" -e "s/^name: .*/name: $cfg-s$s/" \
        -e "s|accelerator: accelerators/|accelerator: $PWD/configs/accelerators/|" \
        "configs/$cfg.yaml" >"$y"
    [ -f "$out/$cfg-s$s.db" ] ||
      build/evoapproxnas search "$y" --output "$out/$cfg-s$s.db" --threads "$threads" --quiet
    args+=("$cfg=$out/$cfg-s$s.db")
  done
done
python3 bench/front_quality.py --markdown "${args[@]}"
