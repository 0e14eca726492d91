#!/usr/bin/env bash
# device.sh - end-to-end: --device on train, eval and bench, and the `device` key of search
# configs. Where CUDA is not usable (a build without it, or no GPU), `--device cuda` says why on
# stderr in one line and gives the same results as `--device cpu`; an unknown device is refused
# with exit 2 (a config names its file and line). With a usable GPU the fallback checks are
# skipped (tests/gpu/run.sh compares the devices there).
set -u
bin=$1
src=$2
fail=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
out=$tmp/out
err=$tmp/err

ok() { echo "ok - $1"; }
bad() { echo "not ok - $1"; cat "$out" "$err"; fail=1; }
check() { # description, expected exit code, command... (stdout in $out, stderr in $err)
  local what=$1 want=$2; shift 2
  "$@" >"$out" 2>"$err"; local got=$?
  if [ "$got" != "$want" ]; then bad "$what: exit $got, expected $want"; else ok "$what"; fi
}
has() { # description, file, pattern (grep -E)
  if grep -qE -- "$3" "$2"; then ok "$1"; else bad "$1: no /$3/ in $(basename "$2")"; fi
}
# stdout without the timings and the output file name, which differ between the two runs
strip_times() { sed -E -e 's/ +[0-9.]+ img\/s +[0-9.]+ s$//' -e '/^weights saved to /d' "$1"; }

cd "$tmp" || exit 1
"$bin" devices >devices.txt 2>&1
gpu=0
grep -Eq '^cuda: [1-9][0-9]* devices?$' devices.txt && gpu=1
fallback='^evoapproxnas: --device cuda: .+; running on the CPU$'

# --- unknown devices ----------------------------------------------------------------------
for cmd in train eval bench; do
  check "$cmd --device tpu refused" 2 "$bin" $cmd --device tpu
  has "$cmd names the accepted devices" "$err" "--device: unknown device 'tpu' \(expected cpu or cuda\)"
done
for cmd in train eval bench; do
  check "$cmd --help documents --device" 0 "$bin" $cmd --help
  has "$cmd --help: --device" "$out" "--device"
done

tiny=(--dataset fashion-mnist --train-subset 256 --test-subset 128 --epochs 1 --batch 32
      --threads 2 --seed 3)
if [ "$gpu" = 1 ]; then
  echo "ok - # SKIP fallback checks: a CUDA device is usable here"
else
  # --- train: the fallback line, then the CPU's result ----------------------------------
  check "train --device cpu" 0 "$bin" train --model lenet "${tiny[@]}" --device cpu --out cpu.w
  strip_times "$out" >cpu.txt
  [ -s "$err" ] && bad "train --device cpu prints nothing on stderr"
  check "train --device cuda without a GPU" 0 "$bin" train --model lenet "${tiny[@]}" \
    --device cuda --out cuda.w
  [ "$(wc -l <"$err")" = 1 ] && ok "train: one line on stderr" || bad "train: one line on stderr"
  has "train: the fallback line says why" "$err" "$fallback"
  strip_times "$out" >cuda.txt
  [ -s cpu.txt ] && cmp -s cpu.txt cuda.txt && ok "train: same output as on the CPU" ||
    { bad "train: same output as on the CPU"; diff cpu.txt cuda.txt; }
  [ -s cpu.w ] && cmp -s cpu.w cuda.w && ok "train: same weights as on the CPU" || bad "train: same weights"

  # --- eval ------------------------------------------------------------------------------
  ev=(--weights cpu.w --dataset fashion-mnist --test-subset 128 --calib-images 128
      --multiplier mul8u_DM1 --threads 2)
  check "eval --device cpu" 0 "$bin" eval "${ev[@]}" --device cpu
  cp "$out" eval_cpu.txt
  check "eval --device cuda without a GPU" 0 "$bin" eval "${ev[@]}" --device cuda
  has "eval: the fallback line says why" "$err" "$fallback"
  [ -s eval_cpu.txt ] && cmp -s eval_cpu.txt "$out" && ok "eval: same table as on the CPU" ||
    { bad "eval: same table as on the CPU"; diff eval_cpu.txt "$out"; }

  # --- bench -----------------------------------------------------------------------------
  b=(--section nets --nets lenet --quick --threads 1)
  check "bench --device cuda without a GPU" 0 "$bin" bench "${b[@]}" --device cuda --json b.json
  has "bench: the fallback line says why" "$err" "$fallback"
  has "bench: measured on the CPU" "$out" "^== networks on the CPU"
  has "bench: CPU batch size" "$out" "^lenet +64 +1 +0\.42 "
  python3 - b.json <<'PY' && ok "bench: JSON names the device it ran on" || bad "bench JSON"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["device"] == "cpu", d["device"]
assert [n["model"] for n in d["networks"]] == ["lenet"], d["networks"]
assert d["networks"][0]["batch"] == 64 and d["networks"][0]["train_float_ms"] > 0
PY
fi

# --- search configs: device key -------------------------------------------------------------
python3 "$src/tests/cli/tiny_idx.py" "$tmp/data" 200 50
config() { # device value -> stdout
  cat <<EOF
name: dev
seed: 3
dataset: {kind: idx, path: data, train: 100, validation: 50, test: 50}
search_space: {stages: 1, nodes: 2, ops: [conv3x3, maxpool, identity], widths: [4],
               stem_width: 4, multipliers: [mul8u_1JFF, mul8u_DM1]}
nsga2: {population: 4, generations: 1}
training: {epochs: 1, batch_size: 25, learning_rate: 0.05}
energy: {accelerator: $src/configs/accelerators/eyeriss_like_8b.yaml}
objectives: [error, energy]
device: $1
EOF
}
config gpu >gpu.yaml
check "config device: gpu refused" 2 "$bin" search gpu.yaml --threads 1
has "config error names file:line and the values" "$err" \
  "gpu\.yaml:10:9: device: 'gpu' is not one of: cpu, cuda"
config cpu >cpu.yaml
check "search with device: cpu" 0 "$bin" search cpu.yaml --threads 1 --name on_cpu
if [ "$gpu" = 0 ]; then
  config cuda >cuda.yaml
  check "search with device: cuda without a GPU" 0 "$bin" search cuda.yaml --threads 1 \
    --name on_cuda
  has "search: the fallback line names the config" "$err" \
    "^evoapproxnas: .*cuda\.yaml: device cuda: .+; running on the CPU$"
  q="SELECT hash, error, energy_pj FROM evaluations ORDER BY hash"
  n=$(sqlite3 -readonly results/on_cpu.db "SELECT count(*) FROM evaluations")
  [ "${n:-0}" -gt 0 ] && [ "$(sqlite3 -readonly results/on_cpu.db "$q")" = "$(sqlite3 -readonly results/on_cuda.db "$q")" ] &&
    ok "search: same evaluations as on the CPU" || bad "search: same evaluations as on the CPU"
fi
exit $fail
