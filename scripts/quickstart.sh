#!/usr/bin/env bash
# quickstart.sh - the main job on a fresh machine: set up, build, and run a quick search on
# Fashion-MNIST (configs/quickstart.yaml, about a minute on an idle 2-core machine once built),
# then draw its Pareto front (results/quickstart.svg) and print it.
#
# Usage: scripts/quickstart.sh [--name N]     (default name quickstart; a finished run of the
#                                              same name is reported again, an interrupted one
#                                              resumed)
set -euo pipefail
cd "$(dirname "$0")/.."
name=quickstart
if [ $# -ge 2 ] && [ "$1" = "--name" ]; then name=$2; fi
scripts/setup.sh
bin=build/evoapproxnas
db=results/$name.db
if [ -f "$db" ]; then
  $bin resume "$db"
else
  $bin search configs/quickstart.yaml --name "$name"
fi
$bin report "$db" -o "results/$name.svg"
$bin pareto "$db"
