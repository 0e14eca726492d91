#!/usr/bin/env bash
# energy.sh - end-to-end: `evoapproxnas energy` tables, JSON, multipliers, layer files,
# Timeloop export, and bad usage / bad input with exit code 2 and file:line messages.
set -u
bin=$1
src=$2
fail=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
out=$tmp/out
check() { # description, expected exit code, command...
  local what=$1 want=$2; shift 2
  "$@" >"$out" 2>&1; local got=$?
  if [ "$got" != "$want" ]; then echo "not ok - $what: exit $got, expected $want"; cat "$out"; fail=1
  else echo "ok - $what"; fi
}
expect() { # description, pattern (grep -E) that $out must contain
  if grep -Eq -- "$2" "$out"; then echo "ok - $1"; else echo "not ok - $1: no '$2' in:"; cat "$out"; fail=1; fi
}

check "energy --help" 0 "$bin" energy --help
expect "help lists --multipliers" "--multipliers"
check "alexnet-conv1 table" 0 "$bin" energy --model alexnet-conv1
expect "conv1 row with its MACs" "^conv1 +exact +105415200 +34944"
expect "levels as columns" "DRAM +shared_glb +ifmap_spad +weights_spad +psum_spad"
check "alexnet JSON" 0 "$bin" energy --model alexnet --json
python3 -c "
import json,sys
d=json.load(open('$out'))
assert d['accelerator']=='eyeriss_like_16b', d['accelerator']
assert len(d['layers'])==11
t=d['total']
assert t['macs']==724406816 and t['params']==60965224
parts=t['energy_pj']
s=sum(v for k,v in parts.items() if k!='total')
assert abs(s-parts['total'])<=1e-5*parts['total'], (s, parts['total'])
" && echo "ok - JSON parses, totals add up" || { echo "not ok - JSON"; fail=1; }

# one approximate multiplier everywhere: arithmetic shrinks by the power ratio, memory unchanged
check "JSON exact" 0 "$bin" energy --model alexnet-conv1 --json
cp "$out" "$tmp/exact.json"
check "JSON mul8u_12N4" 0 "$bin" energy --model alexnet-conv1 --json --multipliers mul8u_12N4
python3 -c "
import json
a=json.load(open('$tmp/exact.json'))['total']['energy_pj']
b=json.load(open('$out'))['total']['energy_pj']
assert abs(b['multiplier']/a['multiplier'] - 0.142/0.391) < 1e-4, (a['multiplier'], b['multiplier'])
assert b['mac_rest']==a['mac_rest'] and b['DRAM']==a['DRAM'] and b['psum_spad']==a['psum_spad']
" && echo "ok - multiplier substitution by the power ratio" || { echo "not ok - substitution"; fail=1; }
check "per-layer multipliers" 0 "$bin" energy --model alexnet --multipliers exact,mul8u_12N4,exact,exact,exact,exact,exact,mul8x4u_2UU
expect "the 8x4 multiplier on fc8" "^fc8 +mul8x4u_2UU"
check "8-bit accelerator by name" 0 "$bin" energy --model alexnet --accelerator eyeriss_like_8b
expect "8-bit design named" "on eyeriss_like_8b"
check "accelerator by path" 0 "$bin" energy --model alexnet-conv1 --accelerator "$src/configs/accelerators/eyeriss_like_16b.yaml"
check "layer file" 0 "$bin" energy --layers "$src/tests/data/energy/resnet20.yaml"
expect "ResNet-20 MACs and parameters" "^TOTAL +40551040 +269722"
check "timeloop export" 0 "$bin" energy --layers "$src/tests/data/energy/resnet20.yaml" --export-timeloop "$tmp/tl"
n=$(ls "$tmp/tl" | wc -l)
[ "$n" = 20 ] && echo "ok - 20 problem files (19 convs + fc)" || { echo "not ok - $n problem files"; fail=1; }
grep -q "Hstride: 2" "$tmp/tl/10_s2b1_conv_a.yaml" && echo "ok - stride exported" || { echo "not ok - stride"; fail=1; }

