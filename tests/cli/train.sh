#!/usr/bin/env bash
# train.sh - end-to-end: a tiny `train` run (float and quantization-aware), `eval` of the
# result with multipliers and CSV, and the usage errors of both commands.
set -u
bin=$1
fail=0
dir=$(mktemp -d)
out="$dir/out.txt"
trap 'rm -rf "$dir"' EXIT
check() { # description, expected exit code, command...
  local what=$1 want=$2; shift 2
  "$@" >"$out" 2>&1; local got=$?
  if [ "$got" != "$want" ]; then echo "not ok - $what: exit $got, expected $want"; cat "$out"; fail=1
  else echo "ok - $what"; fi
}
expect() { # description, pattern (grep -E) that the last output must contain
  if grep -qE "$2" "$out"; then echo "ok - $1"; else echo "not ok - $1"; cat "$out"; fail=1; fi
}
fm=/usr/share/datasets/fashion-mnist
tiny=(--dataset fashion-mnist --train-subset 256 --test-subset 128 --epochs 1 --batch 32 --threads 2)

check "train --help" 0 "$bin" train --help
check "eval --help" 0 "$bin" eval --help
check "train without --out" 2 "$bin" train --model lenet --dataset fashion-mnist
check "train unknown model" 2 "$bin" train --model lenet9 "${tiny[@]}" --out "$dir/x.w"
check "train bad --quant" 2 "$bin" train --model lenet "${tiny[@]}" --quant int4 --out "$dir/x.w"
check "train multiplier with --quant none" 2 "$bin" train --model lenet "${tiny[@]}" --quant none --multiplier mul8u_1JFF --out "$dir/x.w"
check "train bad --lr" 2 "$bin" train --model lenet "${tiny[@]}" --lr abc --out "$dir/x.w"
check "train missing data dir" 2 "$bin" train --model lenet --dataset mnist --data "$dir/none" --out "$dir/x.w"
check "train unknown multiplier" 2 "$bin" train --model lenet "${tiny[@]}" --multiplier mul8u_NOPE --out "$dir/x.w"
check "eval missing weights file" 2 "$bin" eval --weights "$dir/none.w" --dataset fashion-mnist
check "eval unknown option" 2 "$bin" eval --weights "$dir/none.w" --frob

if [ ! -e "$fm/train-images-idx3-ubyte.gz" ] && [ ! -e "$fm/train-images-idx3-ubyte" ]; then
  echo "ok - # SKIP Fashion-MNIST not installed in $fm"
  exit $fail
fi
check "--multipliers count must match the layers" 2 "$bin" train --model lenet "${tiny[@]}" --multipliers mul8u_1JFF,mul8u_DM1 --out "$dir/x.w"
expect "message gives the layer count" 'has 5 conv/dense layers'
check "tiny float training" 0 "$bin" train --model lenet "${tiny[@]}" --val-split 0.25 --out "$dir/lenet.w"
expect "epoch line with loss, accuracy, throughput" '^epoch +1/1 +loss [0-9.]+ +train +[0-9.]+% +val +[0-9.]+% +lr [0-9.]+ +[0-9]+ img/s'
expect "test accuracy line" '^test accuracy: [0-9.]+% \(128 images\)'
[ -s "$dir/lenet.w" ] && echo "ok - weights written" || { echo "not ok - weights written"; fail=1; }
# a full disk while writing --out (a file size limit, SIGXFSZ ignored) is an I/O error: exit 1
check "train --out onto a full disk" 1 bash -c 'trap "" XFSZ; ulimit -f 64; exec "$@"' _ "$bin" train --model lenet "${tiny[@]}" --out "$dir/full.w"
expect "full disk message names the file" 'full\.w: write failed'
ls "$dir"/full.w* >/dev/null 2>&1 && { echo "not ok - full-disk training left $(ls "$dir"/full.w*)"; fail=1; }
# a learning rate far too high: the training diverges (the work failed, exit 1), nothing written
check "a diverging training" 1 "$bin" train --model lenet "${tiny[@]}" --epochs 2 --lr 100 --momentum 0.99 --schedule constant --out "$dir/nan.w"
expect "divergence message" 'train: training diverged at epoch [0-9]+ step [0-9]+ \(loss -?(nan|inf)\); lower the learning rate'
[ -e "$dir/nan.w" ] && { echo "not ok - a diverged training wrote its weights"; fail=1; }
check "tiny quantization-aware training" 0 "$bin" train --model lenet "${tiny[@]}" --multipliers mul8u_1JFF,mul8u_1JFF,mul8u_DM1,mul8u_1JFF,mul8u_1JFF --per-channel --out "$dir/qat.w"
expect "quantization line" '^quantization: asymmetric, 8-bit weights per channel, multiplier per layer'
check "eval with multipliers and CSV" 0 "$bin" eval --weights "$dir/lenet.w" --dataset fashion-mnist --test-subset 100 --calib-images 100 --multiplier mul8u_1JFF --multiplier mul8u_DM1 --csv "$dir/e.csv"
expect "float row" '^float +- +[0-9.]+%'
expect "exact multiplier row has no drop" '^mul8u_1JFF +0\.3910 +[0-9.]+% +0\.00$'
if [ "$(head -1 "$dir/e.csv")" = "multiplier,power_mw,accuracy,drop_pp" ] && [ "$(wc -l <"$dir/e.csv")" = 4 ]; then
  echo "ok - CSV header and rows"; else echo "not ok - CSV header and rows"; cat "$dir/e.csv"; fail=1; fi
check "eval of the quantization-aware network" 0 "$bin" eval --weights "$dir/qat.w" --dataset fashion-mnist --test-subset 100 --multiplier mul8u_DM1
expect "as-trained row" '^as-trained +- +[0-9.]+%'
if command -v script >/dev/null 2>&1; then   # a pseudo-terminal: the live batch line
  script -qc "'$bin' train --model lenet ${tiny[*]} --out '$dir/tty.w'" /dev/null >"$dir/tty.out" 2>&1
  if grep -aqE $'\r\033\\[Kepoch 1/1  batch [0-9]+/8  loss [0-9.]+  ETA [0-9]+ s' "$dir/tty.out" &&
     grep -aqE $'\r\033\\[Kepoch +1/1 +loss' "$dir/tty.out"; then
    echo "ok - live batch line on a terminal, then the epoch line over it"
  else echo "not ok - live batch line on a terminal"; od -c "$dir/tty.out" | head; fail=1; fi
fi
head -c 100 "$dir/lenet.w" >"$dir/cut.w"
check "eval of a truncated weights file" 2 "$bin" eval --weights "$dir/cut.w" --dataset fashion-mnist
expect "message names the file" 'cut.w: truncated'
check "eval with CIFAR-10 files missing" 2 "$bin" eval --weights "$dir/lenet.w" --dataset cifar10 --data "$dir"
exit $fail
