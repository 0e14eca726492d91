#!/usr/bin/env bash
# bench.sh - end-to-end: `evoapproxnas bench` options and their errors (the measurement itself
# runs as the meson benchmark 'bench-kernels', not here: tests carry no timings).
set -u
bin=$1
src=$2
fail=0
out=$(mktemp)
check() { # description, expected exit code, command...
  local what=$1 want=$2; shift 2
  "$@" >"$out" 2>&1; local got=$?
  if [ "$got" != "$want" ]; then echo "not ok - $what: exit $got, expected $want"; cat "$out"; fail=1
  else echo "ok - $what"; fi
}
expect() { # description, pattern
  if grep -q -- "$2" "$out"; then echo "ok - $1"; else echo "not ok - $1"; cat "$out"; fail=1; fi
}
check "bench --help" 0 "$bin" bench --help
expect "help names the options" "--kernels NAME"
check "unknown kernel set" 2 "$bin" bench --kernels avx1024
expect "message names the set" "'avx1024' is not a kernel set"
check "bad thread count" 2 "$bin" bench --threads 0
check "non-numeric thread count" 2 "$bin" bench --threads two
check "--json without a file" 2 "$bin" bench --json
check "unwritable --json" 2 "$bin" bench --quick --json /nonexistent-dir/x.json
expect "message names the file" "/nonexistent-dir/x.json"
check "unknown multiplier in --mul" 2 "$bin" bench --mul mul8u_DM1,mul8u_NOPE
expect "message names it" "mul8u_NOPE"
check "empty --mul" 2 "$bin" bench --section nets --mul ,
json=$(mktemp)
check "two multipliers, one small network" 0 "$bin" bench --section nets --nets lenet \
  --mul mul8u_DM1,mul8u_2HH --threads 1 --json "$json"
expect "both measured" "quantized through mul8u_2HH"
cp "$json" "$out"
expect "JSON lists the multipliers" '"multipliers": \["mul8u_DM1", "mul8u_2HH"\]'
expect "JSON names each network's multiplier" '"model": "lenet", "multiplier": "mul8u_2HH"'
rm -f "$json"
check "profile of one small network" 0 "$bin" bench --section profile --nets lenet --threads 1
expect "time per op type" "conv2d 5x5"
expect "float and approximate" "1 thread, approx"
check "profile of an inference-only network" 0 "$bin" bench --section profile --nets mobilenetv2 \
  --threads 1 --quick
expect "its inference times per op type" "depthwise 3x3 s2"
expect "said to have no training step" "inference-only network: no training step"
check "unknown section" 2 "$bin" bench --section everything
expect "message lists the sections" "all, kernels, nets, profile or search"
check "search section on two candidates" 0 "$bin" bench --section search \
  --config "$src/configs/quickstart.yaml" --genomes 2 --steps 1 --threads 1
expect "images per second" "2 candidates x 1 steps of batch"
expect "time per op type" "op type"
check "search section, missing config" 2 "$bin" bench --section search --config /nonexistent.yaml
expect "message names the file" "/nonexistent.yaml"
check "search section, bad --genomes" 2 "$bin" bench --section search --genomes 0
check "unknown option" 2 "$bin" bench --bogus
check "extra argument" 2 "$bin" bench extra
"$bin" --help >"$out" 2>&1
expect "bench listed in --help" "bench"
rm -f "$out"
exit $fail