# mapping constraints: the shipped design's mapping in the JSON, the unconstrained twin, a bad
# constraint with file:line
check "JSON mapping of conv1" 0 "$bin" energy --model alexnet-conv1 --json
expect "constrained mapping: S over the rows, M over the columns, R in the PEs" '"mapping": "DRAM\[Q5 M2\] shared_glb\[C3 P55 Q11\] rows\[S11\] cols\[M12\] PE\[M4 R11\]"'
expect "dataflow named" '"dataflow": "constrained"'
check "unconstrained design" 0 "$bin" energy --model alexnet-conv1 --accelerator eyeriss_like_16b_unconstrained --json
expect "row stationary without constraints" '"dataflow": "row_stationary"'
sed 's/rows: SCM, cols: QM/rows: SCM, cols: QX/' "$src/configs/accelerators/eyeriss_like_16b.yaml" > "$tmp/badcons.yaml"
check "bad constraint" 2 "$bin" energy --model alexnet-conv1 --accelerator "$tmp/badcons.yaml"
expect "file:line:col of the unknown dimension" "badcons.yaml:[0-9]+:[0-9]+: constraints\[[0-9]+\]\.cols: unknown dimension 'X'"

# zoo networks through the adapter (counts: the published ones), --input, --weights
check "zoo resnet20_v1" 0 "$bin" energy --model resnet20_v1
expect "ResNet-20 v1: 40,551,040 MACs, 269,722 parameters" "^TOTAL +40551040 +269722 "
check "zoo mobilenetv2_cifar JSON" 0 "$bin" energy --model mobilenetv2_cifar --json
python3 -c "
import json
t=json.load(open('$out'))['total']
assert t['params']==2296922 and round(t['macs']/1e6, 2)==91.15, t
" && echo "ok - MobileNetV2-CIFAR: 2,296,922 parameters, 91.15 MMAC" || { echo "not ok - MobileNetV2 counts"; fail=1; }
check "zoo model with --input" 0 "$bin" energy --model resnet20_v1 --input 64x64x3
expect "4x the conv MACs at 64x64 (classifier 640 unchanged)" "^TOTAL +162202240 +269722 "
check "--input on a built-in list" 2 "$bin" energy --model alexnet --input 64x64x3
check "malformed --input" 2 "$bin" energy --model resnet20_v1 --input 64x64
expect "says the form" "is not HxWxC"
"$bin" train --model lenet --dataset fashion-mnist --train-subset 128 --test-subset 64 --epochs 1 \
  --batch 32 --threads 2 --quant asym --weight-bits 4 --out "$tmp/lenet.w" >"$out" 2>&1 \
  && echo "ok - a tiny 4-bit LeNet trained" || { echo "not ok - train"; cat "$out"; fail=1; }
check "weights file" 0 "$bin" energy --weights "$tmp/lenet.w" --json
python3 -c "
import json
d=json.load(open('$out'))
assert d['total']['params']==61706 and d['total']['macs']==416520, d['total']
mul=[l for l in d['layers'] if l['multiplier'] is not None]
assert len(mul)==5 and all(l['weight_bits']==8 and l['multiplier']=='exact' for l in mul), mul
" && echo "ok - LeNet from its weights file: counts, 4-bit weights packed in 16-bit words" || { echo "not ok - weights"; fail=1; }
check "weights file with --multipliers" 0 "$bin" energy --weights "$tmp/lenet.w" --multipliers mul8u_12N4
expect "the given multiplier on every layer" "^dense10 +mul8u_12N4"
printf 'not a weights file' > "$tmp/bad.w"
check "bad weights file" 2 "$bin" energy --weights "$tmp/bad.w"
check "weights and model" 2 "$bin" energy --weights "$tmp/lenet.w" --model lenet

check "no model" 2 "$bin" energy
check "both model and layers" 2 "$bin" energy --model alexnet --layers x.yaml
check "unknown model" 2 "$bin" energy --model vgg99
expect "names the model" "unknown model 'vgg99'"
check "unknown option" 2 "$bin" energy --model alexnet --frobnicate
check "unknown multiplier" 2 "$bin" energy --model alexnet --multipliers mul8u_NOPE
check "wrong multiplier count" 2 "$bin" energy --model alexnet --multipliers exact,exact
expect "says how many" "2 names for 8 layers"
check "unknown accelerator" 2 "$bin" energy --model alexnet --accelerator tpu_v9
printf 'name: x\nword_bits: 16\nfoo: 1\n' > "$tmp/bad.yaml"
check "bad accelerator file" 2 "$bin" energy --model alexnet --accelerator "$tmp/bad.yaml"
expect "file:line:col of the unknown key" "bad.yaml:3:1: unknown key 'foo'; known keys here: name"
printf 'name: n\nlayers:\n  - {name: a, kind: conv, input: [3, 8, 8], out_channels: 4}\n' > "$tmp/net.yaml"
check "bad layer file" 2 "$bin" energy --layers "$tmp/net.yaml"
expect "file:line:col of the layer" "net.yaml:3:5: missing required key 'layers\[0\]\.kernel' \(R or \[R, S\]\)"
exit $fail
