#!/usr/bin/env bash
# quickstart.sh - the main job on a fresh machine: set up, build, and run a quick search on
# Fashion-MNIST (configs/quickstart.yaml), then draw its Pareto front.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
build/evoapproxnas version
