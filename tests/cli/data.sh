#!/usr/bin/env bash
# data.sh - end-to-end: `data info` on written IDX and CIFAR-10 files, real Fashion-MNIST when
# installed, and the exit codes and messages of bad usage and bad files.
set -u
bin=$1
fail=0
dir=$(mktemp -d "${TMPDIR:-/tmp}/evoapproxnas-cli-data.XXXXXX")
out=$dir/out
trap 'rm -rf "$dir"' EXIT
check() { # description, expected exit code, command...
  local what=$1 want=$2; shift 2
  "$@" >"$out" 2>&1; local got=$?
  if [ "$got" != "$want" ]; then echo "not ok - $what: exit $got, expected $want"; cat "$out"; fail=1
  else echo "ok - $what"; fi
}
expect() { # description, fixed string the last output must contain
  if grep -qF -- "$2" "$out"; then echo "ok - $1"; else echo "not ok - $1: no '$2' in:"; cat "$out"; fail=1; fi
}

# IDX: 3 images of 2x2 (pixels 0 0 255 255 each: mean 0.5, std 0.5), labels 1 0 1
idx=$dir/idx; mkdir "$idx"
for p in train t10k; do
  printf '\x00\x00\x08\x03\x00\x00\x00\x03\x00\x00\x00\x02\x00\x00\x00\x02' >"$idx/$p-images-idx3-ubyte"
  printf '\x00\x00\xff\xff\x00\x00\xff\xff\x00\x00\xff\xff' >>"$idx/$p-images-idx3-ubyte"
  printf '\x00\x00\x08\x01\x00\x00\x00\x03\x01\x00\x01' >"$idx/$p-labels-idx1-ubyte"
done
gzip "$idx/t10k-images-idx3-ubyte"
check "mnist info" 0 "$bin" data info --dataset mnist --data "$idx"
expect "train line" "train: 3 images, 1x2x2, 10 classes"
expect "test line (gzip images)" "test: 3 images, 1x2x2, 10 classes"
expect "mean" "mean: 0.5000"
expect "std" "std:  0.5000"
expect "histogram" "images per class: 1 2 0 0 0 0 0 0 0 0"
check "--part test" 0 "$bin" data info --dataset mnist --data "$idx" --part test
grep -q '^train:' "$out" && { echo "not ok - --part test printed train"; fail=1; }
printf '\x00\x00\x08\x01\x00\x00\x00\x03\x01\x00\x0a' >"$idx/train-labels-idx1-ubyte"
check "label 10 rejected" 2 "$bin" data info --dataset mnist --data "$idx" --part train
expect "message names the file" "train-labels-idx1-ubyte: label 10 of item 2"
printf '\x00\x00\x08\x02\x00\x00\x00\x03' >"$idx/train-labels-idx1-ubyte"
check "bad magic rejected" 2 "$bin" data info --dataset mnist --data "$idx" --part train
expect "magic message" "bad IDX magic"
check "missing directory" 2 "$bin" data info --dataset mnist --data "$dir/none"
expect "missing file named" "none/train-images-idx3-ubyte"

# limits (issue #14 item 3): a 116-byte file claiming 2^31-1 images of 65536x65536 is
# truncated (exit 2) before anything is allocated; bytes after a .gz stream are rejected
lim=$dir/lim; mkdir "$lim"
cp "$idx/t10k-images-idx3-ubyte.gz" "$lim/"
printf '\x00\x00\x08\x01\x00\x00\x00\x03\x01\x00\x01' | gzip >"$lim/t10k-labels-idx1-ubyte.gz"
check "gzip labels load" 0 "$bin" data info --dataset mnist --data "$lim" --part test
printf GARBAGE >>"$lim/t10k-labels-idx1-ubyte.gz"
check "bytes after the gzip stream" 2 "$bin" data info --dataset mnist --data "$lim" --part test
expect "trailing bytes message" "t10k-labels-idx1-ubyte.gz: unexpected bytes after the end of the gzip stream"
{ printf '\x00\x00\x08\x03\x7f\xff\xff\xff\x00\x01\x00\x00\x00\x01\x00\x00'; head -c 100 /dev/zero; } \
  >"$lim/train-images-idx3-ubyte"
printf '\x00\x00\x08\x01\x7f\xff\xff\xff' >"$lim/train-labels-idx1-ubyte"
check "huge IDX header" 2 "$bin" data info --dataset mnist --data "$lim" --part train
expect "huge header is truncated" "train-images-idx3-ubyte: truncated: header promises"

# CIFAR-10: a test batch of 10000 all-zero records (label 0, black images), then a cut one
cif=$dir/cifar; mkdir "$cif"
head -c 30730000 /dev/zero >"$cif/test_batch.bin"
check "cifar10 test part" 0 "$bin" data info --dataset cifar10 --data "$cif" --part test
expect "cifar line" "test: 10000 images, 3x32x32, 10 classes"
expect "cifar mean per channel" "mean: 0.0000 0.0000 0.0000"
expect "cifar histogram" "images per class: 10000 0 0 0 0 0 0 0 0 0"
check "cifar10 train part missing" 2 "$bin" data info --dataset cifar10 --data "$cif"
expect "missing batch named" "data_batch_1.bin: cannot open"
head -c 30729999 /dev/zero >"$cif/test_batch.bin"
check "truncated cifar batch" 2 "$bin" data info --dataset cifar10 --data "$cif" --part test
expect "truncation message" "test_batch.bin: 30729999 bytes, expected 30730000"

# real Fashion-MNIST (Debian's dataset-fashion-mnist), when installed
fm=/usr/share/datasets/fashion-mnist
if [ -e "$fm/train-images-idx3-ubyte.gz" ]; then
  check "fashion-mnist default path" 0 "$bin" data info --dataset fashion-mnist
  expect "fashion train" "train: 60000 images, 1x28x28, 10 classes"
  expect "fashion test" "test: 10000 images, 1x28x28, 10 classes"
  expect "fashion balanced" "images per class: 6000 6000 6000 6000 6000 6000 6000 6000 6000 6000"
  expect "fashion mean" "mean: 0.2860"
else
  echo "ok - fashion-mnist not installed at $fm: skipped"
fi

# usage errors
check "data --help" 0 "$bin" data --help
check "data info --help" 0 "$bin" data info --help
expect "help lists datasets" "fashion-mnist, mnist"
check "no subcommand" 2 "$bin" data
check "unknown subcommand" 2 "$bin" data frob
check "no --dataset" 2 "$bin" data info --data "$idx"
check "unknown dataset" 2 "$bin" data info --dataset imagenet --data "$idx"
expect "names the data set" "unknown data set 'imagenet'"
check "mnist needs --data" 2 "$bin" data info --dataset mnist
check "bad part" 2 "$bin" data info --dataset mnist --data "$idx" --part val
check "unknown option" 2 "$bin" data info --dataset mnist --data "$idx" --frob
check "option without value" 2 "$bin" data info --dataset
check "extra argument" 2 "$bin" data info --dataset mnist --data "$idx" extra
exit $fail
