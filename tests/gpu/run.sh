#!/usr/bin/env bash
# run.sh - the GPU check: builds with CUDA into build-gpu/ (for the GPU present), runs the
# CUDA backend tests (every device kernel against the CPU reference; whole networks on the
# device against the same networks on the CPU: forward, loss, gradients, SGD, quantized logits
# bit for bit), the --device CLI test, the CUDA micro-benchmark and `evoapproxnas bench --device
# cuda --json` (exact cuDNN vs approximate networks at batch 128). Logs go to $OUT (or
# build-gpu/gpu-logs). Ends with "N passed, N failed"; exits non-zero on any failure.
# Usage: tests/gpu/run.sh            (GPU_ARCH=8.6 overrides the detected compute capability)
set -uo pipefail
cd "$(dirname "$0")/../.."
out=${OUT:-build-gpu/gpu-logs}
mkdir -p "$out"
export PATH=/usr/local/cuda/bin:$PATH
export LD_LIBRARY_PATH=/usr/local/cuda/lib64${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
passed=0
failed=0
step() { # step NAME COMMAND...: runs a step with its output in $out/NAME.log
    local name=$1
    shift
    echo "== $name: $*"
    if "$@" >"$out/$name.log" 2>&1; then
        passed=$((passed + 1))
        echo "ok $name"
        return 0
    else
        failed=$((failed + 1))
        echo "not ok $name (log: $out/$name.log)"
        tail -n 40 "$out/$name.log"
        return 1
    fi
}

for tool in meson ninja nvcc; do
    command -v "$tool" >/dev/null || { echo "run.sh: $tool not found"; echo "0 passed, 1 failed"; exit 1; }
done
arch=${GPU_ARCH:-}
if [ -z "$arch" ] && command -v nvidia-smi >/dev/null; then
    nvidia-smi >"$out/nvidia-smi.txt" 2>&1
    arch=$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader 2>/dev/null | head -n 1 | tr -d ' ')
fi
arch=${arch:-9.0}
echo "GPU architecture: $arch"

if [ -f build-gpu/build.ninja ]; then
    step configure meson configure build-gpu -Dcuda=enabled -Dgpu_arch="$arch"
else
    step configure meson setup build-gpu -Dcuda=enabled -Dgpu_arch="$arch"
fi
step build ninja -C build-gpu
step devices build-gpu/evoapproxnas devices && cat "$out/devices.log"
step test_cuda meson test -C build-gpu --print-errorlogs --timeout-multiplier 2 cuda cuda_emu \
    kernels_ref cli_device
cp build-gpu/meson-logs/testlog.txt "$out/testlog.txt" 2>/dev/null
if grep -q "skipped:" "$out/testlog.txt" 2>/dev/null; then
    echo "not ok device tests skipped (no usable GPU):"
    grep -m 1 "skipped:" "$out/testlog.txt"
    failed=$((failed + 1))
fi
step bench_cuda timeout 120 build-gpu/bench/bench_cuda && cat "$out/bench_cuda.log"
step bench_cuda_json sh -c 'timeout 120 build-gpu/bench/bench_cuda --json >"$1"' _ \
    "$out/bench_cuda.json"
step bench_device timeout 300 build-gpu/evoapproxnas bench --device cuda --section nets \
    --json "$out/bench_device.json" && cat "$out/bench_device.log"
if grep -q 'running on the CPU' "$out/bench_device.log" 2>/dev/null; then
    echo "not ok bench_device ran on the CPU:"
    grep -m 1 'running on the CPU' "$out/bench_device.log"
    failed=$((failed + 1))
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
