#!/usr/bin/env bash
# setup.sh - install the Debian packages evoapproxnas needs (only those missing), then
# configure and build build/. Idempotent: a second run only rebuilds what changed.
#
# Usage: scripts/setup.sh [meson options...]     e.g. scripts/setup.sh -Dcuda=disabled
# Environment: BUILD_DIR (default build)
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(gcc g++ meson ninja-build pkg-config python3 libyaml-dev libsqlite3-dev sqlite3
          zlib1g-dev check libopenblas-dev dataset-fashion-mnist clang libclang-rt-14-dev
          python3-onnx openmpi-bin libopenmpi-dev)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  sudo=
  [ "$(id -u)" -ne 0 ] && sudo=sudo
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -q
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# The CUDA backend is built when nvcc is on PATH (meson option cuda=auto); add the usual
# toolkit location so that an installed toolkit is found.
if ! command -v nvcc >/dev/null 2>&1 && [ -x /usr/local/cuda/bin/nvcc ]; then
  export PATH=/usr/local/cuda/bin:$PATH
fi

build=${BUILD_DIR:-build}
if [ ! -f "$build/build.ninja" ]; then
  meson setup "$build" "$@"
elif [ $# -gt 0 ]; then
  meson configure "$build" "$@"
fi
ninja -C "$build"
