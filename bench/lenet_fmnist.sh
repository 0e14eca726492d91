#!/usr/bin/env bash
# lenet_fmnist.sh - benchmark (meson benchmark, not a test): LeNet-like on Fashion-MNIST in
# float and 8-bit asymmetric quantization-aware training with the exact multiplier; checks the
# targets of issue #3 (>= 90% test accuracy, 8-bit within 0.5 points of float), then evaluates
# the float network post-training with every 8x8 unsigned EvoApprox multiplier and writes the
# accuracy/power table to results/lenet_fmnist_8x8u.csv.
# Usage: lenet_fmnist.sh BINARY SOURCE_ROOT [EPOCHS]
set -u
bin=$1
root=$2
epochs=${3:-${LENET_EPOCHS:-12}}
fm=/usr/share/datasets/fashion-mnist
res="$root/results"
mkdir -p "$res"
if [ ! -e "$fm/train-images-idx3-ubyte.gz" ] && [ ! -e "$fm/train-images-idx3-ubyte" ]; then
  echo "SKIP: Fashion-MNIST not installed in $fm"; exit 77
fi
common=(--model lenet --dataset fashion-mnist --epochs "$epochs" --batch 64 --lr 0.05
        --momentum 0.9 --weight-decay 5e-4 --schedule cosine --seed 1)
acc() { sed -n 's/^test accuracy: \([0-9.]*\)%.*/\1/p' "$1"; }

"$bin" train "${common[@]}" --out "$res/lenet_fmnist_float.w" | tee "$res/lenet_fmnist_float.log" || exit 1
"$bin" train "${common[@]}" --quant asym --out "$res/lenet_fmnist_q8.w" | tee "$res/lenet_fmnist_q8.log" || exit 1
f=$(acc "$res/lenet_fmnist_float.log")
q=$(acc "$res/lenet_fmnist_q8.log")
echo "float test accuracy: $f%, 8-bit asymmetric (exact multiplier, QAT): $q%"
"$bin" eval --weights "$res/lenet_fmnist_float.w" --dataset fashion-mnist --all-8x8-unsigned \
  --csv "$res/lenet_fmnist_8x8u.csv" | tee "$res/lenet_fmnist_8x8u.log" || exit 1
echo "table: $res/lenet_fmnist_8x8u.csv"
p=$(sed -n 's/^exact  *[0-9.]*  *\([0-9.]*\)%.*/\1/p' "$res/lenet_fmnist_8x8u.log")
echo "8-bit asymmetric post-training (folded, calibrated, exact multiplier): $p%"
python3 - "$f" "$q" <<'PY'
import sys
f, q = float(sys.argv[1]), float(sys.argv[2])
ok = q >= 90.0 and abs(f - q) <= 0.5
print(f"target (QAT): 8-bit >= 90% ({q:.2f}%), |float - 8-bit| <= 0.5 ({abs(f - q):.2f}): "
      f"{'met' if ok else 'MISSED'}")
sys.exit(0 if ok else 1)
PY
