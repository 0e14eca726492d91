#!/usr/bin/env bash
# model.sh - end-to-end: `model list` and `model summary` (table, JSON, options, errors).
set -u
bin=$1
fail=0
out=$(mktemp)
trap 'rm -f "$out"' EXIT
check() { # description, expected exit code, command...
  local what=$1 want=$2; shift 2
  "$@" >"$out" 2>&1; local got=$?
  if [ "$got" != "$want" ]; then echo "not ok - $what: exit $got, expected $want"; cat "$out"; fail=1
  else echo "ok - $what"; fi
}
expect() { # description, pattern (grep -E) that the last output must contain
  if grep -qE "$2" "$out"; then echo "ok - $1"; else echo "not ok - $1"; cat "$out"; fail=1; fi
}
check "model --help" 0 "$bin" model --help
check "model list" 0 "$bin" model list
expect "list names resnet20_v1" '^resnet20_v1 '
expect "list names mobilenetv2_cifar" '^mobilenetv2_cifar '
check "summary resnet20_v1" 0 "$bin" model summary resnet20_v1
expect "ResNet-20 v1 has 269,722 parameters" '^total: 269722 parameters, 40551040 MACs'
check "summary resnet20_v2" 0 "$bin" model summary resnet20_v2
expect "ResNet-20 v2 has 272,282 parameters" '^total: 272282 parameters'
check "summary mobilenetv2_cifar" 0 "$bin" model summary mobilenetv2_cifar
expect "MobileNetV2 CIFAR has 2,296,922 parameters" '^total: 2296922 parameters'
check "summary lenet" 0 "$bin" model summary lenet
expect "LeNet has 61,706 parameters" '^total: 61706 parameters, 416520 MACs'
expect "layer rows show output shapes" 'conv2d +0 +28x28x6 +156 +117600'
expect "planned activation memory" '^activation memory: 0\.0[0-9]+ MB per image for inference, 0\.[0-9]+ MB for training'
check "summary --json" 0 "$bin" model summary lenet --json
if python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["params"]==61706 and d["macs"]==416520 and sum(l["params"] for l in d["layers"])==61706' "$out" 2>/dev/null; then
  echo "ok - JSON parses and adds up"; else echo "not ok - JSON parses and adds up"; cat "$out"; fail=1; fi
check "summary --input 32x32x3 lenet" 0 "$bin" model summary lenet --input 32x32x3
expect "flatten follows the input size" 'flatten +[0-9]+ +1x1x576 '
check "summary --width 0.5" 0 "$bin" model summary mobilenetv2_cifar --width 0.5
check "unknown model" 2 "$bin" model summary resnet21
expect "message names the model" "model 'resnet21' not found"
check "bad --input" 2 "$bin" model summary lenet --input 32x32
check "input too small" 2 "$bin" model summary lenet --input 4x4x1
check "missing name" 2 "$bin" model summary
check "unknown option" 2 "$bin" model summary lenet --frobnicate
check "unknown subcommand" 2 "$bin" model frob
exit $fail
