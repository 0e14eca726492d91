#!/usr/bin/env bash
# compare_strategies.sh - the quick-start search (configs/quickstart.yaml: 60 candidate
# trainings of 2 epochs on 3,000 Fashion-MNIST images) run by NSGA-II, by Model Search's
# coordinate descent and by its constrained descent (4 multiplier-energy budgets), the same
# training per candidate and the same number of trainings, seeds 1..S; prints
# bench/front_quality.py's table (hypervolume, largest saving within 1 point).
# Usage: bench/compare_strategies.sh [SEEDS (3)] [THREADS (2)]  archives go to results/strategies/
set -euo pipefail
cd "$(dirname "$0")/.."
seeds=${1:-3}
threads=${2:-2}
out=results/strategies
mkdir -p "$out"
# 10 + 5 x 10 = 60 trainings, as NSGA-II's population 10 and 5 generations of 10 offspring
ms="model_search: {trials: 60, random_trials: 20, batch: 10, top_k: 5"
declare -A extra=(
  [nsga2]=""
  [coordinate]="strategy: model_search
$ms, algorithm: coordinate_descent}"
  [constrained]="strategy: model_search
$ms, algorithm: constrained_descent,
  budget: {kind: mul_energy, values: [25000, 60000, 150000, 400000]}}"
)
args=()
for strat in nsga2 coordinate constrained; do
  for s in $(seq 1 "$seeds"); do
    y=$out/$strat-s$s.yaml
    sed -e "s/^seed: .*/seed: $s/" -e "s/^name: .*/name: $strat-s$s/" \
        -e "s|accelerator: accelerators/|accelerator: $PWD/configs/accelerators/|" \
        configs/quickstart.yaml >"$y"
    [ -n "${extra[$strat]}" ] && printf '%s\n' "${extra[$strat]}" >>"$y"
    [ -f "$out/$strat-s$s.db" ] ||
      build/evoapproxnas search "$y" --output "$out/$strat-s$s.db" --threads "$threads" --quiet
    args+=("$strat=$out/$strat-s$s.db")
  done
done
python3 bench/front_quality.py --markdown --column strategy "${args[@]}"
